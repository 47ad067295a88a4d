// Opening a store of an older schema migrates it. Version 1 (before sync): the events keep their
// order as their arrival numbers, and the derived tables, rebuilt in the new layout, hold what
// they held. Version 2 (sync, before the field's revocation and health record): the enrollment
// stays, not revoked, and the health record starts empty.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "support/fixture.h"

using shiftbook::testing::Terminal;
using shiftbook::testing::exec_sql;
using shiftbook::testing::query_int;

namespace {

// The rows `sql` returns, one line each, columns separated by '|'.
std::string rows(const std::string& db_path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE_MESSAGE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK, sqlite3_errmsg(db));
  std::string out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      const unsigned char* t = sqlite3_column_text(st, c);
      out += t ? reinterpret_cast<const char*>(t) : "~";
      out += '|';
    }
    out += '\n';
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The columns of entries and versions up to version 4, in their order (version 5 keys both by arrival).
constexpr const char* kEntryColumnsV1 =
    "id, device, seq, kind, head, head_seq, versions, void, shift, worker, day, start_abs, end_abs, special, "
    "product, quantity, bonus_type, confirms, body";
constexpr const char* kShiftColumnsV1 = "id, device, seq, unit, day, name, opened_by, closed_seq, closed_by";
constexpr const char* kVersionColumnsV1 = "hash, entry, device, seq, kind, supersedes";
constexpr const char* kVersions = "SELECT hex(hash), hex(entry), seq, kind, hex(supersedes) FROM versions ORDER BY seq";
constexpr const char* kEntries =
    "SELECT hex(id), seq, kind, hex(head), head_seq, versions, void, worker, start_abs, end_abs, special, product, "
    "quantity, hex(body) FROM entries ORDER BY seq";

}  // namespace

TEST_CASE("store: a version 1 store migrates, its events in (device, seq) order and its entries as they were") {
  Terminal t;
  auto& s = *t.store;
  REQUIRE(s.open_shift("U1", std::nullopt, std::nullopt).is_ok());
  auto hours = s.log_hours("", "W1", 360, 840, false);
  REQUIRE(hours.is_ok());
  REQUIRE(s.log_output("", "P1", 120).is_ok());
  REQUIRE(s.correct(std::to_string(hours->seq), shiftbook::Json{{"end", 780}}, "left early").is_ok());
  const std::string current = t.store_dir() + "/terminal.db";
  const std::string versions = rows(current, kVersions), entries = rows(current, kEntries);
  REQUIRE(versions.find("correction") != std::string::npos);
  t.store.reset();

  // The same store as version 1 wrote it: its own tables only, the events stored newest first so
  // that their row order is not the order the migration must give them.
  const std::string v1 = t.dir.file("v1.db");
  exec_sql(v1, read_text(std::string(SHIFTBOOK_SOURCE_DIR) + "/schema/client/0001_init.sql"));
  exec_sql(v1, "ATTACH '" + current + "' AS now; "
               "INSERT INTO meta SELECT * FROM now.meta; "
               "INSERT INTO events SELECT device, seq, hlc, author, kind, hash, raw, recorded_ms FROM now.events "
               "ORDER BY seq DESC; "
               "INSERT INTO heads SELECT * FROM now.heads; INSERT INTO shifts SELECT " + std::string(kShiftColumnsV1) + " FROM now.shifts; "
               "INSERT INTO entries SELECT " + std::string(kEntryColumnsV1) + " FROM now.entries; "
               "INSERT INTO versions SELECT " + kVersionColumnsV1 + " FROM now.versions; "
               "INSERT INTO leaders SELECT * FROM now.leaders; INSERT INTO sites SELECT * FROM now.sites; "
               "INSERT INTO units SELECT * FROM now.units; INSERT INTO periods SELECT * FROM now.periods; "
               "INSERT INTO products SELECT * FROM now.products; INSERT INTO workers SELECT * FROM now.workers; "
               "INSERT INTO quotas SELECT * FROM now.quotas; PRAGMA user_version = 1;");
  std::filesystem::copy_file(v1, current, std::filesystem::copy_options::overwrite_existing);
  REQUIRE(query_int(current, "PRAGMA user_version") == 1);

  auto reopened = shiftbook::client::Store::open(t.store_dir(), t.clock, shiftbook::testing::fast_options());
  REQUIRE(reopened.is_ok());
  CHECK(query_int(current, "PRAGMA user_version") == shiftbook::client::known_schema_version());
  CHECK(query_int(current, "SELECT count(*) FROM events WHERE arrival IS NOT seq") == 0);
  CHECK(rows(current, kVersions) == versions);
  CHECK(rows(current, kEntries) == entries);
  shiftbook::client::VerifyReport report = (*reopened)->verify().value();
  CHECK_MESSAGE(report.problem.is_ok(), report.problem.to_string());

  // The next event is numbered after every other.
  REQUIRE((*reopened)->login("L1", "4321", 30).is_ok());
  auto next = (*reopened)->log_output("", "P1", 5);
  REQUIRE(next.is_ok());
  CHECK(query_int(current, "SELECT arrival FROM events WHERE seq = " + std::to_string(next->seq)) ==
        static_cast<std::int64_t>(next->seq));
}

