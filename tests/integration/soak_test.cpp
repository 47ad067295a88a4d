// A short run of the soak (tools/soak_world.h, docs/FAULTS.md): three terminals sync through the
// fault proxy while syncs and the server are SIGKILLed, then every check of the soak must pass. The
// long run is `shiftbook-soak --minutes M` on request.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "shiftbook/canonical.h"
#include "support/fixture.h"

using namespace shiftbook;
using Steady = std::chrono::steady_clock;

namespace {

struct Finished {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs shiftbook-soak with `args` to its end (the test fails after `bound`). It prints a few lines
// only, so its output is read after it exits.
Finished run_soak(const std::vector<std::string>& args, std::chrono::seconds bound) {
  std::vector<std::string> argv{SHIFTBOOK_SOAK_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  const shiftbook::testing::Child child = shiftbook::testing::spawn_child(argv);
  const auto deadline = Steady::now() + bound;
  int status = 0;
  pid_t r = 0;
  while ((r = ::waitpid(child.pid, &status, WNOHANG)) == 0 && Steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (r != child.pid) {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, &status, 0);
  }
  Finished f;
  f.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  for (auto [fd, sink] : {std::pair{child.out_fd, &f.out}, std::pair{child.err_fd, &f.err}}) {
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) sink->append(buf, static_cast<std::size_t>(n));
    ::close(fd);
  }
  REQUIRE_MESSAGE(r == child.pid, "shiftbook-soak did not finish within " << bound.count() << " s: " << f.err);
  return f;
}

}  // namespace

TEST_CASE("soak: terminals syncing through every fault while syncs and the server are killed lose nothing and converge") {
  const Finished f = run_soak({"--terminals", "3", "--events-per-terminal", "12", "--minutes", "0.2", "--seed", "11",
                               "--server-kill-seconds", "2", "--json"},
                              std::chrono::seconds(240));
  REQUIRE_MESSAGE(f.exit_code == 0, f.out << f.err);
  const Json figures = Json::parse(f.out);
  MESSAGE(figures.dump());
  CHECK(figures["ok"] == true);
  CHECK(figures["problems"].empty());
  CHECK(figures["terminals"] == 3);
  CHECK(figures["events_recorded"] == 3 * 13);  // a shift and twelve entries each
  CHECK(figures["events_on_server"] == figures["events_recorded"]);
  CHECK(figures["server_kills"].get<int>() >= 1);
  CHECK(figures["client_kills"].get<int>() >= 1);
  CHECK(figures["proxy"]["faults_total"].get<int>() >= 1);
  CHECK(figures["syncs_ok"].get<int>() >= 1);
}

TEST_CASE("soak: a bad option is a usage error and starts nothing") {
  const Finished f = run_soak({"--terminals", "0"}, std::chrono::seconds(30));
  CHECK(f.exit_code == 2);
  CHECK(f.err.find("--terminals") != std::string::npos);
}
