// Child processes: see process.h.
#include "shiftbook/platform/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

extern char** environ;

namespace shiftbook {
namespace {

using std::chrono::milliseconds;

// What a child stays alive for after its SIGKILL while something it started holds its pipes.
constexpr auto kPipeGrace = std::chrono::seconds(5);
// How often a file a child writes is looked at again for a line.
constexpr auto kFilePoll = milliseconds(5);

timespec time_left(ProcessClock::time_point deadline) {
  const auto left = std::max(std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - ProcessClock::now()),
                             std::chrono::nanoseconds(0));
  return timespec{static_cast<time_t>(left.count() / 1'000'000'000), static_cast<long>(left.count() % 1'000'000'000)};
}

std::vector<std::string> child_environment(const ProcessOptions& options) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    const bool folder_default = kv.rfind("SHIFTBOOK_STORE=", 0) == 0 || kv.rfind("SHIFTBOOK_SERVER_DIR=", 0) == 0;
    if (options.without_folder_defaults && folder_default) continue;
    env.push_back(std::move(kv));
  }
  env.insert(env.end(), options.env.begin(), options.env.end());
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::uintmax_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uintmax_t>(st.st_size) : 0;
}

std::string read_from(const std::string& path, std::uintmax_t offset) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// "120 s", or "200 ms" for a bound under a second.
std::string duration_text(std::chrono::nanoseconds d) {
  const auto ms = std::chrono::ceil<milliseconds>(d).count();
  return ms < 1000 ? std::to_string(ms) + " ms" : std::to_string((ms + 500) / 1000) + " s";
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The pipes of one start: the child's ends are closed once it has been spawned, the parent's
// ends on failure.
struct Pipes {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  Status make(const ProcessOptions& options) {
    const bool ok = (!options.with_input || ::pipe2(in, O_CLOEXEC) == 0) &&
                    (!options.out_file.empty() || ::pipe2(out, O_CLOEXEC) == 0) &&
                    (!options.err_file.empty() || ::pipe2(err, O_CLOEXEC) == 0);
    if (ok) return Status::ok();
    const int e = errno;
    close_parent_ends();
    close_child_ends();
    return internal_error(std::string("cannot make a pipe for a child process: ") + std::strerror(e));
  }
  void close_child_ends() {
    close_fd(in[0]);
    close_fd(out[1]);
    close_fd(err[1]);
  }
  void close_parent_ends() {
    close_fd(in[1]);
    close_fd(out[0]);
    close_fd(err[0]);
  }
};

void add_output(posix_spawn_file_actions_t* actions, int fd, int pipe_end, const std::string& file, bool append) {
  if (file.empty()) {
    posix_spawn_file_actions_adddup2(actions, pipe_end, fd);
  } else {
    posix_spawn_file_actions_addopen(actions, fd, file.c_str(), O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC),
                                     0600);
  }
}

}  // namespace