TEST_CASE("store: an enrolled version 2 store migrates: still enrolled, not revoked, no sync attempt recorded yet") {
  Terminal t;
  const std::string current = t.store_dir() + "/terminal.db";
  t.store.reset();
  const std::string v2 = t.dir.file("v2.db");
  exec_sql(v2, read_text(std::string(SHIFTBOOK_SOURCE_DIR) + "/schema/client/0001_init.sql"));
  exec_sql(v2, read_text(std::string(SHIFTBOOK_SOURCE_DIR) + "/schema/client/0002_sync.sql"));
  exec_sql(v2, "ATTACH '" + current + "' AS now; INSERT INTO meta SELECT * FROM now.meta; "
               "INSERT INTO enrollment(one, server_url, server_key, site, signer, signer_sig, enrolled_ms, "
               "server_enrolled_ms, receipt_seq, receipt_hash, receipt_server_ms, receipt_sig) VALUES(1, "
               "'http://head-office.test', zeroblob(32), 'S1', zeroblob(32), zeroblob(64), 1, 2, 0, zeroblob(32), 3, "
               "zeroblob(64)); INSERT INTO enrolled_units VALUES('U1'); PRAGMA user_version = 2;");
  std::filesystem::copy_file(v2, current, std::filesystem::copy_options::overwrite_existing);

  auto reopened = shiftbook::client::Store::open(t.store_dir(), t.clock, shiftbook::testing::fast_options());
  REQUIRE(reopened.is_ok());
  CHECK(query_int(current, "PRAGMA user_version") == shiftbook::client::known_schema_version());
  auto state = (*reopened)->sync_state();
  REQUIRE(state.is_ok());
  CHECK(state->enrollment.site == "S1");
  CHECK_FALSE(state->revoked.has_value());
  CHECK(state->receipt.has_value());
  auto status = (*reopened)->status();
  REQUIRE(status.is_ok());
  CHECK((*status)["sync_health"].is_null());
  CHECK((*status)["revoked"].is_null());
  REQUIRE((*reopened)->record_sync_attempt({"unreachable", "", "cannot reach http://head-office.test"}).is_ok());
  CHECK((*(*reopened)->status())["sync_health"]["failures"] == 1);
}

