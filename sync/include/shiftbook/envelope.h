// The encrypted envelope: how every sync and enrollment message travels between a terminal and
// the server, whatever the transport (plain HTTP, HTTPS, later a file). Specified in
// docs/PROTOCOL.md ("The envelope"); this header is its code.
//
// Both ends are Ed25519 identities: the terminal's device key and the server's key (which the
// terminal pins at enrollment). Their X25519 forms (libsodium crypto_sign_ed25519_pk_to_curve25519
// and crypto_sign_ed25519_sk_to_curve25519) give a static-static Diffie-Hellman secret that binds
// a message to both keys; a fresh ephemeral X25519 key per request adds a secret that differs for
// every request, so each request and its response have their own key.
//
// Request (all integers big-endian):
//   "SBX" 0x01        magic and envelope version (4 bytes)
//   0x51 ('Q')        direction: request
//   device            32 bytes, the terminal's Ed25519 public key
//   ephemeral         32 bytes, X25519 public key made for this request alone
//   nonce             24 bytes, random
//   ciphertext        XChaCha20-Poly1305-IETF (crypto_aead_xchacha20poly1305_ietf) of the
//                     plaintext, with the 93 header bytes above as additional data
// Response:
//   "SBX" 0x01, 0x52 ('R'), nonce (24 bytes), ciphertext with additional data = these 29 header
//   bytes followed by the 93 header bytes of the request it answers.
// Key, the same for a request and its response:
//   k = BLAKE2b-256("shiftbook envelope v1" || X25519(e, S) || X25519(C, S) || device || ephemeral
//                   || server)
//   where e is the ephemeral secret, C the device's X25519 secret, S the server's X25519 public
//   key, and device/ephemeral/server are the 32-byte public keys as sent (server: Ed25519). The
//   server computes the same from its X25519 secret and the two public keys. An all-zero X25519
//   output (a low-order point) is refused.
// Pure functions over bytes; safe from any thread once crypto_init() has run.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "shiftbook/bytes.h"
#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook {

inline constexpr std::uint8_t kEnvelopeVersion = 1;
inline constexpr std::size_t kRequestHeaderBytes = 4 + 1 + 32 + 32 + 24;  // 93
inline constexpr std::size_t kResponseHeaderBytes = 4 + 1 + 24;           // 29
inline constexpr std::size_t kEnvelopeTagBytes = 16;
// The largest envelope either side accepts, whole (header, ciphertext and tag).
inline constexpr std::size_t kMaxEnvelopeBytes = 16 * 1024 * 1024;

// What one request/response pair shares: the key and the request's header. Wiped on destruction;
// moves only.
class EnvelopeContext {
 public:
  EnvelopeContext() = default;
  EnvelopeContext(EnvelopeContext&& other) noexcept;
  EnvelopeContext& operator=(EnvelopeContext&& other) noexcept;
  EnvelopeContext(const EnvelopeContext&) = delete;
  EnvelopeContext& operator=(const EnvelopeContext&) = delete;
  ~EnvelopeContext();

  std::array<std::uint8_t, 32> key{};
  std::array<std::uint8_t, kRequestHeaderBytes> request_header{};
};

// Terminal side: seals `plaintext` for the server whose Ed25519 key is `server`.
struct SealedRequest {
  Bytes wire;
  EnvelopeContext context;  // keep it to open the response
};
Result<SealedRequest> seal_request(const DeviceKey& device, const PublicKey& server, ByteView plaintext);
// Opens the server's response to the request `context` came from. unauthenticated when the bytes
// were not sealed by the holder of the pinned server key for this very request (a different
// server key, a tampered or replayed response); invalid_argument when they are not a response.
Result<Bytes> open_response(const EnvelopeContext& context, ByteView wire);

// The device key a request names, read without any cryptography (to refuse an unknown device
// before doing work). invalid_argument when the bytes are not a request envelope;
// failed_precondition, naming both versions, when the envelope version is not kEnvelopeVersion;
// resource_exhausted when they are longer than kMaxEnvelopeBytes. (open_response and the sealing
// functions refuse the same sizes the same way.)
Result<PublicKey> request_device(ByteView wire);

// Server side: opens a request sealed for `server`. Errors as request_device, plus
// unauthenticated when the ciphertext does not authenticate (tampered, or sealed for another
// server key, or by someone without the device's secret key).
struct OpenedRequest {
  PublicKey device{};
  Bytes plaintext;
  EnvelopeContext context;  // to seal the response
};
Result<OpenedRequest> open_request(const DeviceKey& server, ByteView wire);
// Seals the response to the request `context` came from.
Result<Bytes> seal_response(const EnvelopeContext& context, ByteView plaintext);

namespace detail {
// The sealing functions with the ephemeral X25519 secret (32 bytes) and the nonce (24 bytes) given
// instead of drawn at random, for golden vectors and tests. Never use them to send: a nonce or an
// ephemeral secret used twice breaks the envelope's secrecy. invalid_argument for wrong lengths.
Result<SealedRequest> seal_request_with(const DeviceKey& device, const PublicKey& server, ByteView plaintext,
                                        ByteView ephemeral_secret, ByteView nonce);
Result<Bytes> seal_response_with(const EnvelopeContext& context, ByteView plaintext, ByteView nonce);
}  // namespace detail

}  // namespace shiftbook
