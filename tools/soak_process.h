// Child processes of the soak (shiftbook-soak): commands run to their end or SIGKILLed at a chosen
// moment, and the long-running server and proxy, whose output goes to a log file and whose
// "listening on URL" line is waited for. Every wait is bounded. Functions are safe to call from
// several threads at once (pipes are made close-on-exec, so one child never holds another's); one
// Daemon is driven by one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "shiftbook/status.h"

namespace shiftbook::soak {

struct ProcessResult {
  int exit_code = -1;   // the exit status, or 128 + the signal that ended it
  bool killed = false;  // ended by the SIGKILL this call sent
  std::string out;
  std::string err;
};

// Runs argv[0] with the rest as arguments, feeding `input` on standard input, to its end. With
// `kill_after`, a process still running then is SIGKILLed. A process still running after
// `timeout` is killed and is an internal error naming the command.
Result<ProcessResult> run_process(const std::vector<std::string>& argv, const std::string& input = {},
                                  std::optional<std::chrono::milliseconds> kill_after = std::nullopt,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(120));

// A server or proxy: standard output and error appended to `log_path`.
class Daemon {
 public:
  Daemon(std::vector<std::string> argv, std::string log_path) : argv_(std::move(argv)), log_path_(std::move(log_path)) {}
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts it and waits up to 10 s for the "listening on URL" line it prints; returns the URL.
  Result<std::string> start();
  // SIGKILL, and reap.
  void kill_now();
  // SIGTERM; waits up to 10 s, then SIGKILLs. The exit status (128 + signal when killed).
  int stop();
  bool running() const { return pid_ > 0; }
  const std::string& log_path() const { return log_path_; }

 private:
  std::vector<std::string> argv_;
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace shiftbook::soak
