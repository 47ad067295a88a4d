// The crash world: `shiftbook sync` and `shiftbook-server` killed with SIGKILL at seeded moments,
// shared by tests/integration/crash_test.cpp and the shiftbook-crash tool. World::create builds,
// once, a template: a head office (S1 with unit U1, period 2026-11, product P1, worker W1, leader
// L1), terminal B enrolled in U1 whose events the server holds, and terminal A enrolled in U1
// that has synced once and then recorded `events` events the server has never seen. Every
// iteration copies the template into a folder of its own, starts the server, kills one side (or
// both) at a moment drawn from its seed, uniform over [0, T] where T is the time one
// uninterrupted sync of A took, restarts what was killed, syncs A to the end and checks that
// nothing was lost or duplicated: see World::run. Free of doctest. One thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook::testing::crash {

// Which process the iteration kills.
enum class Side { kClient, kServer, kBoth };
std::string_view side_name(Side side);
std::optional<Side> parse_side(std::string_view text);

struct WorldOptions {
  std::string parent;               // the world's folder is made under it; empty: $TMPDIR or /tmp
  std::uint64_t events = 10'000;    // terminal A's events (a shift_open, outputs, bonuses, corrections)
  std::uint64_t b_events = 1'000;   // terminal B's, on the server before A's sync
  bool keep = false;                // keep the world's folder and every iteration's; without it the
                                    // world's folder goes with the World unless an iteration failed
};

// Where a kill landed, from what the stores held right after it.
enum class Phase {
  kPush,    // A's round trip in flight had not been committed by the server (mid-push)
  kAnswer,  // the server had committed A's push, A had not stored the answer: its receipt and
            // the pulled events (mid-pull)
  kPull,    // everything pushed and acknowledged, some of B's events not pulled yet (mid-pull)
  kAfter,   // A had stored everything: the kill came after the sync's work
};
std::string_view phase_name(Phase phase);

struct KillPoint {
  std::int64_t delay_us = 0;        // after the start of A's sync
  std::int64_t window_us = 0;       // T
  int sync_exit = -1;               // the interrupted sync's exit status (137: SIGKILL ended it)
  std::uint64_t server_held = 0;    // A's events the server held right after the kill
  std::uint64_t receipt = 0;        // A's events its stored receipt covered right after the kill
  std::uint64_t pulled = 0;         // B's events A held right after the kill
  Phase phase = Phase::kPush;
  // "0", "partial" or "all": how much of A the server held.
  std::string held_class(std::uint64_t events) const;
};

struct Outcome {
  int iteration = 0;
  std::uint64_t seed = 0;
  Side side = Side::kClient;
  KillPoint kill;
  std::uint64_t round_trips = 0;    // of the sync that completed after the kill
  bool checked_b = false;           // terminal B synced and was compared this time
  double seconds = 0;
  std::vector<std::string> failures;  // each names the seed and the iteration
  bool ok() const { return failures.empty(); }
  // One line: iteration, seed, side, kill moment, kill point, outcome.
  std::string line(std::uint64_t events) const;
};

class World {
 public:
  // Builds the template in a new folder under options.parent and measures T. Takes a few seconds.
  static Result<std::unique_ptr<World>> create(WorldOptions options);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Runs one iteration in a fresh copy of the template:
  //   1. starts the server; starts `shiftbook sync --server URL` of A;
  //   2. after a delay drawn from `seed`, uniform over [0, T], SIGKILLs the sync (kClient), the
  //      server (kServer: the sync must then end by itself, exit 0 if it finished first, else
  //      12, unreachable, with one line of message) or both;
  //   3. notes the kill point; restarts the server if it was killed (a new port: the sync is told
  //      the address with --server, the pinned key still applies) and syncs A to the end;
  //   4. checks: that sync exits 0; `status --json` of A shows no unsynced event; the server
  //      holds exactly A's events 1..events, byte for byte, no gap or duplicate, each linked,
  //      every stored head verifying with A's key, the last one at the end; A's receipt and the
  //      server's receipt row are both at the end and verify with the server key; `verify` of A
  //      passes; A holds exactly the server's copy of B's chain; with `check_b`, B syncs, holds
  //      exactly A's chain and passes `verify`; the server stops cleanly.
  // Every check that fails adds a failure; nothing is thrown.
  Outcome run(int iteration, std::uint64_t seed, Side side, bool check_b);

  // T, and the round trips that uninterrupted sync took.
  std::int64_t window_us() const { return window_us_; }
  std::uint64_t window_round_trips() const { return window_round_trips_; }
  const std::string& dir() const { return dir_; }
  const WorldOptions& options() const { return options_; }
  double setup_seconds() const { return setup_seconds_; }

 private:
  explicit World(WorldOptions options) : options_(std::move(options)) {}
  Status build_template();
  Status measure_window();

  WorldOptions options_;
  std::string dir_;
  PublicKey a_{};
  PublicKey b_{};
  std::int64_t window_us_ = 0;
  std::uint64_t window_round_trips_ = 0;
  double setup_seconds_ = 0;
  bool failed_ = false;  // an iteration failed: its folder stays for a look
};

}  // namespace shiftbook::testing::crash
