// The programs the crash world (crash_world.h) starts and kills: a child whose outputs go to files
// (a pipe that nobody reads would stall a server that logs every request), waited for through a
// pidfd so that every wait ends exactly when the child does or at a deadline, and killed with
// SIGKILL at a chosen moment. Free of doctest, so that the shiftbook-crash tool links it too.
// Used from one thread; a Process or ServerChild still running on destruction is SIGKILLed and
// reaped.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "shiftbook/status.h"

namespace shiftbook::testing::crash {

using Steady = std::chrono::steady_clock;

// The bound on one program run: generous, for a pull of 10,000 events in the sanitizer build.
inline constexpr std::chrono::milliseconds kProgramTimeout = std::chrono::seconds(120);

// The contents of a file, or "" when it cannot be read.
std::string read_text(const std::string& path);

class Process {
 public:
  // Starts argv[0] with the rest as arguments, standard input from /dev/null, standard output
  // and error into the two files (created or truncated). The environment is this process's minus
  // any store or server folder default ($SHIFTBOOK_STORE, $SHIFTBOOK_SERVER_DIR).
  static Result<Process> start(const std::vector<std::string>& argv, const std::string& out_path,
                               const std::string& err_path);
  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  bool started() const { return pid_ > 0; }
  bool running();
  // Waits for the exit up to `deadline`: the exit status (128 + signal for a signal), or nothing
  // while it still runs then.
  std::optional<int> wait_until(Steady::time_point deadline);
  // SIGKILL unless it has exited, then reaps it: its exit status, 137 when the kill ended it.
  int kill_now();
  // Sends `sig` unless it has been reaped (the pid then still names it).
  void signal(int sig) const;
  std::string out() const { return read_text(out_path_); }
  std::string err() const { return read_text(err_path_); }

 private:
  void reap(int status);
  void release();
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<int> status_;
  std::string out_path_, err_path_;
};

// What a program that ran to its end printed, and how long it took.
struct Ran {
  int exit_code = -1;
  std::string out, err;
  double seconds = 0;
};
// Runs argv to its end, its outputs in `scratch`.out and `scratch`.err; unavailable if it has not
// ended after `timeout` (it is killed then).
Result<Ran> run(const std::vector<std::string>& argv, const std::string& scratch, std::chrono::milliseconds timeout);
// The same for a program that must exit 0; otherwise an error with its exit status and message.
Result<Ran> run_ok(const std::vector<std::string>& argv, const std::string& scratch,
                   std::chrono::milliseconds timeout);

// `shiftbook-server --dir DIR serve --listen 127.0.0.1:0`, its log in a file.
class ServerChild {
 public:
  // Starts it and waits (up to 10 s) for its "listening on URL" line.
  static Result<ServerChild> start(const std::string& dir, const std::string& log_prefix);
  ServerChild() = default;
  ServerChild(ServerChild&&) noexcept = default;
  ServerChild& operator=(ServerChild&&) noexcept = default;

  const std::string& url() const { return url_; }
  bool running() { return process_.started() && process_.running(); }
  // SIGKILL: the server gets no chance to finish anything.
  int kill_now() { return process_.kill_now(); }
  // SIGTERM, then up to 10 s for in-flight requests to finish; SIGKILL after that. Its exit status.
  int stop();
  std::string log() const { return process_.out(); }
  std::string err() const { return process_.err(); }

 private:
  Process process_;
  std::string url_;
};

}  // namespace shiftbook::testing::crash
