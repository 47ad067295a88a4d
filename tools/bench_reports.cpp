// shiftbook-bench-reports: what head office's reports cost as a site's log grows (docs/BENCHMARK.md,
// "Reports"). Builds one site's events in memory (head office's plan and rule set, terminals
// recording shifts of hours, output and bonuses, some corrections), then measures, each several
// times: building the Ledger from every event and computing every unit's report (the full
// recompute the audit does), reading one period's reports from a Ledger already built, and
// bringing them up to date after a batch of new events; and the process's peak memory. Figures
// only; it asserts nothing.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <vector>

#include "bench_common.h"
#include "bench_ledger.h"
#include "shiftbook/platform/command.h"

using namespace shiftbook;
using shiftbook::bench::median;

int main(int argc, char** argv) {
  std::uint64_t events = 100'000;
  int runs = 3;
  std::uint64_t batch = 1'000;
  CLI::App app{"Measures the full recompute of a site's reports, reading one period's reports, and bringing them up "
               "to date after a batch of new events, with the peak memory (docs/BENCHMARK.md, \"Reports\")",
               "shiftbook-bench-reports"};
  app.add_option("--events", events, "Events of the site (default 100,000)")->check(CLI::Range(1'000ULL, 100'000'000ULL));
  app.add_option("--runs", runs, "Runs of each measurement; the median is reported (default 3)")->check(CLI::Range(1, 50));
  app.add_option("--batch", batch, "New events brought up to date at once (default 1,000)")->check(CLI::Range(1ULL, 1'000'000ULL));
  if (auto exit = command::parse(app, argc, argv)) return *exit;
  return command::run("shiftbook-bench-reports", [&]() -> Status {
    SB_ASSIGN_OR_RETURN(bench::ReportMeasure m, bench::measure_reports(events, batch, runs));
    std::vector<double> decode, full, read, update;
    for (const bench::ReportRun& r : m.runs) {
      decode.push_back(r.decode_s);
      full.push_back(r.full_s);
      read.push_back(r.read_s);
      update.push_back(r.update_s);
    }
    std::printf("%llu events (one site, 20 units) made and sealed in %.1f s; peak memory then %ld MiB\n",
                static_cast<unsigned long long>(m.events), m.make_s, m.made_peak_mib);
    std::printf("baseline, decode every event (rules and hash): median %.2f s of %d runs\n", median(decode), runs);
    std::printf("full recompute (build the Ledger from every event, then every report): median %.2f s, "
                "%.1f times the baseline\n",
                median(full), median(full) / median(decode));
    std::printf("read one period's reports (every unit's figures and shares, no sources) from the Ledger held: "
                "median %.3f s (%zu unit reports in all periods)\n",
                median(read), m.reports);
    std::printf("bring them up to date after %llu new events: median %.3f s\n", static_cast<unsigned long long>(batch),
                median(update));
    std::printf("peak memory: %ld MiB\n", m.peak_mib);
    return Status::ok();
  });
}
