// The programs the crash world (crash_world.h) starts and kills, on the child processes of
// shiftbook/platform/process.h: outputs go to files (a pipe that nobody reads would stall a server
// that logs every request), every wait ends exactly when the child does or at a deadline, and a
// child is killed with SIGKILL at a chosen moment. Free of doctest, so that the shiftbook-crash
// tool links it too. Used from one thread; a Process or ServerChild still running on destruction
// is SIGKILLed and reaped.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "shiftbook/platform/process.h"
#include "shiftbook/status.h"

namespace shiftbook::testing::crash {

using Steady = std::chrono::steady_clock;
using shiftbook::Process;
using shiftbook::Ran;

// The bound on one program run: generous, for a pull of 10,000 events in the sanitizer build.
inline constexpr std::chrono::milliseconds kProgramTimeout = std::chrono::seconds(120);

// Starts argv with standard input from /dev/null and standard output and error into the two
// files (created or truncated).
Result<Process> start_to_files(const std::vector<std::string>& argv, const std::string& out_path,
                               const std::string& err_path);

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
  bool running() { return process_.running(); }
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
