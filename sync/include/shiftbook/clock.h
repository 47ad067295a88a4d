// Time, behind a seam, and the hybrid logical clock (HLC) that orders a device's events.
// Invariant: a device's HLC stamps strictly increase, whatever its wall clock does. An HLC stamp is
// one u64: the upper 48 bits are milliseconds since 1970-01-01 UTC, the lower 16 a counter.
// SystemClock is safe from any thread; FakeClock is for one test thread.
#pragma once

#include <cstdint>

namespace shiftbook {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since 1970-01-01 UTC, as this machine believes.
  virtual std::int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t start_ms) : now_(start_ms) {}
  std::int64_t now_ms() const override { return now_; }
  void set(std::int64_t ms) { now_ = ms; }
  void advance(std::int64_t ms) { now_ += ms; }

 private:
  std::int64_t now_;
};

inline constexpr std::uint64_t hlc_pack(std::uint64_t ms, std::uint64_t counter) {
  return ms << 16 | (counter & 0xffff);
}
inline constexpr std::uint64_t hlc_ms(std::uint64_t hlc) { return hlc >> 16; }
inline constexpr std::uint64_t hlc_counter(std::uint64_t hlc) { return hlc & 0xffff; }

// The stamp for a new local event, given the last stamp this device issued (or received) and the
// wall clock: the wall time if it is ahead, else the last stamp plus one. A wall clock that
// jumped back (a terminal reset to 1970) therefore never makes stamps go backwards.
std::uint64_t hlc_next(std::uint64_t last, std::int64_t wall_ms);
// The stamp after seeing a remote stamp: ahead of both the last local stamp and the remote one.
std::uint64_t hlc_observe(std::uint64_t last, std::uint64_t remote, std::int64_t wall_ms);

}  // namespace shiftbook
