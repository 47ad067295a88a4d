// Attacks on enrollment and sync, each against a real shiftbook-server process on 127.0.0.1. Every
// case checks four things: (a) nothing was accepted (what head office holds of every device, and
// what another terminal pulls, are as before), (b) the refusal is clear (the HTTP status and JSON
// code, or the code and text of the encrypted "error" answer), (c) the server logged it, and
// (d) the server keeps serving: a legitimate terminal records and syncs afterwards.
//
// The attacker, a second client written from the protocol alone, and the World each case runs in
// (a server, a legitimate terminal, the attacker's enrolled device) are in attack_world.h.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "attack_world.h"
#include "shiftbook/client/store.h"

namespace shiftbook::testing::attack {
namespace {

// ---- the attacks ------------------------------------------------------------------------------

TEST_CASE("attack: a tampered body is refused with 401 unauthenticated, whichever byte changed") {
  World w;
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  w.chain().add("output", output_body(w.shift(), 5));
  const Request r = seal(w.attacker(), w.server_key(), sync_message(w.chain().from(3), sign_head(w.attacker(), 3, w.chain().last().event.hash)));
  // A nonce byte, the first ciphertext byte, one in the middle, and the last byte of the tag.
  for (std::size_t at : {kRequestHeaderBytes - 1, kRequestHeaderBytes, (kRequestHeaderBytes + r.wire.size()) / 2, r.wire.size() - 1}) {
    Bytes tampered = r.wire;
    tampered[at] ^= 0x01;
    Answer a = w.wire().post("/v1/sync", tampered);
    CHECK_MESSAGE(a.status == 401, "byte " << at << ": " << a.body);
    CHECK(a.json_code() == "unauthenticated");
  }
  refused(w, before, mark, {"sync device " + short_device(w.attacker().public_key()), "refused: unauthenticated"});
  // The same request untampered is still good: the refusals poisoned nothing.
  Answer a = w.wire().post("/v1/sync", r.wire, &r.context);
  CHECK(a.header().at("receipt").at("seq") == 3);
}

TEST_CASE("attack: a replayed request changes nothing and its answer opens for no one else") {
  World w;
  w.chain().add("output", output_body(w.shift(), 5));
  const Request captured = seal(w.attacker(), w.server_key(), sync_message(w.chain().from(3), sign_head(w.attacker(), 3, w.chain().last().event.hash)));
  Answer first = w.wire().post("/v1/sync", captured.wire, &captured.context);
  REQUIRE(first.header().at("receipt").at("seq") == 3);
  // More syncs happen: the device pushes on, the legitimate terminal syncs.
  w.chain().add("output", output_body(w.shift(), 6));
  const Json latest = w.push_ok(4).header().at("receipt");
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();

  Answer replayed = w.wire().post("/v1/sync", captured.wire, &captured.context);
  REQUIRE(replayed.status == 200);
  // Only the holder of the request's secrets reads the answer: the stored receipt, unchanged.
  CHECK(replayed.header().at("type") == "sync");
  CHECK(replayed.header().at("receipt") == latest);
  // Whoever replayed the bytes cannot open it: not with a context of their own key, nor with one
  // of the same device's key for another request, given the captured request's header.
  DeviceKey other = DeviceKey::generate();
  for (const DeviceKey* key : {&other, &w.attacker()}) {
    auto guess = seal_request(*key, w.server_key(), as_bytes("guess"));
    REQUIRE(guess.is_ok());
    std::copy_n(captured.wire.begin(), kRequestHeaderBytes, guess->context.request_header.begin());
    auto opened = open_response(guess->context, as_bytes(replayed.body));
    CHECK(!opened.is_ok());
    CHECK(opened.status().code() == Code::kUnauthenticated);
  }
  refused(w, before, mark, {"sync device " + short_device(w.attacker().public_key()), "pushed 0", "held already"});
}

TEST_CASE("attack: a forged head signature is refused as chain, a missing head as malformed") {
  World w;
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  const SealedEvent& e = w.chain().add("output", output_body(w.shift(), 5));
  DeviceKey forger = DeviceKey::generate();
  SignedHead forged = sign_head(forger, 3, e.event.hash);
  forged.device = w.attacker().public_key();
  Answer a = w.sync(sync_message(w.chain().from(3), forged));
  CHECK(a.error_code() == "chain");
  CHECK(a.error_message().find("does not verify") != std::string::npos);

  Answer missing = w.sync(sync_message(w.chain().from(3), std::nullopt));
  CHECK(missing.error_code() == "malformed");
  CHECK(missing.error_message().find("without a signed head") != std::string::npos);
  Answer lone_head = w.sync(sync_message({}, sign_head(w.attacker(), 3, e.event.hash)));
  CHECK(lone_head.error_code() == "malformed");
  refused(w, before, mark, {"refused: chain"});
  CHECK(w.logged(mark, {"refused: malformed", "without a signed head"}));
}

TEST_CASE("attack: a device never enrolled is refused with 401 unknown_device") {
  World w;
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  DeviceKey stranger = DeviceKey::generate();
  Chain chain(stranger.public_key());
  const SealedEvent& e = chain.add("shift_open", shift_open_body("U1"));
  Request r = seal(stranger, w.server_key(), sync_message(chain.from(1), sign_head(stranger, 1, e.event.hash)));
  Answer a = w.wire().post("/v1/sync", r.wire, &r.context);
  CHECK(a.status == 401);
  CHECK(a.json_code() == "unknown_device");
  CHECK(a.json_message().find(short_device(stranger.public_key())) != std::string::npos);
  CHECK(w.held().count(to_hex(stranger.public_key())) == 0);
  refused(w, before, mark, {"sync device " + short_device(stranger.public_key()), "refused: unknown_device"});
}

TEST_CASE("attack: two different events at one seq are an equivocation, the device is flagged") {
  World w;
  w.chain().add("output", output_body(w.shift(), 5));
  w.push_ok(3);
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  CHECK(w.flag_of(w.attacker().public_key()).empty());
  w.chain().truncate(2);
  w.chain().add("output", output_body(w.shift(), 500));  // a different event 3
  Answer a = w.sync(sync_message(w.chain().from(3), sign_head(w.attacker(), 3, w.chain().last().event.hash)));
  CHECK(a.error_code() == "equivocation");
  CHECK(a.header().at("expected_seq") == 4);
  CHECK(a.error_message().find(event_name(w.attacker().public_key(), 3)) != std::string::npos);
  CHECK(w.flag_of(w.attacker().public_key()).find("equivocation") != std::string::npos);
  RunResult list = w.server().run({"device", "list"});
  CHECK(list.out.find("equivocation") != std::string::npos);
  refused(w, before, mark, {"sync device " + short_device(w.attacker().public_key()), "refused: equivocation"});
}

TEST_CASE("attack: a terminal pushing another device's events is refused as foreign_device") {
  World w;
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  // The legitimate terminal's own events, as head office already holds them, and a head over them
  // signed by the attacker.
  std::vector<SealedEvent> theirs;
  {
    SystemClock clock;
    auto store = client::Store::open(w.terminal_store() + "/store", clock);
    REQUIRE_MESSAGE(store.is_ok(), store.status().to_string());
    auto raw = (*store)->raw_events((*store)->device());
    REQUIRE(raw.is_ok());
    for (const Bytes& b : *raw) {
      auto e = decode_event(b);
      REQUIRE(e.is_ok());
      theirs.push_back(SealedEvent{*e, b});
    }
  }
  REQUIRE(theirs.size() >= 2);
  Answer a = w.sync(sync_message(theirs, sign_head(w.attacker(), theirs.back().event.seq, theirs.back().event.hash)));
  CHECK(a.error_code() == "foreign_device");
  CHECK(a.error_message().find("is not an event of this terminal") != std::string::npos);
  refused(w, before, mark, {"sync device " + short_device(w.attacker().public_key()), "refused: foreign_device"});
}

TEST_CASE("attack: events for a unit outside the terminal's scope are refused as scope") {
  World w;
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  // U2 is of the same site, U9 of another; the attacker is enrolled for U1 only.
  for (const char* unit : {"U2", "U9"}) {
    w.chain().truncate(2);
    const SealedEvent& e = w.chain().add("shift_open", shift_open_body(unit));
    Answer a = w.sync(sync_message(w.chain().from(3), sign_head(w.attacker(), 3, e.event.hash)));
    CHECK_MESSAGE(a.error_code() == "scope", unit << ": " << a.header().dump());
    CHECK(a.error_message().find(unit) != std::string::npos);
  }
  refused(w, before, mark, {"sync device " + short_device(w.attacker().public_key()), "refused: scope"});
}

TEST_CASE("attack: a terminal writing head-office kinds is refused as kind") {
  World w;
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  auto pin = hash_pin("0000", PinCost::kMinimum);
  REQUIRE(pin.is_ok());
  const std::vector<std::pair<std::string, Json>> attempts = {
      {"ref_quota", Json{{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 1}, {"version", 9}}},
      {"ref_worker", Json{{"id", "W7"}, {"site", "S1"}, {"name", "Ghost"}, {"pin_hash", *pin}, {"active", true}}},
      {"resolution", Json{{"note", "mine wins"}}},
      {"approval", Json{{"period", "2026-11"}}},
  };
  for (const auto& attempt : attempts) {
    const std::string& kind = attempt.first;
    const Json& body = attempt.second;
    w.chain().truncate(2);
    const SealedEvent& e = w.chain().add(kind, body);
    Answer a = w.sync(sync_message(w.chain().from(3), sign_head(w.attacker(), 3, e.event.hash)));
    CHECK_MESSAGE(a.error_code() == "kind", kind << ": " << a.header().dump());
    CHECK(a.error_message().find(kind) != std::string::npos);
  }
  refused(w, before, mark, {"sync device " + short_device(w.attacker().public_key()), "refused: kind"});
}

TEST_CASE("attack: a server answering with another key is refused by the terminal, which stores nothing") {
  World w;
  const std::string db = w.terminal_store() + "/store/terminal.db";
  RunResult out = w.terminal({"log", "output", "--product", "P1", "--quantity", "3"});
  REQUIRE_MESSAGE(out.exit_code == 0, out.err);
  auto stored = [&] {
    return std::vector<std::int64_t>{query_int(db, "SELECT count(*) FROM events"),
                                     query_int(db, "SELECT cursor FROM enrollment"),
                                     query_int(db, "SELECT receipt_seq FROM enrollment")};
  };
  const auto before = stored();

  SUBCASE("another real server, initialised in another folder") {
    // It even knows this terminal: the terminal's key was enrolled there too.
    ServerProcess second;
    setup_head_office(second);
    Wire wire2(second.start());
    Answer enrolled = enroll(wire2, wire2.server_key(), w.terminal_key(), second.create_code("S1", {"U1"}));
    REQUIRE(enrolled.header().at("type") == "enrolled");
    exec_sql(db, "UPDATE enrollment SET server_url = '" + second.url() + "'");
    RunResult r = w.terminal({"sync"});
    CHECK(r.exit_code == 7);  // unauthenticated
    CHECK_MESSAGE(r.err.find("could not authenticate this terminal") != std::string::npos, r.err);
    CHECK(stored() == before);
    CHECK(second.wait_for_log("refused: unauthenticated"));
  }
  SUBCASE("an impostor whose answers are sealed with its own key") {
    ImpostorServer impostor;
    exec_sql(db, "UPDATE enrollment SET server_url = '" + impostor.url() + "'");
    RunResult r = w.terminal({"sync"});
    CHECK(impostor.answered() >= 1);
    CHECK(r.exit_code == 7);
    CHECK_MESSAGE(r.err.find("did not authenticate with the pinned key") != std::string::npos, r.err);
    CHECK(stored() == before);
  }
  // Pointed back at its own server, the terminal syncs what it kept.
  exec_sql(db, "UPDATE enrollment SET server_url = '" + w.url() + "'");
  RunResult back = w.terminal({"sync"});
  CHECK_MESSAGE(back.exit_code == 0, back.err);
  CHECK(query_int(db, "SELECT receipt_seq FROM enrollment") == before[2] + 1);
}

TEST_CASE("attack: a guessed enrollment code is refused as an unknown code") {
  World w;
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  TempDir dir;
  const std::string store = dir.file("store");
  REQUIRE(w.terminal(store, {"init"}).exit_code == 0);
  RunResult r = w.terminal(store, {"enroll", "--server", w.url(), "--code", guessed_code(w.server_key())});
  CHECK(r.exit_code != 0);
  CHECK_MESSAGE(r.err.find("unknown enrollment code") != std::string::npos, r.err);
  DeviceKey guesser = DeviceKey::generate();
  Answer a = w.enroll_device(guesser, guessed_code(w.server_key()));
  CHECK(a.error_code() == "code");
  CHECK(a.error_message().find("unknown enrollment code") != std::string::npos);
  CHECK(w.held().count(to_hex(guesser.public_key())) == 0);
  refused(w, before, mark, {"enroll device", "refused: code", "unknown enrollment code"});
}

TEST_CASE("attack: a used enrollment code is refused, naming it used") {
  World w;
  const std::string code = w.new_code();
  DeviceKey first = DeviceKey::generate();
  REQUIRE(w.enroll_device(first, code).header().at("type") == "enrolled");
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  DeviceKey second = DeviceKey::generate();
  Answer a = w.enroll_device(second, code);
  CHECK(a.error_code() == "code");
  CHECK(a.error_message().find("already used") != std::string::npos);
  CHECK(w.held().count(to_hex(second.public_key())) == 0);
  refused(w, before, mark, {"enroll device " + short_device(second.public_key()), "refused: code", "already used"});
}

TEST_CASE("attack: repeated enrollment failures are rate limited with 429 and Retry-After") {
  World w;
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  const std::string good = w.new_code();
  std::optional<Answer> limited;
  // The server allows a few failures per peer in its window; the bound here is generous.
  for (int attempt = 0; attempt < 60 && !limited; ++attempt) {
    Answer a = w.enroll_device(DeviceKey::generate(), guessed_code(w.server_key()));
    if (a.status == 429) limited = a;
    else CHECK(a.error_code() == "code");
  }
  REQUIRE(limited.has_value());
  CHECK(limited->json_code() == "rate_limited");
  CHECK(std::atoi(limited->retry_after.c_str()) > 0);
  // While limited, even a good code from the same address waits, and is not spent.
  DeviceKey patient = DeviceKey::generate();
  Answer held_back = w.enroll_device(patient, good);
  CHECK(held_back.status == 429);
  CHECK(w.held().count(to_hex(patient.public_key())) == 0);
  refused(w, before, mark, {"refused: rate_limited"});
}

TEST_CASE("attack: an oversized body is refused with 413 too_large") {
  World w;
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  Bytes huge(kMaxEnvelopeBytes + 1, 0x5a);
  for (const char* path : {"/v1/sync", "/v1/enroll"}) {
    Answer a = w.wire().post(path, huge);
    CHECK_MESSAGE(a.status == 413, path << ": " << a.body);
    CHECK(a.json_code() == "too_large");
  }
  refused(w, before, mark, {"too_large"});
}

TEST_CASE("attack: malformed and truncated requests are refused as malformed") {
  World w;
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  Bytes noise(300);
  random_bytes(noise);
  w.chain().add("output", output_body(w.shift(), 5));
  const Message good = sync_message(w.chain().from(3), sign_head(w.attacker(), 3, w.chain().last().event.hash));
  const Request sealed = seal(w.attacker(), w.server_key(), good);
  const Bytes truncated(sealed.wire.begin(), sealed.wire.begin() + 50);
  for (const Bytes* body : std::initializer_list<const Bytes*>{&noise, &truncated}) {
    Answer a = w.wire().post("/v1/sync", *body);
    CHECK_MESSAGE(a.status == 400, a.body);
    CHECK(a.json_code() == "malformed");
  }
  // A good envelope around a message cut short, or around bytes that are no message at all.
  auto plain = encode_message(good);
  REQUIRE(plain.is_ok());
  for (const Bytes& inner : {Bytes(plain->begin(), plain->end() - 7), noise}) {
    auto r = seal_request(w.attacker(), w.server_key(), inner);
    REQUIRE(r.is_ok());
    Answer a = w.wire().post("/v1/sync", r->wire, &r->context);
    CHECK(a.error_code() == "malformed");
    CHECK(!a.error_message().empty());
  }
  refused(w, before, mark, {"sync device " + short_device(w.attacker().public_key()), "refused: malformed"});
  CHECK(w.logged(mark, {"sync peer", "refused: malformed"}));
}

TEST_CASE("attack: another protocol version is refused: 426 for the envelope, version for the message") {
  World w;
  const auto before = w.snapshot();
  const std::size_t mark = w.log_mark();
  w.chain().add("output", output_body(w.shift(), 5));
  Message m = sync_message(w.chain().from(3), sign_head(w.attacker(), 3, w.chain().last().event.hash));
  Request r = seal(w.attacker(), w.server_key(), m);
  Bytes newer = r.wire;
  newer[3] = 2;  // "SBX" and the envelope version
  Answer a = w.wire().post("/v1/sync", newer);
  CHECK(a.status == 426);
  CHECK(a.json_code() == "version");
  CHECK(a.json_message().find('2') != std::string::npos);

  m.header["v"] = 3;
  Answer v3 = w.sync(m);
  CHECK(v3.error_code() == "version");
  CHECK(v3.error_message().find("version 3") != std::string::npos);
  refused(w, before, mark, {"refused: version"});
}

}  // namespace
}  // namespace shiftbook::testing::attack
