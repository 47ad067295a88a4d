// Sharing out, approval and payroll over a real store (service_payroll.cpp, service_admin.cpp):
// rule sets are versioned and never changed, and travel in every site's chain; achievement
// figures need a worker and a period and go into the worker's site chain; approving locks a
// unit's period with the figures of the moment, a correction after it is booked into the next
// open period, and reopening brings it back; the worked example, from events recorded on
// a terminal, pays shares 33, 39 and 18, and the payroll CSV is written exactly.
#include <doctest/doctest.h>

#include <atomic>

#include "service_impl.h"
#include "service_world.h"
#include "shiftbook/ledger.h"
#include "support/shared_expectations.h"

using namespace shiftbook;
using namespace shiftbook::service_world;

namespace {

Json rules_body(std::int64_t pool = 750, std::int64_t special = 500, std::int64_t skill = 100) {
  return {{"from", "2026-11-01"}, {"pool_share_permille", pool}, {"special_weight_permille", special},
          {"skill_points", skill}, {"innovation_points", 0}};
}

Hash shift_on(Terminal& t, const std::string& date) { return t.record("shift_open", {{"unit", "U1"}, {"date", date}}); }

Json hours_body(const Hash& shift, const std::string& worker, int start, int end, bool special = false) {
  return {{"shift", hash_ref(shift)}, {"worker", worker}, {"start", start}, {"end", end}, {"special", special}};
}

const WorkerFigures& worker_in(const UnitFigures& f, const std::string& id) {
  for (const WorkerFigures& w : f.workers) {
    if (w.worker == id) return w;
  }
  FAIL("no worker " << id);
  return f.workers.front();
}

std::map<std::string, std::int64_t> p1_shares(const UnitPeriodReport& r) {
  std::map<std::string, std::int64_t> out;
  REQUIRE(r.shares);
  for (const ProductShareout& p : r.shares->products) {
    if (p.product != "P1") continue;
    for (const ShareLine& l : p.lines) out[l.worker] = l.share;
  }
  return out;
}

// Head office with rule set 1 (750 / 500 / 100 / 0 from 2026-11-01), periods 2026-11 and
// 2026-12, W2 at 1100 in November, and terminal T of U1 that recorded the worked example
// on 16 and 17 November: W1 2 x 1,200 minutes; W2 1,200 + 720 + 480 special; W3 1,200 and a skill
// upgrade; output 300 + 320 of P1.
struct WorkedExample {
  HeadOffice ho;
  Terminal t;
  Hash w1_day1;  // W1's hours on the 16th, 00:00 to 20:00
  explicit WorkedExample(ServiceOptions options = {}) : ho(options) {
    ho.put("ref_rules", rules_body());
    ho.put("ref_period", {{"id", "2026-12"}, {"start", "2026-12-01"}, {"end", "2026-12-31"}});
    ho.put("ref_achievement", {{"worker", "W2"}, {"period", "2026-11"}, {"permille", 1100}});
    enroll(ho, t, "S1", {"U1"});
    const Hash day1 = shift_on(t, "2026-11-16");
    w1_day1 = t.record("hours", hours_body(day1, "W1", 0, 1200));
    t.record("hours", hours_body(day1, "W2", 0, 1200));
    t.record("hours", hours_body(day1, "W3", 0, 1200));
    t.record("bonus", {{"shift", hash_ref(day1)}, {"worker", "W3"}, {"type", "skill_upgrade"}});
    t.record("output", {{"shift", hash_ref(day1)}, {"product", "P1"}, {"quantity", 300}});
    const Hash day2 = shift_on(t, "2026-11-17");
    t.record("hours", hours_body(day2, "W1", 0, 1200));
    t.record("hours", hours_body(day2, "W2", 0, 720));
    t.record("hours", hours_body(day2, "W2", 720, 1200, true));
    t.record("output", {{"shift", hash_ref(day2)}, {"product", "P1"}, {"quantity", 320}});
    sync();
  }
  void sync() {
    const std::uint64_t held = ho.device(t.device()).seq;
    if (held < t.chain.size()) REQUIRE(push(ho, t, held + 1, t.chain.size()).type() == "sync");
  }
  UnitPeriodReport report(const std::string& period) {
    auto r = ho.service->reports("", "U1", period);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    REQUIRE(r->size() == 1);
    CHECK(r->front().site == "S1");
    return r->front().report;
  }
};

}  // namespace

