// Child processes of the soak (shiftbook-soak), on shiftbook/platform/process.h: commands run to
// their end or SIGKILLed at a chosen moment, and the long-running server and proxy, whose output
// goes to a log file and whose "listening on URL" line is waited for. Every wait is bounded.
// Functions are safe to call from several threads at once (pipes are close-on-exec, so one child
// never holds another's); one Daemon is driven by one thread at a time. Children inherit the
// soak's whole environment.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "shiftbook/platform/process.h"
#include "shiftbook/status.h"

namespace shiftbook::soak {

// exit_code: the exit status or 128 + the signal that ended it; killed: ended by the SIGKILL
// this call sent at `kill_after`.
using ProcessResult = shiftbook::Ran;

// Runs argv[0] with the rest as arguments, feeding `input` on standard input, to its end. With
// `kill_after`, a process still running then is SIGKILLed. A process still running after
// `timeout` is killed and is an error naming the command.
Result<ProcessResult> run_process(const std::vector<std::string>& argv, const std::string& input = {},
                                  std::optional<std::chrono::milliseconds> kill_after = std::nullopt,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(120));

// A server or proxy: standard output and error appended to `log_path`.
class Daemon {
 public:
  Daemon(std::vector<std::string> argv, std::string log_path) : argv_(std::move(argv)), log_path_(std::move(log_path)) {}
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Starts it and waits up to 10 s for the "listening on URL" line it prints; returns the URL.
  Result<std::string> start();
  // SIGKILL, and reap.
  void kill_now() { process_.kill_now(); }
  // SIGTERM; waits up to 10 s, then SIGKILLs. The exit status (128 + signal when killed).
  int stop();
  bool running() const { return process_.pid() > 0; }
  const std::string& log_path() const { return log_path_; }

 private:
  std::vector<std::string> argv_;
  std::string log_path_;
  Process process_;
};

}  // namespace shiftbook::soak
