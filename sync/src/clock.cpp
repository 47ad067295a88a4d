#include "shiftbook/clock.h"

#include <algorithm>
#include <chrono>

namespace shiftbook {

std::int64_t SystemClock::now_ms() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {
std::uint64_t wall_stamp(std::int64_t wall_ms) {
  // Before 1970 or past the 48-bit range is not a time a terminal can honestly hold.
  std::int64_t clamped = std::clamp<std::int64_t>(wall_ms, 0, (std::int64_t{1} << 48) - 1);
  return hlc_pack(static_cast<std::uint64_t>(clamped), 0);
}
}  // namespace

std::uint64_t hlc_next(std::uint64_t last, std::int64_t wall_ms) {
  // Counter overflow carries into the milliseconds, which keeps the order strict.
  return std::max(wall_stamp(wall_ms), last + 1);
}

std::uint64_t hlc_observe(std::uint64_t last, std::uint64_t remote, std::int64_t wall_ms) {
  return std::max({wall_stamp(wall_ms), last + 1, remote + 1});
}

}  // namespace shiftbook
