// The encrypted envelope (envelope.h, docs/PROTOCOL.md "The envelope"). Every shared secret,
// converted secret key and derived key lives in a local array that is wiped before the function
// returns, on success and on failure alike; only EnvelopeContext carries a key out, and it wipes
// itself.
#include "shiftbook/envelope.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "shiftbook/event.h"

namespace shiftbook {
namespace {

constexpr std::uint8_t kMagic[3] = {'S', 'B', 'X'};
constexpr std::uint8_t kRequest = 'Q';
constexpr std::uint8_t kResponse = 'R';
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr char kKeyLabel[] = "shiftbook envelope v1";

static_assert(kNonceBytes == 24);
static_assert(kEnvelopeTagBytes == crypto_aead_xchacha20poly1305_ietf_ABYTES);

// Wipes a fixed-size secret when it leaves scope, whichever way.
template <std::size_t N>
struct Secret {
  std::array<std::uint8_t, N> bytes{};
  Secret() = default;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret() { sodium_memzero(bytes.data(), bytes.size()); }
};

// Moves a Result<X25519Key> holding a shared secret into a wiped-on-exit Secret.
Status take(Result<X25519Key> r, Secret<32>& into) {
  if (!r.is_ok()) return r.status();
  into.bytes = *r;
  sodium_memzero(r->data(), r->size());
  return Status::ok();
}

// k = BLAKE2b-256(label || X25519(e, S) || X25519(C, S) || device || ephemeral || server)
void derive_key(const Secret<32>& dh_ephemeral, const Secret<32>& dh_static, ByteView device, ByteView ephemeral,
                const PublicKey& server, std::array<std::uint8_t, 32>& key) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, key.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(kKeyLabel), sizeof kKeyLabel - 1);
  crypto_generichash_update(&st, dh_ephemeral.bytes.data(), dh_ephemeral.bytes.size());
  crypto_generichash_update(&st, dh_static.bytes.data(), dh_static.bytes.size());
  crypto_generichash_update(&st, device.data(), device.size());
  crypto_generichash_update(&st, ephemeral.data(), ephemeral.size());
  crypto_generichash_update(&st, server.data(), server.size());
  crypto_generichash_final(&st, key.data(), key.size());
  sodium_memzero(&st, sizeof st);
}

const char* direction_name(std::uint8_t d) { return d == kRequest ? "request" : "response"; }

// Checks what can be checked without keys: size limit, magic, version, direction, length.
Status check_frame(ByteView wire, std::uint8_t direction, std::size_t header_bytes) {
  const std::string what = std::string(direction_name(direction)) + " envelope";
  if (wire.size() > kMaxEnvelopeBytes) {
    return resource_exhausted(what + " of " + std::to_string(wire.size()) + " bytes is larger than the limit of " +
                              std::to_string(kMaxEnvelopeBytes) + " bytes");
  }
  std::size_t magic_seen = std::min(wire.size(), sizeof kMagic);
  if (magic_seen == 0 || std::memcmp(wire.data(), kMagic, magic_seen) != 0) {
    return invalid_argument("not a Shiftbook envelope: it does not start with \"SBX\"");
  }
  if (wire.size() > 3 && wire[3] != kEnvelopeVersion) {
    return failed_precondition("envelope version " + std::to_string(wire[3]) +
                               " is not supported: this program speaks envelope version " +
                               std::to_string(kEnvelopeVersion));
  }
  if (wire.size() > 4 && wire[4] != direction) {
    if (wire[4] == kRequest || wire[4] == kResponse) {
      return invalid_argument("a " + std::string(direction_name(wire[4])) + " envelope where a " + what +
                              " was expected");
    }
    return invalid_argument("not a Shiftbook envelope: unknown direction byte " + std::to_string(wire[4]));
  }
  if (wire.size() < header_bytes + kEnvelopeTagBytes) {
    return invalid_argument(what + " is truncated: " + std::to_string(wire.size()) + " bytes, at least " +
                            std::to_string(header_bytes + kEnvelopeTagBytes) + " needed");
  }
  return Status::ok();
}

