// Child processes (platform/process.h): outputs captured or in files, input fed, the folder
// defaults kept from children, every wait ending at its deadline, and a child that must be
// killed killed and reaped.
#include <doctest/doctest.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "shiftbook/platform/process.h"
#include "support/fixture.h"

using namespace shiftbook;
using namespace std::chrono_literals;

namespace {

const std::string kSh = "/bin/sh";

Ran must_run(const std::vector<std::string>& argv, const RunOptions& options = {}) {
  Result<Ran> ran = run_to_end(argv, options);
  REQUIRE_MESSAGE(ran.is_ok(), ran.status().to_string());
  return std::move(ran).value();
}

Process must_start(const std::vector<std::string>& argv, const ProcessOptions& options = {}) {
  Result<Process> p = Process::start(argv, options);
  REQUIRE_MESSAGE(p.is_ok(), p.status().to_string());
  return std::move(p).value();
}

// True while a process with this pid exists (a zombie counts).
bool exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

}  // namespace

TEST_CASE("process: a run to the end captures both outputs, the exit code, and reads its input") {
  RunOptions options;
  options.input = "two\nlines\n";
  Ran r = must_run({kSh, "-c", "cat; echo trouble >&2; exit 3"}, options);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "two\nlines\n");
  CHECK(r.err == "trouble\n");
  CHECK_FALSE(r.killed);
}

TEST_CASE("process: input a child never reads does not kill the caller") {
  RunOptions options;
  options.input = std::string(1 << 20, 'x');  // far more than a pipe holds
  Ran r = must_run({"/bin/true"}, options);
  CHECK(r.exit_code == 0);
}

