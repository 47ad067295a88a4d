// `shiftbook-server account ...` (admin_accounts.cpp, docs/DASHBOARD.md) as the administrator runs
// it: the password comes from standard input and is never shown or kept; list shows each account's
// state; every mistake is refused with its exit status and a message saying what to do.
#include <doctest/doctest.h>

#include <string>

#include "integration/terminal_cli.h"
#include "support/fixture.h"
#include "support/server_process.h"
#include "support/store_sql.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("account commands: made from standard input, listed without the password, disabled, given a new one") {
  ServerProcess server;
  const std::string password = "correct horse battery";
  const RunResult made = server.run({"account", "create", "--name", "anna"}, password + "\n");
  ok(made, "account create");
  CHECK(has(made.out, "made account anna"));
  CHECK_FALSE(has(made.out + made.err, password));
  const std::string store = server.store_url();
  CHECK(testing::store_int(store, "SELECT count(*) FROM accounts WHERE name = 'anna' AND password_hash LIKE '$argon2id$%'") ==
        1);
  CHECK(testing::store_int(store, "SELECT count(*) FROM accounts WHERE password_hash LIKE '%" + password + "%'") == 0);

  const RunResult list = server.run({"account", "list"});
  ok(list, "account list");
  CHECK(has(list.out, "anna"));
  CHECK(has(list.out, "active"));
  CHECK_FALSE(has(list.out, "argon2"));
  const Json listed = server.json({"account", "list", "--json"});
  REQUIRE(listed["accounts"].size() == 1);
  CHECK(listed["accounts"][0]["name"] == "anna");
  CHECK(listed["accounts"][0]["state"] == "active");
  CHECK_FALSE(listed["accounts"][0].contains("password_hash"));

  ok(server.run({"account", "password", "--name", "anna"}, "a brand new password\n"), "account password");
  const RunResult off = server.run({"account", "disable", "--name", "anna"});
  ok(off, "account disable");
  CHECK(has(off.out, "disabled account anna"));
  CHECK(has(server.run({"account", "list"}).out, "disabled"));
}

TEST_CASE("account commands: a bad name or password, a taken name and an unknown account are refused") {
  ServerProcess server;
  ok(server.run({"account", "create", "--name", "anna"}, "correct horse battery\n"), "account create");

  const RunResult short_one = server.run({"account", "create", "--name", "boris"}, "too short\n");
  CHECK(short_one.exit_code == 3);
  CHECK(has(short_one.err, "shorter than 12 bytes"));
  CHECK_FALSE(has(short_one.err, "too short"));
  const RunResult none = server.run({"account", "create", "--name", "boris"}, "");
  CHECK(none.exit_code == 3);
  CHECK(has(none.err, "no password on standard input"));
  const RunResult bad_name = server.run({"account", "create", "--name", "Boris"}, "correct horse battery\n");
  CHECK(bad_name.exit_code == 3);
  CHECK(has(bad_name.err, "use 1 to 64 of a-z, 0-9"));
  const RunResult taken = server.run({"account", "create", "--name", "anna"}, "another long password\n");
  CHECK(taken.exit_code == 5);
  CHECK(has(taken.err, "exists already"));
  const RunResult unknown = server.run({"account", "disable", "--name", "nobody"});
  CHECK(unknown.exit_code == 4);
  CHECK(has(unknown.err, "account list"));
  ok(server.run({"account", "disable", "--name", "anna"}), "account disable");
  const RunResult twice = server.run({"account", "disable", "--name", "anna"});
  CHECK(twice.exit_code == 6);
  CHECK(has(twice.err, "disabled already"));
  CHECK(server.json({"account", "list", "--json"})["accounts"].size() == 1);
}
