// The event kinds a terminal records and the shape of each body: the domain contract, specified in
// docs/EVENTS.md. validate_body checks one body on its own (fields, types, ranges); rules that need
// other events or reference data (is the worker on the roster, do hours overlap) belong to the
// store that has them. Messages are written for a shift leader. Pure functions; thread-safe.
//
// Bodies (every field required unless marked optional; no other fields allowed):
//   shift_open   unit: id, date: "YYYY-MM-DD", name: text (optional),
//                receipt: {seq: int >= 0, hash: 64 hex, server_ms: int, sig: 128 hex} (optional;
//                the last server receipt the terminal held, for this same device: see
//                shift_open_receipt)
//   shift_close  shift: ref
//   hours        shift: ref, worker: id, start: minute 0..1439, end: start+1 .. start+1440,
//                special: bool   (minutes from midnight of the shift date, site time zone;
//                end past 1440 runs past midnight and still belongs to the shift date)
//   output       shift: ref, product: id, quantity: 1 .. 10^12 in the product's base unit
//                (whole units, or thousandths for products kept to 3 decimals),
//                quota_version: int >= 1 (optional, the quota version the terminal held)
//   bonus        shift: ref, worker: id, type: "special_environment" | "skill_upgrade" |
//                "innovation", note: text (optional)
//   confirm      entry: ref (the hours version confirmed), worker: id
//   correction   target: ref (the version it supersedes), reason: text, entry: the full new body,
//                valid for the kind of the corrected entry (with the same shift)
//   void         target: ref, reason: text
// id: 1..64 bytes of UTF-8, no control characters, no leading or trailing space.
// ref: an event hash as 64 lower-case hex digits. text: 1..500 bytes of UTF-8 without control
// characters; a shift name is text of at most 32 bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shiftbook/canonical.h"
#include "shiftbook/crypto.h"
#include "shiftbook/protocol.h"
#include "shiftbook/status.h"

namespace shiftbook {

namespace kind {
inline constexpr std::string_view kShiftOpen = "shift_open";
inline constexpr std::string_view kShiftClose = "shift_close";
inline constexpr std::string_view kHours = "hours";
inline constexpr std::string_view kOutput = "output";
inline constexpr std::string_view kBonus = "bonus";
inline constexpr std::string_view kConfirm = "confirm";
inline constexpr std::string_view kCorrection = "correction";
inline constexpr std::string_view kVoid = "void";
}  // namespace kind

inline constexpr std::int64_t kMinutesPerDay = 1440;
inline constexpr std::int64_t kMaxQuantity = 1'000'000'000'000;
inline constexpr std::size_t kMaxTextBytes = 500;

// Kinds a terminal records; a correction may supersede hours, output and bonus entries.
bool is_terminal_kind(std::string_view kind);
bool is_correctable_kind(std::string_view kind);
// hours, output, bonus and confirm entries may be voided.
bool is_voidable_kind(std::string_view kind);

// Checks a body of a known kind. For "correction", `corrected_kind` is the kind of the entry being
// corrected (its entry field is checked as that kind); other kinds ignore it.
Status validate_body(std::string_view kind, const Json& body, std::string_view corrected_kind = {});

// A correction replaces an entry's fields but never moves it: its new body (`next`) keeps the shift
// of the version it supersedes (`current`), and for output also the product (the quantity is in
// that product's unit) and the quota_version (in both or in neither, and equal). `entry_kind` is
// the kind of the corrected entry; both bodies are valid for it. invalid_argument naming the field
// that changed, otherwise ok.
Status check_correction_keeps(std::string_view entry_kind, const Json& current, const Json& next);

// Trusted time. A shift_open names the last receipt its terminal held (protocol.h, Receipt): the
// server signed server_ms before the shift was opened, so every event of the device from this one
// on was made after it, whatever the terminal's clock said. The receipt's device is the event's
// own device, so the body leaves it out. shift_open_receipt reads the field (nullopt when absent;
// invalid_argument when malformed; validate_body checks the same shape) and returns the receipt
// with `device` set; the signature is the caller's to check against the server key, and a valid
// one names an earlier event of the same chain (seq below the shift_open's, hash equal to the
// chain's event at that seq; seq 0 with a zero hash before the first event was acknowledged).
Result<std::optional<Receipt>> shift_open_receipt(const Json& body, const PublicKey& device);
Json receipt_field(const Receipt& r);  // the "receipt" field's value for a shift_open body

Status check_id(std::string_view what, std::string_view id);
Status check_text(std::string_view what, std::string_view text, std::size_t max_bytes = kMaxTextBytes);

// Event hashes in bodies: 64 lower-case hex digits.
std::string hash_ref(const Hash& h);
Result<Hash> parse_hash_ref(std::string_view text);

// Calendar dates "YYYY-MM-DD" (years 1970..9999), as days since 1970-01-01.
Result<std::int64_t> parse_date(std::string_view text);
std::string format_date(std::int64_t days);

// "HH:MM" to minutes; hours may run to 48 so that "30:00" says 06:00 the next day.
Result<std::int64_t> parse_clock_time(std::string_view text);
std::string format_minutes(std::int64_t minutes);  // 1800 -> "30:00"

// Quantities: "12", "12.5", "12.500" into base units for a product kept to `decimals` (0 or 3).
Result<std::int64_t> parse_quantity(std::string_view text, int decimals);
std::string format_quantity(std::int64_t base_units, int decimals);

}  // namespace shiftbook
