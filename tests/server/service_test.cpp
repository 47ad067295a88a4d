// The server's logic through Service's public surface, on a real SQLite store in a temp folder
// and a FakeClock: enrollment and its refusals, the sync round trip (push rules in their order,
// receipts, the pull and who sees what), and head-office administration. Requests are built the
// way a terminal builds them (service_world.h); answers are opened with the request's own context.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "service_world.h"

namespace {

using namespace shiftbook::service_world;

// ---- enrollment ------------------------------------------------------------------------------------

TEST_CASE("service: enroll answers the site, units and a signer delegation the server key vouches for") {
  HeadOffice ho;
  Terminal t;
  Answer a = send_enroll(ho, t.key, ho.code("S1", {"U1", "U2"}));
  REQUIRE_MESSAGE(a.type() == "enrolled", a.text());
  const Json& h = a.message.header;
  CHECK(h["site"] == "S1");
  CHECK(h["units"] == Json::array({"U1", "U2"}));
  CHECK(h["server_ms"] == testing::kSampleNowMs);
  Delegation d{h["signer"]["site"].get<std::string>(), *array_from_hex<32>(h["signer"]["key"].get<std::string>()),
               *array_from_hex<64>(h["signer"]["sig"].get<std::string>())};
  CHECK(d.site == "S1");
  CHECK(verify_delegation(ho.key(), d));
  CHECK(ho.device(t.device()).units == std::vector<std::string>{"U1", "U2"});
  CHECK(a.reply.log_line.find("enroll device " + short_device(t.device())) != std::string::npos);
}

TEST_CASE("service: enroll refuses an unknown, a used and an expired code, saying which") {
  HeadOffice ho;
  Terminal a, b, c, d;
  EnrollCode guessed;
  guessed.secret = {1, 2, 3, 4, 5, 6, 7, 8};
  std::copy_n(server_fingerprint(ho.key()).begin(), guessed.fingerprint.size(), guessed.fingerprint.begin());
  Answer unknown = send_enroll(ho, a.key, format_enroll_code(guessed));
  CHECK(unknown.error() == "code");
  CHECK(unknown.text().find("unknown enrollment code") != std::string::npos);

  std::string code = ho.code("S1", {"U1"});
  REQUIRE(send_enroll(ho, b.key, code).type() == "enrolled");
  Answer used = send_enroll(ho, c.key, code);
  CHECK(used.error() == "code");
  CHECK(used.text().find("already used") != std::string::npos);

  std::string later = ho.code("S1", {"U1"});
  ho.clock.advance(25 * kHourMs);
  Answer expired = send_enroll(ho, d.key, later);
  CHECK(expired.error() == "code");
  CHECK(expired.text().find("expired") != std::string::npos);
  for (const Terminal* t : {&a, &c, &d}) CHECK(!ho.service->storage().device(t->device())->has_value());
}

TEST_CASE("service: an enrolled terminal is refused a new code, and hears enrolled again for its own") {
  HeadOffice ho;
  Terminal t;
  std::string first = ho.code("S1", {"U1"});
  REQUIRE(send_enroll(ho, t.key, first).type() == "enrolled");
  std::string second = ho.code("S2", {"U9"});
  Answer again = send_enroll(ho, t.key, second);
  CHECK(again.error() == "code");
  CHECK(again.text().find("enrolled already") != std::string::npos);
  // The lost-answer retry: the same code again is answered like the first time.
  Answer retry = send_enroll(ho, t.key, first);
  CHECK(retry.type() == "enrolled");
  CHECK(retry.message.header["units"] == Json::array({"U1"}));
  // The refused code is still unused.
  Terminal other;
  CHECK(send_enroll(ho, other.key, second).type() == "enrolled");
}

TEST_CASE("service: repeated enrollment failures get 429 per peer and globally, until the window passes") {
  ServiceOptions options;
  options.enroll_failures_per_peer = 3;
  options.enroll_failures_global = 5;
  options.enroll_window_ms = 60'000;
  HeadOffice ho(options);
  Terminal t;
  EnrollCode guessed;
  std::copy_n(server_fingerprint(ho.key()).begin(), guessed.fingerprint.size(), guessed.fingerprint.begin());
  const std::string bad = format_enroll_code(guessed);
  for (int i = 0; i < 3; ++i) CHECK(send_enroll(ho, t.key, bad, "10.0.0.1").error() == "code");
  Answer limited = send_enroll(ho, t.key, bad, "10.0.0.1");
  CHECK(limited.reply.http_status == 429);
  CHECK(limited.json_code() == "rate_limited");
  CHECK(limited.reply.retry_after_seconds >= 1);
  CHECK(limited.reply.retry_after_seconds <= 60);
  // Another peer may still try, until the global count is reached.
  for (int i = 0; i < 2; ++i) CHECK(send_enroll(ho, t.key, bad, "10.0.0.2").error() == "code");
  CHECK(send_enroll(ho, t.key, ho.code("S1", {"U1"}), "10.0.0.3").reply.http_status == 429);
  ho.clock.advance(60'001);
  CHECK(send_enroll(ho, t.key, ho.code("S1", {"U1"}), "10.0.0.1").type() == "enrolled");
}

// ---- sync: the round trip ----------------------------------------------------------------------------

TEST_CASE("service: a push is stored with a signed receipt and another terminal of the unit pulls it") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1"});
  Hash shift = a.open_shift("U1");
  a.hours(shift);
  a.hours(shift, 600);
  ho.clock.advance(5000);
  Answer pushed = push(ho, a, 1, 3);
  REQUIRE_MESSAGE(pushed.type() == "sync", pushed.text());
  Receipt r = receipt_of(pushed, a.device());
  CHECK(r.seq == 3);
  CHECK(r.hash == a.chain[2].event.hash);
  CHECK(r.server_ms == testing::kSampleNowMs + 5000);
  CHECK(verify_receipt(ho.key(), r));
  CHECK(ho.device(a.device()).seq == 3);
  CHECK(pushed.reply.log_line.find("pushed 3 (seq 1..3)") != std::string::npos);

  Answer pulled = send(ho, b.key, sync_message(b, 0, 0));
  std::vector<Event> from_a;
  for (const Bytes& raw : pulled.message.events) {
    auto e = decode_event(raw);
    REQUIRE(e.is_ok());
    if (e->device == a.device()) from_a.push_back(*e);
  }
  REQUIRE(from_a.size() == 3);
  CHECK(from_a.back().hash == a.chain[2].event.hash);
  bool covered = false;
  for (const Json& h : pulled.message.header["heads"]) {
    if (h["device"] != to_hex(a.device())) continue;
    SignedHead head{a.device(), h["seq"].get<std::uint64_t>(), *array_from_hex<32>(h["hash"].get<std::string>()),
                    *array_from_hex<64>(h["sig"].get<std::string>())};
    covered = head.seq == 3 && head.hash == from_a.back().hash && verify_head(head);
  }
  CHECK(covered);
}

TEST_CASE("service: a terminal of another unit sees neither terminal, its own events are not sent back") {
  HeadOffice ho;
  Terminal a, b, c;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1", "U2"});
  enroll(ho, c, "S1", {"U2"});
  a.open_shift("U1");
  b.open_shift("U2");
  c.open_shift("U2");
  for (Terminal* t : {&a, &b, &c}) REQUIRE(push(ho, *t, 1, 1).type() == "sync");
  auto devices_seen = [&](const Terminal& t) {
    std::set<PublicKey> seen;
    for (const Event& e : pull_all(ho, t).events) {
      if (e.kind == "shift_open") seen.insert(e.device);
    }
    return seen;
  };
  // A whole chain is visible where any of its units is: b (U1, U2) to a and c, and both to b.
  CHECK(devices_seen(a) == std::set<PublicKey>{b.device()});
  CHECK(devices_seen(b) == std::set<PublicKey>{a.device(), c.device()});
  CHECK(devices_seen(c) == std::set<PublicKey>{b.device()});
}

TEST_CASE("service: reference events reach the terminals of their site only, from the site's signer") {
  HeadOffice ho;
  Terminal s1, s2;
  const PublicKey site1 = enroll(ho, s1, "S1", {"U1"});
  const PublicKey site2 = enroll(ho, s2, "S2", {"U9"});
  Pulled p1 = pull_all(ho, s1);
  Pulled p2 = pull_all(ho, s2);
  CHECK(kinds_from(p1.events, site1) ==
        std::set<std::string>{"ref_site S1", "ref_unit U1", "ref_unit U2", "ref_period 2026-11", "ref_product P1",
                              "ref_product P2", "ref_worker W1", "ref_worker W2", "ref_worker W3", "ref_quota"});
  CHECK(kinds_from(p2.events, site2) == std::set<std::string>{"ref_site S2", "ref_unit U9", "ref_period 2026-11",
                                                               "ref_product P1", "ref_product P2", "ref_worker W9"});
  for (const Event& e : p1.events) CHECK(e.device == site1);
  for (const Event& e : p2.events) CHECK(e.device == site2);
}

TEST_CASE("service: a new site's chain starts with the site, then every period and product") {
  HeadOffice ho;
  ho.put("ref_site", {{"id", "S3"}, {"name", "Plant Three"}, {"tz", "UTC"}});
  ho.put("ref_unit", {{"id", "U30"}, {"site", "S3"}, {"name", "Assembly"}});
  Terminal t;
  const PublicKey signer = enroll(ho, t, "S3", {"U30"});
  Pulled p = pull_all(ho, t);
  CHECK(render(p.events, {{signer, "site"}}) ==
        "site:1 ref_site S3\nsite:2 ref_period 2026-11\nsite:3 ref_product P1\nsite:4 ref_product P2\n"
        "site:5 ref_unit U30\n");
}

TEST_CASE("service: a sync with nothing pushed by a device holding nothing gets a receipt for seq 0") {
  HeadOffice ho;
  Terminal t;
  enroll(ho, t, "S1", {"U1"});
  Answer a = send(ho, t.key, sync_message(t, 0, 0));
  REQUIRE_MESSAGE(a.type() == "sync", a.text());
  Receipt r = receipt_of(a, t.device());
  CHECK(r.seq == 0);
  CHECK(r.hash == Hash{});
  CHECK(verify_receipt(ho.key(), r));
  CHECK(ho.device(t.device()).last_sync_ms == testing::kSampleNowMs);
  CHECK(ho.device(t.device()).last_client_ms == testing::kSampleNowMs);
}

TEST_CASE("service: a byte-identical retry gets the same receipt and stores nothing new") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1"});
  Hash shift = a.open_shift("U1");
  a.hours(shift);
  EnvelopeContext ctx;
  Bytes wire = seal(a.key, ho.key(), sync_message(a, 1, 2), ctx);
  Answer first = open(ho.service->sync(wire, kPeer), ctx);
  REQUIRE_MESSAGE(first.type() == "sync", first.text());
  ho.clock.advance(60'000);
  Answer retry = open(ho.service->sync(wire, kPeer), ctx);
  REQUIRE_MESSAGE(retry.type() == "sync", retry.text());
  CHECK(retry.message.header["receipt"] == first.message.header["receipt"]);
  CHECK(retry.reply.log_line.find("pushed 0") != std::string::npos);
  CHECK(ho.device(a.device()).seq == 2);
  std::size_t from_a = 0;
  for (const Event& e : pull_all(ho, b).events) from_a += e.device == a.device();
  CHECK(from_a == 2);
}

TEST_CASE("service: the same push sent twice at once is stored once, and both hear the same receipt seq") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  Hash shift = a.open_shift("U1");
  for (int i = 0; i < 200; ++i) a.hours(shift, i);
  EnvelopeContext ctx[2];
  Bytes wire[2] = {seal(a.key, ho.key(), sync_message(a, 1, 201), ctx[0]),
                   seal(a.key, ho.key(), sync_message(a, 1, 201), ctx[1])};
  Reply replies[2];
  {
    std::thread other([&] { replies[1] = ho.service->sync(wire[1], kPeer); });
    replies[0] = ho.service->sync(wire[0], kPeer);
    other.join();
  }
  for (int i = 0; i < 2; ++i) {
    Answer answer = open(replies[i], ctx[i]);
    REQUIRE_MESSAGE(answer.type() == "sync", answer.text());
    CHECK(receipt_of(answer, a.device()).seq == 201);
  }
  CHECK(ho.device(a.device()).seq == 201);
}

