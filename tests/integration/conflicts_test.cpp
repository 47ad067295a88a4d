// Head office's view of the merged log, against a real shiftbook-server on 127.0.0.1: two
// terminals (the shiftbook binary) that correct the same entry offline make a fork, which
// `conflicts` lists as open; `resolve` refuses what is not a fork, not a child or not a reason,
// and otherwise writes a resolution the terminals pull, after which `conflicts` lists it resolved;
// `anomalies` finds one worker logged at once on two terminals.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "support/fixture.h"
#include "support/server_process.h"
#include "integration/fork_world.h"
#include "integration/terminal_cli.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

// Head office and terminals A and B of U1, each with W1's hours on 2026-11-16 (06:00-14:00 on A,
// 10:00-18:00 on B), not synced yet: an overlap once both reach the server.
struct Overlap : TwoTerminals {
  Overlap() {
    ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open a");
    ok(a.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours a");
    ok(b.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open b");
    ok(b.run({"log", "hours", "--worker", "W1", "--start", "10:00", "--end", "18:00"}), "hours b");
  }
};

}  // namespace

TEST_CASE("conflicts: two terminals correcting one entry offline make an open conflict, text and json") {
  Fork f;
  const Json c = f.conflict();
  CHECK(c["site"] == "S1");
  CHECK(c["unit"] == "U1");
  CHECK(c["entry"] == f.entry);
  CHECK(c["kind"] == "hours");
  CHECK(c["fork"]["hash"] == f.entry);
  CHECK(c["fork"]["device"] == device_of(f.a));
  CHECK(c["fork"]["seq"] == 2);
  REQUIRE(c["children"].size() == 2);
  for (const Json& child : c["children"]) CHECK(child["kind"] == "correction");
  const std::string mine = f.child_of(c, f.a), theirs = f.child_of(c, f.b);
  CHECK(mine != theirs);
  // A opened its shift with a server receipt and B did not: A's correction has the trusted time.
  CHECK(c["winner"] == mine);
  CHECK(c["chosen_by"] == "rule");
  CHECK(c["open"] == true);
  CHECK(c["resolved"] == false);
  CHECK(c["resolution"].is_null());
  CHECK(f.conflict({"--open", "--site", "S1"}) == c);
  CHECK(f.server.json({"conflicts", "--json", "--site", "S2"})["conflicts"].empty());

  RunResult text = f.server.run({"conflicts"});
  ok(text, "conflicts");
  CHECK(text.out.find("CHILDREN") != std::string::npos);
  CHECK(text.out.find(f.entry.substr(0, 16) + " hours") != std::string::npos);
  CHECK(text.out.find(mine.substr(0, 16) + " (" + device_of(f.a).substr(0, 8) + " seq 3)") != std::string::npos);
  CHECK(text.out.find(theirs.substr(0, 16) + " (" + device_of(f.b).substr(0, 8) + " seq 1)") != std::string::npos);
  CHECK(text.out.find("rule") != std::string::npos);
  CHECK(text.out.find("open") != std::string::npos);
  refused(f.server.run({"conflicts", "--site", "S9"}), 4, "site 'S9' does not exist");
}

TEST_CASE("conflicts: resolve refuses a bad fork, a bad winner and a bad reason, and writes nothing") {
  Fork f;
  const Json c = f.conflict();
  const std::string mine = f.child_of(c, f.a), theirs = f.child_of(c, f.b);
  const std::string fork8 = f.entry.substr(0, 8);
  refused(f.server.run({"resolve", mine.substr(0, 8), "--winner", theirs, "--reason", "x"}), 4, "is no fork");
  std::string nowhere = f.entry;
  nowhere[0] = nowhere[0] == '0' ? '1' : '0';
  refused(f.server.run({"resolve", nowhere, "--winner", theirs, "--reason", "x"}), 4,
          "no fork the server holds starts with");
  refused(f.server.run({"resolve", f.entry.substr(0, 7), "--winner", theirs, "--reason", "x"}), 3,
          "give 8 to 64 hex digits");
  refused(f.server.run({"resolve", fork8, "--winner", f.entry, "--reason", "x"}), 3,
          "no child of fork " + f.entry.substr(0, 16) + " starts with");
  refused(f.server.run({"resolve", fork8, "--winner", theirs, "--reason", ""}), 3, "the reason must not be empty");
  refused(f.server.run({"resolve", fork8, "--winner", theirs, "--reason", std::string(501, 'r')}), 3,
          "longer than 500 bytes");
  refused(f.server.run({"resolve", fork8, "--winner", theirs, "--reason", "x", "--site", "S2"}), 4,
          "no fork the server holds");
  refused(f.server.run({"resolve", fork8, "--reason", "x"}), 3, "say which child wins the fork with --winner");
  // Nothing was written: the conflict is as it was, and a terminal pulls nothing new.
  CHECK(f.conflict() == c);
  const RunResult pulled = f.a.run({"sync"});
  ok(pulled, "sync a");
  CHECK(pulled.out.find("pulled 0 events") != std::string::npos);
}

TEST_CASE("conflicts: resolve writes a resolution the terminals pull, and the conflict shows resolved") {
  Fork f;
  const Json before = f.conflict();
  const std::string mine = f.child_of(before, f.a), theirs = f.child_of(before, f.b);
  REQUIRE(before["winner"] == mine);

  const Json r = f.server.json({"resolve", f.entry.substr(0, 12), "--winner", theirs.substr(0, 10), "--reason",
                                "worker confirms 15:00", "--json"});
  CHECK(r["site"] == "S1");
  CHECK(r["unit"] == "U1");
  CHECK(r["entry"] == f.entry);
  CHECK(r["fork"] == f.entry);
  CHECK(r["winner"] == theirs);
  CHECK(r["losers"] == Json::array({mine}));
  CHECK(r["reason"] == "worker confirms 15:00");
  CHECK(r["signer_seq"].get<std::int64_t>() > 1);

  const Json after = f.conflict();
  CHECK(after["winner"] == theirs);
  CHECK(after["chosen_by"] == "resolution");
  CHECK(after["resolution"] == r["event"]);
  CHECK(after["resolved"] == true);
  CHECK(after["open"] == false);
  CHECK(f.server.json({"conflicts", "--open", "--json"})["conflicts"].empty());
  RunResult open_text = f.server.run({"conflicts", "--open"});
  ok(open_text, "conflicts --open");
  CHECK(open_text.out == "no open conflicts\n");
  RunResult text = f.server.run({"conflicts"});
  CHECK(text.out.find("resolution") != std::string::npos);
  CHECK(text.out.find("resolved") != std::string::npos);

  // The resolution travels in the site's head-office chain: each terminal pulls it.
  for (const Cli* t : {&f.a, &f.b}) {
    const RunResult synced = t->run({"sync"});
    ok(synced, "sync after resolve");
    CHECK_MESSAGE(synced.out.find("pulled 1 event") != std::string::npos, synced.out);
  }

  // A second decision of the same fork is the latest: it decides.
  RunResult again = f.server.run({"resolve", f.entry.substr(0, 8), "--winner", mine.substr(0, 8), "--reason",
                                  "the worker remembered wrong"});
  ok(again, "resolve again");
  CHECK(again.out.find("recorded: fork " + f.entry.substr(0, 16)) != std::string::npos);
  CHECK(again.out.find("goes to " + mine.substr(0, 16) + "; set aside " + theirs.substr(0, 16)) != std::string::npos);
  CHECK(f.conflict()["winner"] == mine);
}

TEST_CASE("anomalies: one worker logged at once on two terminals is an overlap naming both entries") {
  Overlap o;
  ServerProcess& server = o.server;
  Cli &a = o.a, &b = o.b;
  CHECK(server.json({"anomalies", "--json"})["anomalies"].empty());
  ok(a.run({"sync"}), "sync a");
  ok(b.run({"sync"}), "sync b");

  const Json all = server.json({"anomalies", "--json"})["anomalies"];
  REQUIRE_MESSAGE(all.size() == 1, all.dump());
  const Json& found = all[0];
  CHECK(found["site"] == "S1");
  CHECK(found["kind"] == "overlap");
  CHECK(found["subject"] == "W1");
  CHECK(found["id"].get<std::string>().rfind("overlap:", 0) == 0);
  REQUIRE(found["events"].size() == 2);
  std::vector<std::string> devices{found["events"][0]["device"].get<std::string>(),
                                   found["events"][1]["device"].get<std::string>()};
  std::sort(devices.begin(), devices.end());
  std::vector<std::string> want{device_of(a), device_of(b)};
  std::sort(want.begin(), want.end());
  CHECK(devices == want);
  CHECK(found["detail"].get<std::string>().find("06:00-14:00") != std::string::npos);
  CHECK(found["detail"].get<std::string>().find("10:00-18:00") != std::string::npos);

  CHECK(server.json({"anomalies", "--kind", "overlap", "--json", "--site", "S1"})["anomalies"] == all);
  CHECK(server.json({"anomalies", "--kind", "clock_skew", "--json"})["anomalies"].empty());
  CHECK(server.json({"anomalies", "--site", "S2", "--json"})["anomalies"].empty());
  RunResult text = server.run({"anomalies"});
  ok(text, "anomalies");
  CHECK(text.out.find("overlap") != std::string::npos);
  CHECK(text.out.find("worker W1 is logged twice at once") != std::string::npos);
  CHECK(server.run({"anomalies", "--kind", "made_up"}).exit_code == 2);
  CHECK(server.run({"anomalies", "--site", "S2"}).out == "no anomalies\n");
}

TEST_CASE("conflicts: each terminal shows its units' conflict after a sync, then head office's decision") {
  Fork f;
  const Json c = f.conflict();
  const std::string mine = f.child_of(c, f.a), theirs = f.child_of(c, f.b);
  for (const Cli* t : {&f.a, &f.b}) {
    const RunResult synced = t->run({"sync"});
    ok(synced, "sync");
    CHECK_MESSAGE(synced.out.find("in this terminal's units: 1 open conflict ('shiftbook conflicts')") !=
                      std::string::npos, synced.out);
    CHECK(t->json({"sync", "--json"})["open_conflicts"] == 1);
    const Json shown = t->json({"conflicts", "--json"})["conflicts"];
    REQUIRE_MESSAGE(shown.size() == 1, shown.dump());
    CHECK(shown[0]["fork_id"] == f.entry);
    CHECK(shown[0]["winner_id"] == mine);  // the same winner as head office's, on every replica
    CHECK(shown[0]["resolved"] == false);
    CHECK(shown[0]["children"].size() == 2);
    const Json entry = t->json({"list", "--kind", "hours", "--json"})["entries"][0];
    CHECK(entry["end_time"] == "13:00");
    CHECK(entry["open_conflicts"] == 1);
    const RunResult text = t->run({"conflicts"});
    CHECK(text.out.find("changed on 2 terminals") != std::string::npos);
    CHECK(text.out.find("left early") != std::string::npos);
    CHECK(text.out.find("stayed late") != std::string::npos);
  }
  ok(f.server.run({"resolve", f.entry.substr(0, 8), "--winner", theirs.substr(0, 8), "--reason", "worker confirms"}),
     "resolve");
  for (const Cli* t : {&f.a, &f.b}) {
    ok(t->run({"sync"}), "sync after resolve");
    CHECK(t->json({"conflicts", "--json"})["conflicts"].empty());
    CHECK(t->run({"conflicts"}).out == "no open conflicts\n");
    const Json all = t->json({"conflicts", "--all", "--json"})["conflicts"];
    REQUIRE(all.size() == 1);
    CHECK(all[0]["resolved"] == true);
    CHECK(all[0]["chosen_by"] == "resolution");
    CHECK(t->json({"list", "--kind", "hours", "--json"})["entries"][0]["end_time"] == "15:00");
    ok(t->run({"verify"}), "verify");
  }
}

TEST_CASE("anomalies: a terminal finds the same overlap as head office, with the same id") {
  Overlap o;
  ServerProcess& server = o.server;
  Cli &a = o.a, &b = o.b;
  CHECK(a.json({"anomalies", "--json"})["anomalies"].empty());
  ok(a.run({"sync"}), "sync a");
  const RunResult synced = b.run({"sync"});
  ok(synced, "sync b");
  CHECK_MESSAGE(synced.out.find("1 anomaly ('shiftbook anomalies')") != std::string::npos, synced.out);
  const Json at_head_office = server.json({"anomalies", "--json"})["anomalies"];
  const Json on_terminal = b.json({"anomalies", "--json"})["anomalies"];
  REQUIRE(at_head_office.size() == 1);
  REQUIRE(on_terminal.size() == 1);
  CHECK(on_terminal[0]["id"] == at_head_office[0]["id"]);
  CHECK(on_terminal[0]["kind"] == "overlap");
  CHECK(on_terminal[0]["events"].size() == 2);
  CHECK(b.run({"anomalies"}).out.find("overlap") != std::string::npos);
}

TEST_CASE("anomalies: head office decides an anomaly, it stays listed, marked decided, on the server and the terminals") {
  Overlap o;
  ServerProcess& server = o.server;
  Cli &a = o.a, &b = o.b;
  ok(a.run({"sync"}), "sync a");
  ok(b.run({"sync"}), "sync b");
  const std::string id = server.json({"anomalies", "--json"})["anomalies"][0]["id"].get<std::string>();

  // Refused, with nothing written: an id no anomaly has now, a malformed one, a winner for an
  // anomaly, a fork without a winner.
  const std::string absent = id.substr(0, id.find(':') + 1) + std::string(32, '0');
  refused(server.run({"resolve", absent, "--reason", "checked"}), 4, "no anomaly " + absent + " is found now");
  refused(server.run({"resolve", "overlap:12", "--reason", "checked"}), 3, "must be an anomaly's id");
  refused(server.run({"resolve", id, "--winner", "0123456789", "--reason", "checked"}), 3, "an anomaly has no winner");
  refused(server.run({"resolve", "0123456789abcdef", "--reason", "checked"}), 3, "--winner");
  CHECK(server.json({"anomalies", "--json"})["anomalies"][0]["decided"].is_null());

  const Json noted = server.json({"resolve", id, "--reason", "two half shifts, agreed with the foreman", "--json"});
  CHECK(noted["anomaly"] == id);
  CHECK(noted["site"] == "S1");
  const Json listed = server.json({"anomalies", "--json"})["anomalies"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["decided"]["reason"] == "two half shifts, agreed with the foreman");
  CHECK(server.json({"anomalies", "--open", "--json"})["anomalies"].empty());
  CHECK(server.run({"anomalies"}).out.find("two half shifts") != std::string::npos);

  const RunResult synced = b.run({"sync"});
  ok(synced, "sync b after the decision");
  CHECK_MESSAGE(synced.out.find("anomal") == std::string::npos, synced.out);  // nothing left undecided
  const Json on_terminal = b.json({"anomalies", "--json"})["anomalies"];
  REQUIRE(on_terminal.size() == 1);
  CHECK(on_terminal[0]["decided"]["reason"] == "two half shifts, agreed with the foreman");
  CHECK(b.run({"anomalies"}).out.find("two half shifts") != std::string::npos);
  ok(b.run({"verify"}), "verify");
}

TEST_CASE("returns: head office reads each unit's output against its quota, corrections and voids included") {
  TwoTerminals t;
  CHECK(t.server.json({"returns", "--json"})["returns"].size() == 2);  // the quotas, nothing logged yet
  ok(t.a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open a");
  ok(t.a.run({"log", "output", "--product", "P1", "--quantity", "300"}), "output a");
  ok(t.b.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open b");
  ok(t.b.run({"log", "output", "--product", "P1", "--quantity", "300"}), "output b");
  ok(t.b.run({"correct", "2", "--quantity", "320", "--reason", "recounted"}), "correct b");
  ok(t.b.run({"log", "output", "--product", "P2", "--quantity", "12.5"}), "output b P2");
  ok(t.b.run({"void", "4", "--reason", "logged twice"}), "void b P2");
  ok(t.a.run({"sync"}), "sync a");
  ok(t.b.run({"sync"}), "sync b");

  const Json r = t.server.json({"returns", "--json", "--unit", "U1", "--period", "2026-11"})["returns"];
  REQUIRE_MESSAGE(r.size() == 2, r.dump());
  CHECK(r[0]["product"] == "P1");
  CHECK(r[0]["quota"] == 500);
  CHECK(r[0]["actual"] == 620);
  CHECK(r[0]["fulfilment_permille"] == 1240);
  CHECK(r[0]["surplus"] == 120);
  CHECK(r[1]["product"] == "P2");
  CHECK(r[1]["quota"] == 250'000);  // 250 kg in grams, version 2
  CHECK(r[1]["quota_version"] == 2);
  CHECK(r[1]["actual"] == 0);         // the only P2 output was voided
  CHECK(r[1]["fulfilment_permille"] == 0);
  const RunResult text = t.server.run({"returns"});
  ok(text, "returns");
  CHECK(text.out.find("124.0 %") != std::string::npos);
  CHECK(text.out.find("120 pcs") != std::string::npos);
  CHECK(text.out.find("250.000 kg (v2)") != std::string::npos);
  CHECK(t.server.run({"returns", "--period", "2027-01"}).out == "no returns: no quota set and no output logged\n");
}