TEST_CASE("service rules: versions count up, a written version is refused, and every site's chain carries them") {
  HeadOffice ho;
  auto first = ho.service->put_reference("ref_rules", rules_body());
  REQUIRE_MESSAGE(first.is_ok(), first.status().to_string());
  CHECK(first->at("version") == 1);
  auto second = ho.service->put_reference("ref_rules", rules_body(500));
  REQUIRE(second.is_ok());
  CHECK(second->at("version") == 2);

  Json again = rules_body(600);
  again["version"] = 2;
  auto refused = ho.service->put_reference("ref_rules", again);
  CHECK(refused.status().code() == Code::kAlreadyExists);
  CHECK(refused.status().message() == "rule set version 2 exists and is never changed; write version 3");
  again["version"] = 5;
  REQUIRE(ho.service->put_reference("ref_rules", again).is_ok());
  auto out_of_range = ho.service->put_reference("ref_rules", rules_body(1200));
  CHECK(out_of_range.status().code() == Code::kInvalidArgument);
  CHECK(out_of_range.status().message().find("pool_share_permille") != std::string::npos);

  auto listed = ho.service->reference("ref_rules", "S2");
  REQUIRE(listed.is_ok());
  CHECK(listed->size() == 3);
  // Every site's chain carries every rule set, a site added later too.
  ho.put("ref_site", {{"id", "S3"}, {"name", "Plant Three"}, {"tz", "UTC"}});
  for (const char* site : {"S1", "S2", "S3"}) {
    auto l = ho.service->ledger(site);
    REQUIRE(l.is_ok());
    const auto& held = l->ledger.rule_sets();
    CHECK_MESSAGE(held.size() == 3, site);
    CHECK(held.contains(1));
    CHECK(held.contains(2));
    CHECK(held.contains(5));
    CHECK(held.at(2).rules.pool_share_permille == 500);
  }
}

