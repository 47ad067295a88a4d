// Hashes (BLAKE2b-256 outputs, or references that name one) as keys of unordered containers. The
// bucket hash mixes all 32 bytes with keys drawn once per process, so a made-up reference (an
// audit export nobody vouches for can hold any) cannot be chosen to fall into one bucket with
// others, and nothing may depend on the containers' order: whatever is listed from them is sorted.
// It never throws, so the containers do not keep each key's hash beside it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "shiftbook/crypto.h"

namespace shiftbook {

struct HashKey {
  std::size_t operator()(const Hash& h) const noexcept {
    const std::array<std::uint64_t, 4>& k = keys();
    std::uint64_t w[4];
    std::memcpy(w, h.data(), sizeof w);
    std::uint64_t v = (w[0] ^ k[0]) * 0x9e3779b97f4a7c15ULL;
    v = (v ^ (v >> 31) ^ w[1] ^ k[1]) * 0xbf58476d1ce4e5b9ULL;
    v = (v ^ (v >> 29) ^ w[2] ^ k[2]) * 0x94d049bb133111ebULL;
    v = (v ^ (v >> 32) ^ w[3] ^ k[3]) * 0x9e3779b97f4a7c15ULL;
    return static_cast<std::size_t>(v ^ (v >> 29));
  }
  // The process's keys: random, made at the first call.
  static const std::array<std::uint64_t, 4>& keys() noexcept;
};

}  // namespace shiftbook