Status check_length(ByteView b, std::size_t n, const char* what) {
  if (b.size() != n) {
    return invalid_argument(std::string(what) + " has " + std::to_string(b.size()) + " bytes, not " +
                            std::to_string(n));
  }
  return Status::ok();
}

// header || ciphertext of `plaintext` with additional data `ad`.
Result<Bytes> encrypt(ByteView header, ByteView ad, ByteView plaintext, ByteView nonce,
                      const std::array<std::uint8_t, 32>& key) {
  if (plaintext.size() > kMaxEnvelopeBytes - header.size() - kEnvelopeTagBytes) {
    return resource_exhausted("a message of " + std::to_string(plaintext.size()) +
                              " bytes does not fit in an envelope (limit " + std::to_string(kMaxEnvelopeBytes) +
                              " bytes)");
  }
  Bytes wire(header.begin(), header.end());
  wire.resize(header.size() + plaintext.size() + kEnvelopeTagBytes);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(wire.data() + header.size(), &written, plaintext.data(),
                                             plaintext.size(), ad.data(), ad.size(), nullptr, nonce.data(),
                                             key.data());
  wire.resize(header.size() + written);
  return wire;
}

// The plaintext of `ciphertext`, or nullopt when it does not authenticate.
std::optional<Bytes> decrypt(ByteView ciphertext, ByteView ad, ByteView nonce, const std::array<std::uint8_t, 32>& key) {
  Bytes plain(ciphertext.size() - kEnvelopeTagBytes);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &written, nullptr, ciphertext.data(),
                                                 ciphertext.size(), ad.data(), ad.size(), nonce.data(),
                                                 key.data()) != 0) {
    return std::nullopt;
  }
  plain.resize(written);
  return plain;
}

}  // namespace

EnvelopeContext::EnvelopeContext(EnvelopeContext&& other) noexcept
    : key(other.key), request_header(other.request_header) {
  sodium_memzero(other.key.data(), other.key.size());
}

EnvelopeContext& EnvelopeContext::operator=(EnvelopeContext&& other) noexcept {
  if (this != &other) {
    key = other.key;
    request_header = other.request_header;
    sodium_memzero(other.key.data(), other.key.size());
  }
  return *this;
}

EnvelopeContext::~EnvelopeContext() { sodium_memzero(key.data(), key.size()); }

namespace detail {

Result<SealedRequest> seal_request_with(const DeviceKey& device, const PublicKey& server, ByteView plaintext,
                                        ByteView ephemeral_secret, ByteView nonce) {
  SB_RETURN_IF_ERROR(check_length(ephemeral_secret, 32, "the ephemeral secret"));
  SB_RETURN_IF_ERROR(check_length(nonce, kNonceBytes, "the request nonce"));
  auto server_x = x25519_from_ed25519(server);
  if (!server_x.is_ok()) return server_x.status().with_context("server key: ");
  SB_ASSIGN_OR_RETURN(X25519Key ephemeral, x25519_public(ephemeral_secret));

  Secret<32> dh_ephemeral, dh_static;
  SB_RETURN_IF_ERROR(take(x25519_shared(ephemeral_secret, *server_x), dh_ephemeral).with_context("server key: "));
  SB_RETURN_IF_ERROR(take(device.x25519_shared(*server_x), dh_static).with_context("server key: "));

  SealedRequest out;
  // "SBX" version 'Q' | device (5..37) | ephemeral (37..69) | nonce (69..93)
  auto& h = out.context.request_header;
  std::memcpy(h.data(), kMagic, sizeof kMagic);
  h[3] = kEnvelopeVersion;
  h[4] = kRequest;
  std::memcpy(h.data() + 5, device.public_key().data(), 32);
  std::memcpy(h.data() + 37, ephemeral.data(), 32);
  std::memcpy(h.data() + 69, nonce.data(), kNonceBytes);

  derive_key(dh_ephemeral, dh_static, device.public_key(), ephemeral, server, out.context.key);
  SB_ASSIGN_OR_RETURN(out.wire, encrypt(h, h, plaintext, nonce, out.context.key));
  return out;
}

Result<Bytes> seal_response_with(const EnvelopeContext& context, ByteView plaintext, ByteView nonce) {
  SB_RETURN_IF_ERROR(check_length(nonce, kNonceBytes, "the response nonce"));
  // "SBX" version 'R' | nonce (5..29)
  std::array<std::uint8_t, kResponseHeaderBytes> header{};
  std::memcpy(header.data(), kMagic, sizeof kMagic);
  header[3] = kEnvelopeVersion;
  header[4] = kResponse;
  std::memcpy(header.data() + 5, nonce.data(), kNonceBytes);
  Bytes ad(header.begin(), header.end());
  ad.insert(ad.end(), context.request_header.begin(), context.request_header.end());
  return encrypt(header, ad, plaintext, nonce, context.key);
}

}  // namespace detail

