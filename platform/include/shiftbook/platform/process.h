// Child processes for the tools and the tests: a program started with its standard outputs in
// pipes or in files, waited for with a deadline through a pidfd (so a wait ends exactly when the
// child does), signalled or SIGKILLed, run to its end with its output captured, or watched until
// it prints a line such as a server's "listening on URL".
// Invariant: a started child is reaped exactly once; one still running when its Process is
// destroyed is SIGKILLed and reaped. Every wait is bounded by a deadline the caller gives.
// Threads: pipes and pidfds are close-on-exec, so a child started on one thread never holds
// another child's pipe and functions may run on several threads at once; one Process is used by
// one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/status.h"

namespace shiftbook {

using ProcessClock = std::chrono::steady_clock;

struct ProcessOptions {
  // "NAME=value" entries added to the child's environment.
  std::vector<std::string> env;
  // Leaves $SHIFTBOOK_STORE and $SHIFTBOOK_SERVER_DIR out of the child's environment, so that it
  // never works on the caller's default folders by accident (`env` may set them again).
  bool without_folder_defaults = true;
  // Standard input from a pipe (write_input) rather than from /dev/null.
  bool with_input = false;
  // Standard output and error into these files rather than into pipes; the same path for both
  // puts both in one file. A pipe that nobody reads would stall a child that prints a lot.
  std::string out_file;
  std::string err_file;
  // The files are appended to rather than truncated; out() and err() then hold what this child
  // added.
  bool append = false;
};

// The exit status of a waitpid() status: the exit code, or 128 + the signal that ended it.
int exit_status(int wait_status);
// argv joined with spaces, to name a command in a message.
std::string command_text(const std::vector<std::string>& argv);
// The rest of the first complete line of `text` after `marker` ("listening on " gives the URL),
// or nothing while no such line has ended.
std::optional<std::string> line_after(std::string_view text, std::string_view marker);

class Process {
 public:
  // Starts argv[0] (a path) with the rest of argv as its arguments.
  static Result<Process> start(const std::vector<std::string>& argv, const ProcessOptions& options = {});
  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  bool started() const { return pid_ > 0; }
  // The child's pid until it is reaped; -1 then.
  pid_t pid() const { return started() && !status_ ? pid_ : -1; }
  bool running();
  // Waits for the exit up to `deadline`: the exit status, or nothing while it still runs then.
  std::optional<int> wait_until(ProcessClock::time_point deadline);
  // SIGKILL unless it has exited, then reaps it: its exit status, 137 when the kill ended it.
  int kill_now();
  // Sends `sig` unless the child has been reaped (the pid then still names it).
  void signal(int sig) const;

  // Writes `input` to standard input (started with_input) and closes it, so the child sees the
  // end of its input; piped outputs are read meanwhile. A child that stops reading (it exited) is
  // not an error; one that has not taken it all by `deadline` is unavailable.
  Status write_input(std::string_view input, ProcessClock::time_point deadline);
  // Reads the piped outputs until some text came, both have ended, or `deadline` passed; false
  // once both have ended (at once when neither is piped).
  bool read_outputs(ProcessClock::time_point deadline);
  // Reads the piped outputs to their end and waits for the exit, up to `deadline`: the exit
  // status, or nothing while it still runs then.
  std::optional<int> finish(ProcessClock::time_point deadline);
  // SIGTERM, then up to `grace` to finish; SIGKILL after that. The exit status (128 + signal for
  // a signal), -1 when nothing was started.
  int stop(std::chrono::milliseconds grace);
  // What standard output and error held so far: what was read from a pipe, or the file's text
  // (err() is empty when both streams go to one file: out() holds them).
  std::string out() const;
  std::string err() const;
  // Waits up to `deadline` for standard output to hold a line with `marker`: the rest of that
  // line. If the child ends first or the deadline passes, it is SIGKILLed and reaped, and the
  // error quotes what it printed.
  Result<std::string> wait_for_line(std::string_view marker, ProcessClock::time_point deadline);

  // The child and the parent's ends of its pipes (-1 where there is none), handed to a caller
  // that waits and reads itself: this Process owns none of them afterwards.
  struct Released {
    pid_t pid = -1;
    int in_fd = -1;
    int out_fd = -1;
    int err_fd = -1;
  };
  Released release();

 private:
  void close_fds();
  void release_child();
  // Reads once from each piped output whose poll events say it is ready.
  void read_ready(short out_events, short err_events);
  std::string name_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int in_fd_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::optional<int> status_;
  std::string out_file_, err_file_;
  std::uintmax_t out_from_ = 0, err_from_ = 0;
  std::string out_text_, err_text_;
};

struct RunOptions {
  ProcessOptions process;  // with_input is always on: `input` is written, then input closed
  std::string input;
  // A child still running this long after its start is SIGKILLed (Ran::killed).
  std::optional<std::chrono::milliseconds> kill_after;
  // A child still running this long after its start is SIGKILLed and is an error.
  std::chrono::milliseconds timeout = std::chrono::seconds(120);
};

// What a program that ran to its end printed, and how long it took.
struct Ran {
  int exit_code = -1;   // the exit code, or 128 + the signal that ended it
  bool killed = false;  // ended by the SIGKILL of kill_after
  std::string out;
  std::string err;
  double seconds = 0;
};

// Runs argv to its end, feeding `input`; outputs are captured through pipes unless the options
// name files. A child still running after `timeout` is killed and is an unavailable error naming
// the command and quoting its error output.
Result<Ran> run_to_end(const std::vector<std::string>& argv, const RunOptions& options = {});

}  // namespace shiftbook