TEST_CASE("service achievement: the worker and period must exist, the figure goes into the worker's site chain") {
  HeadOffice ho;
  ho.put("ref_achievement", {{"worker", "W9"}, {"period", "2026-11"}, {"permille", 1100}});
  auto s2 = ho.service->ledger("S2");
  REQUIRE(s2.is_ok());
  CHECK(s2->ledger.achievement("W9", "2026-11") == 1100);
  auto s1 = ho.service->ledger("S1");
  REQUIRE(s1.is_ok());
  CHECK(s1->ledger.achievement("W9", "2026-11") == 1000);

  auto unknown_worker =
      ho.service->put_reference("ref_achievement", {{"worker", "W7"}, {"period", "2026-11"}, {"permille", 900}});
  CHECK(unknown_worker.status().code() == Code::kNotFound);
  CHECK(unknown_worker.status().message() == "worker 'W7' does not exist; add it first (worker add)");
  auto unknown_period =
      ho.service->put_reference("ref_achievement", {{"worker", "W1"}, {"period", "2027-01"}, {"permille", 900}});
  CHECK(unknown_period.status().code() == Code::kNotFound);
  auto too_high =
      ho.service->put_reference("ref_achievement", {{"worker", "W1"}, {"period", "2026-11"}, {"permille", 10'001}});
  CHECK(too_high.status().code() == Code::kInvalidArgument);
  auto listed = ho.service->reference("ref_achievement", "S1");
  REQUIRE(listed.is_ok());
  CHECK(listed->empty());
}

TEST_CASE("service payroll: the issue's worked example end to end pays 33, 39 and 18, exported as CSV and JSON") {
  WorkedExample w;
  const UnitPeriodReport r = w.report("2026-11");
  CHECK_FALSE(r.approval);
  CHECK(worker_in(r.reported, "W2").achievement_permille == 1100);
  CHECK(worker_in(r.reported, "W2").special_minutes == 480);
  CHECK(worker_in(r.reported, "W3").skill_upgrades == 1);
  CHECK(p1_shares(r) == std::map<std::string, std::int64_t>{{"W1", 33}, {"W2", 39}, {"W3", 18}});

  auto rows = w.ho.service->payroll("2026-11", "", "");
  REQUIRE_MESSAGE(rows.is_ok(), rows.status().to_string());
  // P2 has a quota (250 kg, nothing made): its lines pay 0.000 kg.
  CHECK(server::payroll_csv(*rows) == testing::kWorkedExampleCsv);
  const Json doc = server::payroll_json("2026-11", *rows);
  CHECK(doc["format"] == "shiftbook-payroll/1");
  CHECK(doc["period"] == "2026-11");
  REQUIRE(doc["rows"].size() == 6);
  CHECK(doc["rows"][2] == Json{{"worker", "W2"}, {"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"},
                               {"minutes", 2400}, {"special_minutes", 480}, {"points", "2880.000"},
                               {"share", "39"}});

  // A unit, site or period that does not exist is refused, not an empty payroll.
  CHECK(w.ho.service->payroll("2027-01", "", "").status().code() == Code::kNotFound);
  CHECK(w.ho.service->payroll("2026-11", "S7", "").status().code() == Code::kNotFound);
  CHECK(w.ho.service->payroll("2026-11", "", "U7").status().code() == Code::kNotFound);
  CHECK(w.ho.service->payroll("2026-11", "S2", "U1").status().code() == Code::kInvalidArgument);
  auto s2 = w.ho.service->payroll("2026-11", "S2", "");
  REQUIRE(s2.is_ok());
  CHECK(s2->empty());
}

TEST_CASE("service reports: a kept ledger (serve) takes what is stored after it was first read, as a new one would") {
  ServiceOptions keep;
  keep.keep_ledgers = true;
  WorkedExample w(keep);
  CHECK(worker_in(w.report("2026-11").computed, "W1").minutes == 2400);
  // Since: a correction on T, a new terminal with output, and head office's achievement for W1.
  w.t.record("correction", {{"target", hash_ref(w.w1_day1)},
                            {"reason", "left early"},
                            {"entry", hours_body(w.t.chain.front().event.hash, "W1", 0, 600)}});
  w.sync();
  Terminal u;
  enroll(w.ho, u, "S1", {"U1"});
  const Hash shift = shift_on(u, "2026-11-18");
  u.record("output", {{"shift", hash_ref(shift)}, {"product", "P1"}, {"quantity", 5}});
  REQUIRE(push(w.ho, u, 1, u.chain.size()).type() == "sync");
  w.ho.put("ref_achievement", {{"worker", "W1"}, {"period", "2026-11"}, {"permille", 900}});
  const UnitPeriodReport kept = w.report("2026-11");
  CHECK(worker_in(kept.computed, "W1").minutes == 1800);
  CHECK(worker_in(kept.computed, "W1").achievement_permille == 900);
  auto fresh = w.ho.service->ledger("S1");
  REQUIRE(fresh.is_ok());
  const std::optional<UnitPeriodReport> built = fresh->ledger.report("U1", "2026-11");
  REQUIRE(built);
  CHECK(kept.computed == built->computed);
  CHECK(kept.computed.products.front().actual == 625);
  CHECK(p1_shares(kept) == p1_shares(*built));
}

TEST_CASE("service reports: warm_ledgers builds the kept ledgers ahead (serve, at its start), and stops when asked") {
  ServiceOptions keep;
  keep.keep_ledgers = true;
  WorkedExample w(keep);
  std::atomic<bool> stop{true};
  const Status stopped = w.ho.service->warm_ledgers(stop);
  CHECK(stopped.code() == Code::kAborted);
  CHECK(stopped.message().find("stopping") != std::string::npos);
  stop = false;
  REQUIRE(w.ho.service->warm_ledgers(stop).is_ok());
  const UnitPeriodReport kept = w.report("2026-11");
  auto fresh = w.ho.service->ledger("S1");
  REQUIRE(fresh.is_ok());
  const std::optional<UnitPeriodReport> built = fresh->ledger.report("U1", "2026-11");
  REQUIRE(built);
  CHECK(kept.computed == built->computed);
  CHECK(worker_in(kept.computed, "W1").minutes == 2400);
  // Without kept ledgers there is nothing to build ahead.
  HeadOffice plain;
  CHECK(plain.service->warm_ledgers(stop).is_ok());
}

TEST_CASE("service payroll: without a rule set in force a unit with a quota has no shares, and no payroll") {
  HeadOffice ho;
  Terminal t;
  enroll(ho, t, "S1", {"U1"});
  const Hash shift = shift_on(t, "2026-11-16");
  t.record("hours", hours_body(shift, "W1", 0, 480));
  REQUIRE(push(ho, t, 1, 2).type() == "sync");
  auto rows = ho.service->payroll("2026-11", "", "");
  CHECK(rows.status().code() == Code::kFailedPrecondition);
  CHECK(rows.status().message().find("unit U1's period 2026-11 has no shares to pay") != std::string::npos);
}

// Two server processes on one store (docs/DEPLOYMENT.md): one approves while the other has computed
// its figures and not yet written its approval. The second must not write a second approval.
TEST_CASE("service approval: an approval another process writes while this one computes wins, and this one is refused") {
  WorkedExample w;
  int calls = 0;
  ServiceOptions options;
  options.before_decision = [&] {
    if (++calls == 1) REQUIRE(w.ho.service->approve("U1", "2026-11").is_ok());  // the other process
  };
  auto storage = server::open_storage(w.ho.store_url, false);
  REQUIRE_MESSAGE(storage.is_ok(), storage.status().to_string());
  auto key = DeviceKey::from_secret(w.ho.signing_key.secret());
  REQUIRE(key.is_ok());
  Service second(std::move(storage).value(), std::move(key).value(), w.ho.clock, options);
  auto refused = second.approve("U1", "2026-11");
  CHECK(refused.status().code() == Code::kFailedPrecondition);
  CHECK(refused.status().message().find("reopen it first") != std::string::npos);
  CHECK(calls == 1);  // computed again, its figures showed the approval before it came to write one
  auto now = w.ho.service->approve("U1", "2026-11");
  CHECK(now.status().code() == Code::kFailedPrecondition);
  auto reports = w.ho.service->reports("S1", "U1", "2026-11");
  REQUIRE(reports.is_ok());
  REQUIRE(reports->size() == 1);
  CHECK((*reports)[0].report.decisions.size() == 1);
}

TEST_CASE("service approval: approve locks, twice is refused, a later correction is booked into the next period") {
  WorkedExample w;
  auto not_locked = w.ho.service->reopen("U1", "2026-11", "recount");
  CHECK(not_locked.status().code() == Code::kFailedPrecondition);
  CHECK(not_locked.status().message() ==
        "unit U1's period 2026-11 is open (it was never approved); only an approved period can be reopened");
  CHECK(w.ho.service->approve("U7", "2026-11").status().code() == Code::kNotFound);
  CHECK(w.ho.service->approve("U1", "2027-01").status().code() == Code::kNotFound);

  auto approved = w.ho.service->approve("U1", "2026-11");
  REQUIRE_MESSAGE(approved.is_ok(), approved.status().to_string());
  CHECK(approved->site == "S1");
  REQUIRE(approved->report.approval);
  const std::uint64_t approval_seq = approved->report.approval->signer_seq;
  CHECK(approved->report.reported == approved->report.computed);
  CHECK(p1_shares(approved->report) == std::map<std::string, std::int64_t>{{"W1", 33}, {"W2", 39}, {"W3", 18}});

  auto twice = w.ho.service->approve("U1", "2026-11");
  CHECK(twice.status().code() == Code::kFailedPrecondition);
  CHECK(twice.status().message() == "unit U1's period 2026-11 was approved at " + server::format_utc(testing::kSampleNowMs) +
                                        " (signer seq " + std::to_string(approval_seq) +
                                        "); reopen it first ('reopen --unit U1 --period 2026-11 --reason ...')");

  // W1's first day corrected to 21 hours after the approval: November keeps what was approved,
  // December has the 60 minutes booked in.
  w.t.record("correction", {{"target", hash_ref(w.w1_day1)}, {"reason", "stayed an hour"},
                            {"entry", hours_body(w.t.chain[0].event.hash, "W1", 0, 1260)}});
  w.sync();
  const UnitPeriodReport nov = w.report("2026-11");
  REQUIRE(nov.approval);
  CHECK(worker_in(nov.reported, "W1").minutes == 2400);
  CHECK(worker_in(nov.computed, "W1").minutes == 2460);
  REQUIRE(nov.adjustment_out);
  CHECK(nov.adjustment_out->workers.at("W1").minutes == 60);
  CHECK(nov.adjusted_into == "2026-12");
  CHECK(p1_shares(nov) == std::map<std::string, std::int64_t>{{"W1", 33}, {"W2", 39}, {"W3", 18}});
  const UnitPeriodReport dec = w.report("2026-12");
  CHECK_FALSE(dec.approval);
  REQUIRE(dec.adjustments_in.size() == 1);
  CHECK(dec.adjustments_in[0].from_period == "2026-11");
  CHECK(worker_in(dec.computed, "W1").minutes == 60);
  auto nov_rows = w.ho.service->payroll("2026-11", "S1", "U1");
  REQUIRE(nov_rows.is_ok());
  REQUIRE_FALSE(nov_rows->empty());
  CHECK(nov_rows->front().worker == "W1");
  CHECK(nov_rows->front().minutes == 2400);

  CHECK(w.ho.service->reopen("U1", "2026-11", "").status().code() == Code::kInvalidArgument);
  auto reopened = w.ho.service->reopen("U1", "2026-11", "W1's hours were corrected");
  REQUIRE_MESSAGE(reopened.is_ok(), reopened.status().to_string());
  CHECK_FALSE(reopened->report.approval);
  REQUIRE(reopened->report.decisions.size() == 2);
  CHECK(reopened->report.decisions.back().reason == "W1's hours were corrected");
  CHECK(worker_in(reopened->report.reported, "W1").minutes == 2460);
  CHECK(w.report("2026-12").adjustments_in.empty());
  auto reopen_again = w.ho.service->reopen("U1", "2026-11", "again");
  CHECK(reopen_again.status().code() == Code::kFailedPrecondition);
  CHECK(reopen_again.status().message().find("it was reopened at") != std::string::npos);

  // Approving again locks the figures as they are now.
  auto again = w.ho.service->approve("U1", "2026-11");
  REQUIRE(again.is_ok());
  CHECK(worker_in(again->report.reported, "W1").minutes == 2460);
}

TEST_CASE("service payroll: CSV cells a spreadsheet would run are text, and quoting follows RFC 4180") {
  std::vector<server::PayrollRow> rows;
  for (const char* worker : {"=SUM(A1)", "+1", "-2", "@x", "a,b\"c", "W1"}) {
    server::PayrollRow r;
    r.worker = worker;
    r.unit = "U1";
    r.period = "2026-11";
    r.product = "P2";
    r.minutes = -60;  // a negative adjustment is a number, never protected
    r.milli_points = 1'300'000;
    r.share = 12'345;
    r.decimals = 3;
    rows.push_back(r);
  }
  CHECK(server::payroll_csv(rows) ==
        "worker,unit,period,product,minutes,special_minutes,points,share\r\n"
        "'=SUM(A1),U1,2026-11,P2,-60,0,1300.000,12.345\r\n"
        "'+1,U1,2026-11,P2,-60,0,1300.000,12.345\r\n"
        "'-2,U1,2026-11,P2,-60,0,1300.000,12.345\r\n"
        "'@x,U1,2026-11,P2,-60,0,1300.000,12.345\r\n"
        "\"a,b\"\"c\",U1,2026-11,P2,-60,0,1300.000,12.345\r\n"
        "W1,U1,2026-11,P2,-60,0,1300.000,12.345\r\n");
}

TEST_CASE("service approval: a unit with more products than an approval holds cannot be approved") {
  HeadOffice ho;
  ho.put("ref_rules", rules_body());
  // P1 and P2 have quotas in U1 already; quotas for 63 more make 65, one over the limit.
  for (std::size_t i = 3; i <= kMaxApprovalProducts + 1; ++i) {
    const std::string id = "P" + std::to_string(i);
    ho.put("ref_product", {{"id", id}, {"name", "Part " + id}, {"unit", "pcs"}, {"decimals", 0}});
    ho.put("ref_quota", {{"unit", "U1"}, {"period", "2026-11"}, {"product", id}, {"quantity", 10}});
  }
  auto refused = ho.service->approve("U1", "2026-11");
  CHECK(refused.status().code() == Code::kFailedPrecondition);
  CHECK(refused.status().message() == "unit U1's period 2026-11 has 65 products; an approval holds at most 64, so it "
                                      "cannot be approved as one return");
  auto report = ho.service->reports("S1", "U1", "2026-11");
  REQUIRE(report.is_ok());
  REQUIRE(report->size() == 1);
  CHECK(report->front().report.decisions.empty());
}
