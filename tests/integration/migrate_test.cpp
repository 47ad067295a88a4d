// `shiftbook-server migrate` (docs/POSTGRES.md, "Migrating a head office from SQLite"), with real
// processes: a head office on SQLite whose terminals synced, forked, were approved, revoked and
// quarantined moves to PostgreSQL and goes on serving them as if nothing happened; every refusal
// changes nothing; and the migration's table list covers every table of both schemas. Against the
// PostgreSQL server $SHIFTBOOK_TEST_POSTGRES names, or, without it, a throwaway cluster this test
// program starts itself (tools/postgres_cluster), so that the migration is always tested.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "integration/fork_world.h"
#include "integration/terminal_cli.h"
#include "migrate.h"
#include "shiftbook/platform/db.h"
#include "storage.h"
#include "support/postgres_schema.h"
#include "support/store_sql.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

// A cluster of this test program's own when $SHIFTBOOK_TEST_POSTGRES names none, stopped at exit.
class OwnCluster {
 public:
  OwnCluster() {
    if (!postgres_test_url().empty()) return;
    dir_ = temp_.file("cluster");
    // The postgres user runs the cluster when the tests run as root: it must enter the folder.
    std::filesystem::permissions(temp_.file(""), std::filesystem::perms(0755));
    const RunResult started = run_program(script(), {"start", dir_});
    REQUIRE_MESSAGE(started.exit_code == 0, ("tools/postgres_cluster start: " + started.err));
    std::string url = started.out;
    while (!url.empty() && (url.back() == '\n' || url.back() == ' ')) url.pop_back();
    ::setenv("SHIFTBOOK_TEST_POSTGRES", url.c_str(), 1);
  }
  ~OwnCluster() {
    // At exit doctest is gone, and run_program with it: a plain shell command.
    if (!dir_.empty()) (void)std::system(("'" + script() + "' stop '" + dir_ + "' >/dev/null 2>&1").c_str());
  }

 private:
  static std::string script() { return std::string(SHIFTBOOK_SOURCE_DIR) + "/tools/postgres_cluster"; }
  TempDir temp_;
  std::string dir_;
};

// A fresh, empty PostgreSQL schema to migrate into.
std::string fresh_target() {
  static OwnCluster cluster;
  return postgres_schemas().make();
}

// The tables the database `url` names holds in its schema.
std::vector<std::string> tables_in(const std::string& url) {
  auto conn = server::pg::Conn::connect(url);
  REQUIRE_MESSAGE(conn.is_ok(), conn.status().to_string());
  auto rows = (*conn)->query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = "
                             "current_schema() ORDER BY 1",
                             server::pg::Params(), "listing tables");
  REQUIRE_MESSAGE(rows.is_ok(), rows.status().to_string());
  std::vector<std::string> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back((*rows)[i].text(0));
  return out;
}

std::string source_of(const ServerProcess& server) { return "sqlite:" + server.dir() + "/server.db"; }

RunResult migrate(const ServerProcess& server, const std::string& from, const std::string& to,
                  const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{"migrate", "--from", from, "--to", to};
  args.insert(args.end(), extra.begin(), extra.end());
  return server.run(args);
}

// What head office answers about its store, compared before and after a migration.
std::string answers(const ServerProcess& server) {
  std::string out;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"audit", "--json"}, {"returns", "--json"}, {"shares", "--json"}, {"conflicts", "--json"},
           {"devices", "--json"}, {"quarantine", "--json"}, {"code", "list", "--json"}, {"token", "list", "--json"},
           {"account", "list", "--json"}}) {
    Json doc = server.json(args);
    // How long ago each terminal synced is the one answer that moves with the clock.
    if (doc.contains("devices")) {
      for (Json& d : doc["devices"]) d.erase("ago_ms");
    }
    out += doc.dump() + "\n";
  }
  return out;
}

bool exists(const std::string& path) { return std::filesystem::exists(path); }

// A head office on SQLite with two terminals that forked an entry (resolved), an approval, a token,
// an account, a code used and one unused, and a third terminal revoked with an event in quarantine.
struct SqliteHeadOffice : Fork {
  Cli c;
  SqliteHeadOffice() {
    const Json open = conflict();
    ok(server.run({"resolve", entry.substr(0, 12), "--winner", child_of(open, b).substr(0, 10), "--reason",
                   "worker confirms 15:00"}),
       "resolve");
    ok(a.run({"log", "output", "--product", "P1", "--quantity", "620"}), "a records output");
    ok(a.run({"sync"}), "a pushes its output");
    ok(server.run({"rules", "set", "--from", "2026-01-01", "--pool-share-permille", "750",
                   "--special-weight-permille", "500", "--skill-points", "100", "--innovation-points", "0"}),
       "rules set");
    ok(server.run({"approve", "--unit", "U1", "--period", "2026-11"}), "approve");
    ok(server.run({"token", "create", "--name", "payroll office"}), "token create");
    ok(server.run({"account", "create", "--name", "hq.lena"}, "a long enough password\n"), "account create");
    (void)server.create_code("S1", {"U1"});  // never used
    enroll(c, server);
    ok(c.run({"shift", "open", "--unit", "U1", "--date", "2026-11-17"}), "c opens");
    ok(c.run({"log", "hours", "--worker", "W2", "--start", "06:00", "--end", "14:00"}), "c records");
    ok(server.run({"device", "revoke", device_of(c).substr(0, 12), "--reason", "stolen"}), "revoke");
    CHECK(c.run({"sync"}).exit_code == 13);  // its hours go into quarantine
    for (const Cli* t : {&a, &b, &a}) ok(t->run({"sync"}), "settling sync");
  }
};

}  // namespace

