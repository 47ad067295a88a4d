// Events: the encoding round-trips, any change to the bytes is caught, chains link, heads verify.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "shiftbook/clock.h"
#include "shiftbook/event.h"

using namespace shiftbook;

namespace {

Event sample_event(const DeviceKey& key, std::uint64_t seq = 1, Hash prev = {}) {
  Event e;
  e.device = key.public_key();
  e.seq = seq;
  e.hlc = hlc_pack(1'794'837'900'000, 3);
  e.prev = prev;
  e.author = "Lena \xc3\x96";
  e.kind = "hours";
  e.body = {{"shift", std::string(64, 'b')}, {"worker", "W1"}, {"start", 360}, {"end", 840}, {"special", true}};
  return e;
}

SealedEvent seal(Event e) {
  auto s = seal_event(std::move(e));
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  return std::move(s).value();
}

std::string render(const Event& e) {
  return short_device(e.device) + " #" + std::to_string(e.seq) + " hlc " + std::to_string(e.hlc) + " prev " +
         to_hex(e.prev).substr(0, 8) + " " + e.author + " " + e.kind + " " + e.body.dump() + " " +
         to_hex(e.hash).substr(0, 8);
}

// A chain of n events of one device.
std::vector<Event> chain(const DeviceKey& key, int n) {
  std::vector<Event> out;
  Hash prev{};
  for (int i = 1; i <= n; ++i) {
    Event e = sample_event(key, static_cast<std::uint64_t>(i), prev);
    e.hlc += static_cast<std::uint64_t>(i);  // stamps increase along a chain
    out.push_back(seal(std::move(e)).event);
    prev = out.back().hash;
  }
  return out;
}

}  // namespace

TEST_CASE("event: encode then decode gives back the same event and hash") {
  DeviceKey key = DeviceKey::generate();
  SealedEvent s = seal(sample_event(key));
  CHECK(s.event.hash == blake2b_256(s.bytes));
  auto decoded = decode_event(s.bytes);
  REQUIRE_MESSAGE(decoded.is_ok(), decoded.status().to_string());
  CHECK(render(*decoded) == render(s.event));
  auto again = encode_event(*decoded);
  REQUIRE(again.is_ok());
  CHECK(*again == s.bytes);
}

TEST_CASE("event: every single-byte change fails to decode or changes the hash") {
  DeviceKey key = DeviceKey::generate();
  SealedEvent s = seal(sample_event(key, 2, blake2b_256(as_bytes("previous"))));
  int accepted = 0;
  for (std::size_t i = 0; i < s.bytes.size(); ++i) {
    for (std::uint8_t mask : {0x01, 0x80, 0xff}) {
      INFO("byte " << i << " xor " << int(mask));
      Bytes changed = s.bytes;
      changed[i] ^= mask;
      auto d = decode_event(changed);
      if (!d.is_ok()) continue;
      ++accepted;
      CHECK(d->hash != s.event.hash);
      // What decodes is canonical: it encodes back to exactly the bytes it came from.
      auto re = encode_event(*d);
      REQUIRE(re.is_ok());
      CHECK(*re == changed);
    }
  }
  CHECK(accepted > 0);  // the fixed fields (device, seq, hlc, prev) take any bytes
}

TEST_CASE("event: decoding refuses truncation, trailing bytes, bad magic and a newer version") {
  DeviceKey key = DeviceKey::generate();
  SealedEvent s = seal(sample_event(key));
  for (std::size_t len = 0; len < s.bytes.size(); ++len) {
    INFO("prefix of " << len << " bytes");
    CHECK_FALSE(decode_event(ByteView(s.bytes.data(), len)).is_ok());
  }
  Bytes longer = s.bytes;
  longer.push_back(0x01);
  CHECK_FALSE(decode_event(longer).is_ok());
  Bytes magic = s.bytes;
  magic[0] = 'X';
  CHECK(decode_event(magic).status().message().find("magic") != std::string::npos);
  Bytes version = s.bytes;
  version[4] = 0x02;
  CHECK(decode_event(version).status().message().find("version 2") != std::string::npos);
}

TEST_CASE("event: decoding refuses seq 0, a first event with a predecessor and a body that is not a map") {
  DeviceKey key = DeviceKey::generate();
  SealedEvent s = seal(sample_event(key));
  constexpr std::size_t kSeqAt = 5 + 32, kPrevAt = kSeqAt + 16;
  Bytes seq0 = s.bytes;
  seq0[kSeqAt + 7] = 0;
  CHECK_FALSE(decode_event(seq0).is_ok());
  Bytes with_prev = s.bytes;
  with_prev[kPrevAt] = 1;
  CHECK_FALSE(decode_event(with_prev).is_ok());

  Event list_body = sample_event(key);
  list_body.body = Json::array({1});
  CHECK_FALSE(encode_event(list_body).is_ok());
  // The decoder on its own, given bytes the encoder would not write:
  Event empty = sample_event(key);
  empty.body = Json::object();
  auto bytes = encode_event(empty);
  REQUIRE(bytes.is_ok());
  (*bytes)[bytes->size() - 5] = 0x05;  // the empty map 06 00000000 becomes the empty list 05 00000000
  CHECK(decode_event(*bytes).status().message().find("not a map") != std::string::npos);
}

