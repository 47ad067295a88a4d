// Poisoned pushes against a real shiftbook-server: events a terminal would refuse when it pulls
// them, which a bad terminal pushes so that every other terminal of its unit refuses every pull
// answer carrying them and stops syncing. The server refuses them before storing anything, and
// the other terminals go on pulling. The World (a server, a legitimate terminal in U1 driven
// through `shiftbook`, a hand-written device in U1) is attack_world.h's.
#include <doctest/doctest.h>

#include <string>

#include "attack_world.h"

namespace shiftbook::testing::attack {
namespace {

// The legitimate terminal's entries of `worker`, as "<start>-<end> v<versions>".
std::string entries_of(World& w, const std::string& worker) {
  RunResult listed = w.terminal({"list", "--json"});
  REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  const Json list = Json::parse(listed.out);
  std::string out;
  for (const Json& e : list.at("entries")) {
    if (e.value("worker", std::string()) != worker) continue;
    out += std::to_string(e.at("start").get<int>()) + "-" + std::to_string(e.at("end").get<int>()) + " v" +
           std::to_string(e.at("versions").get<int>()) + " ";
  }
  return out;
}

TEST_CASE("poison: a correction moving an entry to another shift is refused, the unit's terminals still sync") {
  World w;
  const Hash other_shift = w.chain().add("shift_open", shift_open_body("U1")).event.hash;
  w.push_ok(3);
  const Hash hours = w.chain().from(2).front().event.hash;  // W2 360-480, on the first shift
  const auto before = w.snapshot();
  CHECK(entries_of(w, "W2") == "360-480 v1 ");
  const std::size_t mark = w.log_mark();

  const SealedEvent& moved = w.chain().add(
      "correction", Json{{"target", hash_ref(hours)}, {"reason", "moved"}, {"entry", hours_body(other_shift, "W2", 360)}});
  Answer a = w.sync(sync_message(w.chain().from(4), sign_head(w.attacker(), 4, moved.event.hash)));
  CHECK(a.error_code() == "invalid");
  CHECK(a.error_message().find("a correction may not change the shift of an entry") != std::string::npos);
  // Nothing stored, the refusal logged, and the legitimate terminal syncs (snapshot) and pushes.
  refused(w, before, mark, {"sync device " + short_device(w.attacker().public_key()), "refused: invalid"});

  // The same correction within its shift is accepted, and the other terminal applies it.
  w.chain().truncate(3);
  Json fixed = hours_body(w.shift(), "W2", 360);
  fixed["end"] = 500;
  w.chain().add("correction", Json{{"target", hash_ref(hours)}, {"reason", "stayed late"}, {"entry", fixed}});
  w.push_ok(4);
  RunResult synced = w.terminal({"sync"});
  CHECK_MESSAGE(synced.exit_code == 0, synced.err);
  CHECK(entries_of(w, "W2") == "360-500 v2 ");
}

}  // namespace
}  // namespace shiftbook::testing::attack