TEST_CASE("service: a push that skips seqs is refused as a gap naming the seq expected") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  Hash shift = a.open_shift("U1");
  a.hours(shift);
  a.hours(shift, 600);
  REQUIRE(push(ho, a, 1, 1).type() == "sync");
  Answer gap = push(ho, a, 3, 3);
  CHECK(gap.error() == "gap");
  CHECK(gap.message.header["expected_seq"] == 2);
  CHECK(gap.text().find("push from seq 2") != std::string::npos);
  CHECK(ho.device(a.device()).seq == 1);
  CHECK(push(ho, a, 2, 3).type() == "sync");
}

TEST_CASE("service: an equivocation is refused, nothing stored, and the device flagged naming the seq") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  Hash shift = a.open_shift("U1");
  a.hours(shift);
  REQUIRE(push(ho, a, 1, 2).type() == "sync");
  a.chain.pop_back();
  a.hours(shift, 900);  // another event 2, signed by the device itself
  a.hours(shift, 1000);
  Answer eq = push(ho, a, 2, 3);
  CHECK(eq.error() == "equivocation");
  CHECK(eq.message.header["expected_seq"] == 3);
  CHECK(eq.text().find("event 2 of device " + short_device(a.device())) != std::string::npos);
  server::DeviceRecord rec = ho.device(a.device());
  CHECK(rec.seq == 2);
  CHECK(rec.flag.find("seq 2") != std::string::npos);
  CHECK(eq.reply.log_line.find("refused: equivocation") != std::string::npos);
}

