#include "support/server_process.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>


namespace shiftbook::testing {

namespace {

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(5);

int exit_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

}  // namespace

ServerProcess::ServerProcess() {
  RunResult init = run({"init"});
  REQUIRE_MESSAGE(init.exit_code == 0, init.err);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) stop();
  if (reader_.joinable()) reader_.join();
}

RunResult ServerProcess::run(std::vector<std::string> args, const std::string& input) const {
  args.insert(args.begin(), {"--dir", dir()});
  return run_program(SHIFTBOOK_SERVER_BIN, args, input);
}

Json ServerProcess::json(const std::vector<std::string>& args) const {
  RunResult r = run(args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return Json::parse(r.out);
}

std::string ServerProcess::key_hex() const { return json({"key", "--json"})["server_key"].get<std::string>(); }

std::string ServerProcess::create_code(const std::string& site, const std::vector<std::string>& units) const {
  std::vector<std::string> args{"code", "create", "--site", site, "--json"};
  for (const auto& u : units) args.insert(args.end(), {"--unit", u});
  return json(args)["code"].get<std::string>();
}

std::string ServerProcess::start(const std::vector<std::string>& extra) {
  REQUIRE_MESSAGE(pid_ <= 0, "the server is running already");
  if (reader_.joinable()) reader_.join();
  {
    std::lock_guard lock(mu_);
    out_.clear();
    err_.clear();
    ended_ = false;
  }
  std::vector<std::string> argv{SHIFTBOOK_SERVER_BIN, "--dir", dir(), "serve"};
  // `extra` may name the address (to restart a server on the port it had); else any free port.
  if (std::find(extra.begin(), extra.end(), "--listen") == extra.end()) {
    argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  const Child child = spawn_child(argv);
  pid_ = child.pid;
  reader_ = std::thread([this, out_fd = child.out_fd, err_fd = child.err_fd] { read_output(out_fd, err_fd); });

  const std::string marker = "listening on ";
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, kStartTimeout, [&] {
    auto at = out_.find(marker);
    return ended_ || (at != std::string::npos && out_.find('\n', at) != std::string::npos);
  });
  auto at = out_.find(marker);
  const bool ready = at != std::string::npos && out_.find('\n', at) != std::string::npos;
  const std::string err_text = err_;
  const std::string out_text = out_;
  lock.unlock();
  if (!ready) {
    stop();
    FAIL("shiftbook-server did not print 'listening on' within 10 s; stdout: " << out_text << " stderr: " << err_text);
  }
  url_ = out_text.substr(at + marker.size(), out_text.find('\n', at) - at - marker.size());
  return url_;
}

void ServerProcess::read_output(int out_fd, int err_fd) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&out_, &err_};
  int open_fds = 2;
  // Ends when the process and everything holding its pipes have gone (it is killed by stop()
  // after at most 5 s, so this loop is bounded by the process's life).
  while (open_fds > 0) {
    if (::poll(fds, 2, 1000) < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        std::lock_guard lock(mu_);
        sinks[i]->append(buf, static_cast<std::size_t>(n));
        changed_.notify_all();
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  std::lock_guard lock(mu_);
  ended_ = true;
  changed_.notify_all();
}

int ServerProcess::reap(bool block) {
  if (pid_ <= 0) return last_status_;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (r != pid_) return -2;
  pid_ = -1;
  last_status_ = exit_status(status);
  // The pipes close with the process: the reader sees their end and finishes.
  if (reader_.joinable()) reader_.join();
  return last_status_;
}

int ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = reap(false);
    if (status != -2) return status;
    if (std::chrono::steady_clock::now() >= deadline) return -2;
    // The output ends when the process exits; wake then (or every 20 ms, to reap it).
    std::unique_lock lock(mu_);
    if (ended_) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } else {
      changed_.wait_for(lock, std::chrono::milliseconds(20), [&] { return ended_; });
    }
  }
}

int ServerProcess::stop() {
  if (pid_ <= 0) return last_status_;
  ::kill(pid_, SIGTERM);
  int status = wait_exit(std::chrono::duration_cast<std::chrono::milliseconds>(kStopTimeout));
  if (status == -2) {
    ::kill(pid_, SIGKILL);
    status = reap(true);
  }
  return status;
}

void ServerProcess::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::string ServerProcess::log() const {
  std::lock_guard lock(mu_);
  return out_;
}

std::string ServerProcess::err() const {
  std::lock_guard lock(mu_);
  return err_;
}

bool ServerProcess::wait_for_log(const std::string& fragment, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] { return out_.find(fragment) != std::string::npos; });
}

std::size_t ServerProcess::log_count(const std::string& fragment) const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (auto at = out_.find(fragment); at != std::string::npos; at = out_.find(fragment, at + fragment.size())) ++n;
  return n;
}

void setup_head_office(const ServerProcess& server) {
  auto ok = [&](const std::vector<std::string>& args, const std::string& input = {}) {
    RunResult r = server.run(args, input);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  };
  ok({"site", "add", "S1", "--name", "Plant One", "--tz", "UTC"});
  ok({"site", "add", "S2", "--name", "Plant Two", "--tz", "Europe/Berlin"});
  ok({"unit", "add", "U1", "--site", "S1", "--name", "Press shop"});
  ok({"unit", "add", "U2", "--site", "S1", "--name", "Paint shop"});
  ok({"unit", "add", "U9", "--site", "S2", "--name", "Foundry"});
  ok({"period", "add", "2026-11", "--start", "2026-11-01", "--end", "2026-11-30"});
  ok({"product", "add", "P1", "--name", "Bracket", "--unit", "pcs", "--decimals", "0"});
  ok({"product", "add", "P2", "--name", "Powder coat", "--unit", "kg", "--decimals", "3"});
  const std::vector<std::vector<std::string>> people = {{"worker", "W1", "S1", "Anna", "1111"},
                                                        {"worker", "W2", "S1", "Boris", "2222"},
                                                        {"worker", "W3", "S1", "Chen", "3333"},
                                                        {"worker", "W9", "S2", "Dara", "9999"},
                                                        {"leader", "L1", "S1", "Lena", "4321"}};
  for (const auto& p : people) {
    ok({p[0], "add", p[1], "--site", p[2], "--name", p[3], "--pin-cost", "minimum"}, p[4] + "\n");
  }
  ok({"quota", "set", "--unit", "U1", "--period", "2026-11", "--product", "P1", "--quantity", "500"});
  // Set twice, so that P2's quota is at version 2 as in sample_reference().
  ok({"quota", "set", "--unit", "U1", "--period", "2026-11", "--product", "P2", "--quantity", "200"});
  ok({"quota", "set", "--unit", "U1", "--period", "2026-11", "--product", "P2", "--quantity", "250"});
}

}  // namespace shiftbook::testing
