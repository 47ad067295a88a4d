// Power loss: an entry is durable when the call that recorded it returns. The store runs on the
// power-loss VFS (powerloss_vfs.h), which throws away everything SQLite wrote but did not sync when
// the power "fails"; the store is then reopened with the real VFS and every acknowledged entry
// must be there, the log must verify, and the store must take the next entry. The last test runs
// the same harness with synchronous=NORMAL and shows that it then loses acknowledged entries, so
// these tests fail if the store's durability settings are ever weakened.
// SHIFTBOOK_SEED (a number) replays another set of failure points; every failure prints its seed.
#include <doctest/doctest.h>

#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "crash_check.h"
#include "powerloss_vfs.h"
#include "support/fixture.h"

namespace {

using shiftbook::Json;
using shiftbook::Result;
using shiftbook::client::Recorded;
using shiftbook::client::Store;
using shiftbook::client::StoreOptions;
using shiftbook::testing::PowerLossVfs;
using shiftbook::testing::Terminal;

std::uint64_t base_seed() {
  const char* s = std::getenv("SHIFTBOOK_SEED");
  return s && *s ? std::strtoull(s, nullptr, 10) : 20261116;
}

std::uint64_t uniform(std::mt19937_64& rng, std::uint64_t lo, std::uint64_t hi) {
  return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
}

// A terminal ready to record (sample reference data, leader L1 logged in, a shift of U1 open),
// set up with the real VFS and closed again: the setup is not what these tests are about.
struct Rig {
  Terminal t;
  Rig() {
    auto shift = t.store->open_shift("U1", std::nullopt, std::nullopt);
    REQUIRE_MESSAGE(shift.is_ok(), shift.status().to_string());
    t.store.reset();
  }
  const std::string dir() const { return t.store_dir(); }
};

// The i-th entry of a run: mostly output; every third an hours entry in its own half hour of one of
// three workers; every seventh a correction of the last output. So commits touch every derived table.
Result<Recorded> record(Store& store, int i, std::uint64_t last_output) {
  if (i % 7 == 6 && last_output != 0) {
    return store.correct(std::to_string(last_output), Json{{"quantity", 1000 + i}}, "recounted");
  }
  if (i % 3 == 2) {
    const int k = i / 3;
    const std::int64_t start = (k / 3) % 46 * 30;
    return store.log_hours("", "W" + std::to_string(k % 3 + 1), start, start + 30, false);
  }
  return store.log_output("", "P1", i + 1);
}

struct Run {
  std::vector<std::uint64_t> acked;  // seqs of the calls that returned before the power failed
  bool died_in_call = false;         // the power failed inside a call (which so never returned)
};

// Opens the store on the power-loss VFS and records entries until the power fails, or until `cap`
// entries after which it fails at once. `before(i)` runs before entry i to arm the failure. The
// dying store is then closed: with the power off, closing writes nothing.
Run record_until_power_fails(const Rig& rig, StoreOptions options, int cap, const std::function<void(int)>& before) {
  PowerLossVfs::reset();
  options.vfs = PowerLossVfs::kName;
  auto store = Store::open(rig.dir(), rig.t.clock, options);
  REQUIRE_MESSAGE(store.is_ok(), store.status().to_string());
  Run run;
  std::uint64_t last_output = 0;
  for (int i = 0; i < cap && !PowerLossVfs::failed(); ++i) {
    before(i);
    if (PowerLossVfs::failed()) break;
    auto r = record(**store, i, last_output);
    if (PowerLossVfs::failed()) {
      run.died_in_call = true;  // the process died before the call could return: not acknowledged
      break;
    }
    REQUIRE_MESSAGE(r.is_ok(), "entry " << i << ": " << r.status().to_string());
    if (r->kind == "output") last_output = r->seq;
    run.acked.push_back(r->seq);
  }
  PowerLossVfs::fail_now();
  store->reset();
  CHECK(PowerLossVfs::io_errors() == 0);
  return run;
}

}  // namespace

TEST_CASE("powerloss: every acknowledged entry survives a power failure at a random point") {
  const std::uint64_t seed = base_seed();
  std::uint64_t dropped = 0;
  int died_in_call = 0;
  for (int iteration = 0; iteration < 40; ++iteration) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(iteration));
    // Between two calls, a few operations into a call (inside its commit), or up to a few hundred
    // operations on (possibly inside a later call or a checkpoint).
    const int fail_entry = static_cast<int>(uniform(rng, 0, 200));
    const std::uint64_t shape = uniform(rng, 0, 3);
    const std::uint64_t fail_op = shape == 0 ? 0 : shape == 3 ? uniform(rng, 1, 600) : uniform(rng, 1, 40);
    CAPTURE(seed);
    CAPTURE(iteration);
    CAPTURE(fail_entry);
    CAPTURE(fail_op);
    Rig rig;
    Run run = record_until_power_fails(rig, shiftbook::testing::fast_options(), 400, [&](int i) {
      if (i != fail_entry) return;
      if (fail_op == 0) PowerLossVfs::fail_now(); else PowerLossVfs::arm(fail_op);
    });
    dropped += PowerLossVfs::dropped_bytes();
    died_in_call += run.died_in_call ? 1 : 0;
    shiftbook::testing::check_after_crash(rig.dir(), rig.t.clock, run.acked);
  }
  // The harness had something to lose: some failures cut a commit in half and dropped its writes.
  CHECK(died_in_call > 0);
  CHECK(dropped > 0);
}

TEST_CASE("powerloss: a power failure in the middle of a checkpoint loses no acknowledged entry") {
  // In WAL mode only checkpoints write the database file: failing at its nth write fails inside one.
  for (std::uint64_t nth : {1, 3, 12, 40}) {
    CAPTURE(nth);
    Rig rig;
    Run run = record_until_power_fails(rig, shiftbook::testing::fast_options(), 400, [&](int i) {
      if (i == 0) PowerLossVfs::arm_on_db_write(nth);
    });
    REQUIRE(PowerLossVfs::db_writes() == nth);  // it was a checkpoint that the power cut short
    CHECK(run.died_in_call);
    CHECK(!run.acked.empty());
    shiftbook::testing::check_after_crash(rig.dir(), rig.t.clock, run.acked);
  }
}

TEST_CASE("powerloss: the test catches weakened durability (synchronous=NORMAL loses acknowledged entries)") {
  // WAL with synchronous=NORMAL syncs only at checkpoints, so every commit since the last one lives
  // in unsynced writes. Fewer entries than a checkpoint needs, then the power fails.
  for (int entries : {10, 20, 30}) {
    CAPTURE(entries);
    Rig rig;
    StoreOptions relaxed = shiftbook::testing::fast_options();
    relaxed.relaxed_durability = true;
    Run run = record_until_power_fails(rig, relaxed, entries, [](int) {});
    REQUIRE(run.acked.size() == static_cast<std::size_t>(entries));
    CHECK(PowerLossVfs::dropped_bytes() > 0);

    auto store = Store::open(rig.dir(), rig.t.clock, shiftbook::testing::fast_options());
    REQUIRE_MESSAGE(store.is_ok(), store.status().to_string());
    auto seqs = shiftbook::testing::checked_chain(**store);  // SQLite stays consistent: only the tail is gone
    std::size_t lost = 0;
    for (std::uint64_t seq : run.acked) lost += seqs.count(seq) == 0 ? 1 : 0;
    CHECK_MESSAGE(lost > 0, "with synchronous=NORMAL the power-loss harness lost nothing: it no longer proves durability");
  }
}
