// The libsodium wrappers: known BLAKE2b answers, device keys, signatures, Argon2id PIN hashes; and
// hashes as keys of unordered containers (hash_key.h).
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "shiftbook/crypto.h"
#include "shiftbook/hash_key.h"

using namespace shiftbook;

TEST_CASE("crypto: BLAKE2b-256 gives the known answers") {
  CHECK(to_hex(blake2b_256({})) == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  CHECK(to_hex(blake2b_256(as_bytes("abc"))) == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}

TEST_CASE("crypto: a device key survives its secret bytes and refuses damaged ones") {
  DeviceKey key = DeviceKey::generate();
  Bytes secret(key.secret().begin(), key.secret().end());
  auto again = DeviceKey::from_secret(secret);
  REQUIRE(again.is_ok());
  CHECK(again->public_key() == key.public_key());
  CHECK(again->sign(as_bytes("m")) == key.sign(as_bytes("m")));

  CHECK(DeviceKey::from_secret(ByteView(secret.data(), 32)).status().code() == Code::kInvalidArgument);
  Bytes damaged = secret;
  damaged[40] ^= 0x01;  // the public half no longer matches the seed
  CHECK(DeviceKey::from_secret(damaged).status().code() == Code::kDataLoss);
  Bytes other_seed = secret;
  other_seed[0] ^= 0x01;
  CHECK(DeviceKey::from_secret(other_seed).status().code() == Code::kDataLoss);
}

TEST_CASE("crypto: moving a device key wipes the secret it leaves behind") {
  DeviceKey key = DeviceKey::generate();
  PublicKey pub = key.public_key();
  DeviceKey moved = std::move(key);
  CHECK(moved.public_key() == pub);
  bool wiped = true;
  for (auto b : key.secret()) wiped = wiped && b == 0;  // NOLINT: reading a moved-from key on purpose
  CHECK(wiped);
}

TEST_CASE("crypto: signatures verify only for their key and message") {
  DeviceKey key = DeviceKey::generate();
  Signature sig = key.sign(as_bytes("shift 3 closed"));
  CHECK(verify_signature(key.public_key(), as_bytes("shift 3 closed"), sig));
  CHECK_FALSE(verify_signature(key.public_key(), as_bytes("shift 3 closeD"), sig));
  CHECK_FALSE(verify_signature(DeviceKey::generate().public_key(), as_bytes("shift 3 closed"), sig));
  Signature bad = sig;
  bad[10] ^= 0x40;
  CHECK_FALSE(verify_signature(key.public_key(), as_bytes("shift 3 closed"), bad));
}

TEST_CASE("crypto: a PIN hash verifies the right PIN and not a wrong one") {
  auto h = hash_pin("4321", PinCost::kMinimum);
  REQUIRE(h.is_ok());
  CHECK(h->rfind("$argon2id$v=19$", 0) == 0);
  CHECK(h->find("4321") == std::string::npos);
  CHECK(is_pin_hash(*h));
  auto right = verify_pin(*h, "4321");
  REQUIRE(right.is_ok());
  CHECK(*right);
  for (const char* wrong : {"4322", "", "43210", "1234"}) {
    INFO(wrong);
    auto w = verify_pin(*h, wrong);
    REQUIRE(w.is_ok());
    CHECK_FALSE(*w);
  }
  auto again = hash_pin("4321", PinCost::kMinimum);
  REQUIRE(again.is_ok());
  CHECK(*again != *h);  // a fresh salt each time
}

TEST_CASE("crypto: a malformed PIN hash is invalid_argument, not a wrong PIN") {
  auto h = hash_pin("1111", PinCost::kMinimum);
  REQUIRE(h.is_ok());
  const std::string malformed[] = {"", "1111", "$argon2i$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$",
                                   "$argon2id$v=19$m=garbage", h->substr(0, h->size() / 2), std::string(200, '$')};
  for (const auto& m : malformed) {
    INFO("'" << m << "'");
    auto r = verify_pin(m, "1111");
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
  CHECK_FALSE(is_pin_hash("$2b$10$bcrypt"));
  for (const auto& m : malformed) CHECK_FALSE(is_pin_hash(m));
}

TEST_CASE("crypto: a PIN hash whose cost a terminal cannot afford is refused") {
  auto h = hash_pin("1111", PinCost::kMinimum);
  REQUIRE(h.is_ok());
  auto m_at = h->find("m=");
  REQUIRE(m_at != std::string::npos);
  std::string params = h->substr(m_at, h->find('$', m_at) - m_at);  // "m=8,t=1,p=1"
  auto with = [&](const std::string& p) { return h->substr(0, m_at) + p + h->substr(m_at + params.size()); };
  CHECK(is_pin_hash(with("m=262144,t=16,p=1")));  // 256 MiB and 16 passes: the most allowed
  CHECK_FALSE(is_pin_hash(with("m=4194304,t=1,p=1")));  // 4 GiB
  CHECK_FALSE(is_pin_hash(with("m=8,t=1000,p=1")));
  CHECK(verify_pin(with("m=4194304,t=1,p=1"), "1111").status().code() == Code::kInvalidArgument);
}

// A made-up reference can share any bytes an attacker likes with others; the bucket hash reads all
// 32 bytes, so references alike in their first eight still spread over the buckets.
TEST_CASE("crypto: hashes alike in their first bytes get different bucket hashes") {
  std::set<std::size_t> seen;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    Hash h{};
    h.fill(0x5a);
    h[31] = static_cast<std::uint8_t>(i);
    h[20] = static_cast<std::uint8_t>(i >> 8);
    seen.insert(HashKey{}(h));
  }
  CHECK(seen.size() == 1000);
  Hash same{};
  same.fill(7);
  CHECK(HashKey{}(same) == HashKey{}(same));
}