Result<SealedRequest> seal_request(const DeviceKey& device, const PublicKey& server, ByteView plaintext) {
  Secret<32> ephemeral;
  std::array<std::uint8_t, kNonceBytes> nonce{};
  random_bytes(ephemeral.bytes);
  random_bytes(nonce);
  return detail::seal_request_with(device, server, plaintext, ephemeral.bytes, nonce);
}

Result<Bytes> seal_response(const EnvelopeContext& context, ByteView plaintext) {
  std::array<std::uint8_t, kNonceBytes> nonce{};
  random_bytes(nonce);
  return detail::seal_response_with(context, plaintext, nonce);
}

Result<PublicKey> request_device(ByteView wire) {
  SB_RETURN_IF_ERROR(check_frame(wire, kRequest, kRequestHeaderBytes));
  PublicKey device{};
  std::copy(wire.begin() + 5, wire.begin() + 37, device.begin());
  return device;
}

Result<OpenedRequest> open_request(const DeviceKey& server, ByteView wire) {
  SB_ASSIGN_OR_RETURN(PublicKey device, request_device(wire));
  ByteView ephemeral_bytes = wire.subspan(37, 32);
  ByteView nonce = wire.subspan(69, kNonceBytes);
  const std::string from = "request envelope from device " + short_device(device);

  auto device_x = x25519_from_ed25519(device);
  if (!device_x.is_ok()) return unauthenticated(from + " does not authenticate: its device key is not a usable key");
  X25519Key ephemeral{};
  std::copy(ephemeral_bytes.begin(), ephemeral_bytes.end(), ephemeral.begin());
  Secret<32> dh_ephemeral, dh_static;
  if (!take(server.x25519_shared(ephemeral), dh_ephemeral).is_ok() ||
      !take(server.x25519_shared(*device_x), dh_static).is_ok()) {
    return unauthenticated(from + " does not authenticate: it names a low-order key");
  }

  OpenedRequest out;
  out.device = device;
  std::copy(wire.begin(), wire.begin() + kRequestHeaderBytes, out.context.request_header.begin());
  derive_key(dh_ephemeral, dh_static, device, ephemeral, server.public_key(), out.context.key);
  ByteView header = wire.first(kRequestHeaderBytes);
  auto plain = decrypt(wire.subspan(kRequestHeaderBytes), header, nonce, out.context.key);
  if (!plain) {
    return unauthenticated(from + " does not authenticate: it was altered, or sealed for another server key or "
                                  "by someone without the device's key");
  }
  out.plaintext = std::move(*plain);
  return out;
}

Result<Bytes> open_response(const EnvelopeContext& context, ByteView wire) {
  SB_RETURN_IF_ERROR(check_frame(wire, kResponse, kResponseHeaderBytes));
  Bytes ad(wire.begin(), wire.begin() + kResponseHeaderBytes);
  ad.insert(ad.end(), context.request_header.begin(), context.request_header.end());
  auto plain = decrypt(wire.subspan(kResponseHeaderBytes), ad, wire.subspan(5, kNonceBytes), context.key);
  if (!plain) {
    return unauthenticated(
        "the server's answer does not authenticate: it was not sealed with the pinned server key for this "
        "request (altered, replayed, or from another server)");
  }
  return std::move(*plain);
}

}  // namespace shiftbook
