#include "shiftbook/merge.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "shiftbook/bytes.h"
#include "shiftbook/kinds.h"
#include "sync/chain.h"
#include "shiftbook/protocol.h"

using namespace shiftbook;

namespace {

// Hashes that sort by their number: h(1) < h(2) < ... bytewise.
Hash h(std::uint8_t n) {
  Hash x{};
  x[0] = n;
  return x;
}

PublicKey dev(std::uint8_t n) {
  PublicKey k{};
  k.fill(n);
  return k;
}

Version root(std::uint8_t n, std::string kind = "hours") {
  Version v;
  v.hash = h(n);
  v.device = dev(1);
  v.seq = n;
  v.entry_kind = std::move(kind);
  v.body = Json{{"end", 100 * n}};
  return v;
}

Version correction(std::uint8_t n, std::uint8_t target, std::optional<std::int64_t> after) {
  Version v;
  v.hash = h(n);
  v.device = dev(n);
  v.seq = n;
  v.kind = VersionKind::kCorrection;
  v.target = h(target);
  v.body = Json{{"end", 100 * n}};
  v.trusted_after_ms = after;
  return v;
}

Version voiding(std::uint8_t n, std::uint8_t target, std::optional<std::int64_t> after) {
  Version v = correction(n, target, after);
  v.kind = VersionKind::kVoid;
  v.body = nullptr;
  return v;
}

Resolution resolution(std::uint64_t seq, std::uint8_t fork, std::uint8_t winner, std::vector<std::uint8_t> losers) {
  Resolution r;
  r.signer_seq = seq;
  r.hash = h(static_cast<std::uint8_t>(200 + seq));
  r.fork = h(fork);
  r.winner = h(winner);
  for (std::uint8_t l : losers) r.losers.push_back(h(l));
  return r;
}

EntryState merged(const std::vector<Version>& versions, const std::vector<Resolution>& resolutions = {}) {
  auto s = merge_entry(versions, resolutions);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  return *s;
}

// The first byte of a test hash, for short checks.
int n(const Hash& x) { return x[0]; }

}  // namespace

TEST_CASE("merge: a linear history ends at its last correction") {
  EntryState s = merged({root(1), correction(2, 1, 5), correction(3, 2, 1)});
  CHECK(n(s.current) == 3);
  CHECK(s.path_length == 3);
  CHECK(s.versions == 3);
  CHECK(s.body == Json{{"end", 300}});
  CHECK_FALSE(s.is_void);
  CHECK(s.conflicts.empty());
  CHECK(s.kind == "hours");
}

TEST_CASE("merge: concurrent corrections keep both and raise a conflict won by the later trusted time") {
  EntryState s = merged({root(1), correction(2, 1, 200), correction(3, 1, 100)});
  CHECK(n(s.current) == 2);
  CHECK(s.versions == 3);
  REQUIRE(s.conflicts.size() == 1);
  const Conflict& c = s.conflicts[0];
  CHECK(n(c.fork) == 1);
  CHECK(c.children == std::vector<Hash>{h(2), h(3)});
  CHECK(n(c.winner) == 2);
  CHECK(c.chosen_by == ChosenBy::kRule);
  CHECK_FALSE(c.resolved);
  CHECK(c.on_current_path);
}

TEST_CASE("merge: a three-way fork ties to the lowest hash, and no trusted time loses to any") {
  CHECK(n(merged({root(1), correction(4, 1, 300), correction(3, 1, 300), correction(2, 1, 100)}).current) == 3);
  CHECK(n(merged({root(1), correction(2, 1, std::nullopt), correction(3, 1, 0), correction(4, 1, -5)}).current) == 3);
  CHECK(n(merged({root(1), correction(2, 1, std::nullopt), correction(3, 1, std::nullopt)}).current) == 2);
}