TEST_CASE("service: events of another device are refused as foreign_device") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1"});
  b.open_shift("U1");
  Message m = sync_message(b, 1, 1);  // b's events and head, sent under a's key
  Answer foreign = send(ho, a.key, m);
  CHECK(foreign.error() == "foreign_device");
  CHECK(foreign.text().find("event 1 of device " + short_device(b.device())) != std::string::npos);
  CHECK(ho.device(a.device()).seq == 0);
  CHECK(ho.device(b.device()).seq == 0);
}

TEST_CASE("service: head-office and reserved kinds from a terminal are refused as kind") {
  HeadOffice ho;
  for (const char* k : {"ref_quota", "ref_worker", "resolution", "approval", "made_up"}) {
    Terminal a;
    enroll(ho, a, "S1", {"U1"});
    a.open_shift("U1");
    a.record(k, {{"unit", "U1"}});
    Answer refused = push(ho, a, 1, 2);
    CHECK_MESSAGE(refused.error() == "kind", k);
    CHECK(refused.text().find("event 2 of device") != std::string::npos);
    CHECK(ho.device(a.device()).seq == 0);
  }
}

TEST_CASE("service: a shift opened for a unit outside the terminal's scope is refused as scope") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  a.open_shift("U1");
  a.open_shift("U2");  // same site, but not this terminal's unit
  Answer refused = push(ho, a, 1, 2);
  CHECK(refused.error() == "scope");
  CHECK(refused.text().find("event 2 of device " + short_device(a.device()) + ": unit 'U2'") != std::string::npos);
  CHECK(ho.device(a.device()).seq == 0);
  CHECK(refused.reply.log_line.find("refused: scope: event 2") != std::string::npos);
}

