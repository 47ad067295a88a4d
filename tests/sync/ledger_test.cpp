#include "shiftbook/ledger.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "shiftbook/anomalies.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"
#include "sync/chain.h"

using namespace shiftbook;

namespace {

constexpr std::int64_t kBaseMs = 1'763'600'000'000;

using test::dev;
const PublicKey kSigner = test::kTestSigner;

// One device's chain with the entries these tests record.
class Chain : public test::Chain {
 public:
  explicit Chain(std::uint8_t id, std::int64_t clock_ms = kBaseMs) : test::Chain(id, clock_ms) {}
  Event hours(const Event& shift, const std::string& worker, int start, int end, bool special = false) {
    return add("hours", hours_body(shift, worker, start, end, special));
  }
  static Json hours_body(const Event& shift, const std::string& worker, int start, int end, bool special = false) {
    return {{"shift", hash_ref(shift.hash)}, {"worker", worker}, {"start", start}, {"end", end}, {"special", special}};
  }
  Event correct(const Hash& target, Json entry) {
    return add("correction", {{"target", hash_ref(target)}, {"reason", "typo"}, {"entry", std::move(entry)}});
  }
  Event void_of(const Hash& target) { return add("void", {{"target", hash_ref(target)}, {"reason", "wrong shift"}}); }
};

Json period(const std::string& id, const std::string& start, const std::string& end) {
  return {{"id", id}, {"start", start}, {"end", end}};
}

Json quota(const std::string& product, std::int64_t version) {
  return {{"unit", "U1"}, {"period", "2026-11"}, {"product", product}, {"quantity", 100}, {"version", version}};
}

Json output(const Event& shift, const std::string& product, std::int64_t quantity, std::optional<std::int64_t> qv = {}) {
  Json body = {{"shift", hash_ref(shift.hash)}, {"product", product}, {"quantity", quantity}};
  if (qv) body["quota_version"] = *qv;
  return body;
}

Ledger ledger_of(const std::vector<Event>& events) {
  Ledger l(kSigner);
  for (const Event& e : events) {
    Status s = l.add(e);
    REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  }
  return l;
}

std::vector<Event> joined(std::initializer_list<const Chain*> chains) {
  std::vector<Event> out;
  for (const Chain* c : chains) out.insert(out.end(), c->events().begin(), c->events().end());
  return out;
}

std::int64_t day(const char* date) { return *parse_date(date); }

// A site: the signer's periods (November and December) and a quota; terminal A records hours,
// output and a bonus in November, terminal B hours in December and on a day of no period; both
// correct A's hours of W1 offline (a fork); B voids an output.
struct Site {
  Chain signer{99}, a{1}, b{2};
  Event a_shift, b_shift, b_shift_dec, b_shift_none;
  Event w1_hours, fork_mine, fork_theirs, voided_output;
  std::vector<Event> events;
  Site() {
    signer.add("ref_period", period("2026-11", "2026-11-01", "2026-11-30"));
    signer.add("ref_period", period("2026-12", "2026-12-01", "2026-12-31"));
    signer.add("ref_quota", quota("P1", 1));
    a_shift = a.open_shift("U1", "2026-11-20", 1'000);
    w1_hours = a.hours(a_shift, "W1", 480, 960);
    a.hours(a_shift, "W2", 480, 600, true);
    a.add("output", output(a_shift, "P1", 40, 1));
    a.add("bonus", {{"shift", hash_ref(a_shift.hash)}, {"worker", "W2"}, {"type", "innovation"}});
    a.add("confirm", {{"entry", hash_ref(w1_hours.hash)}, {"worker", "W1"}});
    a.open_shift("U1", "2026-11-21", 2'000);
    fork_mine = a.correct(w1_hours.hash, Chain::hours_body(a_shift, "W1", 480, 900));
    b_shift = b.open_shift("U1", "2026-11-20", 3'000);
    fork_theirs = b.correct(w1_hours.hash, Chain::hours_body(a_shift, "W1", 480, 870));
    voided_output = b.add("output", output(b_shift, "P1", 7));
    b.void_of(voided_output.hash);
    b_shift_dec = b.open_shift("U2", "2026-12-02", 4'000);
    b.hours(b_shift_dec, "W1", 360, 840);
    b.add("output", output(b_shift_dec, "P1", 5));
    b_shift_none = b.open_shift("U2", "2027-01-05", 5'000);
    b.hours(b_shift_none, "W1", 0, 60);
    events = joined({&signer, &a, &b});
  }
};

}  // namespace

TEST_CASE("ledger: entries are placed in their unit, shift date and worker, confirms where their hours are") {
  Site site;
  Ledger l = ledger_of(site.events);
  std::map<Hash, LedgerEntry> entries = l.entries();
  REQUIRE(entries.contains(site.w1_hours.hash));
  const LedgerEntry& w1 = entries.at(site.w1_hours.hash);
  CHECK(w1.kind == "hours");
  CHECK(w1.unit == "U1");
  CHECK(w1.day == day("2026-11-20"));
  CHECK(w1.worker == "W1");
  std::size_t confirms = 0;
  for (const auto& [root, e] : entries) {
    if (e.kind != "confirm") continue;
    ++confirms;
    CHECK(e.unit == "U1");
    CHECK(e.day == day("2026-11-20"));
  }
  CHECK(confirms == 1);
  CHECK(entries.size() == 9);
  auto src = l.source(site.fork_theirs.hash);
  REQUIRE(src);
  CHECK(src->device == dev(2));
  CHECK(src->seq == 2);
  CHECK_FALSE(l.source(Hash{}));
}

TEST_CASE("ledger: a fork is a conflict of its entry and unit, the signer's resolution closes it") {
  Site site;
  Ledger open = ledger_of(site.events);
  std::vector<LedgerConflict> conflicts = open.conflicts();
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts[0].root == site.w1_hours.hash);
  CHECK(conflicts[0].unit == "U1");
  CHECK(conflicts[0].conflict.fork == site.w1_hours.hash);
  CHECK(conflicts[0].conflict.winner == site.fork_theirs.hash);  // the later trusted time (3000 > 2000)
  CHECK_FALSE(conflicts[0].conflict.resolved);

  const Json body = {{"fork", hash_ref(site.w1_hours.hash)},
                     {"winner", hash_ref(site.fork_mine.hash)},
                     {"losers", {hash_ref(site.fork_theirs.hash)}},
                     {"reason", "worker confirms 15:00"}};
  // The same body from a terminal decides nothing.
  Chain rogue(7);
  std::vector<Event> with_rogue = site.events;
  with_rogue.push_back(rogue.add("resolution", body));
  CHECK(ledger_of(with_rogue).conflicts() == conflicts);

  site.events.push_back(site.signer.add("resolution", body));
  Ledger resolved = ledger_of(site.events);
  conflicts = resolved.conflicts();
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts[0].conflict.winner == site.fork_mine.hash);
  CHECK(conflicts[0].conflict.chosen_by == ChosenBy::kResolution);
  CHECK(conflicts[0].conflict.resolved);
  CHECK(resolved.totals().workers.at(WorkerKey{"W1", "U1", "2026-11"}).minutes == 420);
}

TEST_CASE("ledger: totals per worker, unit and period from the current, non-void state of every entry") {
  Site site;
  Totals t = ledger_of(site.events).totals();
  Totals want;
  want.workers[WorkerKey{"W1", "U1", "2026-11"}] = WorkerTotal{390, 0, {}};  // 480..870, the fork's winner
  want.workers[WorkerKey{"W2", "U1", "2026-11"}] = WorkerTotal{120, 120, {{"innovation", 1}}};
  want.workers[WorkerKey{"W1", "U2", "2026-12"}] = WorkerTotal{480, 0, {}};
  want.workers[WorkerKey{"W1", "U2", ""}] = WorkerTotal{60, 0, {}};  // a shift date in no period
  want.outputs[OutputKey{"U1", "2026-11", "P1"}] = 40;                // the voided 7 does not count
  want.outputs[OutputKey{"U2", "2026-12", "P1"}] = 5;
  CHECK(t == want);

  // A period head office moved later (by the signer's seq) moves the totals with it.
  site.events.push_back(site.signer.add("ref_period", period("2026-12", "2026-12-03", "2027-01-31")));
  Totals moved = ledger_of(site.events).totals();
  CHECK(moved.workers.at(WorkerKey{"W1", "U2", "2026-12"}).minutes == 60);
  CHECK(moved.workers.at(WorkerKey{"W1", "U2", ""}).minutes == 480);
  CHECK(moved.outputs.at(OutputKey{"U2", "", "P1"}) == 5);
}

TEST_CASE("ledger: anomaly facts: overlaps across terminals, a stale quota, and clock claims in their bracket") {
  Site site;
  // Terminal B logs W2 at a time A logged W2 too; head office raises P1's quota to version 2.
  site.events.push_back(site.b.hours(site.b_shift, "W2", 540, 660));
  site.events.push_back(site.signer.add("ref_quota", quota("P1", 2)));
  Ledger l = ledger_of(site.events);
  const Event& late = site.b.events().back();
  l.set_acknowledged(late.hash, kBaseMs);  // acknowledged long before its claimed time
  AnomalyFacts f = l.anomaly_facts({DeviceClockFact{dev(1), 5'000}});
  CHECK(f.hours.size() == 5);  // W1 (fork winner), W2 twice, W1 in December and January
  CHECK(f.outputs.size() == 2);  // the void's output is gone
  CHECK(f.periods.size() == 2);
  REQUIRE(f.quotas.size() == 1);
  CHECK(f.quotas[0].version == 2);
  CHECK(f.clocks.size() == 1);
  // One claim per terminal event, none for the signer's.
  CHECK(f.claims.size() == site.a.events().size() + site.b.events().size());
  for (const EventClockFact& c : f.claims) {
    if (c.event != late.hash) continue;
    CHECK(c.after_ms == 5'000);  // B's latest shift_open before it
    CHECK(c.before_ms == kBaseMs);
    CHECK(c.claimed_ms == kBaseMs + static_cast<std::int64_t>(late.seq) * 1000);
  }
  std::vector<Anomaly> found = find_anomalies(f);
  std::vector<std::string> kinds;
  for (const Anomaly& a : found) kinds.push_back(a.kind);
  CHECK(kinds == std::vector<std::string>{"overlap", "stale_quota"});
  CHECK(found[0].subject == "W2");
  CHECK(found[1].subject == "U1/2026-11/P1");
}

TEST_CASE("ledger: the latest reference by the signer's seq wins, whatever the arrival order") {
  Chain signer(99);
  const Event v3 = signer.add("ref_quota", quota("P1", 3));
  const Event v2 = signer.add("ref_quota", quota("P1", 2));  // a later seq says 2: it is in force
  Ledger l(kSigner);
  REQUIRE(l.add(v2).is_ok());
  REQUIRE(l.add(v3).is_ok());
  AnomalyFacts f = l.anomaly_facts({});
  REQUIRE(f.quotas.size() == 1);
  CHECK(f.quotas[0].version == 2);
  // A terminal's ref_quota is no reference data.
  Chain terminal(3);
  REQUIRE(l.add(terminal.add("ref_quota", quota("P1", 9))).is_ok());
  CHECK(l.anomaly_facts({}).quotas[0].version == 2);
}

TEST_CASE("ledger: the same events in any order give the same entries, conflicts, totals and anomalies") {
  Site site;
  site.events.push_back(site.b.hours(site.b_shift, "W2", 540, 660));
  Ledger first = ledger_of(site.events);
  const std::map<Hash, LedgerEntry> entries = first.entries();
  const std::vector<LedgerConflict> conflicts = first.conflicts();
  const Totals totals = first.totals();
  const std::vector<Anomaly> anomalies = find_anomalies(first.anomaly_facts({}));
  REQUIRE(conflicts.size() == 1);
  REQUIRE_FALSE(anomalies.empty());
  std::mt19937 rng(20261123);
  for (int round = 0; round < 25; ++round) {
    std::vector<Event> shuffled = site.events;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    shuffled.push_back(shuffled[static_cast<std::size_t>(round) % shuffled.size()]);  // a duplicate too
    Ledger l = ledger_of(shuffled);
    INFO("round " << round);
    CHECK(l.entries() == entries);
    CHECK(l.conflicts() == conflicts);
    CHECK(l.totals() == totals);
    std::vector<Anomaly> again = find_anomalies(l.anomaly_facts({}));
    REQUIRE(again.size() == anomalies.size());
    for (std::size_t i = 0; i < again.size(); ++i) CHECK(again[i].id == anomalies[i].id);
  }
}

TEST_CASE("ledger: an event it cannot read is refused with its name and changes nothing") {
  Chain a(1);
  Ledger l(kSigner);
  const Event bad = a.add("shift_open", {{"unit", "U1"}, {"date", "2026-13-01"}});
  Status s = l.add(bad);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("event 1 of device " + short_device(dev(1))) != std::string::npos);
  CHECK_FALSE(l.source(bad.hash));
  CHECK(l.anomaly_facts({}).claims.empty());

  Chain signer(99);
  const Event bad_period = signer.add("ref_period", period("2026-11", "2026-11-01", "someday"));
  CHECK(l.add(bad_period).code() == Code::kInvalidArgument);
  CHECK(l.anomaly_facts({}).periods.empty());
}

TEST_CASE("ledger: head office's latest decision of an anomaly by the signer's seq, a terminal's is no decision") {
  const std::string id = "overlap:" + std::string(32, 'a');
  Chain signer(99);
  const Event first = signer.add("anomaly_note", {{"anomaly", id}, {"reason", "first look"}});
  const Event second = signer.add("anomaly_note", {{"anomaly", id}, {"reason", "agreed with the foreman"}});
  Ledger l(kSigner);
  REQUIRE(l.add(second).is_ok());
  REQUIRE(l.add(first).is_ok());
  REQUIRE(l.anomaly_notes().size() == 1);
  CHECK(l.anomaly_notes().at(id).reason == "agreed with the foreman");
  CHECK(l.anomaly_notes().at(id).signer_seq == 2);
  Chain terminal(3);
  REQUIRE(l.add(terminal.add("anomaly_note", {{"anomaly", id}, {"reason", "not me"}})).is_ok());
  CHECK(l.anomaly_notes().at(id).reason == "agreed with the foreman");
  // A malformed decision of the signer is refused with its name and changes nothing.
  const Status bad = l.add(signer.add("anomaly_note", {{"anomaly", "overlap:xyz"}, {"reason", "x"}}));
  CHECK(bad.code() == Code::kInvalidArgument);
  CHECK(bad.message().find("must be an anomaly's id") != std::string::npos);
  CHECK(l.anomaly_notes().at(id).signer_seq == 2);
}

TEST_CASE("ledger: period returns: quota in force, actual output, fulfilment and surplus per unit, period, product") {
  Chain signer(99), a(1);
  signer.add("ref_period", period("2026-11", "2026-11-01", "2026-11-30"));
  signer.add("ref_quota", {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 500}, {"version", 1}});
  signer.add("ref_quota", {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P2"}, {"quantity", 400}, {"version", 1}});
  signer.add("ref_quota", {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P4"}, {"quantity", 0}, {"version", 1}});
  const Event shift = a.open_shift("U1", "2026-11-20");
  a.add("output", output(shift, "P1", 300, 1));
  const Event second = a.add("output", output(shift, "P1", 300, 1));
  a.correct(second.hash, output(shift, "P1", 320, 1));  // 300 + 320 = 620: 124.0 %, 120 above
  a.add("output", output(shift, "P2", 300, 1));          // under quota: 75.0 %, no surplus
  a.add("output", output(shift, "P3", 50));              // no quota set
  a.add("output", output(shift, "P4", 7, 1));            // a quota of 0
  // Head office raises P1's quota (a later seq): the return follows.
  std::vector<Event> events = joined({&signer, &a});
  std::vector<PeriodReturn> r = ledger_of(events).returns();
  REQUIRE(r.size() == 4);
  CHECK(r[0] == PeriodReturn{OutputKey{"U1", "2026-11", "P1"}, 500, 1, 620, 120, 1240, false, 0, 0, ""});
  CHECK(r[1] == PeriodReturn{OutputKey{"U1", "2026-11", "P2"}, 400, 1, 300, 0, 750, false, 0, 0, ""});
  CHECK(r[2] == PeriodReturn{OutputKey{"U1", "2026-11", "P3"}, std::nullopt, std::nullopt, 50, std::nullopt, std::nullopt, false, 0, 0, ""});
  CHECK(r[3] == PeriodReturn{OutputKey{"U1", "2026-11", "P4"}, 0, 1, 7, 7, std::nullopt, false, 0, 0, ""});
  events.push_back(signer.add("ref_quota", {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 620},
                                            {"version", 2}}));
  const PeriodReturn raised = ledger_of(events).returns()[0];
  CHECK(raised.quota == 620);
  CHECK(raised.quota_version == 2);
  CHECK(raised.fulfilment_permille == 1000);
  CHECK(raised.surplus == 0);
}
