// Verifying the stored log against tampering done behind the store's back (raw SQL on
// terminal.db), and exporting it in a form anyone can re-check.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "shiftbook/platform/db.h"
#include "shiftbook/event.h"
#include "support/fixture.h"

using shiftbook::Code;
using shiftbook::Json;
using shiftbook::Db;
using shiftbook::Stmt;
using shiftbook::testing::Terminal;

namespace {

// Five events: shift_open (1), hours W1 (2), hours W2 (3), output (4), bonus (5).
void record_five(Terminal& t) {
  auto& s = *t.store;
  REQUIRE(s.open_shift("U1", std::nullopt, std::nullopt).is_ok());
  REQUIRE(s.log_hours("", "W1", 360, 840, false).is_ok());
  REQUIRE(s.log_hours("", "W2", 360, 840, true).is_ok());
  REQUIRE(s.log_output("", "P1", 120).is_ok());
  REQUIRE(s.log_bonus("", "W3", "innovation", std::nullopt).is_ok());
}

// A second connection to the store's database, as someone with the file would have.
Db open_behind(const Terminal& t) {
  auto db = Db::open(t.store_dir() + "/terminal.db", false);
  REQUIRE(db.is_ok());
  REQUIRE(db->exec("PRAGMA busy_timeout = 5000").is_ok());
  return std::move(db).value();
}

shiftbook::Bytes raw_of(Db& db, int seq) {
  auto st = db.prepare("SELECT raw FROM events WHERE seq = ?");
  REQUIRE(st.is_ok());
  st->bind(1, std::int64_t{seq});
  REQUIRE(*st->step());
  return st->blob(0);
}

void set_raw(Db& db, int seq, const shiftbook::Bytes& raw) {
  auto st = db.prepare("UPDATE events SET raw = ? WHERE seq = ?");
  REQUIRE(st.is_ok());
  REQUIRE(st->bind_blob(1, raw).bind(2, std::int64_t{seq}).run().is_ok());
}

// Runs verify, expecting it to read the store fine and find a problem; returns the problem.
shiftbook::Status problem_of(const Terminal& t) {
  auto report = t.store->verify();
  REQUIRE(report.is_ok());
  CHECK(report->problem.code() == Code::kDataLoss);
  return report->problem;
}

std::string device_of(const Terminal& t) { return "device " + shiftbook::short_device(t.store->device()); }

}  // namespace

TEST_CASE("verify: a clean store verifies and counts its events") {
  Terminal t;
  record_five(t);
  auto report = t.store->verify();
  REQUIRE(report.is_ok());
  CHECK(report->problem.is_ok());
  CHECK(report->events == 5);
  CHECK(report->devices == 1);
  CHECK(report->heads_checked == 1);
}

TEST_CASE("verify: an empty store verifies") {
  Terminal t;
  auto report = t.store->verify();
  REQUIRE(report.is_ok());
  CHECK(report->problem.is_ok());
  CHECK(report->events == 0);
  CHECK(report->heads_checked == 0);
}

TEST_CASE("verify: a flipped byte in an event's body is a hash mismatch of that event") {
  Terminal t;
  record_five(t);
  Db db = open_behind(t);
  auto raw = raw_of(db, 3);
  raw.back() ^= 0x01;  // the last byte is the worker id's: "W2" becomes "W3", still a valid event
  set_raw(db, 3, raw);
  auto problem = problem_of(t);
  CHECK(problem.message() == "event 3 of " + device_of(t) + ": hash does not match its content");
  CHECK(t.store->verify()->events == 2);
}

TEST_CASE("verify: bytes that no longer decode are named as damaged") {
  Terminal t;
  record_five(t);
  Db db = open_behind(t);
  auto raw = raw_of(db, 3);
  raw[0] ^= 0xff;
  set_raw(db, 3, raw);
  CHECK(problem_of(t).message().rfind("event 3 of " + device_of(t) + ": its bytes are damaged: ", 0) == 0);
}

