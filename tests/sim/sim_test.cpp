// A handful of seeds of the simulation (docs/SIMULATION.md), small enough for the suite; the tool
// shiftbook-sim runs hundreds. SHIFTBOOK_SEED replaces the first seed, to replay a failure.
#include <doctest/doctest.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "shiftbook/crypto.h"
#include "sim_world.h"

using namespace shiftbook;

namespace {

std::uint64_t first_seed() {
  const char* s = std::getenv("SHIFTBOOK_SEED");
  return s && *s ? std::strtoull(s, nullptr, 10) : 20261123;
}

}  // namespace

TEST_CASE("sim: terminals that lose requests and answers, go offline, jump clocks, restart and fork entries converge "
          "on the truth") {
  REQUIRE(crypto_init().is_ok());
  std::uint64_t forks = 0, forked_changes = 0;
  for (std::uint64_t k = 0; k < 3; ++k) {
    sim::SimOptions o;
    o.seed = first_seed() + k;
    o.terminals = 8;
    o.units = 3;
    o.steps = 400;
    INFO("seed " << o.seed << " (SHIFTBOOK_SEED=" << o.seed << " replays it first)");
    auto figures = sim::run_simulation(o);
    REQUIRE_MESSAGE(figures.is_ok(), figures.status().to_string());
    // The run did what it is for: entries and corrections made, syncs cut off, restarts, jumps.
    CHECK(figures->events > figures->entries);
    CHECK(figures->corrections > 0);
    CHECK(figures->failed_syncs > 0);
    CHECK(figures->terminal_restarts > 0);
    CHECK(figures->clock_jumps > 0);
    CHECK(figures->anomalies > 0);
    forks += figures->forks;
    forked_changes += figures->forked_changes;
  }
  // Concurrent changes of one version happened, and each made a conflict every replica lists.
  CHECK(forked_changes > 0);
  CHECK(forks > 0);
}

TEST_CASE("sim: the same seed gives the same run") {
  REQUIRE(crypto_init().is_ok());
  sim::SimOptions o;
  o.seed = first_seed();
  o.terminals = 4;
  o.units = 2;
  o.steps = 150;
  auto a = sim::run_simulation(o);
  auto b = sim::run_simulation(o);
  REQUIRE_MESSAGE(a.is_ok(), a.status().to_string());
  REQUIRE_MESSAGE(b.is_ok(), b.status().to_string());
  CHECK(a->events == b->events);
  CHECK(a->entries == b->entries);
  CHECK(a->corrections == b->corrections);
  CHECK(a->syncs == b->syncs);
  CHECK(a->lost_requests == b->lost_requests);
  CHECK(a->lost_answers == b->lost_answers);
  CHECK(a->forks == b->forks);
  CHECK(a->open_conflicts == b->open_conflicts);
  CHECK(a->resolutions == b->resolutions);
  CHECK(a->anomalies == b->anomalies);
}

TEST_CASE("sim: a simulation too small to mean anything is refused") {
  sim::SimOptions o;
  o.terminals = 1;
  auto r = sim::run_simulation(o);
  CHECK(r.status().code() == Code::kInvalidArgument);
}
