// Golden vectors: the bytes in tests/sync/golden/*.hex (written by tools/golden.cpp and shown in
// docs/EVENTS.md and docs/PROTOCOL.md) are what this build encodes, hashes, signs and seals, byte
// for byte. The inputs are spelled out here again on purpose, so a change to the tool alone cannot
// move the goldens.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <string>

#include "shiftbook/clock.h"
#include "shiftbook/envelope.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"

using namespace shiftbook;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string without_space(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  }
  return out;
}

std::string golden_hex(const std::string& stem) {
  return without_space(read_text(std::string(SHIFTBOOK_SOURCE_DIR) + "/tests/sync/golden/" + stem + ".hex"));
}

Bytes golden(const std::string& stem) {
  auto b = from_hex(golden_hex(stem));
  REQUIRE_MESSAGE(b.is_ok(), stem << ": " << b.status().to_string());
  return *b;
}

// The device of the examples: seed bytes 0x00..0x1f. from_secret re-derives the public half from
// the seed and refuses a mismatch, so this also checks device_public.hex against the seed.
DeviceKey golden_key() {
  Bytes secret;
  for (int i = 0; i < 32; ++i) secret.push_back(static_cast<std::uint8_t>(i));
  Bytes pub = golden("device_public");
  secret.insert(secret.end(), pub.begin(), pub.end());
  auto key = DeviceKey::from_secret(secret);
  REQUIRE_MESSAGE(key.is_ok(), key.status().to_string());
  return std::move(key).value();
}

const std::string kShiftRef(64, 'a');

Event golden_hours(const DeviceKey& key) {
  Event e;
  e.device = key.public_key();
  e.seq = 1;
  e.hlc = hlc_pack(1'794'837'900'000, 0);  // 2026-11-16T14:05:00Z
  e.author = "L1";
  e.kind = "hours";
  e.body = Json::parse(R"({"shift": ")" + kShiftRef +
                       R"(", "worker": "W1", "start": 360, "end": 840, "special": false})");
  return e;
}

Event golden_correction(const DeviceKey& key, const Hash& first) {
  Event e;
  e.device = key.public_key();
  e.seq = 2;
  e.hlc = hlc_pack(1'794'838'800'000, 0);  // 2026-11-16T14:20:00Z
  e.prev = first;
  e.author = "L1";
  e.kind = "correction";
  e.body = {{"target", hash_ref(first)},
            {"reason", "ended at 15:00"},
            {"entry", Json::parse(R"({"shift": ")" + kShiftRef +
                                  R"(", "worker": "W1", "start": 360, "end": 900, "special": false})")}};
  return e;
}

// Encoding, hash, head message and signature of one golden event, against its files.
void check_event(const DeviceKey& key, const Event& e, const std::string& prefix) {
  INFO(prefix);
  auto sealed = seal_event(e);
  REQUIRE_MESSAGE(sealed.is_ok(), sealed.status().to_string());
  CHECK(to_hex(sealed->bytes) == golden_hex(prefix + "_" + e.kind));
  CHECK(to_hex(sealed->event.hash) == golden_hex(prefix + "_hash"));
  CHECK(to_hex(blake2b_256(golden(prefix + "_" + e.kind))) == golden_hex(prefix + "_hash"));

  auto decoded = decode_event(golden(prefix + "_" + e.kind));
  REQUIRE(decoded.is_ok());
  CHECK(decoded->body == e.body);
  CHECK(decoded->hash == sealed->event.hash);

  SignedHead head = sign_head(key, e.seq, sealed->event.hash);
  CHECK(to_hex(head_message(head.device, head.seq, head.hash)) == golden_hex(prefix + "_head_message"));
  CHECK(to_hex(head.signature) == golden_hex(prefix + "_head_signature"));
  SignedHead from_files{key.public_key(), e.seq, sealed->event.hash, {}};
  Bytes sig = golden(prefix + "_head_signature");
  REQUIRE(sig.size() == from_files.signature.size());
  std::copy(sig.begin(), sig.end(), from_files.signature.begin());
  CHECK(verify_head(from_files));
}

