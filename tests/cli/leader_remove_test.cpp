// Removing a shift leader from the command line.
#include "cli/cli_support.h"

using namespace shiftbook::testing;

TEST_CASE("cli: leader remove needs another leader logged in and leaves the log alone") {
  Cli cli;
  cli.ready();  // L1 logged in, shift open
  REQUIRE(cli.run({"log", "output", "--product", "P1", "--quantity", "5"}).exit_code == 0);
  const auto events = cli.events();
  check_fails(cli.run({"leader", "remove", "L1"}), 6, "cannot remove themselves");
  check_fails(cli.run({"leader", "remove", "L7"}), 4, "no shift leader 'L7'");
  REQUIRE(cli.run({"logout"}).exit_code == 0);
  check_fails(cli.run({"leader", "remove", "L1"}), 6, "no shift leader is logged in");
  CHECK(cli.events() == events);
  CHECK(cli.json({"leader", "list", "--json"})["leaders"].size() == 1);
}
