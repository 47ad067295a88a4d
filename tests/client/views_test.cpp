// The store's read calls (list, show, shift list, summaries, status) against docs/READING.md.
#include <doctest/doctest.h>

#include <string>

#include "shiftbook/platform/db.h"
#include "shiftbook/kinds.h"
#include "support/fixture.h"
#include "views.h"

namespace shiftbook::client {
namespace {

using testing::Terminal;

template <typename T>
T must(Result<T> r) {
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(r).value();
}

std::int64_t day(const char* date) { return must(parse_date(date)); }
std::string ref(const Recorded& r) { return std::to_string(r.seq); }

// "5 hours W2, 7 bonus W1 void": seq, kind, worker or product, and whether void.
std::string entries_text(const Json& doc) {
  std::string out;
  for (const auto& e : doc["entries"]) {
    if (!out.empty()) out += ", ";
    out += std::to_string(e["seq"].get<int>()) + " " + e["kind"].get<std::string>() + " " +
           (e.contains("product") ? e["product"] : e["worker"]).get<std::string>();
    if (e["void"].get<bool>()) out += " void";
  }
  return out;
}

// "W1 Anna 600/120/480 0,1,0": minutes/special/confirmed, then bonuses
// special_environment,skill_upgrade,innovation.
std::string workers_text(const Json& summary) {
  std::string out;
  for (const auto& w : summary["workers"]) {
    if (!out.empty()) out += "; ";
    const Json& b = w["bonuses"];
    out += w["worker"].get<std::string>() + " " + w["name"].get<std::string>() + " " + w["minutes"].dump() + "/" +
           w["special_minutes"].dump() + "/" + w["confirmed_minutes"].dump() + " " +
           b["special_environment"].dump() + "," + b["skill_upgrade"].dump() + "," + b["innovation"].dump();
  }
  return out;
}

// "P1 Bracket pcs 620 of 500 (v1 2026-11) 1240 +120": actual of quota, fulfilment in permille, surplus.
std::string output_text(const Json& summary) {
  std::string out;
  for (const auto& o : summary["output"]) {
    if (!out.empty()) out += "; ";
    out += o["product"].get<std::string>() + " " + o["name"].get<std::string>() + " " +
           o["unit_name"].get<std::string>() + " " + o["quantity_text"].get<std::string>();
    if (o.contains("quota")) {
      const Json& q = o["quota"];
      out += " of " + q["quantity_text"].get<std::string>() + " (v" + q["version"].dump() + " " +
             q["period"].get<std::string>() + ") " + o["fulfilment_permille"].dump() + " +" +
             o["surplus_text"].get<std::string>();
    }
  }
  return out;
}

TEST_CASE("views: list orders by date and seq and filters by shift, worker, kind and void") {
  Terminal t;
  Store& s = *t.store;
  auto later = must(s.open_shift("U1", day("2026-11-17"), std::nullopt));  // 1
  must(s.log_hours("", "W1", 360, 840, false));                            // 2
  must(s.close_shift(""));                                                 // 3
  must(s.open_shift("U1", day("2026-11-16"), std::nullopt));               // 4
  must(s.log_hours("", "W2", 360, 840, false));                            // 5
  must(s.log_output("", "P1", 120));                                       // 6
  auto bonus = must(s.log_bonus("", "W1", "innovation", std::nullopt));    // 7
  must(s.void_entry(ref(bonus), "wrong worker"));                          // 8

  CHECK(entries_text(must(s.list_entries({}))) == "5 hours W2, 6 output P1, 2 hours W1");
  ListFilter all;
  all.include_void = true;
  CHECK(entries_text(must(s.list_entries(all))) == "5 hours W2, 6 output P1, 7 bonus W1 void, 2 hours W1");
  ListFilter by_shift;
  by_shift.shift = later.hash;
  CHECK(entries_text(must(s.list_entries(by_shift))) == "2 hours W1");
  all.worker = "W1";
  CHECK(entries_text(must(s.list_entries(all))) == "7 bonus W1 void, 2 hours W1");
  ListFilter outputs;
  outputs.kind = "output";
  CHECK(entries_text(must(s.list_entries(outputs))) == "6 output P1");
  outputs.kind = "shift_open";
  CHECK(s.list_entries(outputs).status().code() == Code::kInvalidArgument);
}

TEST_CASE("views: an entry in the list carries its shift, times and quantities as text") {
  Terminal t;
  Store& s = *t.store;
  auto shift = must(s.open_shift("U1", day("2026-11-16"), std::string("night")));
  must(s.log_hours("", "W1", 1320, 1800, true));
  must(s.log_output("", "P2", 12'500));
  Json list = must(s.list_entries({}));
  REQUIRE(list["entries"].size() == 2);
  const Json& hours = list["entries"][0];
  CHECK(hours["shift"] == to_hex(shift.hash));
  CHECK(hours["device"] == to_hex(s.device()));
  CHECK(hours["author"] == "L1");
  CHECK(hours["date"] == "2026-11-16");
  CHECK(hours["start_time"].get<std::string>() + "-" + hours["end_time"].get<std::string>() == "22:00-30:00");
  CHECK(hours["minutes"] == 480);
  CHECK(hours["special"] == true);
  CHECK(hours["confirmed"] == false);
  const Json& output = list["entries"][1];
  CHECK(output["quantity"] == 12'500);
  CHECK(output["quantity_text"] == "12.500");
  CHECK(output["quota_version"] == 2);
}

TEST_CASE("views: show lists the original, its correction and its void with reasons in order") {
  Terminal t;
  Store& s = *t.store;
  must(s.open_shift("U1", day("2026-11-16"), std::nullopt));                   // 1
  auto hours = must(s.log_hours("", "W1", 360, 840, false));                   // 2
  t.clock.advance(61'234);
  auto fix = must(s.correct(ref(hours), Json{{"end", 900}}, "stayed late"));  // 3
  must(s.void_entry(ref(fix), "recorded twice"));                             // 4

  Json shown = must(s.show_entry("3"));  // any version names the entry
  std::string versions;
  for (const auto& v : shown["versions"]) {
    versions += v["seq"].dump() + " " + v["kind"].get<std::string>() + " " + v["author"].get<std::string>() + " " +
                v.value("reason", std::string("-")) + " " + v["time"].get<std::string>() + "\n";
  }
  CHECK(versions ==
        "2 hours L1 - 2026-11-16T08:00:00.000Z\n"
        "3 correction L1 stayed late 2026-11-16T08:01:01.234Z\n"
        "4 void L1 recorded twice 2026-11-16T08:01:01.234Z\n");
  CHECK(shown["versions"][1]["body"]["entry"]["end"] == 900);
  CHECK(shown["versions"][1]["hash"] == to_hex(fix.hash));
  const Json& entry = shown["entry"];
  CHECK(entry["seq"] == 2);
  CHECK(entry["head_seq"] == 3);
  CHECK(entry["versions"] == 2);
  CHECK(entry["void"] == true);
  CHECK(entry["end"] == 900);
  CHECK(s.show_entry("1").status().code() == Code::kNotFound);  // a shift is not an entry
}

TEST_CASE("views: a correction after a confirmation makes the hours unconfirmed again") {
  Terminal t;
  Store& s = *t.store;
  must(s.open_shift("U1", day("2026-11-16"), std::nullopt));
  auto hours = must(s.log_hours("", "W1", 360, 840, false));
  ListFilter filter;
  filter.kind = "hours";
  auto confirmed = [&] { return must(s.list_entries(filter))["entries"][0]["confirmed"].get<bool>(); };
  CHECK_FALSE(confirmed());
  must(s.confirm(ref(hours), "W1", "1111"));
  CHECK(confirmed());
  must(s.correct(ref(hours), Json{{"end", 870}}, "left later"));
  CHECK_FALSE(confirmed());
  CHECK(must(s.summary_shift(""))["workers"][0]["confirmed_minutes"] == 0);
  must(s.confirm(ref(hours), "W1", "1111"));  // confirms the corrected version
  CHECK(confirmed());
  CHECK(must(s.summary_shift(""))["workers"][0]["confirmed_minutes"] == 510);
}

TEST_CASE("views: shift summary adds up each worker's minutes, special and confirmed minutes and bonuses") {
  Terminal t;
  Store& s = *t.store;
  must(s.open_shift("U1", day("2026-11-16"), std::nullopt));
  auto morning = must(s.log_hours("", "W1", 360, 840, false));
  must(s.confirm(ref(morning), "W1", "1111"));
  must(s.log_hours("", "W1", 840, 960, true));
  must(s.log_hours("", "W2", 360, 600, true));
  must(s.log_bonus("", "W1", "skill_upgrade", std::string("passed the press course")));
  must(s.log_bonus("", "W2", "special_environment", std::nullopt));
  must(s.log_bonus("", "W3", "innovation", std::nullopt));

  Json summary = must(s.summary_shift(""));
  CHECK(workers_text(summary) == "W1 Anna 600/120/480 0,1,0; W2 Boris 240/240/0 1,0,0; W3 Chen 0/0/0 0,0,1");
  CHECK(summary["shifts"] == 1);
  CHECK(summary["unit"] == "U1");
  CHECK(summary["from"] == "2026-11-16");
  CHECK(summary["to"] == "2026-11-16");
  CHECK(summary["shift"]["open"] == true);
  CHECK_FALSE(summary.contains("period"));
}

TEST_CASE("views: shift summary sets output against the quota of its period") {
  Terminal t;
  Store& s = *t.store;
  must(s.open_shift("U1", day("2026-11-16"), std::nullopt));
  must(s.log_output("", "P1", 500));
  must(s.log_output("", "P1", 120));
  must(s.log_output("", "P2", 12'500));
  Json summary = must(s.summary_shift(""));
  CHECK(output_text(summary) ==
        "P1 Bracket pcs 620 of 500 (v1 2026-11) 1240 +120; "
        "P2 Powder coat kg 12.500 of 250.000 (v2 2026-11) 50 +0.000");
  CHECK(summary["output"][0]["surplus"] == 120);
  CHECK(summary["output"][1]["quantity"] == 12'500);
}

TEST_CASE("views: period summary counts the unit's shifts dated in the period and no others") {
  Terminal t;
  Store& s = *t.store;
  must(s.open_shift("U1", day("2026-11-02"), std::nullopt));
  must(s.log_hours("", "W1", 360, 840, false));
  must(s.log_output("", "P1", 300));
  must(s.close_shift(""));
  must(s.open_shift("U1", day("2026-11-20"), std::nullopt));
  must(s.log_hours("", "W1", 360, 600, false));
  must(s.log_output("", "P1", 250));
  must(s.close_shift(""));
  must(s.open_shift("U2", day("2026-11-20"), std::nullopt));  // another unit
  must(s.log_hours("", "W2", 360, 840, false));
  must(s.log_output("", "P1", 999));
  must(s.close_shift(""));
  must(s.open_shift("U1", day("2026-12-01"), std::nullopt));  // after the period
  must(s.log_hours("", "W3", 360, 840, false));

  Json summary = must(s.summary_period("U1", "2026-11"));
  CHECK(summary["shifts"] == 2);
  CHECK(summary["from"].get<std::string>() + ".." + summary["to"].get<std::string>() == "2026-11-01..2026-11-30");
  CHECK(workers_text(summary) == "W1 Anna 720/0/0 0,0,0");
  // A product with a quota and no output is listed too: plan against actual.
  CHECK(output_text(summary) ==
        "P1 Bracket pcs 550 of 500 (v1 2026-11) 1100 +50; P2 Powder coat kg 0.000 of 250.000 (v2 2026-11) 0 +0.000");
  CHECK_FALSE(summary.contains("shift"));
}

TEST_CASE("views: summaries count only the current version of entries that are not void") {
  Terminal t;
  Store& s = *t.store;
  must(s.open_shift("U1", day("2026-11-16"), std::nullopt));
  auto hours = must(s.log_hours("", "W1", 360, 840, false));
  must(s.correct(ref(hours), Json{{"end", 600}}, "left at ten"));
  auto other = must(s.log_hours("", "W2", 360, 840, false));
  must(s.void_entry(ref(other), "was off sick"));
  auto output = must(s.log_output("", "P1", 100));
  must(s.log_output("", "P1", 40));
  must(s.void_entry(ref(output), "counted twice"));
  auto bonus = must(s.log_bonus("", "W1", "innovation", std::nullopt));
  must(s.void_entry(ref(bonus), "not approved"));

  Json summary = must(s.summary_shift(""));
  CHECK(workers_text(summary) == "W1 Anna 240/0/0 0,0,0");
  CHECK(output_text(summary) ==
        "P1 Bracket pcs 40 of 500 (v1 2026-11) 80 +0; P2 Powder coat kg 0.000 of 250.000 (v2 2026-11) 0 +0.000");
}

TEST_CASE("views: a night shift counts its minutes to its shift date") {
  Terminal t;
  Store& s = *t.store;
  must(s.open_shift("U1", day("2026-11-30"), std::string("night")));
  must(s.log_hours("", "W1", 1320, 1800, false));  // 22:00 to 06:00 on December 1st
  CHECK(workers_text(must(s.summary_shift(""))) == "W1 Anna 480/0/0 0,0,0");
  CHECK(workers_text(must(s.summary_period("U1", "2026-11"))) == "W1 Anna 480/0/0 0,0,0");
}

TEST_CASE("views: summary needs a shift to be named when none is open, and known units and periods") {
  Terminal t;
  Store& s = *t.store;
  auto none = s.summary_shift("");
  CHECK(none.status().code() == Code::kFailedPrecondition);
  CHECK(none.status().message().find("--shift") != std::string::npos);
  auto shift = must(s.open_shift("U1", day("2026-11-16"), std::nullopt));
  auto hours = must(s.log_hours("", "W1", 360, 840, false));
  must(s.close_shift(""));
  Json closed = must(s.summary_shift(ref(shift)));  // a closed shift may be named
  CHECK(closed["shift"]["open"] == false);
  CHECK(workers_text(closed) == "W1 Anna 480/0/0 0,0,0");
  CHECK(s.summary_shift(ref(hours)).status().code() == Code::kNotFound);
  CHECK(s.summary_period("U7", "2026-11").status().code() == Code::kNotFound);
  CHECK(s.summary_period("U1", "2027-01").status().code() == Code::kNotFound);
}

TEST_CASE("views: shift list shows open and closed shifts in seq order") {
  Terminal t;
  Store& s = *t.store;
  must(s.open_shift("U1", day("2026-11-16"), std::string("early")));  // 1
  must(s.open_shift("U2", day("2026-11-16"), std::nullopt));          // 2
  must(s.close_shift("1"));                                           // 3
  auto text = [](const Json& doc) {
    std::string out;
    for (const auto& sh : doc["shifts"]) {
      out += sh["seq"].dump() + " " + sh["unit"].get<std::string>() + " " + sh["date"].get<std::string>() + " " +
             sh.value("name", std::string("-")) + " by " + sh["opened_by"].get<std::string>() +
             (sh["open"].get<bool>() ? " open" : " closed " + sh["closed_seq"].dump() + " by " +
                                                     sh["closed_by"].get<std::string>()) + "\n";
    }
    return out;
  };
  CHECK(text(must(s.list_shifts(false))) ==
        "1 U1 2026-11-16 early by L1 closed 3 by L1\n"
        "2 U2 2026-11-16 - by L1 open\n");
  CHECK(text(must(s.list_shifts(true))) == "2 U2 2026-11-16 - by L1 open\n");
}

TEST_CASE("views: status shows the leader without refreshing the login, and null once it went idle") {
  Terminal t;
  Store& s = *t.store;
  must(s.open_shift("U1", day("2026-11-16"), std::nullopt));
  t.clock.advance(10 * 60'000);
  Json status = must(s.status());
  CHECK(status["leader"] == Json{{"id", "L1"}, {"name", "Lena"}, {"idle_minutes", 30}, {"ends_in_minutes", 20}});
  t.clock.advance(5 * 60'000);
  CHECK(must(s.status())["leader"]["ends_in_minutes"] == 15);  // looking did not count as use
  CHECK(status["device"] == to_hex(s.device()));
  CHECK(status["device_short"] == to_hex(s.device()).substr(0, 8));
  CHECK(status["store"] == t.store_dir());
  CHECK(status["schema_version"] == known_schema_version());
  CHECK(status["events"] == 1);
  CHECK(status["unsynced_events"] == 1);
  CHECK(status["open_shifts"].size() == 1);
  CHECK(status["reference"] ==
        Json{{"sites", 2}, {"units", 3}, {"periods", 1}, {"products", 2}, {"workers", 4}, {"quotas", 2}});

  t.clock.advance(16 * 60'000);
  CHECK(must(s.status())["leader"].is_null());
  t.clock.set(testing::kSampleNowMs);  // even with the clock turned back, the login is gone
  CHECK(s.session().status().code() == Code::kFailedPrecondition);
}

TEST_CASE("views: the confirmed versions are read from the partial index, not by scanning every entry") {
  Terminal t;
  Db db = must(Db::open(t.store_dir() + "/terminal.db", false));
  Stmt st = must(db.prepare(std::string("EXPLAIN QUERY PLAN SELECT e.seq FROM entries e") + kConfirmedJoin +
                            "WHERE e.shift = ?"));
  std::string plan;
  while (must(st.step())) plan += st.text(3) + "\n";
  CAPTURE(plan);
  CHECK(plan.find("USING INDEX entries_confirms") != std::string::npos);
  CHECK(plan.find("SCAN entries") == std::string::npos);
}

}  // namespace
}  // namespace shiftbook::client
