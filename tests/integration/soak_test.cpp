// A short run of the soak (tools/soak_world.h, docs/FAULTS.md): three terminals sync through the
// fault proxy while syncs and the server are SIGKILLed, then every check of the soak must pass. The
// long run is `shiftbook-soak --minutes M` on request.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "shiftbook/canonical.h"
#include "shiftbook/platform/process.h"

using namespace shiftbook;

namespace {

struct Finished {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs shiftbook-soak with `args` to its end (the test fails after `bound`).
Finished run_soak(const std::vector<std::string>& args, std::chrono::seconds bound) {
  std::vector<std::string> argv{SHIFTBOOK_SOAK_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.timeout = bound;
  Result<Ran> ran = run_to_end(argv, options);
  REQUIRE_MESSAGE(ran.is_ok(), ran.status().to_string());
  return Finished{ran->exit_code, ran->out, ran->err};
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