TEST_CASE("store: a version 4 store migrates to entries and versions keyed by arrival, and reads the same") {
  Terminal t;
  auto& s = *t.store;
  REQUIRE(s.open_shift("U1", std::nullopt, std::nullopt).is_ok());
  auto hours = s.log_hours("", "W1", 360, 840, false);
  REQUIRE(hours.is_ok());
  auto output = s.log_output("", "P1", 120);
  REQUIRE(output.is_ok());
  const std::string hours_ref = std::to_string(hours->seq);
  REQUIRE(s.correct(hours_ref, shiftbook::Json{{"end", 780}}, "left early").is_ok());
  REQUIRE(s.confirm(hours_ref, "W1", "1111").is_ok());
  REQUIRE(s.void_entry(std::to_string(output->seq), "counted twice").is_ok());
  shiftbook::client::ListFilter all;
  all.include_void = true;
  const std::string listed = s.list_entries(all).value().dump(), shown = s.show_entry(hours_ref).value().dump();
  const std::string current = t.store_dir() + "/terminal.db";
  const std::string versions = rows(current, kVersions), entries = rows(current, kEntries);
  REQUIRE(versions.find("correction") != std::string::npos);
  REQUIRE(entries.find("confirm") != std::string::npos);
  t.store.reset();

  // The same store as version 4 wrote it: entries keyed by id, versions by hash.
  const std::string v4 = t.dir.file("v4.db");
  for (const char* migration : {"0001_init.sql", "0002_sync.sql", "0003_field.sql", "0004_bundles.sql"}) {
    exec_sql(v4, read_text(std::string(SHIFTBOOK_SOURCE_DIR) + "/schema/client/" + migration));
  }
  exec_sql(v4, "ATTACH '" + current + "' AS now; "
               "INSERT INTO meta SELECT * FROM now.meta; "
               "INSERT INTO events(device, seq, hlc, author, kind, hash, raw, recorded_ms, arrival) "
               "SELECT device, seq, hlc, author, kind, hash, raw, recorded_ms, arrival FROM now.events; "
               "INSERT INTO heads SELECT * FROM now.heads; INSERT INTO shifts SELECT " + std::string(kShiftColumnsV1) + " FROM now.shifts; "
               "INSERT INTO entries SELECT " + std::string(kEntryColumnsV1) + " FROM now.entries ORDER BY seq DESC; "
               "INSERT INTO versions SELECT " + kVersionColumnsV1 + " FROM now.versions ORDER BY seq DESC; "
               "INSERT INTO leaders SELECT * FROM now.leaders; INSERT INTO sites SELECT * FROM now.sites; "
               "INSERT INTO units SELECT * FROM now.units; INSERT INTO periods SELECT * FROM now.periods; "
               "INSERT INTO products SELECT * FROM now.products; INSERT INTO workers SELECT * FROM now.workers; "
               "INSERT INTO quotas SELECT * FROM now.quotas; INSERT INTO session SELECT * FROM now.session; "
               "PRAGMA user_version = 4;");
  std::filesystem::copy_file(v4, current, std::filesystem::copy_options::overwrite_existing);

  auto reopened = shiftbook::client::Store::open(t.store_dir(), t.clock, shiftbook::testing::fast_options());
  REQUIRE(reopened.is_ok());
  auto& m = **reopened;
  CHECK(query_int(current, "PRAGMA user_version") == shiftbook::client::known_schema_version());
  CHECK(rows(current, kVersions) == versions);
  CHECK(rows(current, kEntries) == entries);
  // Each row is numbered by its own event: an entry by the event that first recorded it, a version
  // by its own, and a version's entry number is its entry's.
  CHECK(query_int(current, "SELECT count(*) FROM entries e JOIN events ev ON ev.arrival = e.arrival "
                           "AND ev.hash = e.id") == 3);
  CHECK(query_int(current, "SELECT count(*) FROM versions v JOIN events ev ON ev.arrival = v.arrival "
                           "AND ev.hash = v.hash JOIN entries e ON e.arrival = v.entry_arrival AND e.id = v.entry") == 5);
  CHECK(m.list_entries(all).value().dump() == listed);
  CHECK(m.show_entry(hours_ref).value().dump() == shown);
  shiftbook::client::VerifyReport report = m.verify().value();
  CHECK_MESSAGE(report.problem.is_ok(), report.problem.to_string());

  // The migrated entry takes a further correction, numbered after every other event.
  auto again = m.correct(hours_ref, shiftbook::Json{{"end", 800}}, "stayed a little longer");
  REQUIRE(again.is_ok());
  auto after = m.show_entry(hours_ref);
  REQUIRE(after.is_ok());
  CHECK((*after)["entry"]["versions"] == 3);
  CHECK((*after)["versions"].size() == 3);
  CHECK(query_int(current, "SELECT max(arrival) FROM versions") ==
        query_int(current, "SELECT arrival FROM events WHERE seq = " + std::to_string(again->seq)));
}

TEST_CASE("store: a version 3 store migrates: its sync health kept, no bundles exported yet") {
  Terminal t;
  const std::string current = t.store_dir() + "/terminal.db";
  t.store.reset();
  const std::string v3 = t.dir.file("v3.db");
  for (const char* migration : {"0001_init.sql", "0002_sync.sql", "0003_field.sql"}) {
    exec_sql(v3, read_text(std::string(SHIFTBOOK_SOURCE_DIR) + "/schema/client/" + migration));
  }
  exec_sql(v3, "ATTACH '" + current + "' AS now; INSERT INTO meta SELECT * FROM now.meta; "
               "INSERT INTO sync_health(one, last_attempt_ms, last_outcome, last_code, last_success_ms, "
               "failing_since_ms, failures, last_error) VALUES(1, 5, 'unreachable', NULL, 3, 4, 2, 'no route'); "
               "PRAGMA user_version = 3;");
  std::filesystem::copy_file(v3, current, std::filesystem::copy_options::overwrite_existing);

  auto reopened = shiftbook::client::Store::open(t.store_dir(), t.clock, shiftbook::testing::fast_options());
  REQUIRE(reopened.is_ok());
  CHECK(query_int(current, "PRAGMA user_version") == shiftbook::client::known_schema_version());
  CHECK(query_int(current, "SELECT count(*) FROM bundles") == 0);
  CHECK(query_int(current, "SELECT failures FROM sync_health") == 2);
  CHECK(query_int(current, "SELECT last_success_ms FROM sync_health") == 3);
  shiftbook::client::VerifyReport report = (*reopened)->verify().value();
  CHECK_MESSAGE(report.problem.is_ok(), report.problem.to_string());
}
