// Integrity signals at head office (docs/SIGNALS.md), against a real shiftbook-server on
// 127.0.0.1: a terminal logs more hours in a unit on one date than its workers could work, head
// office lists the signal with its evidence, decides it with `resolve`, and the terminal takes the
// decision at its next sync.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "integration/terminal_cli.h"
#include "support/fixture.h"
#include "support/server_process.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

// Head office and one terminal of U1 that logged W1 06:00-23:00 and W2 06:00-14:00 on one date
// (1,500 minutes for 2 workers, more than 2 x 12 h) and synced.
struct LongDay {
  ServerProcess server;
  Cli a;
  LongDay() {
    setup_head_office(server);
    server.start();
    enroll(a, server);
    ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
    ok(a.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "23:00"}), "hours W1");
    ok(a.run({"log", "hours", "--worker", "W2", "--start", "06:00", "--end", "14:00"}), "hours W2");
    ok(a.run({"sync"}), "sync");
  }
};

}  // namespace

TEST_CASE("signals: more hours than the workers could work is listed with its evidence, then decided") {
  LongDay d;
  const Json all = d.server.json({"signals", "--json"})["signals"];
  REQUIRE_MESSAGE(all.size() == 1, all.dump());
  const Json& s = all[0];
  CHECK(s["kind"] == "over_capacity");
  CHECK(s["site"] == "S1");
  CHECK(s["subject"] == "U1 2026-11-16");
  CHECK(s["detail"].get<std::string>().find("25 h 0 min logged for 2 workers") != std::string::npos);
  REQUIRE(s["events"].size() == 2);
  for (const Json& e : s["events"]) CHECK(e["device"] == device_of(d.a));
  CHECK(s["decided"].is_null());
  CHECK(d.server.json({"signals", "--kind", "exact_quota", "--json"})["signals"].empty());
  CHECK(d.server.run({"signals", "--kind", "exact_quota"}).out == "no signals\n");
  const RunResult text = d.server.run({"signals"});
  ok(text, "signals");
  CHECK(text.out.find("over_capacity") != std::string::npos);

  // Refused, with nothing written: an id no signal has now, a winner for a signal, a kind that is
  // no signal's.
  const std::string id = s["id"].get<std::string>();
  const std::string absent = "over_capacity:" + std::string(32, '0');
  RunResult r = d.server.run({"resolve", absent, "--reason", "checked"});
  CHECK(r.exit_code == 4);
  CHECK_MESSAGE(r.err.find("no integrity signal " + absent + " is found now (see 'signals'") != std::string::npos, r.err);
  r = d.server.run({"resolve", id, "--winner", "0123456789", "--reason", "checked"});
  CHECK(r.exit_code == 3);
  CHECK_MESSAGE(r.err.find("an integrity signal has no winner") != std::string::npos, r.err);
  CHECK(d.server.run({"signals", "--kind", "made_up"}).exit_code == 2);
  CHECK(d.server.json({"signals", "--json"})["signals"][0]["decided"].is_null());

  const Json noted = d.server.json({"resolve", id, "--reason", "double shift, approved by the foreman", "--json"});
  CHECK(noted["signal"] == id);
  const Json listed = d.server.json({"signals", "--json"})["signals"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["decided"]["reason"] == "double shift, approved by the foreman");
  CHECK(d.server.json({"signals", "--open", "--json"})["signals"].empty());
  // An anomaly listing never shows a signal.
  CHECK(d.server.json({"anomalies", "--json"})["anomalies"].empty());

  // The terminal keeps head office's signal_note and still verifies.
  ok(d.a.run({"sync"}), "sync after the decision");
  ok(d.a.run({"verify"}), "verify");
}

TEST_CASE("signals: a correction of the evidence gives the signal another id, open again") {
  LongDay d;
  const std::string id = d.server.json({"signals", "--json"})["signals"][0]["id"].get<std::string>();
  ok(d.server.run({"resolve", id, "--reason", "double shift"}), "resolve");
  ok(d.a.run({"correct", "2", "--end", "22:30", "--reason", "left at half past ten"}), "correct");
  ok(d.a.run({"sync"}), "sync");
  const Json listed = d.server.json({"signals", "--json"})["signals"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["id"] != id);
  CHECK(listed[0]["decided"].is_null());
}
