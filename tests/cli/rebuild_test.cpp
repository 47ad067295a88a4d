// verify catches what the terminal shows drifting from its signed events; rebuild mends it, and
// refuses when the events themselves are damaged.
#include "cli/cli_support.h"

using namespace shiftbook::testing;

namespace {
void sql(const Cli& cli, const std::string& statement) { exec_sql(cli.store() + "/terminal.db", statement); }
}  // namespace

TEST_CASE("cli: verify names an entry whose derived state was edited, and rebuild restores it") {
  Cli cli;
  cli.ready();
  REQUIRE(cli.run({"log", "output", "--product", "P1", "--quantity", "120"}).exit_code == 0);
  sql(cli, "UPDATE entries SET quantity = 999999 WHERE seq = 2");
  CHECK(cli.json({"summary", "--json"})["output"][0]["quantity"] == 999999);

  RunResult bad = cli.run({"verify"});
  check_fails(bad, 9, "entry 2 of device");
  CHECK(bad.err.find("'shiftbook rebuild'") != std::string::npos);

  RunResult rebuilt = cli.run({"rebuild"});
  REQUIRE_MESSAGE(rebuilt.exit_code == 0, rebuilt.err);
  CHECK(rebuilt.out.find("from 2 signed events") != std::string::npos);
  CHECK(cli.json({"summary", "--json"})["output"][0]["quantity"] == 120);
  CHECK(cli.json({"verify", "--json"})["ok"] == true);
}

TEST_CASE("cli: rebuild refuses a log whose events do not verify, and changes nothing") {
  Cli cli;
  cli.ready();
  REQUIRE(cli.run({"log", "output", "--product", "P1", "--quantity", "120"}).exit_code == 0);
  sql(cli, "UPDATE entries SET quantity = 7 WHERE seq = 2");
  sql(cli, "UPDATE events SET raw = substr(raw, 1, 120) || X'FF' || substr(raw, 122) WHERE seq = 2");
  check_fails(cli.run({"rebuild"}), 9, "nothing was rebuilt");
  CHECK(query_int(cli.store() + "/terminal.db", "SELECT quantity FROM entries WHERE seq = 2") == 7);
}
