// `shiftbook sync --watch` against a real shiftbook-server on 127.0.0.1: it keeps trying while the
// server is down, with waits that grow, syncs once the server is back (restarted on the same
// port), carries a new entry to head office within seconds, records every attempt for `status`,
// and stops on SIGTERM with exit 0. Every wait is bounded.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "shiftbook/platform/process.h"
#include "support/fixture.h"
#include "support/server_process.h"

using namespace shiftbook;
using namespace shiftbook::testing;
using namespace std::chrono_literals;

namespace {

void ok(const RunResult& r, const std::string& what) { REQUIRE_MESSAGE(r.exit_code == 0, (what + ": " + r.err)); }

// `shiftbook sync --watch` as a child process whose output the test reads as it comes.
class Watch {
 public:
  Watch(const Cli& cli, const std::vector<std::string>& options) {
    std::vector<std::string> argv{SHIFTBOOK_BIN, "--store", cli.store(), "sync", "--watch"};
    argv.insert(argv.end(), options.begin(), options.end());
    Result<Process> started = Process::start(argv);
    REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
    child_ = std::move(started).value();
  }

  // Reads output until standard output holds `fragment` `times` times (true), or `timeout` passes.
  bool wait_for(const std::string& fragment, std::size_t times = 1, std::chrono::milliseconds timeout = 15s) {
    const auto deadline = ProcessClock::now() + timeout;
    while (count(fragment) < times) {
      if (ProcessClock::now() >= deadline || !child_.read_outputs(deadline)) return false;
      out = child_.out();
      err = child_.err();
    }
    return true;
  }
  std::size_t count(const std::string& fragment) const {
    std::size_t n = 0;
    for (auto at = out.find(fragment); at != std::string::npos; at = out.find(fragment, at + 1)) ++n;
    return n;
  }
  // Sends `sig` and waits (at most 20 s) for the exit; its status (128 + signal if killed), or -2
  // if it still runs then.
  int stop(int sig) {
    child_.signal(sig);
    const std::optional<int> status = child_.finish(ProcessClock::now() + 20s);
    out = child_.out();
    err = child_.err();
    return status.value_or(-2);
  }

  std::string out, err;

 private:
  Process child_;
};

// The waits announced after failed attempts ("trying again in 1.4 s"), in seconds.
std::vector<double> announced_waits(const std::string& out) {
  std::vector<double> waits;
  const std::regex wait(R"(trying again in ([0-9.]+) s)");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), wait); it != std::sregex_iterator(); ++it) {
    waits.push_back(std::stod((*it)[1]));
  }
  return waits;
}

// Head office with its plan, and a terminal of U1 enrolled, synced, and with L1 logged in.
struct Field {
  ServerProcess server;
  Cli cli;
  Field() {
    setup_head_office(server);
    server.start();
    ok(cli.run({"init"}), "init");
    ok(cli.run({"enroll", "--server", server.url(), "--code", server.create_code("S1", {"U1"})}), "enroll");
    ok(cli.run({"sync"}), "first sync");
    ok(cli.run({"login", "L1"}, "4321\n"), "login");
  }
  std::string port() const { return server.url().substr(server.url().rfind(':') + 1); }
};

}  // namespace

TEST_CASE("watch: while head office is down it retries with growing waits, and syncs once the server is back") {
  Field f;
  ok(f.cli.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  ok(f.cli.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours");
  const std::string port = f.port();
  f.server.stop();

  Watch w(f.cli, {"--retry-max", "3"});
  REQUIRE_MESSAGE(w.wait_for("trying again in", 4), (w.out + w.err));
  CHECK(w.out.find("watching head office at http://127.0.0.1:" + port) != std::string::npos);
  CHECK(w.out.find("sync failed (1 attempt): cannot reach http://127.0.0.1:" + port + ": connection refused") !=
        std::string::npos);
  CHECK(w.out.find("sync failed (3 attempts in a row)") != std::string::npos);
  const std::vector<double> waits = announced_waits(w.out);
  REQUIRE(waits.size() >= 4);
  CHECK(waits[0] <= 1.0);                         // from [0.5, 1]
  CHECK((waits[1] >= 1.0 && waits[1] <= 2.0));    // from [1, 2]
  CHECK((waits[2] >= 1.5 && waits[2] <= 3.0));    // from [1.5, 3]: capped by --retry-max 3
  CHECK((waits[3] >= 1.5 && waits[3] <= 3.0));
  Json health = f.cli.json({"status", "--json"})["sync_health"];
  CHECK(health["last_outcome"] == "unreachable");
  CHECK(health["failures"].get<int>() >= 4);

  f.server.start({"--listen", "127.0.0.1:" + port});
  REQUIRE_MESSAGE(w.wait_for("synced with http://127.0.0.1:" + port + ": pushed 2 events"), (w.out + w.err));
  CHECK(f.server.wait_for_log("pushed 2 (seq 1..2)"));
  Json status = f.cli.json({"status", "--json"});
  CHECK(status["unsynced_events"] == 0);
  CHECK(status["sync_health"]["last_outcome"] == "ok");
  CHECK(status["sync_health"]["failures"] == 0);

  CHECK(w.stop(SIGTERM) == 0);
  CHECK(w.out.find("stopped watching on SIGTERM; 0 events of this terminal wait for the next sync") !=
        std::string::npos);
  CHECK(w.err.empty());
}

TEST_CASE("watch: a new entry reaches head office within seconds, and SIGINT stops the watch with exit 0") {
  Field f;
  Watch w(f.cli, {});
  REQUIRE_MESSAGE(w.wait_for("watching head office"), (w.out + w.err));
  // The first sync moved nothing: no line for it. Then a shift leader records while it watches.
  ok(f.cli.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  const auto recorded = std::chrono::steady_clock::now();
  REQUIRE_MESSAGE(w.wait_for("synced with", 1, 10s), (w.out + w.err));
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - recorded);
  CHECK(f.server.wait_for_log("pushed 1 (seq 1..1)"));
  MESSAGE("a new entry reached head office " << took.count() << " ms after it was recorded");
  CHECK(took < 4s);
  ok(f.cli.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours");
  REQUIRE_MESSAGE(w.wait_for("synced with", 2, 10s), (w.out + w.err));
  CHECK(f.server.wait_for_log("pushed 1 (seq 2..2)"));
  CHECK(w.stop(SIGINT) == 0);
  CHECK(w.out.find("stopped watching on SIGINT") != std::string::npos);
}
