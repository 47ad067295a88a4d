// What a shift leader reads once two terminals share a unit, against a real shiftbook-server:
// every entry, shift and version is shown by a reference that names it alone (this terminal's
// own by number, another terminal's by a hash prefix, with that terminal's id); status and sync
// say plainly what head office holds; a used code and an unreachable server read once and in
// plain words. Terminals are driven through the shiftbook binary.
#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <sstream>
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

std::size_t count_of(const std::string& text, const std::string& fragment) {
  std::size_t n = 0;
  for (auto at = text.find(fragment); at != std::string::npos; at = text.find(fragment, at + 1)) ++n;
  return n;
}

// A terminal enrolled for U1 of S1, synced once, with L1 logged in.
struct Terminal {
  Cli cli;
  explicit Terminal(const ServerProcess& server) {
    ok(cli.run({"init"}), "init");
    ok(cli.run({"enroll", "--server", server.url(), "--code", server.create_code("S1", {"U1"})}), "enroll");
    ok(cli.run({"sync"}), "first sync");
    ok(cli.run({"login", "L1"}, "4321\n"), "login");
  }
  RunResult run(const std::vector<std::string>& args, const std::string& input = {}) const {
    return cli.run(args, input);
  }
  Json json(const std::vector<std::string>& args) const { return cli.json(args); }
  std::string device_short() const { return json({"status", "--json"})["device_short"].get<std::string>(); }
};