TEST_CASE("migrate: a synced head office moves to PostgreSQL, terminals go on from their cursors, answers unchanged") {
  SqliteHeadOffice hq;
  const std::string before = answers(hq.server);
  REQUIRE_FALSE(hq.server.json({"quarantine", "--json"})["quarantine"].empty());
  const std::string address = hq.server.url().substr(std::string("http://").size());
  const std::int64_t events_a = hq.a.json({"status", "--json"})["events"].get<std::int64_t>();
  hq.server.stop();

  const std::string target = fresh_target();
  const RunResult moved = migrate(hq.server, source_of(hq.server), target);
  REQUIRE_MESSAGE(moved.exit_code == 0, moved.err);
  CHECK(moved.out.find("no problems; its audit export is identical to the source's") != std::string::npos);
  CHECK(moved.out.find(", quarantine 0,") == std::string::npos);  // the revoked terminal's events came too
  CHECK(moved.out.find("to go back to it, stop serve and remove " + hq.server.dir() + "/store") != std::string::npos);
  std::ifstream store(hq.server.dir() + "/store");
  std::string recorded;
  std::getline(store, recorded);
  CHECK(recorded == target);

  hq.server.start({"--listen", address});
  CHECK(answers(hq.server) == before);
  for (const Cli* t : {&hq.a, &hq.b}) {
    ok(t->run({"sync"}), "sync after the migration");
    CHECK(t->json({"status", "--json"})["events"] == events_a);  // nothing pulled twice, nothing missing
  }
  ok(hq.a.run({"log", "output", "--product", "P1", "--quantity", "5"}), "a records after the migration");
  ok(hq.a.run({"sync"}), "a pushes to PostgreSQL");
  ok(hq.b.run({"sync"}), "b pulls from PostgreSQL");
  CHECK(hq.b.json({"status", "--json"})["events"] == events_a + 1);
  CHECK(hq.a.json({"status", "--json"})["unsynced_events"] == 0);
  CHECK(hq.server.log_count("sync device") >= 3);
  Cli d;
  enroll(d, hq.server);
  CHECK(d.json({"status", "--json"})["events"] == events_a + 1);
  ok(d.run({"shift", "open", "--unit", "U1", "--date", "2026-11-18"}), "d records");
  ok(d.run({"sync"}), "d's first push: a new chain, whose id continues after the copied ones");
  CHECK(d.json({"status", "--json"})["unsynced_events"] == 0);

  const std::string file = hq.server.file("after.jsonl");
  ok(hq.server.run({"audit", "export", file}), "audit export of the target");
  const RunResult verified = run_program(SHIFTBOOK_VERIFY_AUDIT_BIN, {file, "--server-key", hq.server.key_hex()});
  CHECK_MESSAGE(verified.exit_code == 0, (verified.out + verified.err));
}

TEST_CASE("migrate: --copy-only copies and verifies but leaves DIR/store, and a second run refuses the filled target") {
  ServerProcess server;
  setup_head_office(server);
  const std::string target = fresh_target();
  const RunResult copied = migrate(server, source_of(server), target, {"--copy-only"});
  REQUIRE_MESSAGE(copied.exit_code == 0, copied.err);
  CHECK(copied.out.find(server.dir() + "/store is not changed (--copy-only was given)") != std::string::npos);
  CHECK_FALSE(exists(server.dir() + "/store"));

  const std::vector<std::string> held = tables_in(target);
  const RunResult again = migrate(server, source_of(server), target);
  refused(again, 5, "holds tables already (accounts, chains, codes");
  CHECK(tables_in(target) == held);
  CHECK_FALSE(exists(server.dir() + "/store"));
}

TEST_CASE("migrate: refuses a wrong --to or --from, a missing source and one that is not a head-office store") {
  ServerProcess server;
  const std::string target = fresh_target();
  refused(migrate(server, source_of(server), "mysql://hq@db/shiftbook"), 3, "--to must name a PostgreSQL database");
  refused(migrate(server, server.dir() + "/server.db", target), 3, "--from must name the SQLite store to migrate");
  refused(migrate(server, "sqlite:" + server.file("nowhere.db"), target), 4, "no SQLite store at");
  const std::string other = server.file("other.db");
  std::ofstream(other) << "not a database at all";
  refused(migrate(server, "sqlite:" + other, target), 9, "is not a Shiftbook head-office store");
  CHECK(tables_in(target).empty());
  CHECK_FALSE(exists(server.dir() + "/store"));
}

