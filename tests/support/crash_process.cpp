#include "support/crash_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

extern char** environ;

namespace shiftbook::testing::crash {

namespace {

constexpr auto kServerStartTimeout = std::chrono::seconds(10);
constexpr auto kServerStopTimeout = std::chrono::seconds(10);

int exit_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("SHIFTBOOK_STORE=", 0) == 0 || kv.rfind("SHIFTBOOK_SERVER_DIR=", 0) == 0) continue;
    env.push_back(std::move(kv));
  }
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::string command_text(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

}  // namespace

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<Process> Process::start(const std::vector<std::string>& argv_in, const std::string& out_path,
                               const std::string& err_path) {
  if (argv_in.empty()) return invalid_argument("no program to start");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> env = child_environment();
  auto args = pointers(argv);
  auto envp = pointers(env);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return internal_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  Process p;
  p.pid_ = pid;
  p.out_path_ = out_path;
  p.err_path_ = err_path;
  // The child is not reaped before this, so the pid still names it. (glibc 2.36 declares
  // pidfd_open without C linkage for C++, so the system call is made directly.)
  p.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (p.pidfd_ < 0) {
    const int e = errno;
    p.kill_now();
    return internal_error(std::string("pidfd_open failed: ") + std::strerror(e));
  }
  return p;
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      status_(std::exchange(other.status_, std::nullopt)),
      out_path_(std::move(other.out_path_)),
      err_path_(std::move(other.err_path_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    release();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
    out_path_ = std::move(other.out_path_);
    err_path_ = std::move(other.err_path_);
  }
  return *this;
}

Process::~Process() { release(); }

void Process::release() {
  if (pid_ > 0 && !status_) kill_now();
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
}

void Process::reap(int status) { status_ = exit_status(status); }

bool Process::running() {
  if (status_) return false;
  return !wait_until(Steady::now()).has_value();
}

std::optional<int> Process::wait_until(Steady::time_point deadline) {
  if (status_) return status_;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Steady::now());
    const auto wait = std::max(left, std::chrono::nanoseconds(0));
    timespec ts{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
    pollfd p{pidfd_, POLLIN, 0};
    const int n = ::ppoll(&p, 1, &ts, nullptr);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      reap(status);
      return status_;
    }
    if (Steady::now() >= deadline) return std::nullopt;
  }
}

void Process::signal(int sig) const {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

int Process::kill_now() {
  if (status_) return *status_;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reap(status);
  return *status_;
}

Result<Ran> run(const std::vector<std::string>& argv, const std::string& scratch, std::chrono::milliseconds timeout) {
  const auto start = Steady::now();
  SB_ASSIGN_OR_RETURN(Process p, Process::start(argv, scratch + ".out", scratch + ".err"));
  const std::optional<int> status = p.wait_until(start + timeout);
  if (!status) {
    p.kill_now();
    return unavailable(command_text(argv) + " did not end within " + std::to_string(timeout.count()) + " ms");
  }
  Ran r;
  r.exit_code = *status;
  r.seconds = std::chrono::duration<double>(Steady::now() - start).count();
  r.out = p.out();
  r.err = p.err();
  return r;
}

Result<Ran> run_ok(const std::vector<std::string>& argv, const std::string& scratch,
                   std::chrono::milliseconds timeout) {
  SB_ASSIGN_OR_RETURN(Ran r, run(argv, scratch, timeout));
  if (r.exit_code != 0) {
    return internal_error(command_text(argv) + " exited with " + std::to_string(r.exit_code) + ": " + r.err);
  }
  return r;
}

Result<ServerChild> ServerChild::start(const std::string& dir, const std::string& log_prefix) {
  ServerChild s;
  const std::vector<std::string> argv{SHIFTBOOK_SERVER_BIN, "--dir", dir, "serve", "--listen", "127.0.0.1:0"};
  SB_ASSIGN_OR_RETURN(s.process_, Process::start(argv, log_prefix + ".log", log_prefix + ".err"));
  const std::string marker = "listening on ";
  const auto deadline = Steady::now() + kServerStartTimeout;
  for (;;) {
    const std::string log = s.process_.out();
    const auto at = log.find(marker);
    const auto end = at == std::string::npos ? std::string::npos : log.find('\n', at);
    if (end != std::string::npos) {
      s.url_ = log.substr(at + marker.size(), end - at - marker.size());
      return s;
    }
    // Looks at the log again every 5 ms, or at once when the server ends.
    if (s.process_.wait_until(std::min(deadline, Steady::now() + std::chrono::milliseconds(5)))) {
      return internal_error("shiftbook-server in " + dir + " ended before it listened: " + s.process_.err());
    }
    if (Steady::now() >= deadline) {
      s.process_.kill_now();
      return unavailable("shiftbook-server in " + dir + " printed no 'listening on' line within 10 s");
    }
  }
}

int ServerChild::stop() {
  if (!process_.started()) return -1;
  process_.signal(SIGTERM);
  if (auto status = process_.wait_until(Steady::now() + kServerStopTimeout)) return *status;
  return process_.kill_now();
}

}  // namespace shiftbook::testing::crash