TEST_CASE("process: a child that prints much before it reads its input does not stall the run") {
  RunOptions options;
  options.input = std::string(200'000, 'i');
  Ran r = must_run({kSh, "-c", "head -c 200000 /dev/zero; cat"}, options);
  CHECK(r.exit_code == 0);
  CHECK(r.out.size() == 400'000);
  CHECK(r.out.substr(200'000) == options.input);
}

TEST_CASE("process: a child that never reads a large input is an error at the timeout") {
  RunOptions options;
  options.input = std::string(1 << 20, 'x');
  options.timeout = 300ms;
  Result<Ran> r = run_to_end({"/bin/sleep", "30"}, options);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::kUnavailable);
  CHECK(r.status().message().find("sleep did not read its input within") != std::string::npos);
}

TEST_CASE("process: the store and server folder defaults stay out of a child unless given") {
  ::setenv("SHIFTBOOK_STORE", "/caller/store", 1);
  ::setenv("SHIFTBOOK_SERVER_DIR", "/caller/server", 1);
  const std::vector<std::string> show{kSh, "-c", "echo \"${SHIFTBOOK_STORE-none} ${SHIFTBOOK_SERVER_DIR-none}\""};
  CHECK(must_run(show).out == "none none\n");
  RunOptions given;
  given.process.env = {"SHIFTBOOK_STORE=/given"};
  CHECK(must_run(show, given).out == "/given none\n");
  RunOptions inherit;
  inherit.process.without_folder_defaults = false;
  CHECK(must_run(show, inherit).out == "/caller/store /caller/server\n");
  ::unsetenv("SHIFTBOOK_STORE");
  ::unsetenv("SHIFTBOOK_SERVER_DIR");
}

TEST_CASE("process: kill_after SIGKILLs a child still running then, and says so") {
  RunOptions options;
  options.kill_after = 100ms;
  Ran r = must_run({kSh, "-c", "echo started; exec sleep 30"}, options);
  CHECK(r.killed);
  CHECK(r.exit_code == 128 + SIGKILL);
  CHECK(r.out == "started\n");
  CHECK(r.seconds < 10);
}

TEST_CASE("process: a child still running at the timeout is killed and is an error naming it") {
  RunOptions options;
  options.timeout = 200ms;
  Result<Ran> r = run_to_end({kSh, "-c", "echo stuck >&2; exec sleep 30"}, options);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == Code::kUnavailable);
  CHECK(r.status().message().find("did not end within 200 ms") != std::string::npos);
  CHECK(r.status().message().find("stuck") != std::string::npos);
}

TEST_CASE("process: a program that cannot start, or no program, is an error") {
  Result<Process> missing = Process::start({"/nonexistent/shiftbook-nothing"});
  REQUIRE_FALSE(missing.is_ok());
  CHECK(missing.status().message().find("cannot start /nonexistent/shiftbook-nothing") != std::string::npos);
  Result<Process> none = Process::start({});
  REQUIRE_FALSE(none.is_ok());
  CHECK(none.status().code() == Code::kInvalidArgument);
}

TEST_CASE("process: wait_until ends at its deadline, and at once when the child ends") {
  Process p = must_start({"/bin/sleep", "30"});
  CHECK(p.running());
  const auto before = ProcessClock::now();
  CHECK_FALSE(p.wait_until(before + 50ms).has_value());
  CHECK(ProcessClock::now() - before >= 50ms);
  p.signal(SIGTERM);
  CHECK(p.wait_until(ProcessClock::now() + 10s) == 128 + SIGTERM);
  CHECK(ProcessClock::now() - before < 5s);
  CHECK_FALSE(p.running());
  CHECK(p.pid() == -1);
  CHECK(p.kill_now() == 128 + SIGTERM);  // already reaped: the status it had
}

TEST_CASE("process: a line is waited for in piped output") {
  Process p = must_start({kSh, "-c", "echo starting; echo 'listening on http://127.0.0.1:9'; exec sleep 30"});
  Result<std::string> url = p.wait_for_line("listening on ", ProcessClock::now() + 10s);
  REQUIRE_MESSAGE(url.is_ok(), url.status().to_string());
  CHECK(*url == "http://127.0.0.1:9");
  CHECK(p.kill_now() == 128 + SIGKILL);
}

TEST_CASE("process: a line is waited for in a file, and a child ending first is an error quoting it") {
  shiftbook::testing::TempDir dir;
  ProcessOptions options;
  options.out_file = dir.file("log");
  options.err_file = dir.file("log");
  options.append = true;
  Process first = must_start({kSh, "-c", "echo 'listening on http://first'; exec sleep 30"}, options);
  Result<std::string> url = first.wait_for_line("listening on ", ProcessClock::now() + 10s);
  REQUIRE_MESSAGE(url.is_ok(), url.status().to_string());
  CHECK(*url == "http://first");
  first.kill_now();

  Process second = must_start({kSh, "-c", "echo 'no port free' >&2; exit 2"}, options);
  Result<std::string> failed = second.wait_for_line("listening on ", ProcessClock::now() + 10s);
  REQUIRE_FALSE(failed.is_ok());
  CHECK(failed.status().message().find("sh ended with status 2 before it printed 'listening on'") !=
        std::string::npos);
  CHECK(failed.status().message().find("no port free") != std::string::npos);
  CHECK(second.out() == "no port free\n");  // what this child appended, not the first one's line
}

TEST_CASE("process: a line that never comes is an error at the deadline, and the child is killed") {
  Process p = must_start({"/bin/sleep", "30"});
  const pid_t pid = p.pid();
  Result<std::string> url = p.wait_for_line("listening on ", ProcessClock::now() + 200ms);
  REQUIRE_FALSE(url.is_ok());
  CHECK(url.status().code() == Code::kUnavailable);
  CHECK(url.status().message().find("sleep printed no 'listening on' line") != std::string::npos);
  CHECK(p.pid() == -1);
  CHECK_FALSE(exists(pid));
}

TEST_CASE("process: a child still running when its Process goes is killed and reaped") {
  pid_t pid = -1;
  {
    Process p = must_start({"/bin/sleep", "30"});
    pid = p.pid();
    REQUIRE(pid > 0);
    Process moved = std::move(p);
    CHECK(p.pid() == -1);
    CHECK(moved.pid() == pid);
  }
  CHECK_FALSE(exists(pid));
}
