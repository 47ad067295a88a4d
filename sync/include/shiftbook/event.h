// The event: the immutable, hash-chained unit of everything Shiftbook records. The encoding is a
// contract between programs, specified in docs/EVENTS.md with golden examples; this header is its
// code.
//
// Encoding of an event (all integers big-endian), in this order:
//   "SBEV" 0x01         magic and format version (5 bytes)
//   device              32 bytes, the Ed25519 public key of the device that recorded it
//   seq                 u64, 1 for a device's first event, then gapless
//   hlc                 u64, hybrid logical clock stamp (clock.h)
//   prev                32 bytes, hash of the device's event seq-1; 32 zero bytes when seq is 1
//   author              u32 length + UTF-8, 1..64 bytes, no control characters
//   kind                u32 length + ASCII [a-z][a-z0-9_]*, 1..32 bytes
//   body                a canonical value (canonical.h) that is a map
// The event hash is BLAKE2b-256 of exactly these bytes. Nothing else is signed per event: a
// device signs its chain head (head_message), which covers every event before it by the prev links.
// Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>

#include "shiftbook/bytes.h"
#include "shiftbook/canonical.h"
#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook {

inline constexpr std::size_t kMaxEventBytes = 64 * 1024;
inline constexpr std::size_t kMaxAuthorBytes = 64;
inline constexpr std::size_t kMaxKindBytes = 32;

struct Event {
  PublicKey device{};
  std::uint64_t seq = 0;
  std::uint64_t hlc = 0;
  Hash prev{};
  std::string author;
  std::string kind;
  Json body = Json::object();
  Hash hash{};  // of the encoding; set by seal_event and decode_event
};

// The canonical bytes of `e` (without its hash). Invalid fields are invalid_argument.
Result<Bytes> encode_event(const Event& e);
// Parses canonical bytes, checks every rule above, and sets the hash. Anything else is
// invalid_argument naming what was wrong.
Result<Event> decode_event(ByteView bytes);
// As decode_event, every rule checked with the same messages, but the body is only checked (one
// canonical map, body_scan.h's check_value), not built: e.body stays empty and `body_at` is where
// the body starts in `bytes`. For readers that check bodies on their bytes (the server's push).
Result<Event> decode_event_keep_body(ByteView bytes, std::size_t& body_at);
// Encodes `e`, sets e.hash, and returns the event with its canonical bytes.
struct SealedEvent {
  Event event;
  Bytes bytes;
};
Result<SealedEvent> seal_event(Event e);

// Checks that `e` may follow `previous` in one device's chain (`previous` is null when e.seq is 1):
// same device, seq one more, prev equal to previous's hash, hlc greater than previous's hlc.
// Failures are data_loss naming the event.
Status check_link(const Event* previous, const Event& e);

// What a device signs to vouch for its chain up to (seq, hash):
//   "SBHD" 0x01, device (32 bytes), seq (u64), hash (32 bytes)
Bytes head_message(const PublicKey& device, std::uint64_t seq, const Hash& hash);

struct SignedHead {
  PublicKey device{};
  std::uint64_t seq = 0;
  Hash hash{};
  Signature signature{};
};
SignedHead sign_head(const DeviceKey& key, std::uint64_t seq, const Hash& hash);
bool verify_head(const SignedHead& head);

// "7f3a9c21": the first 8 hex digits of a device key, how people see a device.
std::string short_device(const PublicKey& device);
// "event 412 of device 7f3a9c21", the way every message names an event.
std::string event_name(const PublicKey& device, std::uint64_t seq);

// Author and kind rules, shared with the validators.
Status check_author(std::string_view author);
Status check_kind_name(std::string_view kind);

}  // namespace shiftbook