// Head office, and terminals A and B of unit U1 that each recorded a shift offline (A: hours of
// W1 and output; B: hours of W2 and a bonus) and then synced A, B, A, so both hold everything.
struct TwoTerminals {
  ServerProcess server;
  std::unique_ptr<Terminal> a, b;
  TwoTerminals() {
    shiftbook::testing::setup_head_office(server);
    server.start();
    a = std::make_unique<Terminal>(server);
    b = std::make_unique<Terminal>(server);
    ok(a->run({"shift", "open", "--unit", "U1", "--date", "2026-11-16", "--name", "early"}), "open a");
    ok(a->run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours a");
    ok(a->run({"log", "output", "--product", "P1", "--quantity", "40"}), "output a");
    ok(b->run({"shift", "open", "--unit", "U1", "--date", "2026-11-16", "--name", "late"}), "open b");
    ok(b->run({"log", "hours", "--worker", "W2", "--start", "14:00", "--end", "22:00"}), "hours b");
    ok(b->run({"log", "bonus", "--worker", "W2", "--type", "innovation"}), "bonus b");
    ok(a->run({"sync"}), "sync a");
    ok(b->run({"sync"}), "sync b");
    ok(a->run({"sync"}), "sync a again");
  }
};

bool is_hash_ref(const std::string& ref) {
  return ref.size() >= 8 && ref.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

TEST_CASE("terminals: list names this terminal's entries by number and another's by a hash prefix that resolves") {
  TwoTerminals w;
  const std::string b_short = w.b->device_short();
  const Json entries = w.a->json({"list", "--json"})["entries"];
  REQUIRE(entries.size() == 4);
  std::set<std::string> refs;
  for (const Json& e : entries) {
    const std::string ref = e["ref"].get<std::string>();
    CAPTURE(ref);
    refs.insert(ref);
    if (e["mine"].get<bool>()) {
      CHECK(ref == std::to_string(e["seq"].get<int>()));
      CHECK(e["shift_ref"] == "1");
    } else {
      CHECK(is_hash_ref(ref));
      CHECK(e["id"].get<std::string>().rfind(ref, 0) == 0);
      CHECK(e["device_short"] == b_short);
      CHECK(e["shift"].get<std::string>().rfind(e["shift_ref"].get<std::string>(), 0) == 0);
    }
    // What list shows names that entry and no other, typed back on this terminal.
    CHECK(w.a->json({"show", ref, "--json"})["entry"]["id"] == e["id"]);
  }
  CHECK(refs.size() == 4);
  // This terminal's entries first, each terminal's together: numbers do not interleave.
  CHECK(entries[0]["mine"] == true);
  CHECK(entries[1]["mine"] == true);
  CHECK(entries[2]["device_short"] == b_short);
  CHECK(entries[3]["device_short"] == b_short);
  // A bare number is this terminal's entry even though B has an entry 2 as well.
  CHECK(w.a->json({"show", "2", "--json"})["entry"]["mine"] == true);
  CHECK(w.a->json({"show", "2", "--json"})["entry"]["worker"] == "W1");
}

TEST_CASE("terminals: the text list has a terminal column and no two rows share a number") {
  TwoTerminals w;
  const std::string b_short = w.b->device_short();
  RunResult list = w.a->run({"list"});
  ok(list, "list");
  CAPTURE(list.out);
  CHECK(list.out.rfind("#", 0) == 0);
  CHECK(list.out.find("terminal") != std::string::npos);
  CHECK(count_of(list.out, "  this  ") == 2);
  CHECK(count_of(list.out, b_short) == 2);
  CHECK(list.out.find("4 entries (2 from other terminals") != std::string::npos);
  std::vector<std::string> lines;
  std::istringstream in(list.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 6);  // the header, four rows, the count
  std::set<std::string> first_cells;
  for (std::size_t i = 1; i <= 4; ++i) first_cells.insert(lines[i].substr(0, lines[i].find(' ')));
  CHECK(first_cells.size() == 4);
  // A terminal holding only its own entries keeps the plain layout.
  Cli alone;
  alone.ready();
  ok(alone.run({"log", "output", "--product", "P1", "--quantity", "3"}), "output");
  CHECK(alone.run({"list"}).out.find("terminal") == std::string::npos);
}

TEST_CASE("terminals: shift list and status name another terminal's shift by a reference list --shift takes") {
  TwoTerminals w;
  const std::string b_short = w.b->device_short();
  ok(w.b->run({"shift", "close"}), "close b");
  ok(w.b->run({"shift", "open", "--unit", "U1", "--date", "2026-11-17", "--name", "night"}), "open b again");
  ok(w.b->run({"sync"}), "sync b");
  ok(w.a->run({"sync"}), "sync a");
  const Json shifts = w.a->json({"shift", "list", "--json"})["shifts"];
  REQUIRE(shifts.size() == 3);
  CHECK(shifts[0]["ref"] == "1");
  CHECK(shifts[0]["mine"] == true);
  const Json& late = shifts[1];
  CHECK(late["name"] == "late");
  CHECK(late["mine"] == false);
  CHECK(late["device_short"] == b_short);
  CHECK(late["device"].get<std::string>().rfind(b_short, 0) == 0);
  const std::string late_ref = late["ref"].get<std::string>();
  CHECK(is_hash_ref(late_ref));
  const Json of_late = w.a->json({"list", "--shift", late_ref, "--json"})["entries"];
  REQUIRE(of_late.size() == 2);
  for (const Json& e : of_late) CHECK(e["shift_ref"] == late_ref);

  RunResult text = w.a->run({"shift", "list"});
  ok(text, "shift list");
  CAPTURE(text.out);
  CHECK(text.out.find(late_ref + "  " + b_short + "  U1") != std::string::npos);
  CHECK(text.out.find("closed by L1") != std::string::npos);  // B's closing number means nothing here
  // B's open night shift shows in A's status under B's reference and id, not as "2".
  RunResult status = w.a->run({"status"});
  CAPTURE(status.out);
  const std::string night_ref = shifts[2]["ref"].get<std::string>();
  CHECK(status.out.find(night_ref + " (U1 2026-11-17 night, terminal " + b_short + ")") != std::string::npos);
}

TEST_CASE("terminals: list --mine and --terminal keep one terminal's entries") {
  TwoTerminals w;
  const std::string b_short = w.b->device_short();
  const Json mine = w.a->json({"list", "--mine", "--json"})["entries"];
  REQUIRE(mine.size() == 2);
  for (const Json& e : mine) CHECK(e["mine"] == true);
  const Json theirs = w.a->json({"list", "--terminal", b_short, "--json"})["entries"];
  REQUIRE(theirs.size() == 2);
  for (const Json& e : theirs) CHECK(e["device_short"] == b_short);
  CHECK(w.a->json({"list", "--terminal", w.a->device_short(), "--json"})["entries"] == mine);
  testing::check_fails(w.a->run({"list", "--terminal", "0123456"}), 3, "8 to 64 hex digits");
  std::string other = b_short;
  other[0] = other[0] == '0' ? '1' : '0';
  if (other != w.a->device_short()) testing::check_fails(w.a->run({"list", "--terminal", other}), 4, "no terminal");
  CHECK(w.a->run({"list", "--mine", "--terminal", b_short}).exit_code == 2);
}

TEST_CASE("terminals: show gives every version its reference and terminal, a correction made here by number") {
  TwoTerminals w;
  const std::string a_short = w.a->device_short(), b_short = w.b->device_short();
  const Json theirs = w.a->json({"list", "--terminal", b_short, "--kind", "hours", "--json"})["entries"];
  REQUIRE(theirs.size() == 1);
  const std::string ref = theirs[0]["ref"].get<std::string>();
  RunResult fixed = w.a->run({"correct", ref, "--end", "21:00", "--reason", "left early"});
  ok(fixed, "correct B's entry on A");
  const Json shown = w.a->json({"show", ref, "--json"});
  REQUIRE(shown["versions"].size() == 2);
  CHECK(shown["versions"][0]["ref"] == ref);
  CHECK(shown["versions"][0]["device_short"] == b_short);
  CHECK(shown["versions"][0]["mine"] == false);
  CHECK(shown["versions"][1]["kind"] == "correction");
  CHECK(shown["versions"][1]["mine"] == true);
  CHECK(shown["versions"][1]["ref"] == std::to_string(shown["versions"][1]["seq"].get<int>()));
  CHECK(shown["versions"][1]["device"].get<std::string>().rfind(a_short, 0) == 0);

  RunResult text = w.a->run({"show", ref});
  ok(text, "show");
  CAPTURE(text.out);
  CHECK(text.out.rfind("entry " + ref + ": hours W2 14:00-21:00", 0) == 0);
  CHECK(text.out.find("recorded by  L1 on terminal " + b_short) != std::string::npos);
  CHECK(text.out.find(ref + "  " + b_short + "  hours") != std::string::npos);
  CHECK(text.out.find("this      correction") != std::string::npos);
}

TEST_CASE("terminals: a refusal that names another terminal's entry gives the reference to type") {
  TwoTerminals w;
  const std::string b_short = w.b->device_short();
  // W2 has hours 14:00-22:00 on B; A may not record overlapping hours for W2.
  RunResult overlap = w.a->run({"log", "hours", "--worker", "W2", "--start", "13:00", "--end", "15:00",
                                "--shift", "1"});
  REQUIRE(overlap.exit_code == 3);
  const auto at = overlap.err.find("(entry ");
  REQUIRE_MESSAGE(at != std::string::npos, overlap.err);
  const std::string ref = overlap.err.substr(at + 7, overlap.err.find(' ', at + 7) - at - 7);
  CHECK(is_hash_ref(ref));
  CHECK(overlap.err.find("(entry " + ref + " of terminal " + b_short + ")") != std::string::npos);
  CHECK(w.a->json({"show", ref, "--json"})["entry"]["worker"] == "W2");
}

TEST_CASE("terminals: status and sync say head office holds none of the events yet, and how many wait") {
  ServerProcess server;
  shiftbook::testing::setup_head_office(server);
  server.start();
  Terminal t(server);
  ok(t.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  ok(t.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours");
  RunResult before = t.run({"status"});
  ok(before, "status");
  CAPTURE(before.out);
  CHECK(before.out.find("head office holds none of this terminal's events yet; 2 wait for the next sync") !=
        std::string::npos);
  CHECK(before.out.find("1 to 0") == std::string::npos);

  RunResult synced = t.run({"sync"});
  ok(synced, "sync");
  CHECK(synced.out.find("head office holds this terminal's events 1 to 2 (server time") != std::string::npos);
  ok(t.run({"log", "output", "--product", "P1", "--quantity", "5"}), "output");
  RunResult after = t.run({"status"});
  CHECK(after.out.find("head office holds this terminal's events 1 to 2; 1 more waits for the next sync") !=
        std::string::npos);

  Cli fresh;  // enrolled, never synced
  ok(fresh.run({"init"}), "init");
  ok(fresh.run({"enroll", "--server", server.url(), "--code", server.create_code("S1", {"U1"})}), "enroll");
  CHECK(fresh.run({"status"}).out.find("last sync    never; head office holds none of this terminal's events yet\n") !=
        std::string::npos);
}

TEST_CASE("terminals: a used enrollment code is refused with head office's advice, once") {
  ServerProcess server;
  shiftbook::testing::setup_head_office(server);
  server.start();
  const std::string code = server.create_code("S1", {"U1"});
  Cli first, second;
  ok(first.run({"init"}), "init");
  ok(second.run({"init"}), "init");
  ok(first.run({"enroll", "--server", server.url(), "--code", code}), "enroll");
  RunResult used = second.run({"enroll", "--server", server.url(), "--code", code});
  CHECK(used.exit_code == 6);
  CAPTURE(used.err);
  CHECK(used.err.find("refused the enrollment code: this enrollment code was already used") != std::string::npos);
  CHECK(count_of(used.err, "ask head office") == 1);
  CHECK(count_of(used.err, "\n") == 1);
}

TEST_CASE("terminals: an unreachable server is named in plain words") {
  ServerProcess server;
  shiftbook::testing::setup_head_office(server);
  server.start();
  Terminal t(server);
  server.stop();
  RunResult down = t.run({"sync"});
  CHECK(down.exit_code == 12);
  CAPTURE(down.err);
  CHECK(down.err.find("cannot reach " + server.url() + ": connection refused") != std::string::npos);
  CHECK(down.err.find("Connection;") == std::string::npos);
}
