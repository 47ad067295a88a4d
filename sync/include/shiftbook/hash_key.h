// Hashes as keys of unordered containers: a BLAKE2b-256 output is uniform already, so its first
// eight bytes are the bucket hash. Only for hashes of content (an event's own hash, or a reference
// the store has checked names a held event): a made-up value could be chosen to collide. It never
// throws, so unordered containers do not keep each key's hash beside it.
#pragma once

#include <cstddef>
#include <cstring>

#include "shiftbook/crypto.h"

namespace shiftbook {

struct HashKey {
  std::size_t operator()(const Hash& h) const noexcept {
    std::size_t v = 0;
    std::memcpy(&v, h.data(), sizeof v);
    return v;
  }
};

}  // namespace shiftbook
