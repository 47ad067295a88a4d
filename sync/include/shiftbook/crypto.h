// The cryptographic building blocks, all from libsodium: BLAKE2b-256 hashes, Ed25519 device keys,
// Argon2id PIN hashes. Invariant: secret key bytes are wiped when a DeviceKey dies and never appear
// in a message. Call crypto_init() once before anything else; after that every function here is
// safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "shiftbook/bytes.h"
#include "shiftbook/status.h"

namespace shiftbook {

using Hash = std::array<std::uint8_t, 32>;       // BLAKE2b-256
using PublicKey = std::array<std::uint8_t, 32>;  // Ed25519
using Signature = std::array<std::uint8_t, 64>;  // Ed25519, detached

Status crypto_init();

// BLAKE2b with a 32-byte output and no key (libsodium crypto_generichash).
Hash blake2b_256(ByteView data);

// An Ed25519 key pair. Moves only; the secret half is wiped on destruction.
class DeviceKey {
 public:
  static DeviceKey generate();
  // From the 64-byte libsodium secret key (seed followed by public key); checks they agree.
  static Result<DeviceKey> from_secret(ByteView secret);

  DeviceKey(DeviceKey&& other) noexcept;
  DeviceKey& operator=(DeviceKey&& other) noexcept;
  DeviceKey(const DeviceKey&) = delete;
  DeviceKey& operator=(const DeviceKey&) = delete;
  ~DeviceKey();

  const PublicKey& public_key() const { return public_; }
  ByteView secret() const { return secret_; }
  Signature sign(ByteView message) const;

 private:
  DeviceKey() = default;
  PublicKey public_{};
  std::array<std::uint8_t, 64> secret_{};
};

bool verify_signature(const PublicKey& key, ByteView message, const Signature& sig);

// How much work an Argon2id PIN hash costs. kInteractive is libsodium's interactive limits (the
// default everywhere); kMinimum exists so tests and demos can make many hashes quickly, and
// verification reads the cost from the hash string itself.
enum class PinCost { kInteractive, kMinimum };

// "$argon2id$v=19$m=...": the PHC string libsodium's crypto_pwhash_str writes.
Result<std::string> hash_pin(std::string_view pin, PinCost cost = PinCost::kInteractive);
// True when `pin` matches `pin_hash`. A malformed hash is invalid_argument, a mismatch is false.
Result<bool> verify_pin(std::string_view pin_hash, std::string_view pin);
// True when the text is a well-formed Argon2id PHC string whose cost a terminal can afford to
// check (at most 256 MiB of memory and 16 passes).
bool is_pin_hash(std::string_view pin_hash);

}  // namespace shiftbook
