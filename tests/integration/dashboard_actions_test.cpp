// The dashboard's actions over HTTP against a real server process (docs/DASHBOARD.md, step 3):
// each needs the session and its CSRF token, does what the command line's twin does, writes its
// event with the signed-in account as author, and a refusal draws the page again with the words;
// the pages show conflicts side by side, returns with their share-out and explanations, the
// terminals and what is missing, and the payroll download is the command line's export.
#include <doctest/doctest.h>

#include <httplib.h>

#include <regex>
#include <string>

#include "integration/dashboard_client.h"
#include "integration/fork_world.h"
#include "integration/terminal_cli.h"
#include "support/fixture.h"
#include "support/server_process.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

std::string author_shown(Browser& b, const std::string& event) {
  auto page = b.get("/dashboard/event?hash=" + event);
  REQUIRE(page->status == 200);
  std::smatch m;
  REQUIRE(std::regex_search(page->body, m, std::regex("<th>author</th><td>([^<]*)</td>")));
  return m[1].str();
}

// The state `shares --json` gives the report of U1's 2026-11.
std::string report_state(const ServerProcess& server) {
  const Json reports = server.json({"shares", "--unit", "U1", "--period", "2026-11", "--json"})["reports"];
  REQUIRE(reports.size() == 1);
  return reports[0]["state"].get<std::string>();
}

}  // namespace

TEST_CASE("dashboard actions: a conflict shows its versions side by side and is resolved with the token, the "
          "account its author") {
  Fork f;
  add_account(f.server, "anna");
  Browser b = signed_in(f.server);
  const Json c = f.conflict();
  const std::string fork = c["fork"]["hash"].get<std::string>();
  const std::string child_a = f.child_of(c, f.a), child_b = f.child_of(c, f.b);

  auto page = b.get("/dashboard/conflicts");
  REQUIRE(page->status == 200);
  CHECK(has(page->body, "id=\"fork-" + fork.substr(0, 16) + "\""));
  CHECK(has(page->body, "<span class=\"state\">open</span>"));
  CHECK(has(page->body, "value=\"" + child_a + "\""));
  CHECK(has(page->body, "value=\"" + child_b + "\""));
  // The versions in the fork's order of children (by hash), each with its reason.
  const bool a_first = child_a < child_b;
  CHECK(has(page->body, std::string("<th>reason</th><td>-</td><td>") + (a_first ? "left early" : "stayed late") +
                            "</td><td>" + (a_first ? "stayed late" : "left early") + "</td>"));
  const std::string token = form_token(page->body);

  // No token, then a bad winner: refused, nothing written.
  auto no_token = b.post("/dashboard/conflicts/resolve",
                         {{"site", "S1"}, {"fork", fork}, {"winner", child_a}, {"reason", "the foreman checked"}});
  CHECK(no_token->status == 403);
  CHECK(has(no_token->body, "security token is missing"));
  auto bad_winner = b.post("/dashboard/conflicts/resolve", {{"csrf", token},
                                                            {"site", "S1"},
                                                            {"fork", fork},
                                                            {"winner", fork},
                                                            {"reason", "the foreman checked"}});
  CHECK(bad_winner->status == 400);
  CHECK(has(alert_of(bad_winner->body), "no child of fork " + fork.substr(0, 16)));
  CHECK(has(bad_winner->body, "id=\"fork-" + fork.substr(0, 16) + "\""));  // the page again, under the words
  CHECK(f.conflict()["resolution"].is_null());

  auto done = b.post("/dashboard/conflicts/resolve", {{"csrf", token},
                                                      {"site", "S1"},
                                                      {"fork", fork},
                                                      {"winner", child_b},
                                                      {"reason", "the foreman checked"}});
  REQUIRE(done->status == 303);
  CHECK(done->get_header_value("Location").rfind("/dashboard/conflicts?done=resolved&event=", 0) == 0);
  const std::string event = done_event(done);
  const Json resolved = f.conflict();
  CHECK(resolved["resolved"] == true);
  CHECK(resolved["winner"] == child_b);
  CHECK(resolved["resolution"] == event);
  CHECK(author_shown(b, event) == "anna");
  auto after = b.get(done->get_header_value("Location"));
  CHECK(has(after->body, "role=\"status\">Conflict resolved: written as event " + event.substr(0, 16)));
  CHECK(has(after->body, "<span class=\"state\">resolved</span>"));

  // The same decision from the command line is head office's, not an account's.
  const Json cli = f.server.json({"resolve", fork.substr(0, 16), "--winner", child_a.substr(0, 16), "--reason",
                                  "second look", "--json"});
  CHECK(author_shown(b, cli["event"].get<std::string>()) == "head-office");
}

