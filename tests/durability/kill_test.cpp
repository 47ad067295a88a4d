// SIGKILL: a process that records entries is killed at seeded random moments; afterwards the store
// opens, verifies, holds every entry the process acknowledged, and takes the next entry. The writer
// (writer/writer.cpp) prints "ack SEQ" after each call returns; the shiftbook command acknowledges
// by exiting 0. SHIFTBOOK_SEED (a number) replays other moments; every failure prints its seed.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "crash_check.h"
#include "shiftbook/platform/process.h"
#include "support/fixture.h"


namespace {

using Steady = std::chrono::steady_clock;
using Us = std::chrono::microseconds;
using shiftbook::testing::Terminal;
using shiftbook::Process;

std::uint64_t base_seed() {
  const char* s = std::getenv("SHIFTBOOK_SEED");
  return s && *s ? std::strtoull(s, nullptr, 10) : 20261116;
}

struct Killed {
  std::string out;
  std::string err;
  bool by_sigkill = false;  // still running when the kill came
  int exit_code = -1;       // when it finished first
  Us ran{0};                // from the start until its outputs closed
};

// When to kill: `delay` after the child has printed `after_lines` lines (0: after its start).
struct KillPlan {
  int after_lines = 0;
  Us delay{0};
  bool never = false;  // let it finish (to time it)
};

// Starts `argv` (standard input closed, outputs captured), kills it with SIGKILL as `plan` says,
// and reads what it printed until the pipes close. Everything is bounded by a 20-second deadline.
Killed run_and_kill(const std::vector<std::string>& argv, KillPlan plan) {
  const auto start = Steady::now();
  shiftbook::Result<Process> started = Process::start(argv);
  REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
  Process& child = *started;

  const auto deadline = start + std::chrono::seconds(20);
  std::optional<Steady::time_point> kill_at;
  if (!plan.never && plan.after_lines == 0) kill_at = start + plan.delay;
  bool kill_sent = false;
  for (bool open = true; open;) {
    const auto now = Steady::now();
    if (!kill_sent && kill_at && now >= *kill_at) {
      child.signal(SIGKILL);
      kill_sent = true;
    }
    if (now >= deadline) {
      child.kill_now();
      FAIL("the child did not finish within 20 seconds");
      break;
    }
    open = child.read_outputs(!kill_sent && kill_at ? std::min(*kill_at, deadline) : deadline);
    if (!plan.never && !kill_at) {
      const std::string out = child.out();
      if (std::count(out.begin(), out.end(), '\n') >= plan.after_lines) kill_at = Steady::now() + plan.delay;
    }
  }
  Killed result;
  result.ran = std::chrono::duration_cast<Us>(Steady::now() - start);
  result.out = child.out();
  result.err = child.err();
  const std::optional<int> ended = child.wait_until(Steady::now() + std::chrono::seconds(5));
  const int status = ended ? *ended : child.kill_now();
  result.by_sigkill = status == 128 + SIGKILL;
  if (status < 128) result.exit_code = status;
  return result;
}

// The seqs of the complete "ack SEQ" lines (a pipe write of one short line is atomic).
std::vector<std::uint64_t> acks(const std::string& out) {
  std::vector<std::uint64_t> seqs;
  std::istringstream in(out);
  std::string word;
  std::uint64_t seq = 0;
  while (in >> word >> seq) {
    if (word == "ack") seqs.push_back(seq);
  }
  return seqs;
}

// A terminal with a shift of U1 open, closed again so that other processes can record in it.
struct Prepared {
  Terminal t;
  Prepared() {
    auto shift = t.store->open_shift("U1", std::nullopt, std::nullopt);
    REQUIRE_MESSAGE(shift.is_ok(), shift.status().to_string());
    t.store.reset();
  }
};

}  // namespace