TEST_CASE("service: entries naming a shift the server does not hold, or another terminal's, are invalid") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1"});
  Hash b_shift = b.open_shift("U1");
  REQUIRE(push(ho, b, 1, 1).type() == "sync");
  a.hours(blake2b_256(as_bytes("no such shift")));
  Answer unknown = push(ho, a, 1, 1);
  CHECK(unknown.error() == "invalid");
  CHECK(unknown.text().find("is not a shift the server holds") != std::string::npos);
  a.chain.clear();
  a.hours(b_shift);
  Answer theirs = push(ho, a, 1, 1);
  CHECK(theirs.error() == "invalid");
  CHECK(theirs.text().find("opened by another terminal") != std::string::npos);
  CHECK(ho.device(a.device()).seq == 0);
}

TEST_CASE("service: corrections are checked as the kind of the entry they correct, across pushes") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  Hash shift = a.open_shift("U1");
  Hash h = a.hours(shift);
  REQUIRE(push(ho, a, 1, 2).type() == "sync");
  Json fixed = {{"shift", hash_ref(shift)}, {"worker", "W1"}, {"start", 480}, {"end", 600}, {"special", false}};
  Hash c1 = a.record("correction", {{"target", hash_ref(h)}, {"reason", "typo"}, {"entry", fixed}});
  REQUIRE(push(ho, a, 3, 3).type() == "sync");
  fixed["end"] = 570;  // a correction of a stored correction: still an hours entry
  a.record("correction", {{"target", hash_ref(c1)}, {"reason", "typo again"}, {"entry", fixed}});
  a.record("void", {{"target", hash_ref(a.chain.back().event.hash)}, {"reason", "logged twice"}});
  REQUIRE(push(ho, a, 4, 5).type() == "sync");
  Json output = {{"shift", hash_ref(shift)}, {"product", "P1"}, {"quantity", 5}};
  a.record("correction", {{"target", hash_ref(h)}, {"reason", "wrong kind"}, {"entry", output}});
  Answer wrong = push(ho, a, 6, 6);
  CHECK(wrong.error() == "invalid");
  CHECK(ho.device(a.device()).seq == 5);
}

