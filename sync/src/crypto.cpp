#include "shiftbook/crypto.h"

#include <sodium.h>

#include <cstring>
#include <random>

#include "shiftbook/hash_key.h"

namespace shiftbook {

Status crypto_init() {
  if (sodium_init() < 0) return internal_error("libsodium failed to initialise");
  return Status::ok();
}

Hash blake2b_256(ByteView data) {
  Hash out{};
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), nullptr, 0);
  return out;
}

void random_bytes(std::span<std::uint8_t> out) { randombytes_buf(out.data(), out.size()); }

const std::array<std::uint64_t, 4>& HashKey::keys() noexcept {
  static const std::array<std::uint64_t, 4> keys = [] {
    std::array<std::uint64_t, 4> out{};
    // sodium_init is idempotent and safe from any thread; randombytes_buf wants it first. The
    // keys need to be unknown to whoever wrote the input, not secret forever.
    if (sodium_init() >= 0) {
      randombytes_buf(out.data(), sizeof out);
    } else {
      std::random_device device;
      for (std::uint64_t& k : out) k = (std::uint64_t{device()} << 32) ^ device();
    }
    return out;
  }();
  return keys;
}

Result<X25519Key> x25519_from_ed25519(const PublicKey& key) {
  X25519Key out{};
  if (crypto_sign_ed25519_pk_to_curve25519(out.data(), key.data()) != 0) {
    return invalid_argument("key " + to_hex(ByteView(key).first(4)) +
                            " is not a usable Ed25519 public key (not a point of the main subgroup)");
  }
  return out;
}

Result<X25519Key> x25519_public(ByteView secret32) {
  if (secret32.size() != crypto_scalarmult_SCALARBYTES) {
    return invalid_argument("an X25519 secret has 32 bytes, not " + std::to_string(secret32.size()));
  }
  X25519Key out{};
  if (crypto_scalarmult_base(out.data(), secret32.data()) != 0) {
    return invalid_argument("the X25519 secret gives no usable public key");
  }
  return out;
}

Result<X25519Key> x25519_shared(ByteView secret32, const X25519Key& peer) {
  if (secret32.size() != crypto_scalarmult_SCALARBYTES) {
    return invalid_argument("an X25519 secret has 32 bytes, not " + std::to_string(secret32.size()));
  }
  X25519Key out{};
  // libsodium refuses an all-zero result itself; check again so the rule does not hang on a
  // library version.
  if (crypto_scalarmult(out.data(), secret32.data(), peer.data()) != 0 || sodium_is_zero(out.data(), out.size())) {
    sodium_memzero(out.data(), out.size());
    return invalid_argument("X25519 with a low-order public key gives no shared secret");
  }
  Result<X25519Key> shared(out);
  sodium_memzero(out.data(), out.size());  // the caller's copy is the only one left
  return shared;
}

DeviceKey DeviceKey::generate() {
  DeviceKey k;
  crypto_sign_keypair(k.public_.data(), k.secret_.data());
  return k;
}

Result<DeviceKey> DeviceKey::from_secret(ByteView secret) {
  if (secret.size() != crypto_sign_SECRETKEYBYTES) {
    return invalid_argument("device key has " + std::to_string(secret.size()) + " bytes, expected " +
                            std::to_string(crypto_sign_SECRETKEYBYTES));
  }
  DeviceKey k;
  std::memcpy(k.secret_.data(), secret.data(), k.secret_.size());
  crypto_sign_ed25519_sk_to_pk(k.public_.data(), k.secret_.data());
  // The stored public half must be the one the seed derives, or the file was damaged.
  std::array<std::uint8_t, 32> seed{};
  std::array<std::uint8_t, 64> rebuilt{};
  PublicKey derived{};
  crypto_sign_ed25519_sk_to_seed(seed.data(), k.secret_.data());
  crypto_sign_seed_keypair(derived.data(), rebuilt.data(), seed.data());
  bool same = sodium_memcmp(rebuilt.data(), k.secret_.data(), rebuilt.size()) == 0;
  sodium_memzero(seed.data(), seed.size());
  sodium_memzero(rebuilt.data(), rebuilt.size());
  if (!same) return data_loss("device key is damaged: its public half does not match its seed");
  return k;
}