TEST_CASE("event: encoding refuses invalid fields") {
  DeviceKey key = DeviceKey::generate();
  auto refused = [&](auto change) {
    Event e = sample_event(key);
    change(e);
    return encode_event(e).status().code() == Code::kInvalidArgument;
  };
  CHECK(refused([](Event& e) { e.seq = 0; }));
  CHECK(refused([](Event& e) { e.prev[0] = 1; }));
  CHECK(refused([](Event& e) { e.author = ""; }));
  CHECK(refused([](Event& e) { e.author = std::string(kMaxAuthorBytes + 1, 'a'); }));
  CHECK(refused([](Event& e) { e.author = "L\n1"; }));
  CHECK(refused([](Event& e) { e.author = "\xc3"; }));
  CHECK(refused([](Event& e) { e.kind = ""; }));
  CHECK(refused([](Event& e) { e.kind = "Hours"; }));
  CHECK(refused([](Event& e) { e.kind = "1hours"; }));
  CHECK(refused([](Event& e) { e.kind = "ho-urs"; }));
  CHECK(refused([](Event& e) { e.kind = std::string(kMaxKindBytes + 1, 'k'); }));
  CHECK(refused([](Event& e) { e.body = Json(1); }));
  CHECK(refused([](Event& e) { e.body["x"] = 1.5; }));
  CHECK(refused([](Event& e) {
    for (int i = 0; i < 20; ++i) e.body["note" + std::to_string(i)] = std::string(4000, 'n');
  }));
  CHECK_FALSE(refused([](Event& e) { e.author = std::string(kMaxAuthorBytes, 'a'); }));
  CHECK_FALSE(refused([](Event& e) { e.kind = "shift_open2"; }));
}

TEST_CASE("event: check_link accepts a chain and names gaps, wrong predecessors and other devices") {
  DeviceKey key = DeviceKey::generate();
  std::vector<Event> c = chain(key, 4);
  CHECK(check_link(nullptr, c[0]).is_ok());
  for (std::size_t i = 1; i < c.size(); ++i) CHECK(check_link(&c[i - 1], c[i]).is_ok());

  Status first_missing = check_link(nullptr, c[1]);
  CHECK(first_missing.code() == Code::kDataLoss);
  CHECK(first_missing.message().find("expected seq 1") != std::string::npos);

  Status gap = check_link(&c[0], c[2]);
  CHECK(gap.code() == Code::kDataLoss);
  CHECK(gap.message() == event_name(key.public_key(), 3) + ": the chain has a gap (expected seq 2)");

  Event wrong_prev = c[2];
  wrong_prev.prev[5] ^= 1;
  CHECK(check_link(&c[1], wrong_prev).message().find("predecessor hash does not match event 2") !=
        std::string::npos);

  DeviceKey other = DeviceKey::generate();
  std::vector<Event> o = chain(other, 2);
  CHECK(check_link(&c[0], o[1]).message().find("another device") != std::string::npos);

  Event named_prev = c[0];
  named_prev.prev[0] = 1;
  CHECK(check_link(nullptr, named_prev).code() == Code::kDataLoss);
}

TEST_CASE("event: check_link refuses a clock stamp that does not increase along the chain") {
  DeviceKey key = DeviceKey::generate();
  std::vector<Event> c = chain(key, 2);
  Event same = c[1];
  same.hlc = c[0].hlc;
  Status s = check_link(&c[0], same);
  CHECK(s.code() == Code::kDataLoss);
  CHECK(s.message() == event_name(key.public_key(), 2) + ": its clock stamp is not later than event 1's");
  Event earlier = c[1];
  earlier.hlc = c[0].hlc - 1;
  CHECK(check_link(&c[0], earlier).code() == Code::kDataLoss);
}

TEST_CASE("event: a signed head verifies and fails with any field changed") {
  DeviceKey key = DeviceKey::generate();
  std::vector<Event> c = chain(key, 3);
  SignedHead head = sign_head(key, 3, c[2].hash);
  CHECK(head.device == key.public_key());
  CHECK(verify_head(head));

  SignedHead seq = head;
  seq.seq = 2;
  CHECK_FALSE(verify_head(seq));
  SignedHead hash = head;
  hash.hash = c[1].hash;
  CHECK_FALSE(verify_head(hash));
  SignedHead device = head;
  device.device = DeviceKey::generate().public_key();
  CHECK_FALSE(verify_head(device));
  for (std::size_t i : {0, 31, 32, 63}) {
    SignedHead sig = head;
    sig.signature[i] ^= 0x01;
    CHECK_FALSE(verify_head(sig));
  }
  // Another key signing the same head is not this device's signature.
  DeviceKey thief = DeviceKey::generate();
  SignedHead forged = head;
  forged.signature = thief.sign(head_message(head.device, head.seq, head.hash));
  CHECK_FALSE(verify_head(forged));
}

TEST_CASE("event: the head message is SBHD, version, device, seq and hash") {
  DeviceKey key = DeviceKey::generate();
  Hash h = blake2b_256(as_bytes("head"));
  Bytes m = head_message(key.public_key(), 0x0102, h);
  REQUIRE(m.size() == 77);
  CHECK(to_hex(ByteView(m.data(), 5)) == "5342484401");
  CHECK(to_hex(ByteView(m.data() + 5, 32)) == to_hex(key.public_key()));
  CHECK(to_hex(ByteView(m.data() + 37, 8)) == "0000000000000102");
  CHECK(to_hex(ByteView(m.data() + 45, 32)) == to_hex(h));
}

TEST_CASE("event: devices and events are named by the first 8 hex digits of the key") {
  PublicKey device{};
  device[0] = 0x7f;
  device[1] = 0x3a;
  device[2] = 0x9c;
  device[3] = 0x21;
  CHECK(short_device(device) == "7f3a9c21");
  CHECK(event_name(device, 412) == "event 412 of device 7f3a9c21");
}
