// Integrity signals (docs/SIGNALS.md): each rule at its threshold and just below it, the evidence
// each names, independence from the order of the facts, and the facts a ledger gives them.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "shiftbook/clock.h"
#include "shiftbook/ledger.h"
#include "shiftbook/signals.h"
#include "sync/chain.h"

using namespace shiftbook;
using test::Chain;
using test::dev;

namespace {

Hash h(std::uint8_t n) {
  Hash out{};
  out.fill(n);
  return out;
}

ReturnFact line(const std::string& period, std::int64_t start_day, std::int64_t quota, std::int64_t actual,
                std::uint8_t output) {
  return ReturnFact{"U1", period, "P1", start_day, quota, actual, {h(output)}};
}

EntryRecordFact record(std::uint8_t n, std::int64_t day, std::int64_t recorded_ms, std::uint8_t device = 1) {
  return EntryRecordFact{h(n), dev(device), n, day, recorded_ms};
}

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kHourMs = 3'600'000;

}  // namespace

TEST_CASE("signals: exact_quota flags three periods in a row at exactly the quota, not two") {
  const std::vector<ReturnFact> three = {line("2026-09", 100, 500, 500, 1), line("2026-10", 130, 500, 500, 2),
                                         line("2026-11", 160, 400, 400, 3), line("2026-12", 190, 500, 620, 4)};
  const std::vector<Anomaly> found = find_exact_quotas(three, 3);
  REQUIRE(found.size() == 1);
  CHECK(found[0].kind == "exact_quota");
  CHECK(found[0].subject == "U1/P1");
  CHECK(found[0].events == std::vector<Hash>{h(1), h(2), h(3)});  // December's output is not evidence
  CHECK(found[0].detail.find("3 periods in a row (2026-09 500, 2026-10 500, 2026-11 400)") != std::string::npos);
  // A period off the quota in the middle breaks the run.
  const std::vector<ReturnFact> broken = {line("2026-09", 100, 500, 500, 1), line("2026-10", 130, 500, 501, 2),
                                          line("2026-11", 160, 500, 500, 3), line("2026-12", 190, 500, 500, 4)};
  CHECK(find_exact_quotas(broken, 3).empty());
  CHECK(find_exact_quotas(broken, 2).size() == 1);
  // Order is by the periods' first day, not by the order given.
  std::vector<ReturnFact> shuffled = three;
  std::reverse(shuffled.begin(), shuffled.end());
  CHECK(find_exact_quotas(shuffled, 3)[0].id == found[0].id);
}

