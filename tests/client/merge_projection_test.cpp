// The terminal's projection under the merge rules (docs/MERGE.md): corrections of one version made
// on several terminals are all kept, the entry shows the winner, the fork is a conflict, and the
// site signer's resolution decides it; the same events in another order, a rebuild and verify all
// give the same tables.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "client/sync_world.h"
#include "shiftbook/merge.h"
#include "support/fixture.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

constexpr std::int64_t kTenYearsMs = 10LL * 365 * 24 * 3600 * 1000;

// A terminal of U1 whose shift_open names a receipt of head office's time `server_ms`.
Chain opened_terminal(const HeadOffice& ho, std::int64_t server_ms) {
  Chain c(DeviceKey::generate());
  Receipt r = sign_receipt(ho.server, c.key.public_key(), 0, Hash{}, server_ms);
  c.add("shift_open", {{"unit", "U1"}, {"date", "2026-11-16"}, {"receipt", receipt_field(r)}});
  return c;
}

Json hours_body(const Chain& c, std::int64_t end) {
  return Json{{"shift", hash_ref(c.events[0].event.hash)}, {"worker", "W1"}, {"start", 540}, {"end", end},
              {"special", false}};
}

Json correction(const Hash& target, const Json& entry) {
  return Json{{"target", hash_ref(target)}, {"reason", "wrong end"}, {"entry", entry}};
}

// The one entry the terminal shows of W1.
Json w1_entry(Terminal& t) {
  client::ListFilter f;
  f.worker = "W1";
  f.include_void = true;
  Json list = must(t.store->list_entries(f));
  REQUIRE(list["entries"].size() == 1);
  return list["entries"][0];
}

std::int64_t open_conflicts(Terminal& t) {
  return query_int(t.store_dir() + "/terminal.db", "SELECT count(*) FROM conflicts WHERE resolved = 0");
}

// B recorded W1's hours (end 660) and corrected them to 700, having last synced at server time
// 1000; C, which synced at 3000, corrected the same hours to 680 without seeing B's correction.
struct Fork {
  Enrolled a;
  Chain b = opened_terminal(a.ho, 1000);
  Chain c = opened_terminal(a.ho, 3000);
  Hash h{}, b1{}, c1{};
  Fork() {
    h = b.add("hours", hours_body(b, 660)).hash;
    b1 = b.add("correction", correction(h, hours_body(b, 700))).hash;
    c1 = c.add("correction", correction(h, hours_body(b, 680))).hash;
  }
  void take(const std::vector<Slice>& slices, std::uint64_t cursor) { take(a.t, slices, cursor); }
  void take(Terminal& t, const std::vector<Slice>& slices, std::uint64_t cursor) {
    must(t.store->accept_sync(client::PushBatch{}, answer(a.ho.server, t, 0, Hash{}, slices, cursor)));
  }
  // Another terminal of U1 of the same head office, holding its reference data.
  void enroll(Terminal& t) {
    REQUIRE(a.ho.enroll(t).is_ok());
    take(t, {{&a.ho.signer, 1, 9}}, 1);
  }
};

}  // namespace

TEST_CASE("merge projection: a fork shows the child made with the later server-confirmed knowledge, whatever order") {
  Fork f1;
  f1.take({{&f1.b, 1, 3}}, 20);
  CHECK(w1_entry(f1.a.t)["end"] == 700);  // B's correction, the only one held: no fork yet
  CHECK(open_conflicts(f1.a.t) == 0);
  f1.take({{&f1.c, 1, 2}}, 21);
  Json e = w1_entry(f1.a.t);
  CHECK(e["end"] == 680);  // C synced later (3000 > 1000): its correction wins
  CHECK(e["head"] == to_hex(f1.c1));
  CHECK(e["versions"] == 2);
  CHECK(e["open_conflicts"] == 1);
  CHECK(open_conflicts(f1.a.t) == 1);
  CHECK(must(f1.a.t.store->verify()).problem.is_ok());

  // The same events on another terminal, C's correction taken before B's: the same entry.
  Terminal other;
  f1.enroll(other);
  f1.take(other, {{&f1.b, 1, 2}, {&f1.c, 1, 2}}, 20);
  CHECK(w1_entry(other)["end"] == 680);
  f1.take(other, {{&f1.b, 3, 3}}, 21);
  Json e2 = w1_entry(other);
  CHECK(e2 == e);
  CHECK(open_conflicts(other) == 1);
  CHECK(must(other.store->verify()).problem.is_ok());
}

