// PINs typed at a terminal: the binary runs on a pseudo-terminal, answers its prompts, and must
// not echo what was typed; a new PIN is asked twice and the two must match.
#include <doctest/doctest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "cli/cli_support.h"

namespace shiftbook::testing {
namespace {

struct PtyResult {
  int exit_code = -1;
  std::string transcript;  // everything the program wrote to the terminal, and its echo
};

// Runs shiftbook on a new pseudo-terminal; each time the next prompt appears, types its reply.
PtyResult run_on_terminal(const std::vector<std::string>& args,
                          const std::vector<std::pair<std::string, std::string>>& script) {
  std::vector<std::string> argv_s{SHIFTBOOK_BIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::execv(SHIFTBOOK_BIN, argv.data());
    ::_exit(127);
  }
  PtyResult result;
  std::size_t next = 0, seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd fd{master, POLLIN, 0};
    if (::poll(&fd, 1, 100) <= 0) continue;
    char buf[1024];
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the program has exited and closed the terminal
    result.transcript.append(buf, static_cast<std::size_t>(n));
    if (next < script.size()) {
      auto at = result.transcript.find(script[next].first, seen);
      if (at != std::string::npos) {
        seen = at + script[next].first.size();
        const std::string& reply = script[next++].second;
        REQUIRE(::write(master, reply.data(), reply.size()) == static_cast<ssize_t>(reply.size()));
      }
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace

TEST_CASE("cli: at a terminal a new PIN is asked twice without echo, and two different PINs change nothing") {
  Cli t;
  t.init_with_reference();
  t.add_leader(true);
  PtyResult r = run_on_terminal({"--store", t.store(), "leader", "add", "L2", "--name", "Lev"},
                                {{"New PIN for L2: ", "2580\n"}, {"New PIN for L2 again: ", "2581\n"}});
  CHECK(r.exit_code == 3);
  CHECK(r.transcript.find("the two PINs do not match") != std::string::npos);
  CHECK(r.transcript.find("258") == std::string::npos);
  CHECK(t.json({"leader", "list", "--json"})["leaders"].size() == 1);
}

TEST_CASE("cli: at a terminal a leader logs in with a PIN that is not echoed") {
  Cli t;
  t.init_with_reference();
  t.add_leader(false);
  PtyResult r = run_on_terminal({"--store", t.store(), "login", "L1"}, {{"PIN for L1: ", "4321\n"}});
  CHECK_MESSAGE(r.exit_code == 0, r.transcript);
  CHECK(r.transcript.find("logged in as L1") != std::string::npos);
  CHECK(r.transcript.find("4321") == std::string::npos);
}

}  // namespace shiftbook::testing
