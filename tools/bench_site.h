// The events of one site as the benchmark makes them, sealed with real hashes and kept as their
// canonical bytes: terminals recording shifts in their units (a shift_open, 8 hours entries, 3 %
// of them corrected, an output of P1 and, one shift in 20, a skill upgrade), and a chain of any
// device (head office's plan, made by hand). The report row reads them into a Ledger in memory
// (bench_ledger.h); the dashboard row pushes them to a real server (bench_dashboard.h). Seeded:
// the same shape and seed make the same events. One thread per ShiftMaker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench_terminal.h"
#include "shiftbook/canonical.h"
#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook::bench {

// A device's chain: each event added follows the one before (seq, prev), author L1, its HLC a
// second after the one before from `base_ms` on.
class EventChain {
 public:
  EventChain(PublicKey device, std::int64_t base_ms) : device_(device), base_ms_(base_ms) {}
  const PublicKey& device() const { return device_; }
  Result<ChainLink> add(const char* kind, Json body);

 private:
  PublicKey device_;
  std::int64_t base_ms_ = 0;
  std::uint64_t seq_ = 0;
  Hash last_{};
};

struct SiteShape {
  std::vector<PublicKey> terminals;  // terminal i records shifts of unit i % units.size()
  std::vector<std::string> units;    // unit i's workers are W(40 i) to W(40 i + 39)
  std::int64_t first_day = 0;        // terminal t's k-th shift is on first_day + k % days
  int days = 1;
  std::int64_t base_ms = 0;          // each chain's HLC starts here
};

class ShiftMaker {
 public:
  ShiftMaker(SiteShape shape, std::uint32_t seed);
  std::size_t terminals() const { return chains_.size(); }
  const std::string& unit_of(std::size_t terminal) const;
  // Appends terminal `t`'s next shift to `out`, every event in chain order.
  Status next_shift(std::size_t t, std::vector<ChainLink>& out);
  // The output of P1 recorded so far, per unit: what its period return's actual must be.
  const std::map<std::string, std::int64_t>& output() const { return output_; }

 private:
  SiteShape shape_;
  std::mt19937 rng_;
  std::vector<EventChain> chains_;
  std::vector<std::int64_t> shifts_;  // made so far, per terminal
  std::map<std::string, std::int64_t> output_;
};

}  // namespace shiftbook::bench