TEST_CASE("signals: over_capacity flags a unit's day with more minutes than its workers times a shift") {
  const std::vector<UnitHoursFact> at_capacity = {{h(1), "U1", "W1", 20'400, 720}, {h(2), "U1", "W2", 20'400, 720}};
  CHECK(find_over_capacity(at_capacity, 720).empty());
  std::vector<UnitHoursFact> over = at_capacity;
  over.push_back({h(3), "U1", "W1", 20'400, 60});  // W1 again: still two workers, 1,500 minutes
  over.push_back({h(4), "U2", "W3", 20'400, 700});  // another unit, within its capacity
  const std::vector<Anomaly> found = find_over_capacity(over, 720);
  REQUIRE(found.size() == 1);
  CHECK(found[0].subject == "U1 2025-11-08");
  CHECK(found[0].events == std::vector<Hash>{h(1), h(2), h(3)});
  CHECK(found[0].detail.find("25 h 0 min logged for 2 workers, more than 2 × 12 h 0 min") != std::string::npos);
  // A version given twice counts once.
  over.push_back(over[2]);
  CHECK(find_over_capacity(over, 720)[0].id == found[0].id);
}

TEST_CASE("signals: after_approval flags three versions acknowledged after the approval, not two") {
  ApprovalFact a{"U1", "2026-11", h(9), 1000, {h(1), h(2)}};
  CHECK(find_after_approval({a}, 3).empty());
  a.changes.push_back(h(3));
  a.changes.push_back(h(3));  // the same version twice counts once
  const std::vector<Anomaly> found = find_after_approval({a}, 3);
  REQUIRE(found.size() == 1);
  CHECK(found[0].subject == "U1/2026-11");
  CHECK(found[0].events == std::vector<Hash>{h(9), h(1), h(2), h(3)});  // the approval first
  CHECK(found[0].detail.find("3 entry versions arrived after head office approved it") != std::string::npos);
}

TEST_CASE("signals: late_burst flags ten late entries of one device recorded close together") {
  const std::int64_t day = 20'400;
  const std::int64_t late = (day + 1) * kDayMs + 3 * kDayMs;  // three days after the shift date ended
  std::vector<EntryRecordFact> records;
  for (std::uint8_t i = 1; i <= 9; ++i) records.push_back(record(i, day, late + i * 10 * 60'000));
  records.push_back(record(50, day, (day + 1) * kDayMs + kHourMs));  // recorded the next morning: not late
  records.push_back(record(51, day, late, 2));                       // another device
  CHECK(find_late_bursts(records, 2 * kDayMs, 10, kHourMs).empty());
  records.push_back(record(10, day, late + 100 * 60'000));
  const std::vector<Anomaly> found = find_late_bursts(records, 2 * kDayMs, 10, kHourMs);
  REQUIRE(found.size() == 1);
  CHECK(found[0].subject == to_hex(dev(1)));
  CHECK(found[0].events.size() == 10);
  CHECK(found[0].events.front() == h(1));
  CHECK(found[0].events.back() == h(10));
  // More than the gap between two of them splits the burst in two, neither big enough.
  records.back().recorded_ms = late + 200 * 60'000;
  CHECK(find_late_bursts(records, 2 * kDayMs, 10, kHourMs).empty());
}

TEST_CASE("signals: a flagged device is an equivocation signal with the first flag's reason") {
  const std::vector<Anomaly> found = find_equivocations(
      {{dev(3), "equivocation at seq 9: pushed 22..., held 11...", 5'000}, {dev(3), "equivocation at seq 4", 2'000}});
  REQUIRE(found.size() == 1);
  CHECK(found[0].kind == "equivocation");
  CHECK(found[0].detail.find("equivocation at seq 4") != std::string::npos);
  CHECK(found[0].id == anomaly_id("equivocation", to_hex(dev(3)), {}));
}

TEST_CASE("signals: find_signals lists every kind, clock_skew included, the same for any order of the facts") {
  SignalFacts f;
  for (int i = 0; i < 3; ++i) f.returns.push_back(line("P" + std::to_string(i), i * 30, 10, 10, static_cast<std::uint8_t>(i + 1)));
  f.hours = {{h(20), "U1", "W1", 20'400, 800}};
  f.approvals = {ApprovalFact{"U1", "P0", h(30), 0, {h(31), h(32), h(33)}}};
  for (std::uint8_t i = 1; i <= 10; ++i) f.records.push_back(record(static_cast<std::uint8_t>(40 + i), 0, 5 * kDayMs + i * 1000));
  f.clocks = {{dev(4), 3 * kHourMs}};
  f.flags = {{dev(5), "equivocation at seq 2", 1}};
  const std::vector<Anomaly> found = find_signals(f);
  std::vector<std::string> kinds;
  for (const Anomaly& a : found) kinds.push_back(a.kind);
  CHECK(kinds == std::vector<std::string>{"after_approval", "clock_skew", "equivocation", "exact_quota", "late_burst",
                                          "over_capacity"});
  std::mt19937 rng(7);
  std::shuffle(f.returns.begin(), f.returns.end(), rng);
  std::shuffle(f.records.begin(), f.records.end(), rng);
  std::vector<std::string> ids, again;
  for (const Anomaly& a : found) ids.push_back(a.id);
  for (const Anomaly& a : find_signals(f)) again.push_back(a.id);
  CHECK(ids == again);
}

TEST_CASE("signals: a ledger gives the versions acknowledged after an approval and the late entries") {
  constexpr std::int64_t kBase = 1'763'600'000'000;  // 2025-11-20
  Chain signer{99, kBase}, t{1, kBase};
  signer.add("ref_period", {{"id", "2025-11"}, {"start", "2025-11-01"}, {"end", "2025-11-30"}});
  signer.add("ref_quota", {{"unit", "U1"}, {"period", "2025-11"}, {"product", "P1"}, {"quantity", 100}, {"version", 1}});
  const Event shift = t.open_shift("U1", "2025-11-03", kBase - kDayMs);
  const Event out = t.add("output", {{"shift", hash_ref(shift.hash)}, {"product", "P1"}, {"quantity", 100}});
  Ledger l(test::kTestSigner);
  for (const Event& e : signer.events()) REQUIRE(l.add(e).is_ok());
  for (const Event& e : t.events()) REQUIRE(l.add(e).is_ok());
  l.set_acknowledged(out.hash, kBase);
  auto report = l.report("U1", "2025-11");
  REQUIRE(report);
  const Event approval = signer.add("period_approval", approval_body("U1", "2025-11", report->computed));
  REQUIRE(l.add(approval).is_ok());
  // Two corrections, one acknowledged before the approval was written and one after.
  Hash target = out.hash;
  std::vector<Hash> corrections;
  for (int q : {90, 80}) {
    const Event c = t.add("correction", {{"target", hash_ref(target)}, {"reason", "recount"},
                                         {"entry", {{"shift", hash_ref(shift.hash)}, {"product", "P1"}, {"quantity", q}}}});
    REQUIRE(l.add(c).is_ok());
    corrections.push_back(c.hash);
    target = c.hash;
  }
  const std::int64_t approved_ms = static_cast<std::int64_t>(hlc_ms(approval.hlc));
  l.set_acknowledged(corrections[0], approved_ms - 1);
  l.set_acknowledged(corrections[1], approved_ms + 1);
  const SignalFacts f = l.signal_facts({}, {});
  REQUIRE(f.approvals.size() == 1);
  CHECK(f.approvals[0].approval == approval.hash);
  CHECK(f.approvals[0].changes == std::vector<Hash>{corrections[1]});
  // The output was recorded 17 days after its shift date, by what its stamp and its bracket say.
  REQUIRE(f.records.size() == 1);
  CHECK(f.records[0].event == out.hash);
  CHECK(f.records[0].recorded_ms >= kBase - kDayMs);
  // The return shows the approved figure, 100 of 100, with the current output as evidence.
  REQUIRE(f.returns.size() == 1);
  CHECK(f.returns[0].actual == 100);
  CHECK(f.returns[0].quota == 100);
  CHECK(f.returns[0].outputs == std::vector<Hash>{corrections[1]});
}