const char* const kValueFiles[][2] = {
    {"value_false", "false"},
    {"value_true", "true"},
    {"value_int_1440", "1440"},
    {"value_int_minus_1", "-1"},
    {"value_string", "\"Zo\xc3\xab\""},
    {"value_list", "[360, \"W1\"]"},
    {"value_map", "{\"a\": 1, \"B\": true, \"\xc3\xa9\": []}"},
};

}  // namespace

TEST_CASE("canonical: golden values encode and decode byte for byte") {
  for (const auto& file : kValueFiles) {
    const char* const stem = file[0];
    const char* const json = file[1];
    INFO(stem);
    Json v = Json::parse(json);
    auto e = encode_value(v);
    REQUIRE(e.is_ok());
    CHECK(to_hex(*e) == golden_hex(stem));
    auto d = decode_value(golden(stem));
    REQUIRE(d.is_ok());
    CHECK(*d == v);
  }
}

TEST_CASE("crypto: the golden device key comes from seed 00..1f") {
  DeviceKey key = golden_key();
  CHECK(to_hex(key.public_key()) == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
  // Ed25519 signatures are deterministic: signing twice gives the same bytes.
  CHECK(key.sign(as_bytes("x")) == key.sign(as_bytes("x")));
}

TEST_CASE("event: the golden hours event encodes, hashes and signs byte for byte") {
  DeviceKey key = golden_key();
  Event hours = golden_hours(key);
  CHECK(validate_body(hours.kind, hours.body).is_ok());
  check_event(key, hours, "event1");
}

TEST_CASE("event: the golden correction chains to the hours event") {
  DeviceKey key = golden_key();
  auto first = seal_event(golden_hours(key));
  REQUIRE(first.is_ok());
  Event corr = golden_correction(key, first->event.hash);
  CHECK(validate_body(corr.kind, corr.body, "hours").is_ok());
  check_event(key, corr, "event2");

  auto second = decode_event(golden("event2_correction"));
  REQUIRE(second.is_ok());
  CHECK(check_link(nullptr, first->event).is_ok());
  CHECK(check_link(&first->event, *second).is_ok());
  CHECK(second->body["target"] == golden_hex("event1_hash"));
}

TEST_CASE("event: docs/EVENTS.md shows every golden vector") {
  std::string doc = without_space(read_text(std::string(SHIFTBOOK_SOURCE_DIR) + "/docs/EVENTS.md"));
  const char* const stems[] = {"device_public",        "event1_hours",          "event1_hash",
                               "event1_head_message",  "event1_head_signature", "event2_correction",
                               "event2_hash",          "event2_head_message",   "event2_head_signature"};
  for (const char* stem : stems) {
    INFO(stem);
    CHECK(doc.find(golden_hex(stem)) != std::string::npos);
  }
  for (const auto& file : kValueFiles) {
    const char* const stem = file[0];
    INFO(stem);
    CHECK(doc.find("`" + golden_hex(stem) + "`") != std::string::npos);
  }
}

// ---- docs/PROTOCOL.md ------------------------------------------------------------------------

namespace {

Bytes counting(std::uint8_t first, std::size_t n) {
  Bytes out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(first + i));
  return out;
}

// The server of the protocol examples: seed bytes 0x20..0x3f.
DeviceKey golden_server() {
  auto key = DeviceKey::from_seed(counting(0x20, 32));
  REQUIRE(key.is_ok());
  CHECK(to_hex(key->public_key()) == golden_hex("server_public"));
  return std::move(key).value();
}

constexpr std::int64_t kClientMs = 1'794'839'400'000;  // 2026-11-16T14:30:00Z
constexpr std::int64_t kServerMs = 1'794'839'401'234;

// The pushed event: shift_open of U1 on 2026-11-16 at 14:00:00Z, seq 1.
SealedEvent golden_shift_open(const DeviceKey& device) {
  Event e;
  e.device = device.public_key();
  e.seq = 1;
  e.hlc = hlc_pack(1'794'837'600'000, 0);
  e.author = "L1";
  e.kind = "shift_open";
  e.body = Json::parse(R"({"unit": "U1", "date": "2026-11-16"})");
  auto sealed = seal_event(e);
  REQUIRE(sealed.is_ok());
  return std::move(sealed).value();
}

std::string protocol_doc_examples() {
  std::string doc = read_text(std::string(SHIFTBOOK_SOURCE_DIR) + "/docs/PROTOCOL.md");
  auto begin = doc.find("<!-- golden:begin -->");
  auto end = doc.find("<!-- golden:end -->");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  REQUIRE(begin < end);
  return without_space(doc.substr(begin, end - begin));
}

}  // namespace