TEST_CASE("merge: a void wins or loses a fork like any correction, and ends its branch") {
  EntryState won = merged({root(1), voiding(2, 1, 900), correction(3, 1, 100)});
  CHECK(won.is_void);
  CHECK(n(won.current) == 2);
  CHECK(won.body == Json{{"end", 100}});  // what was voided
  CHECK(won.path_length == 2);

  EntryState lost = merged({root(1), voiding(2, 1, 100), correction(3, 1, 900), correction(4, 3, 50)});
  CHECK_FALSE(lost.is_void);
  CHECK(n(lost.current) == 4);

  // A version below a void is kept and listed, and never current.
  EntryState past = merged({root(1), voiding(2, 1, 1), correction(3, 2, 999), correction(4, 3, 999)});
  CHECK(past.is_void);
  CHECK(n(past.current) == 2);
  CHECK(past.past_void == std::vector<Hash>{h(3), h(4)});
  CHECK(past.versions == 2);
}

TEST_CASE("merge: a fork below a fork is decided on the winning path") {
  std::vector<Version> v = {root(1), correction(2, 1, 100), correction(3, 1, 200), correction(4, 3, 50),
                            correction(5, 3, 70), correction(6, 2, 10), correction(7, 2, 20)};
  EntryState s = merged(v);
  CHECK(n(s.current) == 5);
  CHECK(s.path_length == 3);
  REQUIRE(s.conflicts.size() == 3);
  CHECK(n(s.conflicts[0].fork) == 1);  // by depth, then fork hash
  CHECK(n(s.conflicts[1].fork) == 2);
  CHECK(n(s.conflicts[2].fork) == 3);
  CHECK_FALSE(s.conflicts[1].on_current_path);
  CHECK(s.conflicts[2].on_current_path);
  CHECK(n(s.conflicts[1].winner) == 7);

  // Head office takes the other branch at the top: its own fork now decides.
  EntryState r = merged(v, {resolution(1, 1, 2, {3})});
  CHECK(n(r.current) == 7);
  CHECK(r.conflicts[1].on_current_path);
  CHECK_FALSE(r.conflicts[2].on_current_path);
}

TEST_CASE("merge: a resolution may choose the child the rule would not, and closes the conflict") {
  EntryState s = merged({root(1), correction(2, 1, 200), correction(3, 1, 100)}, {resolution(1, 1, 3, {2})});
  CHECK(n(s.current) == 3);
  REQUIRE(s.conflicts.size() == 1);
  CHECK(s.conflicts[0].chosen_by == ChosenBy::kResolution);
  CHECK(s.conflicts[0].resolution == h(201));
  CHECK(s.conflicts[0].resolved);
}

TEST_CASE("merge: the signer's latest resolution of a fork decides") {
  std::vector<Version> v = {root(1), correction(2, 1, 200), correction(3, 1, 100)};
  EntryState s = merged(v, {resolution(7, 1, 2, {3}), resolution(4, 1, 3, {2})});
  CHECK(n(s.current) == 2);
  CHECK(s.conflicts[0].resolution == h(207));
}

TEST_CASE("merge: a child that arrives after the resolution reopens the conflict") {
  std::vector<Version> v = {root(1), correction(2, 1, 200), correction(3, 1, 100), correction(4, 1, 900)};
  EntryState s = merged(v, {resolution(1, 1, 3, {2})});
  CHECK(n(s.current) == 3);  // still head office's choice
  CHECK(s.conflicts[0].chosen_by == ChosenBy::kResolution);
  CHECK_FALSE(s.conflicts[0].resolved);
  CHECK(s.conflicts[0].children.size() == 3);
}

TEST_CASE("merge: a resolution naming a version that is no child of the fork is ignored and noted") {
  std::vector<Version> v = {root(1), correction(2, 1, 200), correction(3, 1, 100)};
  EntryState s = merged(v, {resolution(9, 1, 9, {2, 3})});
  CHECK(n(s.current) == 2);
  CHECK(s.conflicts[0].chosen_by == ChosenBy::kRule);
  CHECK_FALSE(s.conflicts[0].resolved);
  CHECK(s.conflicts[0].ignored_resolutions == std::vector<Hash>{h(209)});

  // An earlier resolution that names a child still decides.
  EntryState earlier = merged(v, {resolution(9, 1, 9, {2, 3}), resolution(2, 1, 3, {2})});
  CHECK(n(earlier.current) == 3);
  CHECK(earlier.conflicts[0].resolution == h(202));
  CHECK(earlier.conflicts[0].ignored_resolutions == std::vector<Hash>{h(209)});
}