int exit_status(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

std::string command_text(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

std::optional<std::string> line_after(std::string_view text, std::string_view marker) {
  const auto at = text.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  const auto end = text.find('\n', at);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(text.substr(at + marker.size(), end - at - marker.size()));
}

Result<Process> Process::start(const std::vector<std::string>& argv_in, const ProcessOptions& options) {
  if (argv_in.empty()) return invalid_argument("no program to start");
  Pipes pipes;
  SB_RETURN_IF_ERROR(pipes.make(options));
  Process p;
  p.name_ = base_name(argv_in[0]);
  p.out_file_ = options.out_file;
  p.err_file_ = options.err_file;
  if (options.append) {
    p.out_from_ = p.out_file_.empty() ? 0 : file_size(p.out_file_);
    p.err_from_ = p.err_file_.empty() ? 0 : file_size(p.err_file_);
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.with_input) {
    posix_spawn_file_actions_adddup2(&actions, pipes.in[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  add_output(&actions, 1, pipes.out[1], options.out_file, options.append);
  if (!options.err_file.empty() && options.err_file == options.out_file) {
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  } else {
    add_output(&actions, 2, pipes.err[1], options.err_file, options.append);
  }
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> env = child_environment(options);
  auto args = pointers(argv);
  auto envp = pointers(env);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  pipes.close_child_ends();
  if (rc != 0) {
    pipes.close_parent_ends();
    return internal_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  p.pid_ = pid;
  p.in_fd_ = std::exchange(pipes.in[1], -1);
  p.out_fd_ = std::exchange(pipes.out[0], -1);
  p.err_fd_ = std::exchange(pipes.err[0], -1);
  // The child is not reaped before this, so the pid still names it. (glibc 2.36 declares
  // pidfd_open without C linkage for C++, so the system call is made directly; the pidfd is
  // close-on-exec.)
  p.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (p.pidfd_ < 0) {
    const int e = errno;
    p.kill_now();
    return internal_error(std::string("pidfd_open failed: ") + std::strerror(e));
  }
  return p;
}

Process::Process(Process&& other) noexcept { *this = std::move(other); }

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    release_child();
    name_ = std::move(other.name_);
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    in_fd_ = std::exchange(other.in_fd_, -1);
    out_fd_ = std::exchange(other.out_fd_, -1);
    err_fd_ = std::exchange(other.err_fd_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
    out_file_ = std::move(other.out_file_);
    err_file_ = std::move(other.err_file_);
    out_from_ = other.out_from_;
    err_from_ = other.err_from_;
    out_text_ = std::move(other.out_text_);
    err_text_ = std::move(other.err_text_);
  }
  return *this;
}

Process::~Process() { release_child(); }

void Process::close_fds() {
  close_fd(in_fd_);
  close_fd(out_fd_);
  close_fd(err_fd_);
}

void Process::release_child() {
  if (started() && !status_) kill_now();
  close_fd(pidfd_);
  close_fds();
}

bool Process::running() {
  if (!started() || status_) return false;
  return !wait_until(ProcessClock::now()).has_value();
}

std::optional<int> Process::wait_until(ProcessClock::time_point deadline) {
  if (!started()) return -1;
  if (status_) return status_;
  for (;;) {
    const timespec left = time_left(deadline);
    pollfd p{pidfd_, POLLIN, 0};
    const int n = ::ppoll(&p, 1, &left, nullptr);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      status_ = exit_status(status);
      return status_;
    }
    if (ProcessClock::now() >= deadline) return std::nullopt;
  }
}

void Process::signal(int sig) const {
  if (started() && !status_) ::kill(pid_, sig);
}

int Process::kill_now() {
  if (!started()) return -1;
  if (status_) return *status_;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = exit_status(status);
  return *status_;
}

Status Process::write_input(std::string_view input, ProcessClock::time_point deadline) {
  if (in_fd_ < 0) return failed_precondition(name_ + " was not started with a pipe for its input");
  const std::string bound = duration_text(deadline - ProcessClock::now());
  ::fcntl(in_fd_, F_SETFL, ::fcntl(in_fd_, F_GETFL) | O_NONBLOCK);
  // A child that exited before reading everything would raise SIGPIPE: it is blocked on this
  // thread for the writes, and one they raised is taken before the mask is restored.
  sigset_t pipe_signal, old_mask, pending;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &old_mask);
  sigpending(&pending);
  const bool pending_before = sigismember(&pending, SIGPIPE) == 1;
  Status result = Status::ok();
  bool broken = false;
  for (std::size_t written = 0; written < input.size() && !broken && result.is_ok();) {
    // Its outputs are read meanwhile, so that a child that prints before it reads never stalls.
    pollfd polled[3] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}, {in_fd_, POLLOUT, 0}};
    const timespec left = time_left(deadline);
    const int n = ::ppoll(polled, 3, &left, nullptr);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result = unavailable(name_ + " did not read its input within " + bound);
      break;
    }
    read_ready(polled[0].revents, polled[1].revents);
    if (!(polled[2].revents & (POLLOUT | POLLERR | POLLHUP))) continue;
    const ssize_t w = ::write(in_fd_, input.data() + written, input.size() - written);
    if (w > 0) {
      written += static_cast<std::size_t>(w);
    } else if (w < 0 && errno == EPIPE) {
      broken = true;
    } else if (w < 0 && errno != EINTR && errno != EAGAIN) {
      result = internal_error("cannot write the input of " + name_ + ": " + std::strerror(errno));
    }
  }
  if (broken && !pending_before) {
    const timespec now{0, 0};
    while (sigtimedwait(&pipe_signal, nullptr, &now) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  close_fd(in_fd_);
  return result;
}

void Process::read_ready(short out_events, short err_events) {
  int* fds[2] = {&out_fd_, &err_fd_};
  std::string* sinks[2] = {&out_text_, &err_text_};
  const short events[2] = {out_events, err_events};
  for (int i = 0; i < 2; ++i) {
    if (*fds[i] < 0 || !(events[i] & (POLLIN | POLLHUP | POLLERR))) continue;
    char buf[4096];
    const ssize_t n = ::read(*fds[i], buf, sizeof buf);
    if (n > 0) {
      sinks[i]->append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      close_fd(*fds[i]);
    }
  }
}

bool Process::read_outputs(ProcessClock::time_point deadline) {
  pollfd polled[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};  // poll passes over an fd of -1
  if (out_fd_ < 0 && err_fd_ < 0) return false;
  for (;;) {
    const timespec left = time_left(deadline);
    const int n = ::ppoll(polled, 2, &left, nullptr);
    if (n > 0) break;
    if (n < 0 && errno == EINTR) continue;
    return true;  // the deadline passed
  }
  read_ready(polled[0].revents, polled[1].revents);
  return out_fd_ >= 0 || err_fd_ >= 0;
}

std::optional<int> Process::finish(ProcessClock::time_point deadline) {
  while (read_outputs(deadline) && ProcessClock::now() < deadline) {
  }
  return wait_until(deadline);
}

int Process::stop(std::chrono::milliseconds grace) {
  if (!started()) return -1;
  signal(SIGTERM);
  const std::optional<int> status = finish(ProcessClock::now() + grace);
  return status ? *status : kill_now();
}

std::string Process::out() const { return out_file_.empty() ? out_text_ : read_from(out_file_, out_from_); }

std::string Process::err() const {
  if (err_file_.empty()) return err_text_;
  return err_file_ == out_file_ ? std::string() : read_from(err_file_, err_from_);
}

Result<std::string> Process::wait_for_line(std::string_view marker, ProcessClock::time_point deadline) {
  const std::string bound = duration_text(deadline - ProcessClock::now());
  std::string what(marker);
  while (!what.empty() && what.back() == ' ') what.pop_back();
  for (;;) {
    const std::string text = out();
    if (std::optional<std::string> rest = line_after(text, marker)) return std::move(rest).value();
    if (status_) {
      finish(deadline);  // what it printed before it ended may still be in the pipes
      if (std::optional<std::string> rest = line_after(out(), marker)) return std::move(rest).value();
      return internal_error(name_ + " ended with status " + std::to_string(*status_) + " before it printed '" + what +
                            "'; its output: " + out() + err());
    }
    const auto now = ProcessClock::now();
    if (now >= deadline) {
      kill_now();
      return unavailable(name_ + " printed no '" + what + "' line within " + bound + "; its output: " + out() + err());
    }
    // Piped output wakes this at once; a file is looked at again every few milliseconds.
    const auto step = std::min(deadline, now + kFilePoll);
    const bool reading = read_outputs(deadline);
    wait_until(reading ? now : step);
  }
}

Process::Released Process::release() {
  Released r{pid(), std::exchange(in_fd_, -1), std::exchange(out_fd_, -1), std::exchange(err_fd_, -1)};
  close_fd(pidfd_);
  pid_ = -1;
  status_.reset();
  return r;
}

Result<Ran> run_to_end(const std::vector<std::string>& argv, const RunOptions& options) {
  const auto start = ProcessClock::now();
  ProcessOptions process = options.process;
  process.with_input = true;
  SB_ASSIGN_OR_RETURN(Process p, Process::start(argv, process));
  const auto deadline = start + options.timeout;
  SB_RETURN_IF_ERROR(p.write_input(options.input, deadline).with_context(command_text(argv) + ": "));
  const auto kill_at = options.kill_after ? std::min(deadline, start + *options.kill_after) : deadline;
  std::optional<int> status = p.finish(kill_at);
  const bool killed = !status;
  if (killed) {
    p.signal(SIGKILL);
    // The pipes end with the child, unless something it started holds them still.
    status = p.finish(ProcessClock::now() + kPipeGrace);
    if (!status) status = p.kill_now();
  }
  Ran r;
  r.exit_code = *status;
  r.killed = killed && *status == 128 + SIGKILL;
  r.out = p.out();
  r.err = p.err();
  r.seconds = std::chrono::duration<double>(ProcessClock::now() - start).count();
  if (killed && kill_at >= deadline) {
    return unavailable(command_text(argv) + " did not end within " + duration_text(options.timeout) +
                       "; its error output: " + r.err);
  }
  return r;
}

}  // namespace shiftbook
