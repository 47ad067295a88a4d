// Byte strings and their hex form, as used in the event encoding, keys and hashes.
// Pure functions; safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/status.h"

namespace shiftbook {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Lower-case hex of the bytes.
std::string to_hex(ByteView bytes);
// Parses hex of either case; odd length or a non-hex character is invalid_argument.
Result<Bytes> from_hex(std::string_view hex);

template <std::size_t N>
Result<std::array<std::uint8_t, N>> array_from_hex(std::string_view hex) {
  if (hex.size() != 2 * N) {
    return invalid_argument("expected " + std::to_string(2 * N) + " hex digits, got " +
                            std::to_string(hex.size()));
  }
  SB_ASSIGN_OR_RETURN(Bytes b, from_hex(hex));
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = b[i];
  return out;
}

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Big-endian fixed-width integers, the only integer form in signed data.
void put_u32(Bytes& out, std::uint32_t v);
void put_u64(Bytes& out, std::uint64_t v);
std::uint32_t get_u32(const std::uint8_t* p);
std::uint64_t get_u64(const std::uint8_t* p);

}  // namespace shiftbook