TEST_CASE("merge: an entry needs exactly one root, and versions that do not reach it are orphans") {
  CHECK(merge_entry(std::vector<Version>{correction(2, 1, 1)}, {}).status().code() == Code::kInvalidArgument);
  CHECK(merge_entry(std::vector<Version>{root(1), root(2)}, {}).status().code() == Code::kInvalidArgument);
  EntryState s = merged({root(1), correction(2, 1, 1), correction(5, 4, 9)});
  CHECK(n(s.current) == 2);
  CHECK(s.orphans == std::vector<Hash>{h(5)});
}

TEST_CASE("merge: orphans wait in the set and attach when their target arrives") {
  MergeSet set(dev(99));
  set.add_version(correction(3, 2, 100));
  set.add_version(correction(2, 1, 100));
  CHECK(set.roots().empty());
  CHECK(set.orphans() == std::map<Hash, Hash>{{h(2), h(1)}, {h(3), h(1)}});
  CHECK(set.state(h(1)).status().code() == Code::kNotFound);
  set.add_version(root(1));
  CHECK(set.orphans().empty());
  auto s = set.state(h(1));
  REQUIRE(s.is_ok());
  CHECK(n(s->current) == 3);
  CHECK(set.root_of(h(3)) == h(1));
}

TEST_CASE("merge: trusted after is the receipt of the latest shift_open at or before the seq") {
  std::vector<ShiftOpenMark> marks = {{10, 5000}, {3, 1000}, {7, std::nullopt}};
  CHECK(trusted_after(marks, 2) == std::nullopt);
  CHECK(trusted_after(marks, 3) == 1000);
  CHECK(trusted_after(marks, 6) == 1000);
  CHECK(trusted_after(marks, 8) == std::nullopt);
  CHECK(trusted_after(marks, 10) == 5000);
  CHECK(trusted_after(marks, 99) == 5000);
}

// ---- From events: the clock ahead ------------------------------------------------------------

