// Sharing out and payroll from head office's command line, against a real shiftbook-server on
// 127.0.0.1 and a terminal (the shiftbook binary) that records the work: the worked
// example comes out of `export payroll` byte for byte; a worker id a spreadsheet would run as a
// formula comes out as a text cell; the export refuses an unknown period and an existing file,
// writing nothing; `approve` and `reopen` say what they did or why not, with their exit statuses.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "integration/terminal_cli.h"
#include "support/fixture.h"
#include "support/server_process.h"
#include "support/shared_expectations.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Head office (setup_head_office) with rule set 1 (pool 750, special 500, skill 100 points) and
// terminal A of U1, enrolled and logged in.
struct PayrollWorld {
  ServerProcess server;
  Cli a;
  explicit PayrollWorld(const std::vector<std::string>& extra_workers = {}) {
    setup_head_office(server);
    ok(server.run({"rules", "set", "--from", "2026-11-01", "--pool-share-permille", "750", "--special-weight-permille",
                   "500", "--skill-points", "100", "--innovation-points", "0"}),
       "rules set");
    for (const std::string& w : extra_workers) {
      ok(server.run({"worker", "add", w, "--site", "S1", "--name", "Extra", "--pin-cost", "minimum"}, "5555\n"),
         "worker add " + w);
    }
    server.start();
    enroll(a, server);
  }
  void hours(const std::string& worker, const std::string& start, const std::string& end, bool special = false) {
    std::vector<std::string> args{"log", "hours", "--worker", worker, "--start", start, "--end", end};
    if (special) args.push_back("--special");
    ok(a.run(args), "hours " + worker);
  }
  void output(const std::string& quantity) {
    ok(a.run({"log", "output", "--product", "P1", "--quantity", quantity}), "output");
  }
};

// The worked example recorded on A over two shifts (16 and 17 November): W1 2 x 20 h;
// W2 20 h, then 12 h and 8 h special, at achievement 1100; W3 20 h and a skill upgrade; 300 + 320
// pieces of P1 against the quota of 500.
struct WorkedExample : PayrollWorld {
  WorkedExample() {
    ok(server.run({"achievement", "set", "--worker", "W2", "--period", "2026-11", "--permille", "1100"}),
       "achievement");
    ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open 16th");
    hours("W1", "00:00", "20:00");
    hours("W2", "00:00", "20:00");
    hours("W3", "00:00", "20:00");
    ok(a.run({"log", "bonus", "--worker", "W3", "--type", "skill_upgrade"}), "bonus");
    output("300");
    ok(a.run({"shift", "close"}), "close 16th");
    ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-17"}), "open 17th");
    hours("W1", "00:00", "20:00");
    hours("W2", "00:00", "12:00");
    hours("W2", "12:00", "20:00", true);
    output("320");
    ok(a.run({"sync"}), "sync");
  }
};

}  // namespace

TEST_CASE("payroll cli: the worked example's CSV byte for byte, JSON, and a file that is never overwritten") {
  WorkedExample w;
  const RunResult csv = w.server.run({"export", "payroll", "--period", "2026-11"});
  ok(csv, "export csv");
  CHECK(csv.out == kWorkedExampleCsv);

  const Json doc = w.server.json({"export", "payroll", "--period", "2026-11", "--unit", "U1", "--format", "json"});
  CHECK(doc["format"] == "shiftbook-payroll/1");
  REQUIRE(doc["rows"].size() == 6);
  CHECK(doc["rows"][4] == Json{{"worker", "W3"}, {"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"},
                               {"minutes", 1200}, {"special_minutes", 0}, {"points", "1300.000"}, {"share", "18"}});

  const std::string path = w.server.file("payroll.csv");
  const RunResult written = w.server.run({"export", "payroll", "--period", "2026-11", "--output", path});
  ok(written, "export to a file");
  CHECK(written.out == "exported 6 lines of period 2026-11 to " + path + "\n");
  CHECK(read_all(path) == kWorkedExampleCsv);

  // An existing file is kept as it is unless --force; an unknown period writes nothing.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "kept";
  refused(w.server.run({"export", "payroll", "--period", "2026-11", "--output", path}), 5,
          path + " exists; give another --output, or --force to replace it");
  CHECK(read_all(path) == "kept");
  const std::string other = w.server.file("other.csv");
  refused(w.server.run({"export", "payroll", "--period", "2027-01", "--output", other}), 4,
          "period '2027-01' does not exist");
  CHECK_FALSE(std::ifstream(other).good());
  refused(w.server.run({"export", "payroll", "--period", "2027-01"}), 4, "period '2027-01' does not exist");
  refused(w.server.run({"export", "payroll", "--period", "2026-11", "--format", "xlsx"}), 2, "xlsx");
  ok(w.server.run({"export", "payroll", "--period", "2026-11", "--output", path, "--force"}), "export --force");
  CHECK(read_all(path) == kWorkedExampleCsv);

  // The shares report says the same, with the exact shares.
  const RunResult shares = w.server.run({"shares", "--unit", "U1", "--period", "2026-11"});
  ok(shares, "shares");
  CHECK(shares.out.find("open; rule set version 1") != std::string::npos);
  CHECK(shares.out.find("32.83 pcs") != std::string::npos);
  CHECK(shares.out.find("2880.000") != std::string::npos);
  // --explain names the entries behind each worker's and product's figures.
  const RunResult explained = w.server.run({"shares", "--unit", "U1", "--period", "2026-11", "--explain"});
  ok(explained, "shares --explain");
  const Json sources = w.server.json({"shares", "--json", "--unit", "U1"})["reports"][0]["product_sources"]["P1"];
  REQUIRE(sources.size() == 2);
  CHECK(explained.out.find("  P1: " + sources[0]["entry"].get<std::string>().substr(0, 16) + " output, " +
                           sources[1]["entry"].get<std::string>().substr(0, 16) + " output\n") != std::string::npos);
  CHECK(explained.out.find("  W3: ") != std::string::npos);
  CHECK(explained.out.find(" bonus") != std::string::npos);
}

