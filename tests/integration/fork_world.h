// Two terminals of one unit against a real shiftbook-server, and the fork they make by correcting
// one entry without seeing each other (MERGE.md section 4): for the tests of conflicts on the
// command line and in the dashboard.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "integration/terminal_cli.h"
#include "support/fixture.h"
#include "support/server_process.h"

namespace shiftbook::testing {

// Head office and terminals A and B of site S1, unit U1, both enrolled and logged in.
struct TwoTerminals {
  ServerProcess server;
  Cli a, b;
  TwoTerminals() {
    setup_head_office(server);
    server.start();
    enroll(a, server);
    enroll(b, server);
  }
};

// A records hours of W1 and syncs, B pulls them; then each corrects that entry offline (A: until
// 13:00, B: until 15:00), and they sync A, B, A.
struct Fork : TwoTerminals {
  std::string entry;  // the hours entry: the fork
  Fork() {
    ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
    ok(a.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours");
    ok(a.run({"sync"}), "sync a");
    ok(b.run({"sync"}), "sync b");
    const Json listed = b.json({"list", "--kind", "hours", "--json"})["entries"];
    REQUIRE(listed.size() == 1);
    entry = listed[0]["id"].get<std::string>();
    // On A the entry is its own event 2; B names it by a prefix of its hash.
    ok(a.run({"correct", "2", "--end", "13:00", "--reason", "left early"}), "correct on a");
    ok(b.run({"correct", entry.substr(0, 8), "--end", "15:00", "--reason", "stayed late"}), "correct on b");
    ok(a.run({"sync"}), "sync a again");
    ok(b.run({"sync"}), "sync b again");
    ok(a.run({"sync"}), "sync a: both hold everything");
  }
  // The conflict of the fork, from `conflicts --json`.
  Json conflict(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args{"conflicts", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Json all = server.json(args)["conflicts"];
    REQUIRE_MESSAGE(all.size() == 1, all.dump());
    return all[0];
  }
  // The child made on terminal `t`.
  std::string child_of(const Json& c, const Cli& t) const {
    const std::string device = device_of(t);
    for (const Json& child : c["children"]) {
      if (child["device"] == device) return child["hash"].get<std::string>();
    }
    FAIL("no child of " << device << " in " << c.dump());
    return {};
  }
};

}  // namespace shiftbook::testing