// Pushes one correction of `target` as the next event of `a`, then forgets it; its answer as
// "<code>: <text after the event's name>".
std::string push_correction(HeadOffice& ho, Terminal& a, const Hash& target, const Json& entry) {
  a.record("correction", {{"target", hash_ref(target)}, {"reason", "fix"}, {"entry", entry}});
  Answer r = push(ho, a, a.chain.size(), a.chain.size());
  a.chain.pop_back();
  if (r.type() == "sync") return "sync";
  const std::string text = r.text();
  return r.error() + ": " + text.substr(text.find(": ") + 2);
}

TEST_CASE("service: a correction that moves an entry to another shift, product or quota version is invalid") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1"});
  Hash s1 = a.open_shift("U1");
  Hash s2 = a.open_shift("U1");
  Hash h = a.hours(s1);
  const Json out = {{"shift", hash_ref(s1)}, {"product", "P1"}, {"quantity", 5}, {"quota_version", 1}};
  Hash o = a.record("output", out);
  REQUIRE(push(ho, a, 1, 4).type() == "sync");

  Json moved = {{"shift", hash_ref(s2)}, {"worker", "W1"}, {"start", 480}, {"end", 540}, {"special", false}};
  CHECK(push_correction(ho, a, h, moved) == "invalid: a correction may not change the shift of an entry");
  Json changed = out;
  changed["shift"] = hash_ref(s2);
  CHECK(push_correction(ho, a, o, changed) == "invalid: a correction may not change the shift of an entry");
  changed = out;
  changed["product"] = "P2";
  CHECK(push_correction(ho, a, o, changed) == "invalid: a correction may not change the product of an entry");
  changed = out;
  changed["quota_version"] = 2;
  CHECK(push_correction(ho, a, o, changed) == "invalid: a correction may not change the quota_version of an entry");
  changed.erase("quota_version");
  CHECK(push_correction(ho, a, o, changed) == "invalid: a correction may not change the quota_version of an entry");
  // A good correction pushed with a bad one is not stored either; nobody pulls either.
  changed = out;
  changed["quantity"] = 6;
  a.record("correction", {{"target", hash_ref(o)}, {"reason", "recount"}, {"entry", changed}});
  a.record("correction", {{"target", hash_ref(h)}, {"reason", "fix"}, {"entry", moved}});
  CHECK(push(ho, a, 5, 6).error() == "invalid");
  CHECK(ho.device(a.device()).seq == 4);
  CHECK(kinds_from(pull_all(ho, b).events, a.device()) == std::set<std::string>{"shift_open", "hours", "output"});
}

