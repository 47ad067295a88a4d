// The sync protocol's messages and signed statements: what travels inside the envelope
// (envelope.h), the server's signed receipts, the delegation of a site's head-office signer, and
// enrollment codes. Specified in docs/PROTOCOL.md; this header is its code. Pure functions;
// safe from any thread once crypto_init() has run.
//
// A message (the plaintext inside an envelope) is:
//   header            one canonical value (canonical.h) that is a map; its "type" says what it is
//   count             u32, the number of events that follow (0 for messages that carry none)
//   count times:      u32 length, then that many bytes: one event's canonical encoding (event.h)
// and nothing after. Hashes, keys and signatures inside headers are lower-case hex strings.
//
// Header fields per type (docs/PROTOCOL.md has every rule; all listed fields are required unless
// marked optional, and no others are allowed):
//   enroll  (request)   v: 1 or 2, code: 16 hex digits (the secret half of the enrollment code)
//   enrolled (response) site: id, units: [id...] (1..64), server_ms: int,
//                       signer: {site, key, sig} (the site's head-office signer, see Delegation)
//   sync    (request)   v: 1 or 2, cursor: int >= 0 (server position of the last event pulled),
//                       pull_max: int (bytes of pulled events wanted, clamped by the server to
//                       kMinPullBytes..kMaxPullBytes), client_ms: int (the terminal's clock),
//                       head: {seq, hash, sig} (optional; present exactly when events are pushed:
//                       the terminal's signed head at its last pushed event)
//   sync    (response)  receipt: {seq, hash, server_ms, sig}, cursor: int, more: bool,
//                       heads: [{device, seq, hash, sig}...] (one per device in the pulled events,
//                       at that device's last event in them)
//   revoked (response)  to a sync from a revoked device, whatever it pushed:
//                       notice: {revoked_ms, reason, sig} (RevocationNotice for the sender),
//                       quarantined: int (events of this request the server kept in quarantine)
//   error   (response)  code: a ProtocolError name, message: text,
//                       expected_seq: int (optional; with "gap" and "equivocation")
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/bytes.h"
#include "shiftbook/canonical.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/status.h"

