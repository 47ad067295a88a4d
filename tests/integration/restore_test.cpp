// A head office put back to a backup (docs/DEPLOYMENT.md, "Backups"): terminals were told of events
// the restored store lacks, and one of them had pulled past the backup's last position. Once
// `shiftbook-server restored` has run, the events stored next land after that terminal's cursor,
// so it pulls them; the terminal whose events were lost pushes them again. Run on SQLite, whose
// store a test can copy and put back as a backup would be; the positions' skip itself is a storage
// test on both backends (storage_order_test.cpp).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "integration/terminal_cli.h"
#include "support/fixture.h"
#include "support/server_process.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

std::int64_t events_held(const Cli& t) { return t.json({"status", "--json"}).at("events").get<std::int64_t>(); }

void log_output(const Cli& t, int quantity) {
  ok(t.run({"log", "output", "--product", "P1", "--quantity", std::to_string(quantity)}), "log output");
}

}  // namespace

TEST_CASE("restored (sqlite): after the store is put back to a backup, a terminal that pulled past it still gets what "
          "is stored next") {
  ServerProcess server;
  setup_head_office(server);
  const std::string url = server.start();
  const std::string address = url.substr(url.find("//") + 2);
  Cli a, b, c;
  for (const Cli* t : {&a, &b, &c}) enroll(*t, server);
  log_a_day(a);
  ok(b.run({"sync"}), "b syncs");
  ok(c.run({"sync"}), "c syncs");

  // The backup, taken now.
  const std::string db = server.dir() + "/server.db";
  const std::string backup = server.file("backup.db");
  exec_sql(db, "VACUUM INTO '" + backup + "'");

  // After it: a stores three more events in one push, and b pulls them, so b's cursor is three
  // positions past the backup's last one: more than c's push after the restore will take.
  for (const int quantity : {25, 5, 3}) log_output(a, quantity);
  ok(a.run({"sync"}), "a syncs after the backup");
  ok(b.run({"sync"}), "b pulls after the backup");
  CHECK(events_held(b) == events_held(a));

  // The store is lost and put back from the backup, then readied for the terminals.
  REQUIRE(server.stop() == 0);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  std::filesystem::copy_file(backup, db);
  const RunResult restored = server.run({"restored"});
  REQUIRE_MESSAGE(restored.exit_code == 0, restored.err);
  CHECK(restored.out.find("positions continue from ") != std::string::npos);
  CHECK(restored.out.find("no problems") != std::string::npos);
  const Json again = server.json({"restored", "--json"});
  CHECK(again.at("ok") == true);
  CHECK(again.at("skipped") == std::uint64_t{1} << 40);
  server.start({"--listen", address});

  // c stores something new first (two events: its push would sit at or below b's cursor were
  // positions not skipped), then a finds its lost events missing and pushes them again.
  ok(c.run({"shift", "open", "--unit", "U1", "--date", "2026-11-17"}), "c opens a shift");
  log_output(c, 7);
  ok(c.run({"sync"}), "c syncs after the restore");
  ok(a.run({"sync"}), "a syncs after the restore");
  // b's cursor is from before the restore: it still gets c's new event (and a's, again).
  for (const Cli* t : {&b, &a, &c}) ok(t->run({"sync"}), "settling sync");
  CHECK(events_held(b) == events_held(c));
  CHECK(events_held(b) == events_held(a));
  const Json returns = server.json({"returns", "--unit", "U1", "--period", "2026-11", "--json"});
  std::int64_t p1 = -1;
  for (const Json& row : returns.at("returns")) {
    if (row.at("product") == "P1") p1 = row.at("actual").get<std::int64_t>();
  }
  CHECK(p1 == 620 + 25 + 5 + 3 + 7);
  const RunResult audit = server.run({"audit"});
  CHECK_MESSAGE(audit.out.find("no problems") != std::string::npos, audit.out << audit.err);
}
