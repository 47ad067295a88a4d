// shiftbook-crash: kills `shiftbook sync` and `shiftbook-server` with SIGKILL at seeded moments of
// a sync of 10,000 events, by the hundred, and checks after each kill that the next sync completes
// and nothing was lost or duplicated. The iterations are those of tests/integration/crash_test.cpp
// (tests/support/crash_world.h says what each one checks); this runs more of them and counts where
// the kills landed (docs/DURABILITY.md). Prints one line per iteration, every failure in full, and
// a table at the end; exits 1 if any iteration failed. The programs it runs are the ones built
// beside it (SHIFTBOOK_BIN, SHIFTBOOK_SERVER_BIN).
//
// usage: shiftbook-crash [--iterations N] [--seed S] [--events E] [--side client|server|both]
//                        [--check-b-every K] [--dir D] [--keep]
// Without --side, iterations take turns: client, server, client, server, both. Iteration i has
// seed S + i - 1. Terminal B syncs and verifies every K-th iteration (default: every one).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "shiftbook/crypto.h"
#include "support/crash_world.h"

namespace {

using namespace shiftbook::testing::crash;

struct Options {
  int iterations = 100;
  std::uint64_t seed = 20261116;
  WorldOptions world;
  std::optional<Side> side;
  int check_b_every = 1;
};

constexpr const char* kUsage =
    "usage: shiftbook-crash [--iterations N] [--seed S] [--events E] [--side client|server|both]\n"
    "                       [--check-b-every K] [--dir D] [--keep]";

[[noreturn]] void usage_error(const std::string& what) {
  std::cerr << "shiftbook-crash: " << what << "\n" << kUsage << "\n";
  std::exit(2);
}

std::uint64_t whole_number(const std::string& option, const std::string& text) {
  char* end = nullptr;
  const unsigned long long n = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || text[0] == '-' || *end != '\0') usage_error(option + " needs a whole number, not '" + text + "'");
  return n;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--iterations") {
      o.iterations = static_cast<int>(std::min<std::uint64_t>(whole_number(a, value()), 1'000'000));
    } else if (a == "--seed") {
      o.seed = whole_number(a, value());
    } else if (a == "--events") {
      o.world.events = whole_number(a, value());
    } else if (a == "--side") {
      const std::string s = value();
      o.side = parse_side(s);
      if (!o.side) usage_error("--side is client, server or both, not '" + s + "'");
    } else if (a == "--check-b-every") {
      o.check_b_every = static_cast<int>(std::min<std::uint64_t>(whole_number(a, value()), 1'000'000));
    } else if (a == "--dir") {
      o.world.parent = value();
    } else if (a == "--keep") {
      o.world.keep = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage << "\n";
      std::exit(0);
    } else {
      usage_error("unknown option '" + a + "'");
    }
  }
  if (o.iterations < 1) usage_error("--iterations must be at least 1");
  if (o.world.events < 2) usage_error("--events must be at least 2");
  if (o.check_b_every < 1) usage_error("--check-b-every must be at least 1");
  return o;
}

Side side_of(const Options& o, int iteration) {
  if (o.side) return *o.side;
  static constexpr Side kTurns[] = {Side::kClient, Side::kServer, Side::kClient, Side::kServer, Side::kBoth};
  return kTurns[(iteration - 1) % 5];
}

// Counts per label, printed as "push 40, answer 3, done 57".
std::string counts(const std::map<std::string, int>& m) {
  std::string out;
  for (const auto& [label, n] : m) out += (out.empty() ? "" : ", ") + label + " " + std::to_string(n);
  return out.empty() ? "-" : out;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (!shiftbook::crypto_init().is_ok()) {
    std::cerr << "shiftbook-crash: libsodium did not initialise\n";
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  std::printf("shiftbook-crash: building the world: terminal A with %llu events, terminal B with %llu\n",
              static_cast<unsigned long long>(opt.world.events), static_cast<unsigned long long>(opt.world.b_events));
  auto made = World::create(opt.world);
  if (!made.is_ok()) {
    std::cerr << "shiftbook-crash: " << made.status().to_string() << "\n";
    return 1;
  }
  World& world = **made;
  std::printf("world in %s, built in %.1f s; an uninterrupted sync of A took %.1f ms in %llu round trips (T)\n\n",
              world.dir().c_str(), world.setup_seconds(), static_cast<double>(world.window_us()) / 1000.0,
              static_cast<unsigned long long>(world.window_round_trips()));

  std::map<std::string, int> by_side, by_held, by_phase, by_round_trips;
  int failed = 0;
  for (int i = 1; i <= opt.iterations; ++i) {
    const bool check_b = (i - 1) % opt.check_b_every == 0;
    const Outcome o = world.run(i, opt.seed + static_cast<std::uint64_t>(i - 1), side_of(opt, i), check_b);
    std::printf("%s\n", o.line(opt.world.events).c_str());
    for (const std::string& f : o.failures) std::printf("  FAILED: %s\n", f.c_str());
    failed += o.ok() ? 0 : 1;
    ++by_side[std::string(side_name(o.side))];
    ++by_held[o.kill.held_class(opt.world.events)];
    ++by_phase[std::string(phase_name(o.kill.phase))];
    ++by_round_trips[std::to_string(o.round_trips)];
  }
  const double minutes = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60.0;
  std::printf("\n%-34s %d (seeds %llu..%llu), %d failed\n", "iterations", opt.iterations,
              static_cast<unsigned long long>(opt.seed),
              static_cast<unsigned long long>(opt.seed + static_cast<std::uint64_t>(opt.iterations - 1)), failed);
  std::printf("%-34s %s\n", "kills by side", counts(by_side).c_str());
  std::printf("%-34s %s\n", "server held of A at the kill", counts(by_held).c_str());
  std::printf("%-34s %s\n", "kill points by phase", counts(by_phase).c_str());
  std::printf("%-34s %s\n", "round trips of the sync after", counts(by_round_trips).c_str());
  std::printf("%-34s %.1f ms, %llu round trips\n", "T (one uninterrupted sync of A)",
              static_cast<double>(world.window_us()) / 1000.0,
              static_cast<unsigned long long>(world.window_round_trips()));
  std::printf("%-34s %.1f\n", "minutes", minutes);
  if (failed > 0) std::printf("failed iterations keep their folders under %s\n", world.dir().c_str());
  return failed > 0 ? 1 : 0;
}