namespace shiftbook {

// The protocol version this build speaks, and the oldest it still serves (docs/PROTOCOL.md,
// "Versions and kinds this version does not know"). Version 2 relays kinds a reader does not know.
inline constexpr int kProtocolVersion = 2;
inline constexpr int kOldestProtocolVersion = 1;
// Pushed events per request: the terminal sends at most this many bytes of events at once.
inline constexpr std::size_t kMaxPushBytes = 4 * 1024 * 1024;
inline constexpr std::size_t kDefaultPushBytes = 1024 * 1024;
// Pulled events per response, as the terminal asks (clamped to this range by the server).
inline constexpr std::size_t kMinPullBytes = 64 * 1024;
inline constexpr std::size_t kMaxPullBytes = 8 * 1024 * 1024;
inline constexpr std::size_t kDefaultPullBytes = 1024 * 1024;
inline constexpr std::size_t kMaxEventsPerMessage = 200'000;
inline constexpr std::size_t kMaxHeadsPerMessage = 1000;

// ---- Messages -------------------------------------------------------------------------------

struct Message {
  Json header = Json::object();
  std::vector<Bytes> events;  // canonical event encodings, not yet decoded
};
Result<Bytes> encode_message(const Message& m);
// Refuses trailing bytes, a count above kMaxEventsPerMessage, an event longer than
// kMaxEventBytes, and a header that is not a map with a string "type". Events are not decoded.
Result<Message> decode_message(ByteView bytes);

// Protocol-level errors, sent inside an encrypted "error" response. Their names are the wire form.
enum class ProtocolError {
  kMalformed,      // "malformed": the message does not follow docs/PROTOCOL.md
  kVersion,        // "version": the header's v is not in kOldestProtocolVersion..kProtocolVersion
  kGap,            // "gap": the first pushed seq is not the one expected (expected_seq says it)
  kEquivocation,   // "equivocation": a pushed seq the server holds with a different hash
  kChain,          // "chain": events that do not link, or a head whose signature does not verify
  kForeignDevice,  // "foreign_device": events of a device other than the sender
  kKind,           // "kind": a kind a terminal may not write (head-office kinds, unknown kinds)
  kInvalid,        // "invalid": a body that fails its kind's rules, or names unknown references
  kScope,          // "scope": events for a unit outside the device's scope
  kCode,           // "code": enrollment code unknown, used, expired, or already spent
  kLimit,          // "limit": too many bytes or events
  kInternal,       // "internal": the server failed; retry later
};
std::string_view protocol_error_name(ProtocolError e);
std::optional<ProtocolError> parse_protocol_error(std::string_view name);

// ---- Signed statements ----------------------------------------------------------------------

// The server's signed word that it durably holds `device`'s chain up to (seq, hash), at its own
// time server_ms. seq 0 (with a zero hash) means it holds nothing of that device. Signed message:
//   "SBRC" 0x01, server key (32), device (32), seq (u64), hash (32), server_ms (u64)
struct Receipt {
  PublicKey device{};
  std::uint64_t seq = 0;
  Hash hash{};
  std::int64_t server_ms = 0;
  Signature signature{};
};
Bytes receipt_message(const PublicKey& server, const Receipt& r);
Receipt sign_receipt(const DeviceKey& server, const PublicKey& device, std::uint64_t seq, const Hash& hash,
                     std::int64_t server_ms);
bool verify_receipt(const PublicKey& server, const Receipt& r);

// Head office's signed word that it revoked `device` at its own time revoked_ms, for `reason`. A
// terminal that receives one for itself, verifying with its pinned server key, drops the other
// terminals' events and the reference data it holds (docs/PROTOCOL.md, "Revocation"). Signed
// message:
//   "SBRV" 0x01, server key (32), device (32), revoked_ms (u64), u32 length + reason bytes (UTF-8)
struct RevocationNotice {
  PublicKey device{};
  std::int64_t revoked_ms = 0;
  std::string reason;
  Signature signature{};
};
Bytes revocation_message(const PublicKey& server, const RevocationNotice& n);
RevocationNotice sign_revocation(const DeviceKey& server, const PublicKey& device, std::int64_t revoked_ms,
                                 std::string_view reason);
bool verify_revocation(const PublicKey& server, const RevocationNotice& n);

// Head office writes each site's reference data as the chain of that site's signer, a key the
// server derives from its own secret key and the site id, and vouches for with a delegation:
//   "SBDL" 0x01, server key (32), signer key (32), u32 length + site id bytes
struct Delegation {
  std::string site;
  PublicKey signer{};
  Signature signature{};
};
Bytes delegation_message(const PublicKey& server, const Delegation& d);
Delegation sign_delegation(const DeviceKey& server, std::string_view site, const PublicKey& signer);
bool verify_delegation(const PublicKey& server, const Delegation& d);
// The site signer's key pair: Ed25519 from the seed
//   BLAKE2b-256(key = the server's 32-byte Ed25519 seed, message = "shiftbook site signer v1" 0x00 site)
DeviceKey derive_site_signer(const DeviceKey& server, std::string_view site);

// ---- Enrollment codes -----------------------------------------------------------------------

// An enrollment code carries 20 bytes: an 8-byte random secret, the first 10 bytes of the
// server key's fingerprint, and a 2-byte check (the first 2 bytes of BLAKE2b-256 of the other 18).
// Written as 32 Crockford base32 digits (0-9 A-Z without I L O U) in 8 groups of 4 joined by
// '-'. Reading ignores case, spaces and '-', and takes I and L for 1 and O for 0.
struct EnrollCode {
  std::array<std::uint8_t, 8> secret{};
  std::array<std::uint8_t, 10> fingerprint{};
};
std::string format_enroll_code(const EnrollCode& code);
// invalid_argument naming the problem: wrong length, a character outside the alphabet, or a
// failed check (a mistyped code).
Result<EnrollCode> parse_enroll_code(std::string_view text);
// The server key's fingerprint: BLAKE2b-256("shiftbook server key v1" 0x00 || key). The code
// carries the first 10 bytes; people are shown the first 16 as hex in groups of 4.
Hash server_fingerprint(const PublicKey& server);
std::string format_fingerprint(const PublicKey& server);
bool code_matches_server(const EnrollCode& code, const PublicKey& server);

// ---- Head-office kinds ----------------------------------------------------------------------

// Kinds only a site signer writes (bodies in docs/PROTOCOL.md, "Head-office events"):
//   ref_site     id, name, tz
//   ref_unit     id, site, name
//   ref_period   id, start: date, end: date
//   ref_product  id, name, unit: text 1..16 bytes, decimals: 0 | 3
//   ref_worker   id, site, name, pin_hash, active: bool
//   ref_leader   id, site, name, pin_hash, active: bool
//   ref_quota    unit, period, product, quantity: 0..10^12, version: int >= 1
//   device_revoke  device: 64 lower-case hex (an enrolled terminal of the signer's site),
//                  reason: text 1..500 bytes without control characters. Written when head office
//                  revokes the device; the server marks it revoked in the same transaction.
//   resolution   fork: ref, winner: ref (not the fork), losers: [ref...] (0..64, no duplicates,
//                neither the winner nor the fork), reason: text 1..500 bytes. Head office's
//                decision of a fork of an entry's versions (merge.h, docs/MERGE.md); it decides
//                only when the site signer wrote it.
//   anomaly_note anomaly: an anomaly's id (kind ":" 32 lower-case hex digits; anomalies.h),
//                reason: text 1..500 bytes. Head office's decision of an anomaly (docs/ANOMALIES.md,
//                "Decisions"); the latest by the signer's seq is shown with it.
// and kinds reserved for head office that are not built yet (a terminal writing them is refused):
//   approval, period_lock
bool is_head_office_kind(std::string_view kind);
// Checks a head-office body (fields, types, ranges; names are 1..64 bytes). Pure.
Status validate_head_office_body(std::string_view kind, const Json& body);

}  // namespace shiftbook
