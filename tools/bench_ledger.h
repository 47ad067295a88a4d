// The reports row (docs/BENCHMARK.md, "Reports"): one site's events made in memory, then, run by
// run, the baseline (decoding every event), the full recompute (a Ledger built from every event and
// every report computed), reading one period's reports from the Ledger held, and bringing them up
// to date after a batch of new events; with the process's peak memory. Used by
// shiftbook-bench-reports and by shiftbook-bench's report row. Figures only; it asserts nothing
// but that the reports it reads exist.
#pragma once

#include <cstdint>
#include <vector>

#include "shiftbook/status.h"

namespace shiftbook::bench {

struct ReportRun {
  double decode_s = 0;  // the baseline
  double full_s = 0;
  double read_s = 0;
  double update_s = 0;
};

struct ReportMeasure {
  std::uint64_t events = 0;  // in the log before the batch
  std::uint64_t batch = 0;
  double make_s = 0;
  long made_peak_mib = 0;    // the peak after making the events: what they take
  std::size_t reports = 0;   // unit reports in all periods
  std::vector<ReportRun> runs;
  long peak_mib = 0;
};

// `events` events (about: whole shifts), then `batch` more; `runs` runs. Each run is printed to
// stderr as it ends.
Result<ReportMeasure> measure_reports(std::uint64_t events, std::uint64_t batch, int runs);

// The process's peak resident memory so far, MiB (getrusage).
long peak_rss_mib();

}  // namespace shiftbook::bench