TEST_CASE("service: a correction of a correction is checked against the stored or pushed version it supersedes") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  Hash s1 = a.open_shift("U1");
  Hash s2 = a.open_shift("U1");
  Hash h = a.hours(s1);
  Json fixed = {{"shift", hash_ref(s1)}, {"worker", "W1"}, {"start", 480}, {"end", 600}, {"special", false}};
  Hash c1 = a.record("correction", {{"target", hash_ref(h)}, {"reason", "typo"}, {"entry", fixed}});
  REQUIRE(push(ho, a, 1, 4).type() == "sync");
  // The entry is hours, read back through the stored correction, whatever the new body says.
  const Json output = {{"shift", hash_ref(s1)}, {"product", "P1"}, {"quantity", 5}};
  CHECK(push_correction(ho, a, c1, output) == "invalid: hours entry has an unknown field 'product'");
  Json moved = fixed;
  moved["shift"] = hash_ref(s2);
  CHECK(push_correction(ho, a, c1, moved) == "invalid: a correction may not change the shift of an entry");
  // In one push, the second correction is checked against the first, not yet stored.
  fixed["end"] = 570;
  Hash c2 = a.record("correction", {{"target", hash_ref(c1)}, {"reason", "again"}, {"entry", fixed}});
  a.record("correction", {{"target", hash_ref(c2)}, {"reason", "moved"}, {"entry", moved}});
  Answer both = push(ho, a, 5, 6);
  CHECK(both.error() == "invalid");
  CHECK(both.text().find("event 6 of device " + short_device(a.device()) + ": a correction may not change the shift") !=
        std::string::npos);
  a.chain.pop_back();
  REQUIRE(push(ho, a, 5, 5).type() == "sync");
  // Two stored corrections back to the hours entry.
  CHECK(push_correction(ho, a, c2, output) == "invalid: hours entry has an unknown field 'product'");
  fixed["end"] = 560;
  CHECK(push_correction(ho, a, c2, fixed) == "sync");
  CHECK(ho.device(a.device()).seq == 6);
}

TEST_CASE("service: a terminal may correct another terminal's entry of its unit, within that entry's shift") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1"});
  Hash b_shift = b.open_shift("U1");
  Hash theirs = b.hours(b_shift);
  REQUIRE(push(ho, b, 1, 2).type() == "sync");
  Hash a_shift = a.open_shift("U1");
  REQUIRE(push(ho, a, 1, 1).type() == "sync");
  Json fixed = {{"shift", hash_ref(a_shift)}, {"worker", "W2"}, {"start", 480}, {"end", 540}, {"special", false}};
  CHECK(push_correction(ho, a, theirs, fixed) == "invalid: a correction may not change the shift of an entry");
  fixed["shift"] = hash_ref(b_shift);
  a.record("correction", {{"target", hash_ref(theirs)}, {"reason", "W2 worked it"}, {"entry", fixed}});
  Answer accepted = push(ho, a, 2, 2);
  REQUIRE_MESSAGE(accepted.type() == "sync", accepted.text());
  CHECK(ho.device(a.device()).seq == 2);
  Pulled pulled = pull_all(ho, b);
  CHECK(kinds_from(pulled.events, a.device()) == std::set<std::string>{"shift_open", "correction"});
}

TEST_CASE("service: a head that does not verify, or is not at the last event, is refused as chain") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  Hash shift = a.open_shift("U1");
  a.hours(shift);
  Message forged = sync_message(a, 1, 2);
  DeviceKey other = DeviceKey::generate();
  forged.header["head"]["sig"] = to_hex(sign_head(other, 2, a.chain[1].event.hash).signature);
  Answer bad_sig = send(ho, a.key, forged);
  CHECK(bad_sig.error() == "chain");
  CHECK(bad_sig.text().find("does not verify") != std::string::npos);
  Message short_head = sync_message(a, 1, 2);
  SignedHead at1 = sign_head(a.key, 1, a.chain[0].event.hash);
  short_head.header["head"] = {{"seq", 1}, {"hash", to_hex(at1.hash)}, {"sig", to_hex(at1.signature)}};
  CHECK(send(ho, a.key, short_head).error() == "chain");
  CHECK(ho.device(a.device()).seq == 0);
}

