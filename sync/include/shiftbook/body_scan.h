// Checking canonical values and event bodies on their bytes, without building them as Json: the
// server's push path, where building every pushed body as an nlohmann map and reading it back
// field by field cost a third of its work per event. Each function here accepts and refuses
// exactly what its Json counterpart does, with the same message (tests/sync/body_scan_test.cpp
// runs both over many generated bodies):
//   check_value   as decode_value (canonical.h) without the value
//   scan_body     as validate_body (kinds.h), for the kinds body_scan_supports
// Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "shiftbook/bytes.h"
#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook {

// The tag of a map in the canonical encoding (canonical.h).
inline constexpr std::uint8_t kCanonicalMapTag = 0x06;

// Checks that `in` holds one canonical value starting at `pos` and advances `pos` past it: every
// rule of decode_value(in, pos), and its message for the first rule broken.
Status check_value(ByteView in, std::size_t& pos);

// The references a body names at its top level, by the rule the server reads them with: the field
// is there, is text, and is 64 lower-case hex digits; nullopt otherwise (scan_body reports why).
struct BodyRefs {
  std::optional<Hash> shift;
  std::optional<Hash> target;
  std::optional<Hash> entry;
};

// The kinds scan_body checks: shift_close, hours, output, bonus, confirm and void. (A shift_open's
// receipt and a correction's new entry are maps inside the body; those are checked as Json.)
bool body_scan_supports(std::string_view kind);

// Checks `body`, the canonical bytes of one map (check_value passed on them), as a body of `kind`
// (body_scan_supports): the status validate_body gives for the same body decoded. Fills `refs`
// whether or not the body is valid.
Status scan_body(std::string_view kind, ByteView body, BodyRefs& refs);

}  // namespace shiftbook
