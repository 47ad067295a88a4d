#include "support/proxy_process.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

namespace shiftbook::testing {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(5);

// Appends what `fd` has to `sink` until `done(sink)` holds, the output ends, or the deadline
// passes; true when done() held.
template <typename Done>
bool read_until(int fd, std::string& sink, Clock::time_point deadline, Done done) {
  while (!done(sink)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      sink.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      return done(sink);
    }
  }
  return true;
}

httplib::Client control_client(const std::string& url) {
  httplib::Client c(url);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(10, 0);
  return c;
}

}  // namespace

ProxyProcess::ProxyProcess(const std::string& upstream, const std::vector<std::string>& options) {
  std::vector<std::string> argv{SHIFTBOOK_FAULTPROXY_BIN, "--listen", "127.0.0.1:0", "--upstream", upstream,
                                "--stats", stats_file()};
  argv.insert(argv.end(), options.begin(), options.end());
  const Child child = spawn_child(argv);
  pid_ = child.pid;
  out_fd_ = child.out_fd;
  err_fd_ = child.err_fd;
  const std::string marker = "listening on ";
  const bool ready = read_until(out_fd_, out_, Clock::now() + kStartTimeout, [&](const std::string& s) {
    const auto at = s.find(marker);
    return at != std::string::npos && s.find('\n', at) != std::string::npos;
  });
  if (!ready) {
    stop();
    FAIL("shiftbook-faultproxy did not print 'listening on' within 10 s; output: " << out_);
  }
  const auto at = out_.find(marker);
  url_ = out_.substr(at + marker.size(), out_.find('\n', at) - at - marker.size());
}

ProxyProcess::~ProxyProcess() { stop(); }

void ProxyProcess::set_upstream(const std::string& upstream) const {
  auto res = control_client(url_).Post("/_proxy/upstream", upstream, "text/plain");
  REQUIRE_MESSAGE(res, "the proxy did not answer POST /_proxy/upstream");
  REQUIRE_MESSAGE(res->status == 200, res->body);
}

void ProxyProcess::set_faults(const Json& faults) const {
  auto res = control_client(url_).Post("/_proxy/faults", faults.dump(), "application/json");
  REQUIRE_MESSAGE(res, "the proxy did not answer POST /_proxy/faults");
  REQUIRE_MESSAGE(res->status == 200, res->body);
}

void ProxyProcess::faults_off() const {
  set_faults(Json{{"drop_request", 0}, {"drop_response", 0}, {"truncate_response", 0},
                  {"duplicate_request", 0}, {"delay", 0}, {"reorder", 0}});
}

Json ProxyProcess::stats() const {
  auto res = control_client(url_).Get("/_proxy/stats");
  REQUIRE_MESSAGE(res, "the proxy did not answer GET /_proxy/stats");
  REQUIRE(res->status == 200);
  return Json::parse(res->body);
}

std::int64_t ProxyProcess::faults(const std::string& kind) const {
  return stats()["faults"][kind].get<std::int64_t>();
}

int ProxyProcess::stop() {
  if (pid_ <= 0) return status_;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + kStopTimeout;
  // The output ends when the process does: everything it printed is read by then.
  read_until(out_fd_, out_, deadline, [](const std::string&) { return false; });
  std::string err;
  read_until(err_fd_, err, deadline, [](const std::string&) { return false; });
  int status = 0;
  pid_t r = 0;
  while ((r = ::waitpid(pid_, &status, WNOHANG)) == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (r != pid_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  ::close(out_fd_);
  ::close(err_fd_);
  out_ += err;
  pid_ = -1;
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return status_;
}

}  // namespace shiftbook::testing