TEST_CASE("service: malformed and wrong-version messages inside a good envelope are refused") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  a.open_shift("U1");
  Message v3 = sync_message(a, 0, 0);
  v3.header["v"] = 3;
  CHECK(send(ho, a.key, v3).error() == "version");
  Message headless = sync_message(a, 1, 1);
  headless.header.erase("head");
  Answer no_head = send(ho, a.key, headless);
  CHECK(no_head.error() == "malformed");
  CHECK(no_head.text().find("without a signed head") != std::string::npos);
  Message extra = sync_message(a, 0, 0);
  extra.header["surprise"] = 1;
  CHECK(send(ho, a.key, extra).error() == "malformed");
  CHECK(ho.device(a.device()).seq == 0);
}

// ---- sync: what is refused before the envelope opens ------------------------------------------------

TEST_CASE("service: a tampered envelope is 401 unauthenticated, an unknown device 401 unknown_device") {
  HeadOffice ho;
  Terminal a, stranger;
  enroll(ho, a, "S1", {"U1"});
  a.open_shift("U1");
  EnvelopeContext ctx;
  Bytes wire = seal(a.key, ho.key(), sync_message(a, 1, 1), ctx);
  wire[wire.size() - 20] ^= 0x01;
  Answer tampered = open(ho.service->sync(wire, kPeer), ctx);
  CHECK(tampered.reply.http_status == 401);
  CHECK(tampered.json_code() == "unauthenticated");
  CHECK(ho.device(a.device()).seq == 0);

  Answer unknown = send(ho, stranger.key, sync_message(stranger, 0, 0));
  CHECK(unknown.reply.http_status == 401);
  CHECK(unknown.json_code() == "unknown_device");
  CHECK(unknown.reply.log_line.find("refused: unknown_device") != std::string::npos);

  Bytes junk(200, 0x42);
  CHECK(ho.service->sync(junk, kPeer).http_status == 400);
  Bytes huge(kMaxEnvelopeBytes + 1, 0);
  CHECK(ho.service->sync(huge, kPeer).http_status == 413);
}

TEST_CASE("service: an answer opens with its own request's context and no other") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  EnvelopeContext ctx1, ctx2;
  Bytes wire1 = seal(a.key, ho.key(), sync_message(a, 0, 0), ctx1);
  seal(a.key, ho.key(), sync_message(a, 0, 0), ctx2);  // a second request, never sent
  Reply reply1 = ho.service->sync(wire1, kPeer);
  REQUIRE(reply1.http_status == 200);
  CHECK(open_response(ctx1, as_bytes(reply1.body)).is_ok());
  auto wrong = open_response(ctx2, as_bytes(reply1.body));
  CHECK(wrong.status().code() == Code::kUnauthenticated);
}

// ---- sync: the pull in batches -------------------------------------------------------------------------

TEST_CASE("service: the pull comes in whole pushes within pull_max, with a rising cursor and more") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1"});
  Hash shift = a.open_shift("U1");
  const std::string note(400, 'n');
  for (int i = 0; i < 359; ++i) {
    a.record("bonus", {{"shift", hash_ref(shift)}, {"worker", "W1"}, {"type", "innovation"}, {"note", note}});
  }
  // Three pushes of 120 events, about 70 KB each: more than the smallest pull_max.
  for (std::size_t first : {1, 121, 241}) REQUIRE(push(ho, a, first, first + 119).type() == "sync");
  std::uint64_t cursor = 0;
  std::vector<std::uint64_t> ends;  // a's last seq in each batch that holds a's events
  for (int round = 0; round < 20; ++round) {
    Answer p = send(ho, b.key, sync_message(b, 0, 0, cursor, static_cast<std::int64_t>(kMinPullBytes)));
    REQUIRE(p.type() == "sync");
    std::uint64_t next = p.message.header["cursor"].get<std::uint64_t>();
    CHECK(next >= cursor);
    cursor = next;
    std::uint64_t last_of_a = 0;
    for (const Bytes& raw : p.message.events) {
      auto e = decode_event(raw);
      if (e->device == a.device()) last_of_a = e->seq;
    }
    if (last_of_a) ends.push_back(last_of_a);
    if (!p.message.header["more"].get<bool>()) break;
  }
  CHECK(ends == std::vector<std::uint64_t>{120, 240, 360});
}

// ---- administration -------------------------------------------------------------------------------------