TEST_CASE("migrate: refuses a target holding other tables, and one it cannot reach, without echoing a password") {
  ServerProcess server;
  setup_head_office(server);
  const std::string target = fresh_target();
  auto conn = server::pg::Conn::connect(target);
  REQUIRE(conn.is_ok());
  REQUIRE((*conn)->exec("CREATE TABLE payroll_2025 (id BIGINT)").is_ok());
  refused(migrate(server, source_of(server), target), 5, "holds tables already (payroll_2025)");
  CHECK(tables_in(target) == std::vector<std::string>{"payroll_2025"});

  const RunResult unreachable = migrate(server, source_of(server), "postgresql://hq:s3cret-pw@127.0.0.1:1/shiftbook");
  refused(unreachable, 10, "cannot connect to the PostgreSQL server at 127.0.0.1:1");
  CHECK(unreachable.err.find("s3cret-pw") == std::string::npos);
  CHECK_FALSE(exists(server.dir() + "/store"));
}

TEST_CASE("migrate: refuses a source that a running serve holds open, and copies nothing") {
  ServerProcess server;
  setup_head_office(server);
  server.start();
  const std::string before = answers(server);
  const std::string target = fresh_target();
  refused(migrate(server, source_of(server), target), 10, "is open in another process (a running 'shiftbook-server serve'");
  CHECK(tables_in(target).empty());
  CHECK_FALSE(exists(server.dir() + "/store"));
  CHECK(answers(server) == before);
  server.stop();
  const RunResult moved = migrate(server, source_of(server), target);
  CHECK_MESSAGE(moved.exit_code == 0, moved.err);
}

TEST_CASE("migrate: refuses a source holding a table it does not know, and one whose own audit finds problems") {
  ServerProcess server;
  setup_head_office(server);
  const std::string target = fresh_target();
  auto sql = [&](const std::string& statement) {
    auto db = Db::open(server.dir() + "/server.db", false);
    REQUIRE(db.is_ok());
    REQUIRE_MESSAGE(db->exec(statement).is_ok(), statement);
  };
  sql("CREATE TABLE notes (text TEXT)");
  refused(migrate(server, source_of(server), target), 6, "holds tables this migration does not know (notes)");
  sql("DROP TABLE notes");
  sql("UPDATE heads SET signature = zeroblob(64) WHERE last_pos = (SELECT max(last_pos) FROM heads)");
  refused(migrate(server, source_of(server), target), 9, "the audit of the source finds 2 problems; run");
  CHECK(tables_in(target).empty());
  CHECK_FALSE(exists(server.dir() + "/store"));
}

TEST_CASE("migrate: its table list names every table of the SQLite and the PostgreSQL schema") {
  const server::MigrationTables& known = server::migration_tables();
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  TempDir temp;
  const std::string path = temp.file("server.db");
  REQUIRE(server::open_sqlite_storage(path, true).is_ok());
  auto db = Db::open(path, false);
  REQUIRE(db.is_ok());
  auto st = db->prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  REQUIRE(st.is_ok());
  std::vector<std::string> in_sqlite;
  while (*st->step()) in_sqlite.push_back(st->text(0));
  std::vector<std::string> expected = known.copied;
  expected.insert(expected.end(), known.sqlite_only.begin(), known.sqlite_only.end());
  CHECK(in_sqlite == sorted(expected));

  const std::string url = fresh_target();
  REQUIRE(server::open_storage(url, true).is_ok());
  expected = known.copied;
  expected.insert(expected.end(), known.postgres_only.begin(), known.postgres_only.end());
  CHECK(tables_in(url) == sorted(expected));
}

TEST_CASE("migrate: a store readied by restored keeps its positions skipped on PostgreSQL") {
  ServerProcess server;
  setup_head_office(server);
  server.start();
  Cli t;
  enroll(t, server);
  log_a_day(t);
  REQUIRE(server.stop() == 0);
  ok(server.run({"restored"}), "restored");  // after a restore, positions skip ahead (SERVER.md)
  const std::string target = fresh_target();
  ok(migrate(server, source_of(server), target, {"--copy-only"}), "migrate");
  // The counter goes on past the skip, not from the highest event copied: a terminal's cursor from
  // before the restore stays behind every event stored next on PostgreSQL too.
  CHECK(store_int(target, "SELECT last_pos FROM positions") > static_cast<std::int64_t>(server::kRestoreGap));
  CHECK(store_int(target, "SELECT count(*) FROM meta WHERE key = 'positions_from'") == 0);
}
