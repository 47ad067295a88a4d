// The ledger's unit reports (docs/RETURNS.md "Approval", docs/SHAREOUT.md "Where the inputs come
// from"): figures from the merged state, rule sets and achievement figures of head office, shares,
// approvals that lock a period and the adjustments booked after them. Hand-computed cases.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "shiftbook/ledger.h"
#include "sync/chain.h"

using namespace shiftbook;
using test::Chain;

namespace {

constexpr std::int64_t kBaseMs = 1'763'600'000'000;

Json rules(std::int64_t version, const std::string& from, std::int64_t pool = 750, std::int64_t special = 500,
           std::int64_t skill = 100, std::int64_t innovation = 0) {
  return {{"version", version},          {"from", from},          {"pool_share_permille", pool},
          {"special_weight_permille", special}, {"skill_points", skill}, {"innovation_points", innovation}};
}

// One site: head office's signer (periods October to December, quotas, rule sets, decisions) and
// one terminal recording in units U1 and U2.
struct Site {
  Chain signer{99, kBaseMs}, t{1, kBaseMs};
  Event nov_shift, nov_u2_shift, dec_shift;
  Site() {
    signer.add("ref_period", {{"id", "2026-10"}, {"start", "2026-10-01"}, {"end", "2026-10-31"}});
    signer.add("ref_period", {{"id", "2026-11"}, {"start", "2026-11-01"}, {"end", "2026-11-30"}});
    signer.add("ref_period", {{"id", "2026-12"}, {"start", "2026-12-01"}, {"end", "2026-12-31"}});
    quota("U1", "2026-11", 500);
    signer.add("ref_rules", rules(1, "2026-01-01"));
  }
  void quota(const std::string& unit, const std::string& period, std::int64_t q, std::int64_t version = 1) {
    signer.add("ref_quota", {{"unit", unit}, {"period", period}, {"product", "P1"}, {"quantity", q}, {"version", version}});
  }
  Event shift(const std::string& unit, const std::string& date) { return t.open_shift(unit, date, 1'000); }
  Event hours(const Event& shift, const std::string& worker, int minutes, bool special = false) {
    return t.add("hours", hours_body(shift, worker, minutes, special));
  }
  static Json hours_body(const Event& shift, const std::string& worker, int minutes, bool special = false) {
    return {{"shift", hash_ref(shift.hash)}, {"worker", worker}, {"start", 0}, {"end", minutes}, {"special", special}};
  }
  Event output(const Event& shift, std::int64_t quantity) {
    return t.add("output", {{"shift", hash_ref(shift.hash)}, {"product", "P1"}, {"quantity", quantity}});
  }
  Event bonus(const Event& shift, const std::string& worker, const std::string& type) {
    return t.add("bonus", {{"shift", hash_ref(shift.hash)}, {"worker", worker}, {"type", type}});
  }
  // The worked example in U1, November: W1 2,400 minutes; W2 2,400 minutes of which 480
  // special, achievement 1100; W3 1,200 minutes and a skill upgrade; output 300 + 320.
  void worked_example() {
    for (int d = 2; d <= 6; ++d) {
      const Event s = shift("U1", "2026-11-0" + std::to_string(d));
      hours(s, "W1", 480);
      hours(s, "W2", 480, d == 2);
      if (d <= 4) hours(s, "W3", d == 4 ? 240 : 480);
    }
    const Event s = shift("U1", "2026-11-09");
    bonus(s, "W3", "skill_upgrade");
    output(s, 300);
    output(s, 320);
    signer.add("ref_achievement", {{"worker", "W2"}, {"period", "2026-11"}, {"permille", 1100}});
  }
  std::vector<Event> events() const {
    std::vector<Event> out = signer.events();
    out.insert(out.end(), t.events().begin(), t.events().end());
    return out;
  }
  Ledger ledger() const {
    Ledger l(test::kTestSigner);
    for (const Event& e : events()) {
      Status s = l.add(e);
      REQUIRE_MESSAGE(s.is_ok(), s.to_string());
    }
    return l;
  }
  // Approves the unit's period with the figures the ledger computes now, as head office does.
  Event approve(const std::string& unit, const std::string& period) {
    auto r = ledger().report(unit, period);
    REQUIRE(r);
    return signer.add("period_approval", approval_body(unit, period, r->computed));
  }
};

UnitPeriodReport report_of(const Site& site, const std::string& unit, const std::string& period) {
  Ledger l = site.ledger();
  auto r = l.report(unit, period);
  REQUIRE(r);
  return *r;
}

// worker -> share of P1
std::map<std::string, std::int64_t> shares_of(const UnitPeriodReport& r) {
  std::map<std::string, std::int64_t> out;
  REQUIRE_MESSAGE(r.shares, r.shares_problem);
  for (const ProductShareout& p : r.shares->products) {
    for (const ShareLine& l : p.lines) out[l.worker] = l.share;
  }
  return out;
}

const WorkerFigures& worker(const UnitFigures& f, const std::string& id) {
  auto it = std::find_if(f.workers.begin(), f.workers.end(), [&](const WorkerFigures& w) { return w.worker == id; });
  REQUIRE(it != f.workers.end());
  return *it;
}

std::int64_t actual(const UnitFigures& f) {
  for (const ProductFigures& p : f.products) {
    if (p.product == "P1") return p.actual;
  }
  return -1;
}

// Everything a report says, as text, for comparing reports built from the same events.
std::string describe(const std::vector<UnitPeriodReport>& reports) {
  std::ostringstream o;
  for (const UnitPeriodReport& r : reports) {
    o << r.unit << ' ' << r.period << " approved=" << r.approval.has_value() << " into=" << r.adjusted_into
      << " rule=" << r.reported.rule_version << " in=" << r.adjustments_in.size() << " out=" << r.adjustment_out.has_value();
    for (const ProductFigures& p : r.reported.products) o << ' ' << p.product << ':' << p.quota << '/' << p.actual;
    for (const WorkerFigures& w : r.reported.workers) {
      o << ' ' << w.worker << ':' << w.minutes << '/' << w.special_minutes << '/' << w.skill_upgrades << '/'
        << w.innovations << '@' << w.achievement_permille;
    }
    if (r.shares) {
      for (const ProductShareout& p : r.shares->products) {
        for (const ShareLine& l : p.lines) o << ' ' << l.worker << '=' << l.share;
      }
    }
    for (const auto& [w, sources] : r.worker_sources) o << ' ' << w << '#' << sources.size();
    o << '\n';
  }
  return o.str();
}

}  // namespace

TEST_CASE("reports: the issue's worked example from recorded events gives shares 33, 39 and 18") {
  Site site;
  site.worked_example();
  UnitPeriodReport r = report_of(site, "U1", "2026-11");
  CHECK(r.reported.rule_version == 1);
  CHECK(actual(r.reported) == 620);
  CHECK(worker(r.reported, "W1").minutes == 2400);
  CHECK(worker(r.reported, "W2").minutes == 2400);
  CHECK(worker(r.reported, "W2").special_minutes == 480);
  CHECK(worker(r.reported, "W2").achievement_permille == 1100);
  CHECK(worker(r.reported, "W3").minutes == 1200);
  CHECK(worker(r.reported, "W3").skill_upgrades == 1);
  REQUIRE(r.shares);
  REQUIRE(r.shares->products.size() == 1);
  CHECK(r.shares->products[0].pool == 90);
  CHECK(shares_of(r) == std::map<std::string, std::int64_t>{{"W1", 33}, {"W2", 39}, {"W3", 18}});
  CHECK(format_exact_share(r.shares->products[0].lines[0]) == "32.83");
  // Each share names the entries it came from: W1's five hours entries, W3's three and the bonus.
  CHECK(r.worker_sources.at("W1").size() == 5);
  CHECK(r.worker_sources.at("W3").size() == 4);
  CHECK(r.product_sources.at("P1").size() == 2);
  CHECK_FALSE(r.approval);
}

TEST_CASE("reports: a correction after the first computation changes the figures and the shares") {
  Site site;
  site.worked_example();
  const UnitPeriodReport before = report_of(site, "U1", "2026-11");
  // W1's first shift was 240 minutes, not 480.
  const Hash w1_first = before.worker_sources.at("W1").front().current;
  const Event& first_shift = site.t.events().front();
  site.t.add("correction", {{"target", hash_ref(w1_first)}, {"reason", "left at noon"},
                            {"entry", Site::hours_body(first_shift, "W1", 240)}});
  const UnitPeriodReport after = report_of(site, "U1", "2026-11");
  CHECK(worker(after.reported, "W1").minutes == 2160);
  // Points 2160, 2880, 1300 (P = 6,340,000 milli): 30.66, 40.88, 18.45 -> 30, 40, 18 and the two
  // units left to the largest remainders (W2's .88, then W1's .66): 31, 41, 18.
  CHECK(shares_of(after) == std::map<std::string, std::int64_t>{{"W1", 31}, {"W2", 41}, {"W3", 18}});
  CHECK(after.worker_sources.at("W1").size() == 5);  // the corrected entry is still one entry
}

TEST_CASE("reports: a worker in two units is counted in each for the minutes worked there") {
  Site site;
  site.worked_example();
  site.quota("U2", "2026-11", 10);
  const Event s = site.shift("U2", "2026-11-10");
  site.hours(s, "W1", 600);
  site.hours(s, "W4", 600);
  site.output(s, 30);
  const UnitPeriodReport u1 = report_of(site, "U1", "2026-11");
  const UnitPeriodReport u2 = report_of(site, "U2", "2026-11");
  CHECK(worker(u1.reported, "W1").minutes == 2400);
  CHECK(worker(u2.reported, "W1").minutes == 600);
  // U2: surplus 20, pool floor(20 * 750 / 1000) = 15, halves of 7.5: 7 each and the unit left to
  // the lower worker id.
  CHECK(shares_of(u2) == std::map<std::string, std::int64_t>{{"W1", 8}, {"W4", 7}});
  CHECK(shares_of(u1).at("W1") == 33);
}

TEST_CASE("reports: a unit under quota shares nothing, a product without a quota is not shared") {
  Site site;
  const Event s = site.shift("U1", "2026-11-03");
  site.hours(s, "W1", 480);
  site.output(s, 499);
  site.t.add("output", {{"shift", hash_ref(s.hash)}, {"product", "P9"}, {"quantity", 1000}});
  UnitPeriodReport r = report_of(site, "U1", "2026-11");
  REQUIRE(r.shares);
  REQUIRE(r.shares->products.size() == 1);  // P9 has no quota
  CHECK(r.shares->products[0].surplus == 0);
  CHECK(r.shares->products[0].pool == 0);
  CHECK(shares_of(r).at("W1") == 0);
  REQUIRE(r.reported.products.size() == 2);
  CHECK(r.reported.products[1].product == "P9");
  CHECK(r.reported.products[1].quota_version == 0);
}

TEST_CASE("reports: the rule set in force is the latest starting on or before the period, none, no shares") {
  Site site;
  site.signer.add("ref_rules", rules(2, "2026-11-01", 500));
  site.signer.add("ref_rules", rules(3, "2026-11-15", 1000));  // starts inside November: December's
  site.worked_example();
  CHECK(report_of(site, "U1", "2026-10").reported.rule_version == 1);
  UnitPeriodReport nov = report_of(site, "U1", "2026-11");
  CHECK(nov.reported.rule_version == 2);
  REQUIRE(nov.shares);
  CHECK(nov.shares->products[0].pool == 60);  // floor(120 * 500 / 1000)
  CHECK(report_of(site, "U1", "2026-12").reported.rule_version == 3);

  Site bare;
  bare.signer = Chain(99, kBaseMs);
  bare.signer.add("ref_period", {{"id", "2026-11"}, {"start", "2026-11-01"}, {"end", "2026-11-30"}});
  bare.quota("U1", "2026-11", 500);
  bare.worked_example();
  UnitPeriodReport none = report_of(bare, "U1", "2026-11");
  CHECK(none.reported.rule_version == 0);
  CHECK_FALSE(none.shares);
  CHECK(none.shares_problem.find("no rule set is in force") != std::string::npos);
}

TEST_CASE("reports: an approval locks the period, what changes after it is booked into the next open period") {
  Site site;
  site.quota("U1", "2026-12", 100);
  site.worked_example();
  const Event approval = site.approve("U1", "2026-11");
  UnitPeriodReport nov = report_of(site, "U1", "2026-11");
  REQUIRE(nov.approval);
  CHECK(nov.approval->event == approval.hash);
  CHECK(nov.reported == nov.computed);
  CHECK_FALSE(nov.adjustment_out);

  // After approval: 30 more pieces and W1's hours corrected down by 240 minutes in November, and
  // December's own work.
  const Event late = site.shift("U1", "2026-11-28");
  site.output(late, 30);
  const Hash w1_first = nov.worker_sources.at("W1").front().current;
  site.t.add("correction", {{"target", hash_ref(w1_first)}, {"reason", "left at noon"},
                            {"entry", Site::hours_body(site.t.events().front(), "W1", 240)}});
  const Event dec = site.shift("U1", "2026-12-01");
  site.hours(dec, "W1", 480);
  site.output(dec, 150);

  nov = report_of(site, "U1", "2026-11");
  CHECK(actual(nov.reported) == 620);                   // the approved figure stands
  CHECK(worker(nov.reported, "W1").minutes == 2400);
  CHECK(actual(nov.computed) == 650);
  REQUIRE(nov.adjustment_out);
  CHECK(nov.adjustment_out->actual == std::map<std::string, std::int64_t>{{"P1", 30}});
  CHECK(nov.adjustment_out->workers.size() == 1);
  CHECK(nov.adjustment_out->workers.at("W1").minutes == -240);
  CHECK(nov.adjusted_into == "2026-12");
  CHECK(shares_of(nov) == std::map<std::string, std::int64_t>{{"W1", 33}, {"W2", 39}, {"W3", 18}});

  const UnitPeriodReport december = report_of(site, "U1", "2026-12");
  REQUIRE(december.adjustments_in.size() == 1);
  CHECK(december.adjustments_in[0].from_period == "2026-11");
  CHECK(actual(december.reported) == 180);  // 150 of its own and 30 booked from November
  CHECK(worker(december.reported, "W1").minutes == 240);  // 480 - 240

  // The return shows the same: November approved at 620 with 30 pending, December with 30 in.
  bool saw_nov = false, saw_dec = false;
  for (const PeriodReturn& line : site.ledger().returns()) {
    if (line.key.unit != "U1" || line.key.product != "P1") continue;
    if (line.key.period == "2026-11") {
      saw_nov = true;
      CHECK(line.approved);
      CHECK(line.actual == 620);
      CHECK(line.pending == 30);
      CHECK(line.adjusted_into == "2026-12");
    }
    if (line.key.period == "2026-12") {
      saw_dec = true;
      CHECK_FALSE(line.approved);
      CHECK(line.actual == 180);
      CHECK(line.adjustment == 30);
      CHECK(line.surplus == 80);
    }
  }
  CHECK((saw_nov && saw_dec));

  // Reopening with a reason unlocks November: its live figures, and nothing booked into December.
  site.signer.add("period_reopen", {{"unit", "U1"}, {"period", "2026-11"}, {"reason", "late returns of shift C"}});
  nov = report_of(site, "U1", "2026-11");
  CHECK_FALSE(nov.approval);
  CHECK(nov.decisions.size() == 2);
  CHECK(nov.decisions[1].reason == "late returns of shift C");
  CHECK(actual(nov.reported) == 650);
  CHECK(report_of(site, "U1", "2026-12").adjustments_in.empty());
  CHECK(actual(report_of(site, "U1", "2026-12").reported) == 150);
}

TEST_CASE("reports: an adjustment passes through locked periods into the first open one, or waits") {
  Site site;
  site.worked_example();
  const Event oct = site.shift("U1", "2026-10-05");
  site.output(oct, 10);
  site.approve("U1", "2026-10");
  site.approve("U1", "2026-11");
  site.output(oct, 5);  // late for October
  site.approve("U1", "2026-12");  // December approved with October's 5 booked in
  site.output(oct, 2);  // later still

  const UnitPeriodReport october = report_of(site, "U1", "2026-10");
  REQUIRE(october.adjustment_out);
  CHECK(october.adjustment_out->actual.at("P1") == 7);
  CHECK(october.adjusted_into.empty());  // November and December are locked; no later period yet
  const UnitPeriodReport december = report_of(site, "U1", "2026-12");
  CHECK(actual(december.reported) == 5);
  CHECK(actual(december.computed) == 7);
  REQUIRE(december.adjustment_out);
  CHECK(december.adjustment_out->actual.at("P1") == 2);

  site.signer.add("ref_period", {{"id", "2027-01"}, {"start", "2027-01-01"}, {"end", "2027-01-31"}});
  CHECK(report_of(site, "U1", "2026-10").adjusted_into == "2027-01");
  const UnitPeriodReport january = report_of(site, "U1", "2027-01");
  CHECK(actual(january.reported) == 2);
  REQUIRE(january.adjustments_in.size() == 1);
  CHECK(january.adjustments_in[0].from_period == "2026-12");
}

// The worked example approved in November with a December quota, then 12 late pieces and a
// late shift of W5 for November.
void approved_then_late(Site& site) {
  site.quota("U1", "2026-12", 100);
  site.worked_example();
  site.approve("U1", "2026-11");
  const Event late = site.shift("U1", "2026-11-28");
  site.hours(late, "W5", 300, true);
  site.output(late, 12);
}

TEST_CASE("reports: the same events in any order give the same reports") {
  Site site;
  approved_then_late(site);
  site.signer.add("ref_achievement", {{"worker", "W2"}, {"period", "2026-12"}, {"permille", 900}});
  site.signer.add("ref_achievement", {{"worker", "W2"}, {"period", "2026-11"}, {"permille", 1200}});  // after approval
  const std::string expected = describe(site.ledger().reports());
  CHECK(expected.find("W5") != std::string::npos);
  std::vector<Event> events = site.events();
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(events.begin(), events.end(), rng);
    Ledger l(test::kTestSigner);
    for (const Event& e : events) REQUIRE(l.add(e).is_ok());
    CHECK(describe(l.reports()) == expected);
    // Read after every few events, the aggregates kept up to date (shifts arriving after their
    // entries, periods and corrections late) end where a fresh full computation does.
    Ledger kept(test::kTestSigner);
    for (std::size_t i = 0; i < events.size(); ++i) {
      REQUIRE(kept.add(events[i]).is_ok());
      if (i % 3 == 0) (void)kept.reports();
      if (i % 7 == 0) (void)kept.returns();
    }
    CHECK(describe(kept.reports()) == expected);
    CHECK(kept.returns() == l.returns());
  }
}

TEST_CASE("reports: the latest achievement figure by the signer's seq, 1000 when none") {
  Site site;
  site.worked_example();
  site.signer.add("ref_achievement", {{"worker", "W2"}, {"period", "2026-11"}, {"permille", 1300}});
  Ledger l = site.ledger();
  CHECK(l.achievement("W2", "2026-11") == 1300);
  CHECK(l.achievement("W1", "2026-11") == 1000);
  CHECK(l.achievement("W2", "2026-12") == 1000);
}

TEST_CASE("reports: approval bodies: figures round-trip, and malformed ones are refused naming the field") {
  UnitFigures f;
  f.rule_version = 2;
  f.products = {{"P1", 500, 1, 620}, {"P2", 0, 0, 7}};
  f.workers = {{"W1", 2400, 0, 0, 0, 1000}, {"W2", 2400, 480, 1, 2, 1100}};
  const Json body = approval_body("U1", "2026-11", f);
  REQUIRE(validate_head_office_body("period_approval", body).is_ok());
  auto back = figures_of_approval(body);
  REQUIRE(back.is_ok());
  CHECK(*back == f);

  auto refused = [&](Json b, const std::string& says) {
    Status s = validate_head_office_body("period_approval", b);
    CHECK_FALSE(s.is_ok());
    CHECK_MESSAGE(s.message().find(says) != std::string::npos, s.message());
  };
  Json unsorted = body;
  std::swap(unsorted["workers"][0], unsorted["workers"][1]);
  refused(unsorted, "ascending order of 'worker'");
  Json special = body;
  special["workers"][0]["special_minutes"] = 2401;
  refused(special, "more special minutes than minutes");
  Json unquoted = body;
  unquoted["products"][1]["quota"] = 5;
  refused(unquoted, "no quota in force");
  Json extra = body;
  extra["workers"][0]["bonus"] = 1;
  refused(extra, "must be a map of exactly worker, achievement_permille");
  Json negative = body;
  negative["products"][0]["actual"] = -1;
  refused(negative, "'actual' must be a whole number from 0");
  Json many = body;
  many["workers"] = Json::array();
  for (int i = 0; i < 301; ++i) {
    many["workers"].push_back(Json{{"worker", "W" + std::to_string(100 + i)}, {"minutes", 1}, {"special_minutes", 0},
                                   {"skill_upgrades", 0}, {"innovations", 0}, {"achievement_permille", 1000}});
  }
  refused(many, "at most 300 items");
  refused(Json{{"unit", "U1"}, {"period", "2026-11"}, {"reason", ""}}, "reason");

  // 300 workers with ids of 8 bytes and 64 products fit in one event.
  many["workers"].erase(many["workers"].end() - 1);
  many["products"] = Json::array();
  for (int i = 0; i < 64; ++i) {
    many["products"].push_back(Json{{"product", "P" + std::to_string(1000000 + i)}, {"quota", 1}, {"quota_version", 1},
                                    {"actual", 1}});
  }
  for (Json& w : many["workers"]) w["worker"] = "W" + w["worker"].get<std::string>() + "00000";
  REQUIRE(validate_head_office_body("period_approval", many).is_ok());
  Event e;
  e.device = test::kTestSigner;
  e.seq = 1;
  e.hlc = 1;
  e.author = "head-office";
  e.kind = "period_approval";
  e.body = many;
  CHECK(seal_event(std::move(e)).is_ok());
}

TEST_CASE("reports: rule sets and achievement figures with bad fields are refused") {
  CHECK(validate_head_office_body("ref_rules", rules(1, "2026-11-01")).is_ok());
  Json r = rules(1, "2026-11-01");
  r["pool_share_permille"] = 1001;
  Status s = validate_head_office_body("ref_rules", r);
  CHECK(s.message() == "rule set version 1: field 'pool_share_permille' must be a whole number from 0 to 1000");
  r = rules(1, "2026-13-01");
  CHECK_FALSE(validate_head_office_body("ref_rules", r).is_ok());
  s = validate_head_office_body("ref_achievement", {{"worker", "W1"}, {"period", "2026-11"}, {"permille", 10001}});
  CHECK(s.message() ==
        "achievement figure of worker 'W1' in period '2026-11': field 'permille' must be a whole number from 0 to 10000");
}

TEST_CASE("reports: one period's reports, with or without sources, are the full reports' of that period") {
  Site site;
  approved_then_late(site);
  Ledger l = site.ledger();
  std::vector<UnitPeriodReport> all = l.reports();
  std::erase_if(all, [](const UnitPeriodReport& r) { return r.period != "2026-12"; });
  REQUIRE(all.size() == 1);
  const std::vector<UnitPeriodReport> with = l.period_reports("2026-12", true);
  const std::vector<UnitPeriodReport> without = l.period_reports("2026-12", false);
  CHECK(describe(with) == describe(all));
  REQUIRE(without.size() == 1);
  CHECK(without[0].reported == all[0].reported);
  CHECK(without[0].adjustments_in == all[0].adjustments_in);  // November's late pieces and W5
  CHECK(without[0].worker_sources.empty());
  CHECK(without[0].product_sources.empty());
  CHECK(l.period_reports("2027-01", true).empty());
}
