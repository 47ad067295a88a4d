// The store as a whole through the binary: where it is, missing, too new, damaged, tampered with;
// reference files that are not JSON; usage errors and help.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "cli/cli_support.h"

namespace shiftbook::testing {
namespace {

// Changes the last byte of event `seq`'s stored canonical bytes, as someone editing the file would.
void alter_event(const std::string& db_path, int seq) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* read = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT raw FROM events WHERE seq = ?", -1, &read, nullptr) == SQLITE_OK);
  sqlite3_bind_int(read, 1, seq);
  REQUIRE(sqlite3_step(read) == SQLITE_ROW);
  const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(read, 0));
  std::string raw(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(read, 0)));
  sqlite3_finalize(read);
  raw.back() = raw.back() == '1' ? '2' : '1';
  sqlite3_stmt* write = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "UPDATE events SET raw = ? WHERE seq = ?", -1, &write, nullptr) == SQLITE_OK);
  sqlite3_bind_blob(write, 1, raw.data(), static_cast<int>(raw.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int(write, 2, seq);
  CHECK(sqlite3_step(write) == SQLITE_DONE);
  sqlite3_finalize(write);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("cli: no store is exit 4, and init refuses to overwrite one with exit 5") {
  Cli t;
  check_fails(t.run({"status"}), 4, "no store in " + t.store() + "; run 'shiftbook init' first");
  check_fails(t.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "07:00"}), 4, "no store");
  CHECK_FALSE(std::filesystem::exists(t.store()));
  REQUIRE(t.run({"init"}).exit_code == 0);
  check_fails(t.run({"init"}), 5, "a store already exists");
}

TEST_CASE("cli: a store from a newer schema version is refused with exit 6, asking for an upgrade") {
  Cli t;
  REQUIRE(t.run({"init"}).exit_code == 0);
  exec_sql(t.store() + "/terminal.db", "PRAGMA user_version = 99");
  check_fails(t.run({"status"}), 6, "install a newer shiftbook");
  check_fails(t.run({"list"}), 6, "schema version 99");
}

TEST_CASE("cli: a damaged store is exit 9") {
  Cli t;
  REQUIRE(t.run({"init"}).exit_code == 0);
  std::ofstream(t.store() + "/terminal.db", std::ios::binary | std::ios::trunc) << std::string(8192, 'x');
  check_fails(t.run({"status"}), 9, "is not a Shiftbook store or is damaged");
  check_fails(t.run({"verify"}), 9, "damaged");
}

TEST_CASE("cli: verify names the first event altered behind the program's back, with exit 9") {
  Cli t;
  t.ready();
  REQUIRE(t.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}).exit_code == 0);
  REQUIRE(t.run({"log", "hours", "--worker", "W2", "--start", "06:00", "--end", "14:00"}).exit_code == 0);
  alter_event(t.store() + "/terminal.db", 2);  // "W1" becomes "W2" inside its body
  RunResult r = t.run({"verify", "--json"});
  CHECK(r.exit_code == 9);
  CHECK(r.err.find("verify failed: event 2 of device") != std::string::npos);
  Json report = Json::parse(r.out);
  CHECK(report["ok"] == false);
  CHECK(report["problem"].get<std::string>().find("event 2") != std::string::npos);
}

TEST_CASE("cli: a reference file that is not JSON is exit 3 with the parser's position, and changes nothing") {
  Cli t;
  t.init_with_reference();
  check_fails(t.run({"ref", "import", t.write("bad.json", "{\"sites\": [\n  {\"id\": \"S1\",}\n]}")}), 3,
              "is not valid JSON: parse error at line 2, column 15");
  check_fails(t.run({"ref", "import", "-"}, "[1, 2"), 3, "standard input is not valid JSON");
  check_fails(t.run({"ref", "import", t.file("missing.json")}), 4, "cannot read");
  check_fails(t.run({"ref", "import", t.write("empty.json", "{}")}), 3, "");
  CHECK(t.json({"status", "--json"})["reference"]["workers"] == 4);
}