TEST_CASE("verify: a changed hash column is a hash mismatch") {
  Terminal t;
  record_five(t);
  Db db = open_behind(t);
  REQUIRE(db.exec("UPDATE events SET hash = zeroblob(32) WHERE seq = 3").is_ok());
  CHECK(problem_of(t).message() == "event 3 of " + device_of(t) + ": hash does not match its content");
}

TEST_CASE("verify: an event rewritten with a matching hash breaks the next link") {
  Terminal t;
  record_five(t);
  Db db = open_behind(t);
  auto e = shiftbook::decode_event(raw_of(db, 3));
  REQUIRE(e.is_ok());
  e->body["end"] = 900;
  auto sealed = shiftbook::seal_event(*e);
  REQUIRE(sealed.is_ok());
  auto st = db.prepare("UPDATE events SET raw = ?, hash = ? WHERE seq = 3");
  REQUIRE(st.is_ok());
  REQUIRE(st->bind_blob(1, sealed->bytes).bind_blob(2, sealed->event.hash).run().is_ok());
  CHECK(problem_of(t).message() ==
        "event 4 of " + device_of(t) + ": its predecessor hash does not match event 3");
}

TEST_CASE("verify: a deleted middle event is named as missing") {
  Terminal t;
  record_five(t);
  Db db = open_behind(t);
  REQUIRE(db.exec("DELETE FROM events WHERE seq = 3").is_ok());
  CHECK(problem_of(t).message() ==
        "event 3 of " + device_of(t) + " is missing: the log goes from event 2 to event 4");
}

TEST_CASE("verify: a deleted last event no longer matches the signed head") {
  Terminal t;
  record_five(t);
  Db db = open_behind(t);
  REQUIRE(db.exec("DELETE FROM events WHERE seq = 5").is_ok());
  auto problem = problem_of(t);
  CHECK(problem.message() == device_of(t) +
                                 ": the signed head names event 5 but the log ends at event 4: events are "
                                 "missing or were added");
  CHECK(t.store->verify()->events == 4);
}

TEST_CASE("verify: a corrupted head signature is not valid") {
  Terminal t;
  record_five(t);
  Db db = open_behind(t);
  REQUIRE(db.exec("UPDATE heads SET signature = zeroblob(64)").is_ok());
  CHECK(problem_of(t).message() == device_of(t) + ": the signature over its chain head is not valid");
  CHECK(t.store->verify()->events == 5);
  CHECK(t.store->verify()->heads_checked == 0);
}

TEST_CASE("verify: a missing head, and a head without events, are problems") {
  Terminal t;
  record_five(t);
  Db db = open_behind(t);
  REQUIRE(db.exec("DELETE FROM heads").is_ok());
  CHECK(problem_of(t).message().find(device_of(t) + ": the log holds events 1 to 5 but no signed") == 0);

  Terminal other;
  record_five(other);
  Db db2 = open_behind(other);
  REQUIRE(db2.exec("DELETE FROM events").is_ok());
  CHECK(problem_of(other).message().find("the signed head names event 5 but the log holds no events") !=
        std::string::npos);
}

TEST_CASE("verify: a changed author column does not match the signed content") {
  Terminal t;
  record_five(t);
  Db db = open_behind(t);
  REQUIRE(db.exec("UPDATE events SET author = 'L2' WHERE seq = 3").is_ok());
  CHECK(problem_of(t).message() ==
        "event 3 of " + device_of(t) + ": its stored fields do not match its signed content (author)");
}

namespace {

std::vector<Json> export_lines(const Terminal& t) {
  std::ostringstream out;
  REQUIRE(t.store->export_log(out).is_ok());
  std::vector<Json> lines;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) lines.push_back(Json::parse(line));
  return lines;
}

}  // namespace

TEST_CASE("export: one line per event in seq order, then one per device head") {
  Terminal t;
  record_five(t);
  auto lines = export_lines(t);
  REQUIRE(lines.size() == 6);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(lines[i]["type"] == "event");
    CHECK(lines[i]["seq"] == i + 1);
    CHECK(lines[i]["device"] == shiftbook::to_hex(t.store->device()));
  }
  CHECK(lines[5]["type"] == "head");
  CHECK(lines[5]["seq"] == 5);
  CHECK(lines[5]["hash"] == lines[4]["hash"]);
}