TEST_CASE("kill: a writer killed at random moments loses no acknowledged entry") {
  const std::uint64_t seed = base_seed();
  std::mt19937_64 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Prepared p;
  std::vector<std::uint64_t> acked;
  int mid_stream = 0;
  const int iterations = 100;
  for (int iteration = 0; iteration < iterations; ++iteration) {
    // A quarter of the kills land 0 to 40 ms after the start (starting, opening the store, first
    // entries); the rest up to 3 ms after the writer's 1st to 20th acknowledgement, somewhere in
    // the entries that follow (one entry takes about 0.5 to 4 ms here).
    KillPlan plan;
    if (uniform(0, 3) == 0) {
      plan.delay = Us(uniform(0, 40'000));
    } else {
      plan.after_lines = uniform(1, 20);
      plan.delay = Us(uniform(0, 3'000));
    }
    CAPTURE(seed);
    CAPTURE(iteration);
    CAPTURE(plan.after_lines);
    CAPTURE(plan.delay.count());
    Killed k = run_and_kill({SHIFTBOOK_WRITER, p.t.store_dir(), std::to_string(shiftbook::testing::kSampleNowMs),
                             "100000"},
                            plan);
    REQUIRE_MESSAGE(k.by_sigkill, "the writer ended before the kill: exit " << k.exit_code << ", " << k.err);
    auto got = acks(k.out);
    mid_stream += got.empty() ? 0 : 1;
    acked.insert(acked.end(), got.begin(), got.end());
    auto seqs = shiftbook::testing::check_after_crash(p.t.store_dir(), p.t.clock, acked);
    acked.push_back(*seqs.rbegin() + 1);  // the entry check_after_crash recorded
  }
  CHECK(mid_stream >= iterations / 2);
}

TEST_CASE("kill: the shiftbook command killed while logging output loses no acknowledged entry") {
  // The command reads the real clock, so the login it relies on is made on the real clock too.
  const std::uint64_t seed = base_seed() + 1;
  std::mt19937_64 rng(seed);
  shiftbook::SystemClock clock;
  Terminal t;
  t.clock.set(clock.now_ms());
  REQUIRE(t.store->login("L1", "4321").is_ok());
  REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  t.store.reset();
  auto command = [&](int quantity) {
    return std::vector<std::string>{SHIFTBOOK_BIN, "--store", t.store_dir(), "log", "output", "--product", "P1",
                                    "--quantity", std::to_string(quantity)};
  };
  // How long one command takes here, so that the kills land from its start to just after its end.
  KillPlan timing;
  timing.never = true;
  Killed first = run_and_kill(command(1), timing);
  REQUIRE_MESSAGE(first.exit_code == 0, first.err);
  std::vector<std::uint64_t> acked = {std::strtoull(first.out.c_str() + first.out.find("entry ") + 6, nullptr, 10)};
  const auto span = static_cast<int>(first.ran.count() * 6 / 5);
  int killed = 0;
  for (int iteration = 0; iteration < 30; ++iteration) {
    KillPlan plan;
    plan.delay = Us(std::uniform_int_distribution<int>(0, span)(rng));
    CAPTURE(seed);
    CAPTURE(iteration);
    CAPTURE(plan.delay.count());
    Killed k = run_and_kill(command(iteration + 2), plan);
    if (k.by_sigkill) {
      ++killed;
    } else {
      // It finished first: exit 0 and "recorded entry SEQ" is its acknowledgement.
      REQUIRE_MESSAGE(k.exit_code == 0, k.err);
      const std::string mark = "recorded entry ";
      auto at = k.out.find(mark);
      REQUIRE_MESSAGE(at != std::string::npos, k.out);
      acked.push_back(std::strtoull(k.out.c_str() + at + mark.size(), nullptr, 10));
    }
    auto seqs = shiftbook::testing::check_after_crash(t.store_dir(), clock, acked);
    acked.push_back(*seqs.rbegin() + 1);
  }
  CHECK(killed > 0);
}
