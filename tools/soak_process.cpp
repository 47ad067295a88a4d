// Child processes of the soak: see soak_process.h.
#include "soak_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace shiftbook::soak {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int exit_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

std::string command_text(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// Starts argv with `actions` for its standard streams.
Result<pid_t> spawn(const std::vector<std::string>& argv, posix_spawn_file_actions_t* actions) {
  std::vector<std::string> args = argv;
  std::vector<char*> ptrs;
  for (std::string& a : args) ptrs.push_back(a.data());
  ptrs.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0].c_str(), actions, nullptr, ptrs.data(), environ);
  if (rc != 0) return internal_error("cannot start " + args[0] + ": " + std::strerror(rc));
  return pid;
}

// Reaps `pid` within `timeout` (its exit status), or nullopt while it still runs.
std::optional<int> reap_within(pid_t pid, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

std::string read_from(const std::string& path, std::uintmax_t offset) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::uintmax_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uintmax_t>(st.st_size) : 0;
}

}  // namespace

Result<ProcessResult> run_process(const std::vector<std::string>& argv, const std::string& input,
                                  std::optional<milliseconds> kill_after, milliseconds timeout) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return internal_error("cannot make a pipe");
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return internal_error("cannot make a pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  Result<pid_t> pid = spawn(argv, &actions);
  posix_spawn_file_actions_destroy(&actions);
  for (int fd : {in[0], out[1], err[1]}) ::close(fd);
  if (!pid.is_ok()) {
    for (int fd : {in[1], out[0], err[0]}) ::close(fd);
    return pid.status();
  }
  // Input is a PIN or nothing: far below a pipe's buffer, so this never blocks.
  if (!input.empty()) (void)!::write(in[1], input.data(), input.size());
  ::close(in[1]);

  ProcessResult result;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  std::optional<Clock::time_point> kill_at;
  if (kill_after) kill_at = start + *kill_after;
  std::optional<Clock::time_point> killed_at;
  bool timed_out = false;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto now = Clock::now();
    if (!killed_at && (now >= deadline || (kill_at && now >= *kill_at))) {
      timed_out = now >= deadline;
      ::kill(*pid, SIGKILL);
      killed_at = now;
    }
    // The pipes close when the process dies, unless something it started holds them still.
    if (killed_at && now - *killed_at > std::chrono::seconds(5)) break;
    auto next = killed_at ? now + std::chrono::seconds(1) : deadline;
    if (kill_at && !killed_at) next = std::min(next, *kill_at);
    const auto wait_ms = std::chrono::duration_cast<milliseconds>(next - now).count();
    if (::poll(fds, 2, static_cast<int>(std::clamp<long long>(wait_ms, 1, 1000))) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (const pollfd& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = exit_status(status);
  result.killed = killed_at && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (timed_out) {
    return internal_error(command_text(argv) + " did not finish within " + std::to_string(timeout.count() / 1000) +
                          " s; its error output: " + result.err);
  }
  return result;
}

Daemon::~Daemon() {
  if (pid_ > 0) kill_now();
}

Result<std::string> Daemon::start() {
  if (pid_ > 0) return internal_error(argv_[0] + " is running already");
  const std::uintmax_t from = file_size(log_path_);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  Result<pid_t> pid = spawn(argv_, &actions);
  posix_spawn_file_actions_destroy(&actions);
  SB_RETURN_IF_ERROR(pid.status());
  pid_ = *pid;

  constexpr std::string_view kMarker = "listening on ";
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    const std::string text = read_from(log_path_, from);
    const auto at = text.find(kMarker);
    const auto end = at == std::string::npos ? std::string::npos : text.find('\n', at);
    if (end != std::string::npos) return text.substr(at + kMarker.size(), end - at - kMarker.size());
    if (std::optional<int> status = reap_within(pid_, milliseconds(10))) {
      pid_ = -1;
      return internal_error(argv_[0] + " ended (status " + std::to_string(exit_status(*status)) +
                            ") before it was listening; its output: " + text);
    }
    if (Clock::now() >= deadline) {
      kill_now();
      return internal_error(argv_[0] + " printed no 'listening on' line within 10 s; its output: " + text);
    }
  }
}

void Daemon::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

int Daemon::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  std::optional<int> status = reap_within(pid_, std::chrono::seconds(10));
  if (!status) {
    kill_now();
    return 128 + SIGKILL;
  }
  pid_ = -1;
  return exit_status(*status);
}

}  // namespace shiftbook::soak