TEST_CASE("service: put_reference refuses what names unknown things, moves and bad bodies") {
  HeadOffice ho;
  auto code_of = [&](const std::string& kind, const Json& body) {
    return ho.service->put_reference(kind, body).status().code();
  };
  CHECK(code_of("ref_unit", {{"id", "U5"}, {"site", "S7"}, {"name", "X"}}) == Code::kNotFound);
  Json quota = {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 10}};
  for (const char* field : {"unit", "period", "product"}) {
    Json q = quota;
    q[field] = "missing";
    CHECK_MESSAGE(code_of("ref_quota", q) == Code::kNotFound, field);
  }
  CHECK(code_of("ref_product", {{"id", "P3"}, {"name", "Bolt"}, {"unit", "pcs"}, {"decimals", 2}}) ==
        Code::kInvalidArgument);
  CHECK(code_of("ref_site", {{"id", "S3"}, {"name", "X"}, {"tz", "UTC"}, {"extra", 1}}) == Code::kInvalidArgument);
  CHECK(code_of("resolution", Json::object()) == Code::kInvalidArgument);
  CHECK(code_of("ref_unit", {{"id", "U1"}, {"site", "S2"}, {"name", "Press shop"}}) == Code::kFailedPrecondition);
  CHECK(code_of("ref_period", {{"id", "late-nov"}, {"start", "2026-11-20"}, {"end", "2026-12-05"}}) ==
        Code::kInvalidArgument);
  auto units = ho.service->reference("ref_unit", "S1");
  REQUIRE(units.is_ok());
  CHECK(units->size() == 2);
}

TEST_CASE("service: a quota's version goes up by one when left out, and must rise when given") {
  HeadOffice ho;
  Json quota = {{"unit", "U2"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 10}};
  auto v1 = ho.service->put_reference("ref_quota", quota);
  REQUIRE(v1.is_ok());
  CHECK((*v1)["version"] == 1);
  quota["quantity"] = 12;
  auto v2 = ho.service->put_reference("ref_quota", quota);
  REQUIRE(v2.is_ok());
  CHECK((*v2)["version"] == 2);
  quota["version"] = 2;
  CHECK(ho.service->put_reference("ref_quota", quota).status().code() == Code::kInvalidArgument);
  quota["version"] = 5;
  CHECK(ho.service->put_reference("ref_quota", quota).is_ok());
  auto all = ho.service->reference("ref_quota", "S1");
  REQUIRE(all.is_ok());
  std::string versions;
  for (const Json& q : *all) versions += q["unit"].get<std::string>() + "/" + q["product"].get<std::string>() + " v" +
                                          std::to_string(q["version"].get<int>()) + ";";
  CHECK(versions == "U1/P1 v1;U1/P2 v2;U2/P1 v5;");
}

TEST_CASE("service: enrollment codes need the site's own units and a sane lifetime") {
  HeadOffice ho;
  CHECK(ho.service->create_code("S1", {"U9"}, kHourMs).status().code() == Code::kInvalidArgument);
  CHECK(ho.service->create_code("S7", {"U1"}, kHourMs).status().code() == Code::kNotFound);
  CHECK(ho.service->create_code("S1", {"U7"}, kHourMs).status().code() == Code::kNotFound);
  CHECK(ho.service->create_code("S1", {}, kHourMs).status().code() == Code::kInvalidArgument);
  CHECK(ho.service->create_code("S1", {"U1"}, 1000).status().code() == Code::kInvalidArgument);
  CHECK(ho.service->create_code("S1", {"U1"}, 31 * 24 * kHourMs).status().code() == Code::kInvalidArgument);
  auto code = ho.service->create_code("S1", {"U1", "U2"}, kHourMs);
  REQUIRE(code.is_ok());
  auto parsed = parse_enroll_code(*code);
  REQUIRE(parsed.is_ok());
  CHECK(code_matches_server(*parsed, ho.key()));
  auto codes = ho.service->codes();
  REQUIRE(codes.is_ok());
  REQUIRE(codes->size() == 1);
  CHECK(codes->front().secret_hash == blake2b_256(parsed->secret));
  CHECK(codes->front().expires_ms == testing::kSampleNowMs + kHourMs);
}

}  // namespace