TEST_CASE("protocol: the golden sync request seals byte for byte and opens at the golden server") {
  DeviceKey device = golden_key();
  DeviceKey server = golden_server();
  SealedEvent event = golden_shift_open(device);
  CHECK(to_hex(event.bytes) == golden_hex("push_event_shift_open"));
  CHECK(to_hex(event.event.hash) == golden_hex("push_event_hash"));
  SignedHead head = sign_head(device, 1, event.event.hash);
  CHECK(to_hex(head.signature) == golden_hex("push_head_signature"));

  Message m;
  m.header = {{"type", "sync"},       {"v", 1},
              {"cursor", 0},          {"pull_max", 1048576},
              {"client_ms", kClientMs}, {"head", {{"seq", 1}, {"hash", to_hex(head.hash)}, {"sig", to_hex(head.signature)}}}};
  m.events = {event.bytes};
  auto plain = encode_message(m);
  REQUIRE(plain.is_ok());
  CHECK(to_hex(*plain) == golden_hex("request_plaintext"));

  auto sealed = detail::seal_request_with(device, server.public_key(), *plain, counting(0x40, 32), counting(0x60, 24));
  REQUIRE(sealed.is_ok());
  CHECK(to_hex(sealed->context.key) == golden_hex("envelope_key"));
  CHECK(to_hex(sealed->wire) == golden_hex("request_envelope"));

  auto opened = open_request(server, golden("request_envelope"));
  REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
  CHECK(opened->device == device.public_key());
  CHECK(to_hex(opened->plaintext) == golden_hex("request_plaintext"));
  auto decoded = decode_message(opened->plaintext);
  REQUIRE(decoded.is_ok());
  CHECK(decoded->header == m.header);
  REQUIRE(decoded->events.size() == 1);
  CHECK(decode_event(decoded->events[0]).is_ok());
}

TEST_CASE("protocol: the golden key agreement steps give the golden values") {
  DeviceKey device = golden_key();
  DeviceKey server = golden_server();
  auto server_x = x25519_from_ed25519(server.public_key());
  auto device_x = x25519_from_ed25519(device.public_key());
  REQUIRE(server_x.is_ok());
  REQUIRE(device_x.is_ok());
  CHECK(to_hex(*server_x) == golden_hex("server_x25519_public"));
  CHECK(to_hex(*device_x) == golden_hex("device_x25519_public"));
  Bytes e = counting(0x40, 32);
  auto ephemeral = x25519_public(e);
  REQUIRE(ephemeral.is_ok());
  CHECK(to_hex(*ephemeral) == golden_hex("ephemeral_public"));
  auto dh1 = x25519_shared(e, *server_x);
  auto dh2 = device.x25519_shared(*server_x);
  REQUIRE(dh1.is_ok());
  REQUIRE(dh2.is_ok());
  CHECK(to_hex(*dh1) == golden_hex("dh_ephemeral"));
  CHECK(to_hex(*dh2) == golden_hex("dh_static"));
  // The server reaches the same two secrets from its side.
  CHECK(server.x25519_shared(*ephemeral).value() == *dh1);
  CHECK(server.x25519_shared(*device_x).value() == *dh2);
  Bytes input(std::string_view("shiftbook envelope v1").begin(), std::string_view("shiftbook envelope v1").end());
  for (ByteView part : {ByteView(*dh1), ByteView(*dh2), ByteView(device.public_key()), ByteView(*ephemeral),
                        ByteView(server.public_key())}) {
    input.insert(input.end(), part.begin(), part.end());
  }
  CHECK(to_hex(blake2b_256(input)) == golden_hex("envelope_key"));
}