namespace {

constexpr std::uint64_t kYearMs = 365ull * 24 * 3600 * 1000;

// A device's chain as the merge reads it: shift_opens of U1 on 2026-11-20, naming a receipt.
class Chain : public test::Chain {
 public:
  Chain(std::uint8_t id, std::uint64_t clock_ms) : test::Chain(id, static_cast<std::int64_t>(clock_ms), 1) {}
  Event open_shift(std::optional<std::int64_t> receipt_ms) { return test::Chain::open_shift("U1", "2026-11-20", receipt_ms); }
};

Json hours_body(const Hash& shift, int end) {
  return {{"shift", hash_ref(shift)}, {"worker", "W1"}, {"start", 480}, {"end", end}, {"special", false}};
}

Json correcting(const Hash& target, const Hash& shift, int end) {
  return {{"target", hash_ref(target)}, {"reason", "typo"}, {"entry", hours_body(shift, end)}};
}

struct Fork {
  Hash root, mine, theirs;
  std::vector<Event> events;
};

// Terminal A (clock at `a_clock_ms`) records hours and syncs; terminal B pulls them; both then
// correct the same version offline. A opened its shift with receipt `a_receipt`, B with `b_receipt`.
Fork fork(std::uint64_t a_clock_ms, std::int64_t a_receipt, std::int64_t b_receipt) {
  Chain a(1, a_clock_ms), b(2, 1'763'600'000'000);
  const Event shift = a.open_shift(1'000);
  Fork f;
  f.root = a.add("hours", hours_body(shift.hash, 960)).hash;
  const Event a_shift2 = a.open_shift(a_receipt);
  f.mine = a.add("correction", correcting(f.root, a_shift2.hash, 900)).hash;
  b.open_shift(b_receipt);
  f.theirs = b.add("correction", correcting(f.root, shift.hash, 870)).hash;
  f.events = a.events();
  f.events.insert(f.events.end(), b.events().begin(), b.events().end());
  return f;
}

EntryState merge_events(const std::vector<Event>& events, const Hash& root, const PublicKey& signer = dev(99)) {
  MergeSet set(signer);
  for (const Event& e : events) REQUIRE(set.add(e).is_ok());
  auto s = set.state(root);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  return *s;
}

}  // namespace

TEST_CASE("merge: a terminal whose clock is years ahead loses to the later server-confirmed knowledge") {
  // A's clock is ten years ahead, but B opened its shift after a later receipt.
  Fork f = fork(1'763'600'000'000 + 10 * kYearMs, 2'000, 3'000);
  EntryState s = merge_events(f.events, f.root);
  CHECK(s.current == f.theirs);
  REQUIRE(s.conflicts.size() == 1);
  CHECK(s.conflicts[0].winner == f.theirs);
  CHECK(s.body.at("end") == 870);
}

TEST_CASE("merge: changing only the clock of a terminal never changes the winner") {
  for (std::int64_t a_receipt : {2'000, 4'000}) {
    for (std::uint64_t clock : {std::uint64_t{0}, std::uint64_t{1'763'600'000'000},
                                std::uint64_t{1'763'600'000'000} + 30 * kYearMs}) {
      Fork f = fork(clock, a_receipt, 3'000);
      EntryState s = merge_events(f.events, f.root);
      INFO("receipt " << a_receipt << " clock " << clock);
      REQUIRE(s.conflicts.size() == 1);
      // The hashes change with the stamps; who wins does not.
      CHECK(s.conflicts[0].winner == (a_receipt > 3'000 ? f.mine : f.theirs));
    }
  }
}

TEST_CASE("merge: a resolution from a device that is not the site signer decides nothing") {
  Fork f = fork(1'763'600'000'000, 2'000, 3'000);
  Event r;
  r.device = dev(7);  // a terminal
  r.seq = 1;
  r.author = "L1";
  r.kind = "resolution";
  r.body = {{"fork", hash_ref(f.root)}, {"winner", hash_ref(f.mine)}, {"losers", {hash_ref(f.theirs)}},
            {"reason", "mine wins"}};
  auto sealed = seal_event(r);
  REQUIRE(sealed.is_ok());
  std::vector<Event> events = f.events;
  events.push_back(sealed->event);
  EntryState by_terminal = merge_events(events, f.root);
  CHECK(by_terminal.current == f.theirs);
  CHECK(by_terminal.conflicts[0].chosen_by == ChosenBy::kRule);

  // The same body from the signer decides.
  EntryState by_signer = merge_events(events, f.root, dev(7));
  CHECK(by_signer.current == f.mine);
  CHECK(by_signer.conflicts[0].resolved);
}

TEST_CASE("merge: events the merge cannot read are refused with their name, and change nothing") {
  MergeSet set(dev(99));
  Event e;
  e.device = dev(3);
  e.seq = 4;
  e.kind = "correction";
  e.body = {{"target", "nothex"}, {"reason", "x"}, {"entry", Json::object()}};
  Status s = set.add(e);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("event 4 of device " + short_device(dev(3))) != std::string::npos);
  e.kind = "made_up_kind";
  CHECK(set.add(e).is_ok());
  CHECK(set.roots().empty());
  CHECK(set.orphans().empty());
}

// ---- The resolution body ---------------------------------------------------------------------

TEST_CASE("merge: a resolution body names the fork, its winner and its losers") {
  const std::string fork(64, 'a'), win(64, 'b'), lose(64, 'c');
  Json body = {{"fork", fork}, {"winner", win}, {"losers", {lose}}, {"reason", "checked with the worker"}};
  CHECK(validate_head_office_body("resolution", body).is_ok());
  auto refused = [&](const char* field, const Json& value) {
    Json b = body;
    b[field] = value;
    Status s = validate_head_office_body("resolution", b);
    CHECK(s.code() == Code::kInvalidArgument);
    return s.message();
  };
  CHECK(refused("fork", "abc") == "resolution: field 'fork' must name an event by its hash, 64 lower-case hex digits");
  CHECK(refused("winner", fork) ==
        "resolution: field 'winner' names the fork itself; it must name one of its children");
  CHECK(refused("losers", {lose, lose}) == "resolution: field 'losers' names " + lose + " twice");
  CHECK(refused("losers", {win}) == "resolution: field 'losers' names the winner " + win + " too");
  CHECK(refused("losers", {fork}) == "resolution: field 'losers' names the fork itself; it holds children of it");
  CHECK(refused("losers", {1}) == "resolution: field 'losers' must hold event hashes, 64 lower-case hex digits each");
  CHECK(refused("losers", "x") == "resolution: field 'losers' must be a list of at most 64 event hashes");
  Json many = Json::array();
  for (int i = 0; i < 65; ++i) many.push_back(to_hex(ByteView(h(static_cast<std::uint8_t>(i)))));
  CHECK(refused("losers", many) == "resolution: field 'losers' must be a list of at most 64 event hashes");
  CHECK(refused("reason", "") == "resolution: field 'reason' must not be empty");
  CHECK(validate_head_office_body("resolution", {{"fork", fork}, {"winner", win}, {"losers", Json::array()},
                                                 {"reason", "r"}})
            .is_ok());
}

TEST_CASE("merge: the worked example of docs/MERGE.md") {
  // H = 1, a1 = 2, b1 = 3, b2 = 4, c1 = 5; the signer's resolution at seq 40.
  std::vector<Version> v = {root(1), correction(2, 1, 1000), correction(3, 1, 3000), correction(4, 3, 3000)};
  EntryState by_rule = merged(v);
  CHECK(n(by_rule.current) == 4);
  CHECK(by_rule.path_length == 3);
  CHECK(by_rule.body == Json{{"end", 400}});
  REQUIRE(by_rule.conflicts.size() == 1);
  CHECK(n(by_rule.conflicts[0].winner) == 3);
  CHECK_FALSE(by_rule.conflicts[0].resolved);

  const std::vector<Resolution> decided = {resolution(40, 1, 2, {3})};
  EntryState resolved = merged(v, decided);
  CHECK(n(resolved.current) == 2);
  CHECK(resolved.conflicts[0].resolved);

  v.push_back(voiding(5, 1, 1000));
  EntryState reopened = merged(v, decided);
  CHECK(n(reopened.current) == 2);
  CHECK_FALSE(reopened.conflicts[0].resolved);
  CHECK(n(merged(v).current) == 4);
  CHECK(merged({root(1), correction(2, 1, 1000), voiding(5, 1, 1000)}).current == h(2));
}

TEST_CASE("merge: take_changed answers the entries an event touched, once") {
  MergeSet set(dev(99));
  set.add_version(root(1));
  set.add_version(root(2));
  CHECK(set.take_changed().size() == 2);
  CHECK(set.take_changed().empty());
  set.add_version(correction(3, 2, 100));
  auto changed = set.take_changed();
  REQUIRE(changed.size() == 1);
  CHECK(n(changed.begin()->second.current) == 3);
  set.add_version(correction(3, 2, 100));  // the same event again
  CHECK(set.take_changed().empty());
  set.add_shift_open(dev(3), {1, 5000});  // device 3 made version 3 of entry 2
  changed = set.take_changed();
  REQUIRE(changed.size() == 1);
  CHECK(n(changed.begin()->first) == 2);
}

TEST_CASE("merge: trusted time over sorted shift_opens answers as over the same marks in any order") {
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    std::vector<ShiftOpenMark> any, sorted;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      ShiftOpenMark m{rng() % 20, std::nullopt};
      if (rng() % 3 != 0) m.receipt_server_ms = static_cast<std::int64_t>(rng() % 5);
      any.push_back(m);
      const std::size_t before = sorted.size();
      const bool added = insert_shift_open(sorted, m);
      CHECK(added == (sorted.size() == before + 1));
    }
    for (std::uint64_t seq = 0; seq < 22; ++seq) {
      INFO("round " << round << " seq " << seq);
      CHECK(trusted_after_sorted(sorted, seq) == trusted_after(any, seq));
    }
  }
}