TEST_CASE("cli: reference data may come from standard input") {
  Cli t;
  REQUIRE(t.run({"init"}).exit_code == 0);
  RunResult r = t.run({"ref", "import", "-"}, sample_reference().dump());
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(t.json({"ref", "show", "--json"})["products"].size() == 2);
  CHECK(t.run({"ref", "show"}).out.find("Powder coat") != std::string::npos);
}

TEST_CASE("cli: usage errors are exit 2 with one line pointing at the help") {
  Cli t;
  check_fails(run_shiftbook({}), 2, "subcommand is required");
  check_fails(run_shiftbook({"frobnicate"}), 2, "unknown command 'frobnicate' (see 'shiftbook --help')");
  check_fails(run_shiftbook({"log", "minutes"}), 2, "unknown command 'minutes' (see 'shiftbook log --help')");
  check_fails(t.run({"log", "hours", "--worker", "W1"}), 2, "--start is required (see 'shiftbook log hours --help')");
  check_fails(t.run({"correct", "2", "--special", "maybe", "--reason", "x"}), 2, "--special");
  check_fails(t.run({"summary", "--unit", "U1"}), 2, "--unit requires --period");
  check_fails(t.run({"list", "--kind", "shift"}), 2, "--kind");
}

TEST_CASE("cli: --help lists the exit statuses, and every command has help") {
  RunResult top = run_shiftbook({"--help"});
  CHECK(top.exit_code == 0);
  for (const char* line : {"0   ok", "2   usage error", "3   invalid input", "4   not found", "5   already exists",
                           "6   not allowed now", "7   wrong PIN", "8   locked out", "9   store damaged",
                           "10  store busy", "11  a limit was reached"}) {
    CHECK_MESSAGE(top.out.find(line) != std::string::npos, line);
  }
  for (std::vector<std::string> cmd : std::vector<std::vector<std::string>>{
           {"init"}, {"ref", "import"}, {"ref", "show"}, {"ref", "hash-pin"}, {"leader", "add"}, {"leader", "list"},
           {"login"}, {"logout"}, {"shift", "open"}, {"shift", "close"}, {"shift", "list"}, {"log", "hours"},
           {"log", "output"}, {"log", "bonus"}, {"confirm"}, {"correct"}, {"void"}, {"list"}, {"show"},
           {"summary"}, {"status"}, {"verify"}, {"export"}}) {
    cmd.push_back("--help");
    RunResult r = run_shiftbook(cmd);
    CHECK_MESSAGE(r.exit_code == 0, cmd[0]);
    CHECK_MESSAGE(r.out.find("Usage: shiftbook " + cmd[0]) != std::string::npos, r.out);
  }
}

TEST_CASE("cli: the store comes from --store before or after the command, else $SHIFTBOOK_STORE") {
  Cli t;
  REQUIRE(run_shiftbook({"init", "--store", t.store()}).exit_code == 0);
  CHECK(run_shiftbook({"ref", "import", "--store", t.store(), t.write("r.json", sample_reference().dump())}).exit_code == 0);
  RunResult env = run_shiftbook({"status", "--json"}, {}, {"SHIFTBOOK_STORE=" + t.store()});
  REQUIRE_MESSAGE(env.exit_code == 0, env.err);
  CHECK(Json::parse(env.out)["store"] == t.store());
  CHECK(run_shiftbook({"status"}, {}, {"SHIFTBOOK_STORE=" + t.file("elsewhere")}).exit_code == 4);
}

TEST_CASE("cli: export to a file that cannot be written leaves nothing behind") {
  Cli t;
  t.ready();
  check_fails(t.run({"export", "--output", t.file("no/such/folder/log.jsonl")}), 4, "cannot write");
  CHECK(t.run({"export", "--output", t.file("log.jsonl")}).exit_code == 0);
}

}  // namespace shiftbook::testing