TEST_CASE("merge projection: a terminal whose clock runs ten years ahead does not win the fork by it") {
  Fork f;
  // C's clock is ten years ahead, but the receipt its shift_open names is older than B's.
  Chain late_knowledge(DeviceKey::generate());
  late_knowledge.hlc = hlc_pack(kSampleNowMs + kTenYearsMs, 0);
  Receipt r = sign_receipt(f.a.ho.server, late_knowledge.key.public_key(), 0, Hash{}, 500);
  late_knowledge.add("shift_open", {{"unit", "U1"}, {"date", "2026-11-16"}, {"receipt", receipt_field(r)}});
  const Hash ahead = late_knowledge.add("correction", correction(f.h, hours_body(f.b, 900))).hash;
  f.take({{&f.b, 1, 3}, {&late_knowledge, 1, 2}}, 20);
  Json e = w1_entry(f.a.t);
  CHECK(e["end"] == 700);  // B's, trusted after 1000, beats the stamp ten years ahead (after 500)
  CHECK(e["head"] != to_hex(ahead));
  CHECK(e["open_conflicts"] == 1);
}

TEST_CASE("merge projection: head office's resolution decides the fork, and a late third child reopens it") {
  Fork f;
  f.take({{&f.b, 1, 3}, {&f.c, 1, 2}}, 20);
  REQUIRE(w1_entry(f.a.t)["end"] == 680);
  f.a.ho.signer.add("resolution", {{"fork", hash_ref(f.h)}, {"winner", hash_ref(f.b1)},
                                   {"losers", Json::array({hash_ref(f.c1)})}, {"reason", "worker confirms 11:40"}},
                    "HO");
  f.take({{&f.a.ho.signer, 10, 10}}, 21);
  Json e = w1_entry(f.a.t);
  CHECK(e["end"] == 700);
  CHECK(e["conflicts"] == 1);
  CHECK(e["open_conflicts"] == 0);
  CHECK(must(f.a.t.store->verify()).problem.is_ok());

  // D voids the hours, not having seen either correction: a third child the resolution did not
  // name. The resolution still decides (B's correction), but the conflict is open again.
  Chain d = opened_terminal(f.a.ho, 2000);
  d.add("void", {{"target", hash_ref(f.h)}, {"reason", "not worked"}});
  f.take({{&d, 1, 2}}, 22);
  Json reopened = w1_entry(f.a.t);
  CHECK(reopened["end"] == 700);
  CHECK(reopened["void"] == false);
  CHECK(reopened["open_conflicts"] == 1);
  CHECK(must(f.a.t.store->verify()).problem.is_ok());

  // A rebuild from the events gives the same.
  REQUIRE(f.a.t.store->rebuild_derived().is_ok());
  CHECK(w1_entry(f.a.t) == reopened);
}

TEST_CASE("merge projection: a resolution of the signer for an entry the terminal holds is applied, and verify "
          "catches a conflicts table edited behind shiftbook's back") {
  Fork f;
  f.take({{&f.b, 1, 3}, {&f.c, 1, 2}}, 20);
  exec_sql(f.a.t.store_dir() + "/terminal.db", "UPDATE conflicts SET resolved = 1");
  auto report = must(f.a.t.store->verify());
  CHECK_FALSE(report.problem.is_ok());
  CHECK(report.problem.message().find("conflict") != std::string::npos);
  REQUIRE(f.a.t.store->rebuild_derived().is_ok());
  CHECK(open_conflicts(f.a.t) == 1);
}

TEST_CASE("merge projection: a version 5 store, which kept a fork's second child unapplied, migrates and shows the "
          "merge") {
  Fork f;
  f.take({{&f.b, 1, 3}, {&f.c, 1, 2}}, 20);
  const Json merged = w1_entry(f.a.t);
  REQUIRE(merged["end"] == 680);
  f.a.t.store.reset();

  // The store as version 5 left it: no merge tables or columns (nor version 7's indexes), C's
  // correction in the log but not in the versions table, the entry at B's correction.
  const std::string db = f.a.t.store_dir() + "/terminal.db";
  exec_sql(db, "DROP INDEX entries_hours; DROP INDEX entries_output_quota; DROP TABLE conflicts; DROP TABLE resolutions; DROP TABLE anomaly_notes; DROP INDEX shifts_by_device_seq; "
               "ALTER TABLE shifts DROP COLUMN receipt_ms; ALTER TABLE versions DROP COLUMN after_ms; "
               "ALTER TABLE entries DROP COLUMN quota_version; "
               "DELETE FROM versions WHERE hash = x'" + to_hex(f.c1) + "'; "
               "UPDATE entries SET head = x'" + to_hex(f.b1) + "', end_abs = end_abs + 20; PRAGMA user_version = 5;");
  REQUIRE(query_int(db, "SELECT count(*) FROM versions") == 2);

  auto reopened = client::Store::open(f.a.t.store_dir(), f.a.t.clock, fast_options());
  REQUIRE(reopened.is_ok());
  f.a.t.store = std::move(*reopened);
  CHECK(query_int(db, "PRAGMA user_version") == client::known_schema_version());
  CHECK(query_int(db, "SELECT count(*) FROM versions") == 3);
  CHECK(w1_entry(f.a.t) == merged);
  CHECK(open_conflicts(f.a.t) == 1);
  CHECK(must(f.a.t.store->verify()).problem.is_ok());
}

