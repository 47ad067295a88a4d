// The canonical encoding of values (event bodies): one byte string per value, so that a hash over
// it means the same on every machine. Specified in docs/EVENTS.md; this header is its code.
//
// A value is a JSON value without floating point and without null: a boolean, a signed 64-bit
// integer, a UTF-8 string, a list, or a map with string keys. Encoding (all integers big-endian):
//   0x01                          false
//   0x02                          true
//   0x03 i64                      integer, two's complement, 8 bytes
//   0x04 u32 len, bytes           string, valid UTF-8
//   0x05 u32 n, value * n         list
//   0x06 u32 n, (u32 len, key bytes, value) * n   map; keys valid UTF-8, strictly ascending by bytes
// Every value has exactly one encoding; decoding refuses anything else (unsorted or repeated keys,
// invalid UTF-8, unknown tags, trailing bytes, nesting deeper than kMaxDepth, strings or containers
// larger than the limits below). Encoding refuses floats, null, binary values and integers outside
// int64. Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>

#include "shiftbook/bytes.h"
#include "shiftbook/status.h"

namespace shiftbook {

using Json = nlohmann::json;

inline constexpr int kMaxDepth = 8;
inline constexpr std::size_t kMaxStringBytes = 4096;
inline constexpr std::size_t kMaxContainerItems = 4096;

// Appends the canonical encoding of `value` to `out`. On error nothing is appended.
Status encode_value(const Json& value, Bytes& out);
Result<Bytes> encode_value(const Json& value);

// Decodes exactly one value from `in`, starting at `pos`, and advances `pos` past it.
Result<Json> decode_value(ByteView in, std::size_t& pos);
// Decodes a byte string that holds exactly one value and nothing after it.
Result<Json> decode_value(ByteView in);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace shiftbook
