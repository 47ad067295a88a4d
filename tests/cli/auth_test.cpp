// Leaders, logins and PINs through the binary: PINs come from standard input (the tests are not
// a terminal), wrong ones count, and five lock the leader out.
#include <doctest/doctest.h>

#include "cli/cli_support.h"
#include "shiftbook/crypto.h"

namespace shiftbook::testing {

TEST_CASE("cli: a wrong PIN is exit 7, and the fifth in a row locks the leader out with exit 8") {
  Cli t;
  t.init_with_reference();
  t.add_leader(false);
  for (int i = 0; i < 4; ++i) check_fails(t.run({"login", "L1"}, "0000\n"), 7, "wrong PIN for L1");
  check_fails(t.run({"login", "L1"}, "0000\n"), 8, "L1 is locked out for 15 minutes");
  check_fails(t.run({"login", "L1"}, "4321\n"), 8, "L1 is locked out");
  CHECK(t.json({"leader", "list", "--json"})["leaders"][0]["locked"] == true);
  CHECK(t.json({"status", "--json"})["leader"].is_null());
}

TEST_CASE("cli: PINs are read as one line of standard input, without CR LF, and never echoed") {
  Cli t;
  t.init_with_reference();
  RunResult added = t.run({"leader", "add", "L1", "--name", "Lena"}, "4321\r\n");
  REQUIRE_MESSAGE(added.exit_code == 0, added.err);
  RunResult login = t.run({"login", "L1", "--idle", "60"}, "4321\n");
  CHECK_MESSAGE(login.exit_code == 0, login.err);
  CHECK(login.out == "logged in as L1 (Lena); the login ends after 60 minutes without use\n");
  CHECK(t.json({"status", "--json"})["leader"]["idle_minutes"] == 60);
  CHECK(added.out.find("4321") == std::string::npos);
  CHECK(login.err.find("4321") == std::string::npos);
}

TEST_CASE("cli: a missing or malformed PIN and a bad idle time are invalid input") {
  Cli t;
  t.init_with_reference();
  t.add_leader(false);
  check_fails(t.run({"login", "L1"}), 3, "no PIN on standard input");
  check_fails(t.run({"login", "L1"}, "\n"), 3, "no PIN on standard input");
  check_fails(t.run({"login", "L1", "--idle", "0"}, "4321\n"), 3, "idle time must be 1 to 720 minutes");
  check_fails(t.run({"login", "L7"}, "4321\n"), 4, "there is no shift leader 'L7'");
  check_fails(t.run({"leader", "add", "L2", "--name", "Lev"}, "12\n"), 3, "4 to 64 characters");
  CHECK(t.json({"leader", "list", "--json"})["leaders"].size() == 1);
}

TEST_CASE("cli: only a logged-in leader adds another leader") {
  Cli t;
  t.init_with_reference();
  t.add_leader(false);
  check_fails(t.run({"leader", "add", "L2", "--name", "Lev"}, "5555\n"), 6, "only a logged-in shift leader");
  CHECK(t.json({"leader", "list", "--json"})["leaders"].size() == 1);
}

TEST_CASE("cli: once the terminal has a leader, only a logged-in leader imports reference data") {
  Cli t;
  t.init_with_reference();  // no leader yet: open, for setting the terminal up
  t.add_leader(false);
  Json changed = sample_reference();
  changed["workers"] = Json::array({changed["workers"][0]});
  const std::string file = t.write("changed.json", changed.dump());
  check_fails(t.run({"ref", "import", file}), 6, "only a logged-in shift leader can import reference data");
  CHECK(t.json({"status", "--json"})["reference"]["workers"] == 4);
  REQUIRE(t.run({"login", "L1"}, "4321\n").exit_code == 0);
  RunResult r = t.run({"ref", "import", file});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(t.json({"status", "--json"})["reference"]["workers"] == 1);
}

TEST_CASE("cli: a worker confirms only their own hours, with their own PIN") {
  Cli t;
  t.ready();
  REQUIRE(t.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}).exit_code == 0);
  const std::int64_t before = t.events();
  check_fails(t.run({"confirm", "2", "--worker", "W1"}, "2222\n"), 7, "wrong PIN for W1");
  check_fails(t.run({"confirm", "2", "--worker", "W2"}, "2222\n"), 8, "only 'W1' can confirm it");
  check_fails(t.run({"confirm", "2", "--worker", "W7"}, "2222\n"), 4, "worker 'W7' is not on the roster");
  CHECK(t.events() == before);
  CHECK(t.run({"confirm", "2", "--worker", "W1"}, "1111\r\n").exit_code == 0);
  check_fails(t.run({"confirm", "2", "--worker", "W1"}, "1111\n"), 5, "already confirmed");
  CHECK(t.events() == before + 1);
}

TEST_CASE("cli: ref hash-pin prints an Argon2id hash of the PIN for head office's roster") {
  RunResult r = run_shiftbook({"ref", "hash-pin"}, "2468\n");
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  REQUIRE(r.out.size() > 1);
  const std::string hash = r.out.substr(0, r.out.size() - 1);
  CHECK(is_pin_hash(hash));
  CHECK(verify_pin(hash, "2468").value());
  CHECK_FALSE(verify_pin(hash, "2469").value());
}

}  // namespace shiftbook::testing