TEST_CASE("clocks: a terminal whose clock reset to 1970 stamps its next events after the server time it last saw") {
  Enrolled e;  // took an answer whose receipt says server time kSampleNowMs + 5
  e.t.clock.set(1000);  // a power loss: the clock restarts in 1970
  REQUIRE(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  auto events = must(e.t.store->raw_events(e.t.store->device()));
  REQUIRE_FALSE(events.empty());
  const Event open = must(decode_event(events.back()));
  CHECK(hlc_ms(open.hlc) >= static_cast<std::uint64_t>(kSampleNowMs + 5));
  // Pulled events of another terminal whose clock runs ten years ahead do not drag it along.
  Chain ahead(DeviceKey::generate());
  ahead.hlc = hlc_pack(kSampleNowMs + kTenYearsMs, 0);
  ahead.add("shift_open", {{"unit", "U1"}, {"date", "2026-11-16"}});
  must(e.t.store->accept_sync(client::PushBatch{}, answer(e.ho.server, e.t, 0, Hash{}, {{&ahead, 1, 1}}, 30)));
  REQUIRE(e.t.store->close_shift("").is_ok());
  const Event close = must(decode_event(must(e.t.store->raw_events(e.t.store->device())).back()));
  CHECK(hlc_ms(close.hlc) < static_cast<std::uint64_t>(kSampleNowMs + kTenYearsMs));
}

TEST_CASE("anomalies on a terminal: output logged against a quota head office has since changed is flagged") {
  Enrolled e;  // quota of U1, 2026-11, P1 at version 3
  REQUIRE(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());  // today: 2026-11-16
  REQUIRE(e.t.store->log_output("", "P1", 120).is_ok());
  CHECK(must(e.t.store->anomalies())["anomalies"].empty());
  e.ho.signer.add("ref_quota", {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 450},
                               {"version", 4}}, "HO");
  must(e.t.store->accept_sync(client::PushBatch{}, answer(e.ho.server, e.t, 0, Hash{}, {{&e.ho.signer, 10, 10}}, 40)));
  const Json found = must(e.t.store->anomalies())["anomalies"];
  REQUIRE(found.size() == 1);
  CHECK(found[0]["kind"] == "stale_quota");
  CHECK(found[0]["subject"] == "U1/2026-11/P1");
  CHECK(found[0]["decided"].is_null());
  CHECK(must(e.t.store->verify()).problem.is_ok());
}

TEST_CASE("anomalies on a terminal: pulled output against a lower or a higher quota version is flagged, up to date "
          "or void output and other units' are not") {
  Enrolled e;  // quota of U1, 2026-11, P1 at version 3; none for U2
  // Hashes are copied: each add may move the chain's events, and a reference into them with it.
  Chain other(DeviceKey::generate());
  const Hash open = other.add("shift_open", {{"unit", "U1"}, {"date", "2026-11-16"}}).hash;
  const auto output = [&](std::int64_t quantity, std::int64_t version) {
    return other.add("output", {{"shift", hash_ref(open)}, {"product", "P1"}, {"quantity", quantity},
                                {"quota_version", version}}).hash;
  };
  output(10, 9);                           // a terminal that saw a newer quota than head office keeps
  output(20, 3);                           // up to date
  const Hash voided = output(30, 2);       // stale, then voided
  other.add("void", {{"target", hash_ref(voided)}, {"reason", "logged twice"}});
  output(40, 1);                           // stale
  Chain elsewhere(DeviceKey::generate());  // unit U2 has no quota
  const Hash u2 = elsewhere.add("shift_open", {{"unit", "U2"}, {"date", "2026-11-16"}}).hash;
  elsewhere.add("output", {{"shift", hash_ref(u2)}, {"product", "P1"}, {"quantity", 5}, {"quota_version", 1}});
  must(e.t.store->accept_sync(client::PushBatch{},
                              answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 6}, {&elsewhere, 1, 2}}, 40)));
  const Json found = must(e.t.store->anomalies())["anomalies"];
  std::vector<std::string> said;
  for (const Json& a : found) {
    CHECK(a["kind"] == "stale_quota");
    CHECK(a["subject"] == "U1/2026-11/P1");
    said.push_back(a["detail"].get<std::string>());
  }
  REQUIRE(said.size() == 2);
  std::sort(said.begin(), said.end());
  CHECK(said[0].find("logged against quota version 1;") != std::string::npos);
  CHECK(said[1].find("logged against quota version 9;") != std::string::npos);
}