TEST_CASE("dashboard actions: approve and reopen a return, a late entry shown as an adjustment, the share "
          "explained, the payroll CSV the command line's") {
  ServerProcess server;
  setup_head_office(server);
  add_rules(server);
  ok(server.run({"worker", "add", "W4", "--site", "S1", "--name", "<script>alert(1)</script>", "--pin-cost", "minimum"},
                "5555\n"),
     "worker add W4");
  add_account(server, "anna");
  server.start();
  Cli a;
  enroll(a, server);
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  ok(a.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours W1");
  ok(a.run({"log", "hours", "--worker", "W4", "--start", "06:00", "--end", "10:00", "--special"}), "hours W4");
  ok(a.run({"log", "output", "--product", "P1", "--quantity", "620"}), "output");
  ok(a.run({"sync"}), "sync");

  Browser b = signed_in(server);
  auto page = b.get("/dashboard/returns?period=2026-11");
  REQUIRE(page->status == 200);
  CHECK(has(page->body, "id=\"return-U1\""));
  CHECK(has(page->body, "<span class=\"state\">open</span>"));
  CHECK(has(page->body, "W4 (&lt;script&gt;alert(1)&lt;/script&gt;)"));
  CHECK_FALSE(has(page->body, "<script>"));
  CHECK(has(page->body, ">Approve</button>"));

  // Another login of the same account has another token: refused.
  Browser other = signed_in(server);
  auto foreign = b.post("/dashboard/returns/approve",
                        {{"csrf", form_token(other.get("/dashboard/returns")->body)}, {"unit", "U1"}, {"period", "2026-11"}});
  CHECK(foreign->status == 403);
  CHECK(report_state(server) == "open");

  const std::string token = form_token(page->body);
  auto approved = b.post("/dashboard/returns/approve", {{"csrf", token}, {"unit", "U1"}, {"period", "2026-11"}});
  REQUIRE(approved->status == 303);
  CHECK(report_state(server) == "approved");
  CHECK(author_shown(b, done_event(approved)) == "anna");
  auto again = b.post("/dashboard/returns/approve", {{"csrf", token}, {"unit", "U1"}, {"period", "2026-11"}});
  CHECK(again->status == 409);
  CHECK(has(alert_of(again->body), "reopen it first"));

  // The explanation of W1's share, through the link of the returns page: 750 of the 120 pcs
  // surplus is a pool of 90 pcs.
  std::smatch link;
  REQUIRE(std::regex_search(page->body, link, std::regex("<a href=\"(/dashboard/share\\?unit=U1[^\"]*worker=W1)\">")));
  CHECK(link[1].str() == "/dashboard/share?unit=U1&amp;period=2026-11&amp;worker=W1");
  auto share = b.get(std::regex_replace(link[1].str(), std::regex("&amp;"), "&"));
  REQUIRE(share->status == 200);
  CHECK(has(share->body, "pool = surplus × 75.0 %, rounded down = 90 pcs"));
  CHECK(has(share->body, "share paid = <b class=\"share\">"));
  CHECK(has(share->body, "/dashboard/event?hash="));
  CHECK(b.get("/dashboard/share?unit=U1&period=2026-11&worker=W9")->status == 404);

  // A late entry after the approval is booked forward, shown as a change since the approval.
  ok(a.run({"shift", "close"}), "close 16th");
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-17"}), "open 17th");
  ok(a.run({"log", "output", "--product", "P1", "--quantity", "30"}), "late output");
  ok(a.run({"sync"}), "sync late");
  auto late = b.get("/dashboard/returns?period=2026-11");
  CHECK(has(late->body, "Changed since its approval: P1 +30 pcs; booked into the next period, once head office adds one."));

  // The payroll download is the export's bytes.
  auto csv = b.get("/dashboard/export/payroll.csv?period=2026-11");
  REQUIRE(csv->status == 200);
  CHECK(csv->get_header_value("Content-Disposition") == "attachment; filename=\"payroll-2026-11.csv\"");
  RunResult exported = server.run({"export", "payroll", "--period", "2026-11", "--format", "csv"});
  ok(exported, "export payroll");
  CHECK(csv->body == exported.out);
  CHECK(b.get("/dashboard/export/payroll.csv?period=1999-01")->status == 404);

  auto no_reason = b.post("/dashboard/returns/reopen", {{"csrf", token}, {"unit", "U1"}, {"period", "2026-11"}, {"reason", ""}});
  CHECK(no_reason->status == 400);
  CHECK(report_state(server) == "approved");
  auto reopened = b.post("/dashboard/returns/reopen",
                         {{"csrf", token}, {"unit", "U1"}, {"period", "2026-11"}, {"reason", "late sheet from the night shift"}});
  REQUIRE(reopened->status == 303);
  CHECK(report_state(server) == "open");
  CHECK(author_shown(b, done_event(reopened)) == "anna");

  auto audit = b.get("/dashboard/audit");
  CHECK(has(audit->body, "The audit passed"));
}

TEST_CASE("dashboard actions: the terminals page revokes a terminal and makes a code, the overview names a silent "
          "terminal, and an account may not be called head-office") {
  TwoTerminals w;
  add_account(w.server, "anna");
  Cli silent;  // enrolled, never synced
  ok(silent.run({"init"}), "init");
  ok(silent.run({"enroll", "--server", w.server.url(), "--code", w.server.create_code("S1", {"U1"})}), "enroll");
  Browser b = signed_in(w.server);

  auto overview = b.get("/dashboard/?period=2026-11");
  const std::string silent_key = device_of(silent);
  CHECK(has(overview->body, "Not synced for 24 hours or more"));
  CHECK(has(overview->body, silent_key.substr(0, 8) + "</code> (units U1): never synced"));
  CHECK_FALSE(has(overview->body, device_of(w.a).substr(0, 8) + "</code> (units U1)"));

  auto page = b.get("/dashboard/terminals");
  REQUIRE(page->status == 200);
  const std::string device_b = device_of(w.b);
  CHECK(has(page->body, "<code title=\"" + device_b + "\">"));
  const std::string token = form_token(page->body);
  auto no_reason = b.post("/dashboard/terminals/revoke", {{"csrf", token}, {"device", device_b}, {"reason", ""}});
  CHECK(no_reason->status == 400);
  CHECK(has(no_reason->body, "id=\"terminals\""));
  auto revoked = b.post("/dashboard/terminals/revoke", {{"csrf", token}, {"device", device_b}, {"reason", "lost on the floor"}});
  REQUIRE(revoked->status == 303);
  CHECK(revoked->get_header_value("Location") == "/dashboard/terminals?done=revoked");
  CHECK(has(b.get("/dashboard/terminals")->body, "revoked: lost on the floor"));
  bool found = false;
  const Json devices = w.server.json({"devices", "--json"});
  INFO(devices.dump());
  for (const Json& d : devices["devices"]) {
    if (d["device"] == device_b) {
      found = true;
      CHECK(d["revoked_ms"].get<std::int64_t>() > 0);
    }
  }
  CHECK(found);
  CHECK(b.post("/dashboard/terminals/revoke", {{"csrf", token}, {"device", device_b}, {"reason", "again"}})->status == 409);

  auto bad_hours = b.post("/dashboard/codes", {{"csrf", token}, {"site", "S1"}, {"units", "U1"}, {"hours", "0"}});
  CHECK(bad_hours->status == 400);
  CHECK(has(alert_of(bad_hours->body), "from 1 to 720"));
  auto no_units = b.post("/dashboard/codes", {{"csrf", token}, {"site", "S1"}, {"units", " , "}, {"hours", "2"}});
  CHECK(no_units->status == 400);
  const std::size_t codes_before = w.server.json({"code", "list", "--json"})["codes"].size();
  auto code = b.post("/dashboard/codes", {{"csrf", token}, {"site", "S1"}, {"units", "U1, U2"}, {"hours", "2"}});
  REQUIRE(code->status == 200);
  CHECK(has(code->body, "class=\"enroll-code\""));
  CHECK(w.server.json({"code", "list", "--json"})["codes"].size() == codes_before + 1);

  // Without a session an action only sends to the sign-in form.
  Browser stranger(w.server.url());
  auto anonymous = stranger.post("/dashboard/codes", {{"csrf", token}, {"site", "S1"}, {"units", "U1"}});
  CHECK(anonymous->status == 303);
  CHECK(anonymous->get_header_value("Location") == "/dashboard/login");
  CHECK(w.server.json({"code", "list", "--json"})["codes"].size() == codes_before + 1);

  RunResult reserved = w.server.run({"account", "create", "--name", "head-office"}, std::string(kPassword) + "\n");
  refused(reserved, 3, "names what the server's command line writes");
}