Result<DeviceKey> DeviceKey::from_seed(ByteView seed32) {
  if (seed32.size() != crypto_sign_SEEDBYTES) {
    return invalid_argument("a key seed has " + std::to_string(crypto_sign_SEEDBYTES) + " bytes, not " +
                            std::to_string(seed32.size()));
  }
  DeviceKey k;
  crypto_sign_seed_keypair(k.public_.data(), k.secret_.data(), seed32.data());
  return k;
}

DeviceKey::DeviceKey(DeviceKey&& other) noexcept : public_(other.public_), secret_(other.secret_) {
  sodium_memzero(other.secret_.data(), other.secret_.size());
}

DeviceKey& DeviceKey::operator=(DeviceKey&& other) noexcept {
  if (this != &other) {
    public_ = other.public_;
    secret_ = other.secret_;
    sodium_memzero(other.secret_.data(), other.secret_.size());
  }
  return *this;
}

DeviceKey::~DeviceKey() { sodium_memzero(secret_.data(), secret_.size()); }

Signature DeviceKey::sign(ByteView message) const {
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

Result<X25519Key> DeviceKey::x25519_shared(const X25519Key& peer) const {
  std::array<std::uint8_t, crypto_scalarmult_SCALARBYTES> mine{};
  crypto_sign_ed25519_sk_to_curve25519(mine.data(), secret_.data());
  auto shared = shiftbook::x25519_shared(mine, peer);
  sodium_memzero(mine.data(), mine.size());
  return shared;
}

bool verify_signature(const PublicKey& key, ByteView message, const Signature& sig) {
  return crypto_sign_verify_detached(sig.data(), message.data(), message.size(), key.data()) == 0;
}

Result<std::string> hash_pin(std::string_view pin, PinCost cost) {
  char out[crypto_pwhash_STRBYTES];
  unsigned long long ops =
      cost == PinCost::kInteractive ? crypto_pwhash_OPSLIMIT_INTERACTIVE : crypto_pwhash_OPSLIMIT_MIN;
  std::size_t mem = cost == PinCost::kInteractive ? crypto_pwhash_MEMLIMIT_INTERACTIVE : crypto_pwhash_MEMLIMIT_MIN;
  if (crypto_pwhash_str_alg(out, pin.data(), pin.size(), ops, mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return resource_exhausted("not enough memory to hash the PIN");
  }
  return std::string(out);
}

namespace {
// The number after "<key>=" in a PHC parameter list such as "m=65536,t=2,p=1", or -1.
long long phc_param(std::string_view text, std::string_view key) {
  std::string needle = std::string(key) + "=";
  auto at = text.find(needle);
  if (at == std::string_view::npos || (at > 0 && text[at - 1] != '$' && text[at - 1] != ',')) return -1;
  long long v = 0;
  std::size_t i = at + needle.size();
  if (i >= text.size() || text[i] < '0' || text[i] > '9') return -1;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    v = v * 10 + (text[i] - '0');
    if (v > (1LL << 40)) return -1;
  }
  return v;
}
}  // namespace

bool is_pin_hash(std::string_view pin_hash) {
  if (pin_hash.size() >= crypto_pwhash_STRBYTES || pin_hash.rfind("$argon2id$", 0) != 0) return false;
  std::string z(pin_hash);  // libsodium wants a NUL-terminated string
  // needs_rehash answers -1 only for a string it cannot parse (str_verify says -1 for that and for a
  // mismatch alike), so this tells a damaged roster from a wrong PIN.
  if (crypto_pwhash_str_needs_rehash(z.c_str(), crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN) == -1) {
    return false;
  }
  // A terminal must be able to afford checking it: at most 256 MiB and 16 passes.
  long long mem_kib = phc_param(pin_hash, "m");
  long long passes = phc_param(pin_hash, "t");
  return mem_kib > 0 && mem_kib <= 256 * 1024 && passes > 0 && passes <= 16;
}

Result<bool> verify_pin(std::string_view pin_hash, std::string_view pin) {
  if (!is_pin_hash(pin_hash)) return invalid_argument("PIN hash is not a well-formed Argon2id hash this terminal can check");
  std::string z(pin_hash);
  return crypto_pwhash_str_verify(z.c_str(), pin.data(), pin.size()) == 0;
}

}  // namespace shiftbook
