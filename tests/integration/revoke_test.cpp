// Terminals in the field against a real shiftbook-server on 127.0.0.1, as head office watches them:
// `devices` (delivered, behind, skew, flags), `device revoke` from the command line, a revoked
// terminal's later entries kept in quarantine and never counted, and `events` with each event's
// server-signed bracket. Terminals are the shiftbook binary, as a shift leader runs it; what is
// asserted is the server's side (the terminal's handling of a revocation is tested with it).
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "support/fixture.h"
#include "support/server_process.h"
#include "integration/terminal_cli.h"

using namespace shiftbook;
using shiftbook::testing::Cli;
using shiftbook::testing::RunResult;
using shiftbook::testing::ServerProcess;
using shiftbook::testing::device_of;
using shiftbook::testing::enroll;
using shiftbook::testing::ok;

namespace {




// The `devices --json` entry of `device`.
Json health(const ServerProcess& server, const std::string& device) {
  const Json all = server.json({"devices", "--json"});
  for (const Json& d : all["devices"]) {
    if (d["device"] == device) return d;
  }
  FAIL("device " << device << " is not listed: " << all.dump());
  return Json();
}

struct HeadOffice {
  ServerProcess server;
  HeadOffice() {
    shiftbook::testing::setup_head_office(server);
    server.start();
  }
};

}  // namespace

TEST_CASE("revoke: devices shows what each terminal delivered, how far behind it is and its clock skew") {
  HeadOffice ho;
  Cli a, b;
  enroll(a, ho.server);
  enroll(b, ho.server);
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  ok(a.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours");
  ok(a.run({"sync"}), "sync a");

  const Json ha = health(ho.server, device_of(a));
  CHECK(ha["delivered"] == 2);
  CHECK(ha["behind"] == 0);
  CHECK(ha["quarantined"] == 0);
  CHECK(ha["flags"] == Json::array());
  CHECK(ha["ago_ms"].get<std::int64_t>() >= 0);
  CHECK(ha["ago_ms"].get<std::int64_t>() < 60'000);
  CHECK(std::abs(ha["skew_ms"].get<std::int64_t>()) < 60'000);  // both clocks are this machine's
  const Json hb = health(ho.server, device_of(b));
  CHECK(hb["delivered"] == 0);
  CHECK(hb["behind"] == 2);  // a's shift and hours, pushed after b's last sync
  ok(b.run({"sync"}), "sync b");
  CHECK(health(ho.server, device_of(b))["behind"] == 0);

  RunResult text = ho.server.run({"devices"});
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("LAST CONTACT") != std::string::npos);
  CHECK(text.out.find(device_of(a).substr(0, 8)) != std::string::npos);
  CHECK(text.out.find(" ago)") != std::string::npos);
  auto without_ago = [](Json doc) {
    for (Json& d : doc["devices"]) d.erase("ago_ms");
    return doc;
  };
  CHECK(without_ago(ho.server.json({"device", "list", "--json"})) == without_ago(ho.server.json({"devices", "--json"})));
}

TEST_CASE("revoke: a terminal revoked from the command line has what it sends quarantined, never counted") {
  HeadOffice ho;
  Cli a, b;
  enroll(a, ho.server);
  enroll(b, ho.server);
  const std::string device = device_of(a);
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  ok(a.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours");
  ok(a.run({"sync"}), "sync a");

  RunResult revoked = ho.server.run({"device", "revoke", device.substr(0, 10), "--reason", "stolen from the press shop"});
  REQUIRE_MESSAGE(revoked.exit_code == 0, revoked.err);
  CHECK(revoked.out.find("revoked terminal " + device.substr(0, 8) + " of site S1") != std::string::npos);
  RunResult twice = ho.server.run({"device", "revoke", device, "--reason", "again"});
  CHECK(twice.exit_code == 6);
  CHECK(twice.err.find("revoked already on") != std::string::npos);

  ok(a.run({"log", "hours", "--worker", "W2", "--start", "06:00", "--end", "14:00"}), "hours after");
  CHECK(a.run({"sync"}).exit_code != 0);
  CHECK(ho.server.wait_for_log("sync device " + device.substr(0, 8)));
  CHECK(ho.server.wait_for_log("revoked: quarantined 1 (seq 3)"));

  const Json q = ho.server.json({"quarantine", "--device", device.substr(0, 8), "--json"});
  REQUIRE(q["quarantine"].size() == 1);
  CHECK(q["quarantine"][0]["seq"] == 3);
  CHECK(q["quarantine"][0]["kind"] == "hours");
  CHECK(q["quarantine"][0]["head"]["seq"] == 3);
  const Json h = health(ho.server, device);
  CHECK(h["delivered"] == 2);
  CHECK(h["quarantined"] == 1);
  CHECK(h["revoke_reason"] == "stolen from the press shop");
  CHECK(h["revoked_ms"].get<std::int64_t>() > 0);
  CHECK(h["flags"] == Json::array({"revoked", "quarantined"}));
  // For b: a's two accepted events and the site's device_revoke; the quarantined entry is not there.
  CHECK(health(ho.server, device_of(b))["behind"] == 3);
  CHECK(ho.server.run({"devices"}).out.find("revoked ") != std::string::npos);
}

TEST_CASE("revoke: events shows each event of a terminal with the server-signed times around it") {
  HeadOffice ho;
  Cli a;
  enroll(a, ho.server);
  const std::string device = device_of(a);
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  ok(a.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours");
  ok(a.run({"sync"}), "sync");
  ok(a.run({"log", "hours", "--worker", "W2", "--start", "06:00", "--end", "14:00"}), "hours 2");
  ok(a.run({"sync"}), "sync 2");

  const Json doc = ho.server.json({"events", "--device", device.substr(0, 8), "--json"});
  CHECK(doc["device"] == device);
  CHECK(doc["next"].is_null());
  REQUIRE(doc["events"].size() == 3);
  std::string kinds;
  for (const Json& e : doc["events"]) {
    kinds += e["kind"].get<std::string>() + " ";
    REQUIRE(e["before"].is_object());
    CHECK(e["before"]["server_ms"] == e["received_ms"]);
    CHECK(e["before"]["sig"].get<std::string>().size() == 128);
    if (!e["after"].is_null()) {
      // The receipt the terminal held when it opened the shift: before the push that delivered it.
      CHECK(e["after"]["shift"] == 1);
      CHECK(e["after"]["server_ms"].get<std::int64_t>() <= e["before"]["server_ms"].get<std::int64_t>());
    }
  }
  CHECK(kinds == "shift_open hours hours ");
  CHECK(doc["events"][0]["before"]["seq"] == 2);  // the first push ended at seq 2
  CHECK(doc["events"][2]["before"]["seq"] == 3);
  const Json page = ho.server.json({"events", "--device", device.substr(0, 8), "--from", "2", "--limit", "1", "--json"});
  REQUIRE(page["events"].size() == 1);
  CHECK(page["events"][0]["seq"] == 2);
  CHECK(page["next"] == 3);
  RunResult text = ho.server.run({"events", "--device", device.substr(0, 8)});
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("BEFORE (SERVER)") != std::string::npos);
  CHECK(text.out.find("shift_open") != std::string::npos);
}
