// The cryptographic building blocks, all from libsodium: BLAKE2b-256 hashes, Ed25519 device keys
// and their X25519 (Diffie-Hellman) forms, random bytes, Argon2id PIN hashes. Invariant: secret key
// bytes are wiped when a DeviceKey dies and never appear in a message. Call crypto_init() once
// before anything else; after that every function here is safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "shiftbook/bytes.h"
#include "shiftbook/status.h"

namespace shiftbook {

using Hash = std::array<std::uint8_t, 32>;       // BLAKE2b-256
using PublicKey = std::array<std::uint8_t, 32>;  // Ed25519
using Signature = std::array<std::uint8_t, 64>;  // Ed25519, detached
using X25519Key = std::array<std::uint8_t, 32>;  // a Curve25519 Montgomery u-coordinate (public)

Status crypto_init();

// BLAKE2b with a 32-byte output and no key (libsodium crypto_generichash).
Hash blake2b_256(ByteView data);

// Fills `out` from the operating system's secure random source (libsodium randombytes_buf).
void random_bytes(std::span<std::uint8_t> out);

// ---- X25519 (RFC 7748), for the envelope's key agreement
// The X25519 public key of an Ed25519 public key (crypto_sign_ed25519_pk_to_curve25519).
// invalid_argument when the key is not a point of the main subgroup (a low-order or malformed key).
Result<X25519Key> x25519_from_ed25519(const PublicKey& key);
// The X25519 public key of a 32-byte secret scalar (crypto_scalarmult_base).
Result<X25519Key> x25519_public(ByteView secret32);
// X25519(secret, peer) (crypto_scalarmult). invalid_argument when the output is all zero (the
// peer is a low-order point), so no caller can end up with a key an attacker knows.
Result<X25519Key> x25519_shared(ByteView secret32, const X25519Key& peer);

// An Ed25519 key pair. Moves only; the secret half is wiped on destruction.
class DeviceKey {
 public:
  static DeviceKey generate();
  // From the 64-byte libsodium secret key (seed followed by public key); checks they agree.
  static Result<DeviceKey> from_secret(ByteView secret);
  // From a 32-byte seed (crypto_sign_seed_keypair): the same seed always gives the same key.
  // invalid_argument for any other length.
  static Result<DeviceKey> from_seed(ByteView seed32);

  DeviceKey(DeviceKey&& other) noexcept;
  DeviceKey& operator=(DeviceKey&& other) noexcept;
  DeviceKey(const DeviceKey&) = delete;
  DeviceKey& operator=(const DeviceKey&) = delete;
  ~DeviceKey();

  const PublicKey& public_key() const { return public_; }
  ByteView secret() const { return secret_; }
  Signature sign(ByteView message) const;
  // X25519 of this key's secret in Montgomery form (crypto_sign_ed25519_sk_to_curve25519) with
  // `peer`; the converted secret is wiped before returning. Errors as x25519_shared.
  Result<X25519Key> x25519_shared(const X25519Key& peer) const;

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