TEST_CASE("protocol: the golden response seals byte for byte and opens with the request's context") {
  DeviceKey device = golden_key();
  DeviceKey server = golden_server();
  SealedEvent event = golden_shift_open(device);
  Receipt r = sign_receipt(server, device.public_key(), 1, event.event.hash, kServerMs);
  CHECK(to_hex(receipt_message(server.public_key(), r)) == golden_hex("receipt_message"));
  CHECK(to_hex(r.signature) == golden_hex("receipt_signature"));
  CHECK(verify_receipt(server.public_key(), r));

  Message m;
  m.header = {{"type", "sync"},
              {"receipt", {{"seq", 1}, {"hash", to_hex(r.hash)}, {"server_ms", kServerMs}, {"sig", to_hex(r.signature)}}},
              {"cursor", 0},
              {"more", false},
              {"heads", Json::array()}};
  auto plain = encode_message(m);
  REQUIRE(plain.is_ok());
  CHECK(to_hex(*plain) == golden_hex("response_plaintext"));

  auto opened = open_request(server, golden("request_envelope"));
  REQUIRE(opened.is_ok());
  auto wire = detail::seal_response_with(opened->context, *plain, counting(0x78, 24));
  REQUIRE(wire.is_ok());
  CHECK(to_hex(*wire) == golden_hex("response_envelope"));

  auto sealed = detail::seal_request_with(device, server.public_key(), golden("request_plaintext"),
                                          counting(0x40, 32), counting(0x60, 24));
  REQUIRE(sealed.is_ok());
  auto answer = open_response(sealed->context, golden("response_envelope"));
  REQUIRE_MESSAGE(answer.is_ok(), answer.status().to_string());
  CHECK(to_hex(*answer) == golden_hex("response_plaintext"));
}

TEST_CASE("protocol: the golden delegation, site signer and enrollment code") {
  DeviceKey server = golden_server();
  DeviceKey signer = derive_site_signer(server, "S1");
  CHECK(to_hex(signer.public_key()) == golden_hex("site_signer_public"));
  Delegation d = sign_delegation(server, "S1", signer.public_key());
  CHECK(to_hex(delegation_message(server.public_key(), d)) == golden_hex("delegation_message"));
  CHECK(to_hex(d.signature) == golden_hex("delegation_signature"));
  CHECK(verify_delegation(server.public_key(), d));

  CHECK(to_hex(server_fingerprint(server.public_key())) == golden_hex("server_fingerprint"));
  EnrollCode code;
  Bytes secret = counting(0xa0, 8);
  std::copy(secret.begin(), secret.end(), code.secret.begin());
  Hash fp = server_fingerprint(server.public_key());
  std::copy(fp.begin(), fp.begin() + 10, code.fingerprint.begin());
  CHECK(format_enroll_code(code) == "M2GT-58X4-MPKA-F4RT-DRBJ-RV07-J8Q5-XTFH");
  Bytes twenty = golden("enroll_code_bytes");
  REQUIRE(twenty.size() == 20);
  CHECK(to_hex(ByteView(twenty).first(8)) == to_hex(code.secret));
  CHECK(to_hex(ByteView(twenty).subspan(8, 10)) == to_hex(code.fingerprint));
  CHECK(to_hex(ByteView(twenty).subspan(18)) == to_hex(ByteView(blake2b_256(ByteView(twenty).first(18))).first(2)));
  auto parsed = parse_enroll_code("m2gt 58x4 mpka f4rt drbj rv07 j8q5 xtfh");
  REQUIRE(parsed.is_ok());
  CHECK(parsed->secret == code.secret);
  CHECK(code_matches_server(*parsed, server.public_key()));
}

TEST_CASE("protocol: docs/PROTOCOL.md shows every golden vector between its golden markers") {
  std::string examples = protocol_doc_examples();
  const char* const stems[] = {
      "device_public",      "server_public",        "server_fingerprint",  "push_event_shift_open",
      "push_event_hash",    "push_head_signature",  "request_plaintext",   "server_x25519_public",
      "device_x25519_public", "ephemeral_public",   "dh_ephemeral",        "dh_static",
      "envelope_key",       "request_envelope",     "response_plaintext",  "response_envelope",
      "receipt_message",    "receipt_signature",    "site_signer_public",  "delegation_message",
      "delegation_signature", "enroll_code_bytes"};
  for (const char* stem : stems) {
    INFO(stem);
    CHECK(examples.find(golden_hex(stem)) != std::string::npos);
  }
  CHECK(examples.find("M2GT-58X4-MPKA-F4RT-DRBJ-RV07-J8Q5-XTFH") != std::string::npos);
}