TEST_CASE("payroll cli: a worker id a spreadsheet would run as a formula comes out as a text cell") {
  PayrollWorld w({"=SUM(A1)"});
  ok(w.a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  w.hours("=SUM(A1)", "06:00", "14:00");
  w.hours("W1", "06:00", "14:00");
  w.output("510");
  ok(w.a.run({"sync"}), "sync");
  // Pool floor(10 x 750 / 1000) = 7 between two workers of 480 points: 3.5 each, the leftover
  // unit to the lower id, "=SUM(A1)" (0x3D) before "W1" (0x57).
  CHECK(w.server.run({"export", "payroll", "--period", "2026-11"}).out ==
        "worker,unit,period,product,minutes,special_minutes,points,share\r\n"
        "'=SUM(A1),U1,2026-11,P1,480,0,480.000,4\r\n"
        "'=SUM(A1),U1,2026-11,P2,480,0,480.000,0.000\r\n"
        "W1,U1,2026-11,P1,480,0,480.000,3\r\n"
        "W1,U1,2026-11,P2,480,0,480.000,0.000\r\n");
  // JSON carries the id as it is.
  const Json doc = w.server.json({"export", "payroll", "--period", "2026-11", "--format", "json"});
  CHECK(doc["rows"][0]["worker"] == "=SUM(A1)");
}

TEST_CASE("payroll cli: approve and reopen say what they did, or why not, with their exit statuses") {
  WorkedExample w;
  refused(w.server.run({"reopen", "--unit", "U1", "--period", "2026-11", "--reason", "recount"}), 6,
          "unit U1's period 2026-11 is open (it was never approved); only an approved period can be reopened");
  refused(w.server.run({"approve", "--unit", "U7", "--period", "2026-11"}), 4, "unit 'U7' does not exist");
  refused(w.server.run({"approve", "--unit", "U1", "--period", "2027-01"}), 4, "period '2027-01' does not exist");

  const RunResult approved = w.server.run({"approve", "--unit", "U1", "--period", "2026-11"});
  ok(approved, "approve");
  CHECK(approved.out.rfind("approved unit U1's period 2026-11: locked with the figures below", 0) == 0);
  CHECK(approved.out.find("of site S1's head-office chain") != std::string::npos);
  CHECK(approved.out.find("approved at ") != std::string::npos);

  const RunResult twice = w.server.run({"approve", "--unit", "U1", "--period", "2026-11"});
  refused(twice, 6, "unit U1's period 2026-11 was approved at ");
  CHECK(twice.err.find("; reopen it first ('reopen --unit U1 --period 2026-11 --reason ...')") != std::string::npos);

  const Json returns = w.server.json({"returns", "--json", "--unit", "U1", "--period", "2026-11"})["returns"];
  REQUIRE(returns.size() == 2);
  CHECK(returns[0]["approved"] == true);
  CHECK(returns[0]["pending"] == 0);
  const RunResult returns_text = w.server.run({"returns", "--unit", "U1"});
  CHECK(returns_text.out.find("STATE") != std::string::npos);
  CHECK(returns_text.out.find("approved") != std::string::npos);
  const Json shares = w.server.json({"shares", "--json", "--unit", "U1", "--period", "2026-11"})["reports"];
  REQUIRE(shares.size() == 1);
  CHECK(shares[0]["state"] == "approved");
  CHECK(shares[0]["approval"]["decision"] == "approval");
  // The payroll of a locked period is the approved one, whatever arrives later; the return shows
  // what changed since, booked into the next period once there is one.
  ok(w.a.run({"correct", "6", "--quantity", "310", "--reason", "recounted"}), "correct the 300 pieces");
  ok(w.a.run({"sync"}), "sync the correction");
  CHECK(w.server.run({"export", "payroll", "--period", "2026-11"}).out == kWorkedExampleCsv);
  CHECK(w.server.run({"returns", "--unit", "U1"}).out.find("approved (+10 pcs since, pending a later period)") !=
        std::string::npos);
  ok(w.server.run({"period", "add", "2026-12", "--start", "2026-12-01", "--end", "2026-12-31"}), "period add");
  CHECK(w.server.run({"returns", "--unit", "U1"}).out.find("approved (+10 pcs since, booked into 2026-12)") !=
        std::string::npos);

  CHECK(w.server.run({"reopen", "--unit", "U1", "--period", "2026-11"}).exit_code == 2);  // --reason is required
  refused(w.server.run({"reopen", "--unit", "U1", "--period", "2026-11", "--reason", ""}), 3, "reason");
  const RunResult reopened = w.server.run({"reopen", "--unit", "U1", "--period", "2026-11", "--reason", "recount"});
  ok(reopened, "reopen");
  CHECK(reopened.out.rfind("reopened unit U1's period 2026-11 (recount): it reports its live figures again\n", 0) == 0);
  refused(w.server.run({"reopen", "--unit", "U1", "--period", "2026-11", "--reason", "again"}), 6,
          "is open (it was reopened at ");
  const Json after = w.server.json({"shares", "--json", "--unit", "U1", "--period", "2026-11"})["reports"];
  CHECK(after[0]["state"] == "open");
  CHECK(after[0]["decisions"].size() == 2);
  CHECK(after[0]["decisions"][1]["reason"] == "recount");
}

TEST_CASE("payroll cli: rule sets need a site, versions are never rewritten, achievement needs a known worker") {
  ServerProcess server;
  refused(server.run({"rules", "set", "--from", "2026-11-01", "--pool-share-permille", "750",
                      "--special-weight-permille", "500", "--skill-points", "100", "--innovation-points", "0"}),
          6, "add a site first");
  CHECK(server.run({"rules", "list"}).out == "no rule sets yet (write one with 'rules set')\n");
  setup_head_office(server);
  // Without a rule set the report has no shares, and there is no payroll to export.
  const RunResult no_rules = server.run({"shares", "--unit", "U1", "--period", "2026-11"});
  ok(no_rules, "shares without rules");
  CHECK(no_rules.out.find("open; no shares: no rule set is in force for this period; add one with 'rules set'\n") !=
        std::string::npos);
  refused(server.run({"export", "payroll", "--period", "2026-11"}), 6,
          "unit U1's period 2026-11 has no shares to pay: no rule set is in force for this period");
  const std::vector<std::string> rules{"rules", "set", "--from", "2026-11-01", "--pool-share-permille", "750",
                                       "--special-weight-permille", "500", "--skill-points", "100",
                                       "--innovation-points", "0"};
  const RunResult first = server.run(rules);
  ok(first, "rules set");
  CHECK(first.out.rfind("wrote rule set version 1, in force for periods starting on or after 2026-11-01", 0) == 0);
  std::vector<std::string> again = rules;
  again.insert(again.end(), {"--version", "1"});
  refused(server.run(again), 5, "rule set version 1 exists and is never changed; write version 2");
  std::vector<std::string> bad = rules;
  bad[5] = "1001";
  refused(server.run(bad), 3, "pool_share_permille");
  const Json listed = server.json({"rules", "list", "--json"});
  REQUIRE(listed["rules"].size() == 1);
  CHECK(listed["rules"][0]["pool_share_permille"] == 750);

  refused(server.run({"achievement", "set", "--worker", "W7", "--period", "2026-11", "--permille", "900"}), 4,
          "worker 'W7' does not exist");
  ok(server.run({"achievement", "set", "--worker", "W9", "--period", "2026-11", "--permille", "900"}), "achievement");
  CHECK(server.json({"achievement", "list", "--json", "--site", "S2"})["achievements"].size() == 1);
  CHECK(server.json({"achievement", "list", "--json", "--site", "S1"})["achievements"].empty());
  CHECK(server.run({"achievement", "list", "--period", "2026-11"}).out ==
        "WORKER  PERIOD   PERMILLE  RATE\nW9      2026-11  900       90.0 %\n");
  refused(server.run({"achievement", "list", "--period", "2027-01"}), 4, "period '2027-01' does not exist");
}
