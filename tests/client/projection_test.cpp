// The derived tables are a function of the events alone.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>

#include "shiftbook/event.h"
#include "support/fixture.h"

using shiftbook::testing::Terminal;

namespace {

// Every row of the derived tables, rendered as one string.
std::string derived_state(const std::string& db_path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::string out;
  for (const char* sql : {"SELECT hex(id), seq, unit, day, name, opened_by, closed_seq, closed_by FROM shifts ORDER BY seq",
                          "SELECT hex(id), seq, kind, hex(head), head_seq, versions, void, worker, start_abs, end_abs, "
                          "special, product, quantity, bonus_type, hex(confirms), hex(body) FROM entries ORDER BY seq",
                          "SELECT hex(hash), hex(entry), seq, kind, hex(supersedes) FROM versions ORDER BY seq"}) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const unsigned char* t = sqlite3_column_text(st, c);
        out += t ? reinterpret_cast<const char*>(t) : "~";
        out += '|';
      }
      out += '\n';
    }
    sqlite3_finalize(st);
    out += "--\n";
  }
  sqlite3_close(db);
  return out;
}

void record_a_shift(Terminal& t) {
  auto& s = *t.store;
  REQUIRE(s.open_shift("U1", std::nullopt, std::string("early")).is_ok());
  REQUIRE(s.log_hours("", "W1", 360, 840, false).is_ok());
  auto h2 = s.log_hours("", "W2", 1320, 1800, true);
  REQUIRE(h2.is_ok());
  REQUIRE(s.log_output("", "P1", 120).is_ok());
  auto bonus = s.log_bonus("", "W3", "innovation", std::string("jig"));
  REQUIRE(bonus.is_ok());
  REQUIRE(s.confirm("2", "W1", "1111").is_ok());
  REQUIRE(s.correct(std::to_string(h2->seq), shiftbook::Json{{"end", 1740}}, "left early").is_ok());
  REQUIRE(s.void_entry(std::to_string(bonus->seq), "entered twice").is_ok());
  REQUIRE(s.close_shift("").is_ok());
}

}  // namespace

TEST_CASE("projection: rebuilding from the events gives the same derived state") {
  Terminal t;
  record_a_shift(t);
  const std::string db = t.store_dir() + "/terminal.db";
  std::string before = derived_state(db);
  CHECK(before.find("left early") == std::string::npos);  // reasons live in events, not here
  REQUIRE(t.store->rebuild_derived().is_ok());
  CHECK(derived_state(db) == before);
}

TEST_CASE("projection: a derived table edited behind the program's back is restored by a rebuild") {
  Terminal t;
  record_a_shift(t);
  const std::string db_path = t.store_dir() + "/terminal.db";
  std::string before = derived_state(db_path);
  shiftbook::testing::exec_sql(db_path, "UPDATE entries SET quantity = 9999 WHERE kind = 'output'");
  REQUIRE(derived_state(db_path) != before);
  REQUIRE(t.store->rebuild_derived().is_ok());
  CHECK(derived_state(db_path) == before);
}

namespace {

// Stores an event of another device straight into the events table, as a later sync would. It is
// numbered after every event stored before (events.arrival), so a replay, which goes in that
// order, meets this terminal's entries first, as the corrections under test need, whatever the
// order of the two device keys. (An earlier version drew keys until one sorted after this
// terminal's, which failed now and then: replays went in (device, seq) order then.)
void insert_foreign(Terminal& t, const shiftbook::Json& body, std::uint64_t seq = 1) {
  using namespace shiftbook;
  DeviceKey other = DeviceKey::generate();
  Event e;
  e.device = other.public_key();
  e.seq = seq;
  e.hlc = hlc_pack(1'794'816'000'000, 0);
  e.author = "L9";
  e.kind = "correction";
  e.body = body;
  auto sealed = seal_event(e);
  REQUIRE(sealed.is_ok());
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((t.store_dir() + "/terminal.db").c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO events(device, seq, hlc, author, kind, hash, raw, recorded_ms) "
                                 "VALUES(?, ?, ?, ?, ?, ?, ?, 0)", -1, &st, nullptr) == SQLITE_OK);
  sqlite3_bind_blob(st, 1, e.device.data(), 32, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, static_cast<sqlite3_int64>(seq));
  sqlite3_bind_int64(st, 3, static_cast<sqlite3_int64>(e.hlc));
  sqlite3_bind_text(st, 4, "L9", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 5, "correction", -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(st, 6, sealed->event.hash.data(), 32, SQLITE_TRANSIENT);
  sqlite3_bind_blob(st, 7, sealed->bytes.data(), static_cast<int>(sealed->bytes.size()), SQLITE_TRANSIENT);
  REQUIRE(sqlite3_step(st) == SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("projection: a correction whose body is malformed is refused, never trusted") {
  for (const auto& body : {shiftbook::Json{{"target", 5}}, shiftbook::Json::object(), shiftbook::Json{{"reason", "x"}},
                           shiftbook::Json{{"target", "not-a-hash"}, {"reason", "x"}, {"entry", shiftbook::Json::object()}}}) {
    INFO(body.dump());
    Terminal t;
    record_a_shift(t);
    const std::string before = derived_state(t.store_dir() + "/terminal.db");
    insert_foreign(t, body);
    shiftbook::Status s = t.store->rebuild_derived();
    CHECK(s.code() == shiftbook::Code::kInvalidArgument);
    CHECK(derived_state(t.store_dir() + "/terminal.db") == before);  // the failed rebuild rolled back
  }
}

TEST_CASE("projection: a correction that moves output to another product is refused") {
  Terminal t;
  REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  auto out = t.store->log_output("", "P2", 5500);
  REQUIRE(out.is_ok());
  auto shown = t.store->show_entry(std::to_string(out->seq));
  REQUIRE(shown.is_ok());
  shiftbook::Json entry = {{"shift", (*shown)["entry"]["shift"]}, {"product", "P1"}, {"quantity", 5500},
                           {"quota_version", 2}};
  insert_foreign(t, {{"target", shiftbook::to_hex(out->hash)}, {"reason", "wrong product"}, {"entry", entry}});
  shiftbook::Status s = t.store->rebuild_derived();
  CHECK(s.code() == shiftbook::Code::kInvalidArgument);
  CHECK(s.message().find("may not change the product") != std::string::npos);
}
