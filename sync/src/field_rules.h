// The range rules of single body fields and the canonical encoding's type tags, shared by the two
// checkers of a body: validate_body over decoded JSON (kinds.cpp, canonical.cpp) and scan_body
// over the canonical bytes (body_scan.cpp), so both give the same verdict in the same words.
// Private to the sync library. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "shiftbook/status.h"

namespace shiftbook::detail {

// The first byte of every canonical value: its type (docs/EVENTS.md section 1).
namespace canonical_tag {
inline constexpr std::uint8_t kFalse = 0x01;
inline constexpr std::uint8_t kTrue = 0x02;
inline constexpr std::uint8_t kInt = 0x03;
inline constexpr std::uint8_t kString = 0x04;
inline constexpr std::uint8_t kList = 0x05;
inline constexpr std::uint8_t kMap = 0x06;
}  // namespace canonical_tag

Status check_hours_times(std::int64_t start, std::int64_t end);  // hours: start and end, minutes
Status check_output_quantity(std::int64_t quantity);
Status check_quota_version(std::int64_t version);
Status check_bonus_type(std::string_view type);

}  // namespace shiftbook::detail
