// Terminals and a real shiftbook-server on 127.0.0.1: enrollment, sync both ways, who sees what,
// and what happens when the server is not there. Every terminal is driven through the shiftbook
// binary, as a shift leader would.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "support/fixture.h"
#include "support/server_process.h"

using namespace shiftbook;
using shiftbook::testing::Cli;
using shiftbook::testing::RunResult;
using shiftbook::testing::ServerProcess;

namespace {

void ok(const RunResult& r, const std::string& what) { REQUIRE_MESSAGE(r.exit_code == 0, (what + ": " + r.err)); }

// A terminal enrolled with `server` for `units` of `site`, synced once (so it holds head office's
// reference data and leaders) and, with `login`, with L1 logged in.
struct Terminal {
  Cli cli;
  Terminal(const ServerProcess& server, const std::string& site, const std::vector<std::string>& units,
           bool login = true) {
    ok(cli.run({"init"}), "init");
    ok(cli.run({"enroll", "--server", server.url(), "--code", server.create_code(site, units)}), "enroll");
    ok(cli.run({"sync"}), "first sync");
    if (login) ok(cli.run({"login", "L1"}, "4321\n"), "login");
  }
  RunResult run(const std::vector<std::string>& args, const std::string& input = {}) const {
    return cli.run(args, input);
  }
  Json json(const std::vector<std::string>& args) const { return cli.json(args); }
  // The entries list shows, as "worker start-end" per hours entry, sorted.
  std::vector<std::string> hours() const {
    std::vector<std::string> out;
    const Json list = json({"list", "--json"});
    for (const Json& e : list["entries"]) {
      if (e["kind"] == "hours") out.push_back(e["worker"].get<std::string>() + " " + std::to_string(e["start"].get<int>()));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

struct HeadOffice {
  ServerProcess server;
  HeadOffice() {
    shiftbook::testing::setup_head_office(server);
    server.start();
  }
};

}  // namespace

TEST_CASE("sync: two terminals of one unit record offline, sync, and each lists the other's entries") {
  HeadOffice ho;
  Terminal a(ho.server, "S1", {"U1"});
  Terminal b(ho.server, "S1", {"U1"});
  for (const Terminal* t : {&a, &b}) ok(t->run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  ok(a.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours a");
  ok(b.run({"log", "hours", "--worker", "W2", "--start", "07:00", "--end", "15:00"}), "hours b");
  ok(b.run({"log", "output", "--product", "P1", "--quantity", "40"}), "output b");

  ok(a.run({"sync"}), "sync a");
  ok(b.run({"sync"}), "sync b");
  RunResult again = a.run({"sync"});
  ok(again, "sync a again");
  CHECK(a.hours() == std::vector<std::string>{"W1 360", "W2 420"});
  CHECK(b.hours() == std::vector<std::string>{"W1 360", "W2 420"});
  CHECK(a.json({"summary", "--unit", "U1", "--period", "2026-11", "--json"}).dump().find("40") != std::string::npos);
  CHECK(a.json({"status", "--json"})["unsynced_events"] == 0);
  CHECK(a.json({"verify", "--json"})["ok"] == true);
  CHECK(b.json({"verify", "--json"})["ok"] == true);
  CHECK(ho.server.log_count("sync") >= 5);

  Terminal c(ho.server, "S2", {"U9"}, false);  // another site's unit: sees neither
  ok(c.run({"sync"}), "sync c");
  CHECK(c.json({"list", "--json"})["entries"].empty());
  CHECK(c.json({"shift", "list", "--json"})["shifts"].empty());
}

TEST_CASE("sync: a terminal of another site's unit gets that site's plan and none of the first site's entries") {
  HeadOffice ho;
  Terminal a(ho.server, "S1", {"U1"});
  Terminal c(ho.server, "S2", {"U9"}, false);
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  ok(a.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours");
  ok(a.run({"sync"}), "sync a");
  ok(c.run({"sync"}), "sync c");
  CHECK(c.json({"list", "--json"})["entries"].empty());
  Json ref = c.json({"ref", "show", "--json"});
  REQUIRE(ref["sites"].size() == 1);
  CHECK(ref["sites"][0]["id"] == "S2");
  CHECK(ref["units"] == Json::array({{{"id", "U9"}, {"site", "S2"}, {"name", ref["units"][0]["name"]}}}));
}

TEST_CASE("sync: head office's reference data and leaders arrive, and replace local ones") {
  HeadOffice ho;
  Cli t;
  t.init_with_reference();
  t.add_leader(true);  // a local leader, before enrollment
  ok(t.run({"enroll", "--server", ho.server.url(), "--code", ho.server.create_code("S1", {"U1", "U2"})}), "enroll");
  CHECK(t.json({"leader", "list", "--json"})["leaders"].empty());
  RunResult sync = t.run({"sync"});
  ok(sync, "sync");
  CHECK(sync.out.find("synced with " + ho.server.url()) != std::string::npos);
  Json ref = t.json({"ref", "show", "--json"});
  CHECK(ref["units"].size() == 2);
  CHECK(ref["workers"].size() == 3);  // W1..W3 of S1, not W9 of S2
  ok(t.run({"login", "L1"}, "4321\n"), "head office's leader logs in");
  ok(t.run({"shift", "open", "--unit", "U2", "--date", "2026-11-16"}), "open");
  RunResult imported = t.run({"ref", "import", t.write("again.json", shiftbook::testing::sample_reference().dump())});
  CHECK(imported.exit_code == 6);
  CHECK(imported.err.find("come from head office") != std::string::npos);
}

TEST_CASE("sync: a second sync with nothing new is a no-op") {
  HeadOffice ho;
  Terminal a(ho.server, "S1", {"U1"});
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  Json first = a.json({"sync", "--json"});
  CHECK(first["pushed"] == 1);
  Json second = a.json({"sync", "--json"});
  CHECK(second["pushed"] == 0);
  CHECK(second["pulled"] == 0);
  CHECK(second["round_trips"] == 1);
  CHECK(second["server_seq"] == 1);
  Json status = a.json({"status", "--json"});
  CHECK(status["last_sync"]["receipt_seq"] == 1);
  CHECK(status["enrollment"]["units"] == Json::array({"U1"}));
}

TEST_CASE("sync: enrollment refuses a mistyped, unknown and used code, and a server the code was not made for") {
  HeadOffice ho;
  const std::string code = ho.server.create_code("S1", {"U1"});
  Cli first, second, third;
  for (const Cli* c : {&first, &second, &third}) ok(c->run({"init"}), "init");

  std::string typo = code;
  typo[0] = typo[0] == 'A' ? 'B' : 'A';
  RunResult mistyped = first.run({"enroll", "--server", ho.server.url(), "--code", typo});
  CHECK(mistyped.exit_code == 3);
  CHECK(mistyped.err.find("not valid") != std::string::npos);

  ok(first.run({"enroll", "--server", ho.server.url(), "--code", code}), "enroll");
  RunResult used = second.run({"enroll", "--server", ho.server.url(), "--code", code});
  CHECK(used.exit_code == 6);
  CHECK(used.err.find("already used") != std::string::npos);
  CHECK(second.run({"sync"}).exit_code == 6);  // not enrolled

  ServerProcess elsewhere;
  shiftbook::testing::setup_head_office(elsewhere);
  elsewhere.start();
  RunResult wrong = third.run({"enroll", "--server", elsewhere.url(), "--code", ho.server.create_code("S1", {"U1"})});
  CHECK(wrong.exit_code == 7);
  CHECK(wrong.err.find("not the one this code was made for") != std::string::npos);
  CHECK(elsewhere.log_count("enroll") == 0);  // nothing was sent to it
}

TEST_CASE("sync: an unreachable server gives exit 12 and loses nothing") {
  HeadOffice ho;
  Terminal a(ho.server, "S1", {"U1"});
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  ok(a.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours");
  ho.server.stop();
  RunResult down = a.run({"sync"});
  CHECK(down.exit_code == 12);
  CHECK(down.err.find("cannot reach " + ho.server.url()) != std::string::npos);
  CHECK(down.err.find("entries stay on this terminal") != std::string::npos);
  CHECK(a.json({"status", "--json"})["unsynced_events"] == 2);
  CHECK(a.json({"verify", "--json"})["ok"] == true);
}
