// Crash-proof sync: terminal A's `shiftbook sync` of 10,000 events, the server, or both are killed
// with SIGKILL at seeded moments; after every kill the next sync completes, the server holds
// exactly A's events with their chain verified, and terminal B's view equals the server's
// (support/crash_world.h lists every check). SHIFTBOOK_SEED (a number) replays other moments;
// every failure names its seed and iteration, and leaves the iteration's folder for a look.
// shiftbook-crash (tools/crash.cpp) runs the same iterations by the hundred.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstdio>
#include <memory>
#include <string>

#include "support/crash_world.h"

namespace {

using shiftbook::testing::crash::Outcome;
using shiftbook::testing::crash::Side;
using shiftbook::testing::crash::World;

// The sanitizer build runs every program five to ten times slower (an iteration takes 25 to 55 s
// there on a loaded machine): fewer iterations, each one the same as in the other builds.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kKillsPerSide = 2;
constexpr int kBothKills = 1;
#else
constexpr int kKillsPerSide = 15;
constexpr int kBothKills = 4;
#endif
// Terminal B's own sync and verify (a pull of A's 10,000 events, then a replay) cost as much as
// the rest of an iteration: they run every kBCheckEvery-th iteration. A's copy of B's chain is
// compared every time.
constexpr int kBCheckEvery = 3;

std::uint64_t base_seed() {
  const char* s = std::getenv("SHIFTBOOK_SEED");
  return s && *s ? std::strtoull(s, nullptr, 10) : 20261116;
}

// Built once per process (each test case runs in its own): template, then T.
World& world() {
  static std::unique_ptr<World> w = [] {
    auto made = World::create({});
    REQUIRE_MESSAGE(made.is_ok(), made.status().to_string());
    return std::move(made).value();
  }();
  return *w;
}

// Runs `count` iterations killing `side`, seeds base + offset + i, and reports each failure.
void run_kills(Side side, int count, std::uint64_t offset) {
  World& w = world();
  const std::uint64_t events = w.options().events;
  for (int i = 1; i <= count; ++i) {
    const bool check_b = (i - 1) % kBCheckEvery == 0;
    const Outcome o = w.run(i, base_seed() + offset + static_cast<std::uint64_t>(i), side, check_b);
    MESSAGE(o.line(events));
    for (const std::string& f : o.failures) FAIL_CHECK(f);
  }
}

}  // namespace

TEST_CASE("crash: the terminal killed at any moment of a sync of 10,000 events loses and duplicates nothing") {
  run_kills(Side::kClient, kKillsPerSide, 0);
}

TEST_CASE("crash: the server killed at any moment of a sync of 10,000 events loses and duplicates nothing") {
  run_kills(Side::kServer, kKillsPerSide, 1000);
}

TEST_CASE("crash: terminal and server killed together at any moment of a sync lose and duplicate nothing") {
  run_kills(Side::kBoth, kBothKills, 2000);
}