TEST_CASE("export: an hours line carries the body as recorded") {
  Terminal t;
  record_five(t);
  auto lines = export_lines(t);
  REQUIRE(lines.size() == 6);
  const Json& hours = lines[1];
  CHECK(hours["kind"] == "hours");
  CHECK(hours["author"] == "L1");
  CHECK(hours["prev"] == lines[0]["hash"]);
  CHECK(hours["body"] == Json{{"shift", lines[0]["hash"]}, {"worker", "W1"}, {"start", 360}, {"end", 840},
                              {"special", false}});
}

TEST_CASE("export: re-encoding each line's fields gives its hash and the stored bytes") {
  Terminal t;
  record_five(t);
  auto lines = export_lines(t);
  auto raw = t.store->raw_events(t.store->device());
  REQUIRE(raw.is_ok());
  REQUIRE(lines.size() == raw->size() + 1);
  for (std::size_t i = 0; i < raw->size(); ++i) {
    const Json& l = lines[i];
    shiftbook::Event e;
    e.device = *shiftbook::array_from_hex<32>(l["device"].get<std::string>());
    e.seq = l["seq"].get<std::uint64_t>();
    e.hlc = l["hlc"].get<std::uint64_t>();
    e.prev = *shiftbook::array_from_hex<32>(l["prev"].get<std::string>());
    e.author = l["author"].get<std::string>();
    e.kind = l["kind"].get<std::string>();
    e.body = l["body"];
    auto bytes = shiftbook::encode_event(e);
    REQUIRE(bytes.is_ok());
    CHECK(shiftbook::to_hex(shiftbook::blake2b_256(*bytes)) == l["hash"]);
    CHECK(*bytes == (*raw)[i]);
  }
  const Json& head = lines.back();
  shiftbook::SignedHead h;
  h.device = *shiftbook::array_from_hex<32>(head["device"].get<std::string>());
  h.seq = head["seq"].get<std::uint64_t>();
  h.hash = *shiftbook::array_from_hex<32>(head["hash"].get<std::string>());
  h.signature = *shiftbook::array_from_hex<64>(head["signature"].get<std::string>());
  CHECK(shiftbook::verify_head(h));
}

TEST_CASE("export: an event whose bytes are damaged stops the export with data_loss") {
  Terminal t;
  record_five(t);
  Db db = open_behind(t);
  auto raw = raw_of(db, 2);
  raw[0] ^= 0xff;
  set_raw(db, 2, raw);
  std::ostringstream out;
  auto s = t.store->export_log(out);
  CHECK(s.code() == Code::kDataLoss);
  CHECK(s.message().rfind("event 2 of " + device_of(t), 0) == 0);
}

TEST_CASE("verify: an entry changed in the derived tables is named, and a rebuild from the events mends it") {
  shiftbook::testing::Terminal t;
  REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  REQUIRE(t.store->log_output("", "P1", 120).is_ok());
  auto out = t.store->log_output("", "P1", 80);
  REQUIRE(out.is_ok());
  shiftbook::testing::exec_sql(t.store_dir() + "/terminal.db",
                               "UPDATE entries SET quantity = 999999 WHERE seq = " + std::to_string(out->seq));
  auto report = t.store->verify();
  REQUIRE(report.is_ok());
  CHECK(report->log_ok);
  CHECK(report->problem.code() == shiftbook::Code::kDataLoss);
  CHECK(report->problem.message().rfind("entry 3 of device " + shiftbook::short_device(t.store->device()), 0) == 0);
  CHECK(report->problem.message().find("'shiftbook rebuild'") != std::string::npos);
  // verify wrote nothing: the summary still adds up the changed row.
  auto total = [&] {
    auto summary = t.store->summary_shift("");
    REQUIRE(summary.is_ok());
    return (*summary)["output"][0]["quantity"].get<std::int64_t>();
  };
  CHECK(total() == 120 + 999999);

  REQUIRE(t.store->rebuild_derived().is_ok());
  auto again = t.store->verify();
  REQUIRE(again.is_ok());
  CHECK(again->problem.is_ok());
  CHECK(total() == 200);
}
