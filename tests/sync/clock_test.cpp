// The hybrid logical clock: a device's stamps strictly increase whatever its wall clock does.
#include <doctest/doctest.h>

#include <cstdlib>
#include <random>

#include "shiftbook/clock.h"

using namespace shiftbook;

namespace {
constexpr std::int64_t kNov16 = 1'794'837'900'000;  // 2026-11-16T14:05:00Z
constexpr std::uint64_t kMax48 = (std::uint64_t{1} << 48) - 1;
}  // namespace

TEST_CASE("clock: a stamp packs 48 bits of milliseconds over a 16-bit counter") {
  std::uint64_t s = hlc_pack(kNov16, 7);
  CHECK(hlc_ms(s) == static_cast<std::uint64_t>(kNov16));
  CHECK(hlc_counter(s) == 7);
  CHECK(s == (static_cast<std::uint64_t>(kNov16) << 16 | 7));
  CHECK(hlc_pack(1, 0x1ffff) == hlc_pack(1, 0xffff));  // the counter is masked to 16 bits
  CHECK(hlc_ms(hlc_pack(kMax48, 0xffff)) == kMax48);
}

TEST_CASE("clock: hlc_next takes the wall clock when it is ahead") {
  CHECK(hlc_next(0, kNov16) == hlc_pack(kNov16, 0));
  CHECK(hlc_next(hlc_pack(kNov16, 9), kNov16 + 1) == hlc_pack(kNov16 + 1, 0));
}

TEST_CASE("clock: hlc_next counts up when the wall clock stands still") {
  std::uint64_t s = hlc_next(0, kNov16);
  for (int i = 1; i <= 100; ++i) {
    std::uint64_t next = hlc_next(s, kNov16);
    CHECK(next > s);
    CHECK(hlc_ms(next) == static_cast<std::uint64_t>(kNov16));
    CHECK(hlc_counter(next) == static_cast<std::uint64_t>(i));
    s = next;
  }
}

TEST_CASE("clock: hlc_next never goes back when the wall clock is reset to 1970 or before") {
  std::uint64_t s = hlc_next(0, kNov16);
  std::uint64_t reset = hlc_next(s, 0);
  CHECK(reset == s + 1);
  CHECK(hlc_next(reset, -86'400'000) == reset + 1);
  CHECK(hlc_next(0, -5) == 1);
  // A wall clock past the 48-bit range is clamped rather than wrapped into the counter.
  CHECK(hlc_next(0, std::int64_t{1} << 50) == hlc_pack(kMax48, 0));
}

TEST_CASE("clock: counter overflow carries into the milliseconds") {
  std::uint64_t full = hlc_pack(kNov16, 0xffff);
  std::uint64_t next = hlc_next(full, kNov16);
  CHECK(next > full);
  CHECK(next == hlc_pack(kNov16 + 1, 0));
  CHECK(hlc_observe(full, full, kNov16) == hlc_pack(kNov16 + 1, 0));
}

TEST_CASE("clock: stamps strictly increase under a wall clock that jumps about") {
  const char* env = std::getenv("SHIFTBOOK_SEED");
  const std::uint64_t seed = env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10) : 20261116;
  INFO("SHIFTBOOK_SEED=" << seed);
  std::mt19937_64 rng(seed);
  std::int64_t wall = kNov16;
  std::uint64_t last = 0;
  for (int i = 0; i < 20000; ++i) {
    switch (rng() % 5) {
      case 0: wall = 0; break;                                                   // reset to 1970
      case 1: wall -= static_cast<std::int64_t>(rng() % 10'000'000); break;     // back a little
      case 2: break;                                                             // stands still
      default: wall += static_cast<std::int64_t>(rng() % 2'000); break;          // forward
    }
    std::uint64_t next = (rng() % 4 == 0) ? hlc_observe(last, last + rng() % 100'000, wall) : hlc_next(last, wall);
    INFO("step " << i << " wall " << wall);
    REQUIRE(next > last);
    if (wall >= 0) CHECK(hlc_ms(next) >= static_cast<std::uint64_t>(wall));
    last = next;
  }
}

TEST_CASE("clock: hlc_observe moves past the remote stamp, the local stamp and the wall clock") {
  std::uint64_t local = hlc_pack(kNov16, 3);
  std::uint64_t remote_ahead = hlc_pack(kNov16 + 60'000, 5);  // a terminal a minute ahead
  CHECK(hlc_observe(local, remote_ahead, kNov16) == remote_ahead + 1);
  CHECK(hlc_observe(local, hlc_pack(kNov16 - 60'000, 0), kNov16) == local + 1);
  CHECK(hlc_observe(local, remote_ahead, kNov16 + 120'000) == hlc_pack(kNov16 + 120'000, 0));
  CHECK(hlc_observe(local, local, 0) == local + 1);
  // After observing, the next local stamp stays ahead of the remote one.
  std::uint64_t seen = hlc_observe(local, remote_ahead, kNov16);
  CHECK(hlc_next(seen, kNov16) > remote_ahead);
}

TEST_CASE("clock: FakeClock is set and advanced by hand and SystemClock reads the time") {
  FakeClock fake(kNov16);
  CHECK(fake.now_ms() == kNov16);
  fake.advance(1500);
  CHECK(fake.now_ms() == kNov16 + 1500);
  fake.set(0);
  CHECK(fake.now_ms() == 0);
  SystemClock system;
  CHECK(system.now_ms() > 1'577'836'800'000);  // after 2020-01-01
}
