// Golden vectors: the bytes in tests/sync/golden/*.hex (written by tools/golden.cpp and shown in
// docs/EVENTS.md) are what this build encodes, hashes and signs, byte for byte. The inputs are
// spelled out here again on purpose, so a change to the tool alone cannot move the goldens.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <string>

#include "shiftbook/clock.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"

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
  for (const auto& [stem, json] : kValueFiles) {
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
  for (const auto& [stem, json] : kValueFiles) {
    INFO(stem);
    CHECK(doc.find("`" + golden_hex(stem) + "`") != std::string::npos);
  }
}
