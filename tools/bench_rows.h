// Each row of the design's performance table as figures: runs the row's benchmark `runs` times,
// prints every run as it ends, and reads the medians against the target and the ceiling. Rows not
// built yet say so and carry no figure. One thread.
#pragma once

#include <string>
#include <vector>

#include "bench_ceilings.h"
#include "bench_common.h"
#include "bench_report.h"
#include "shiftbook/bytes.h"
#include "shiftbook/status.h"

namespace shiftbook::bench {

struct BenchOptions {
  bool quick = false;
  int runs = 3;
  std::vector<std::string> only;  // empty: every row
  std::vector<std::string> stores;  // the server rows' stores, each "sqlite:" or a postgresql:// URL, in order
  std::string json_path;
  std::string parent;             // where the scratch folders go
  bool keep = false;
  long push_events = 100'000;     // outputs terminal A pushes (plus its shift_open)
  long pull_events = 1'000'000;   // events the new terminal pulls
  int entries = 1000;             // entries per run of the durable-entry row
  int terminals = 200;
  int per_unit = 10;
  int terminal_events = 1000;
  int server_threads = 0;         // the terminals row's server pool; 0: the server's default
  long sample_events = 100'000;   // events the ceilings are measured on
  long report_events = 10'000'000;  // events of the site whose period report is read
  long dashboard_events = 10'000'000;  // events the dashboard row's terminals push
  int dashboard_terminals = 200;

  bool wants(const std::string& row) const;
  // The PostgreSQL store given, if any (empty: none).
  std::string postgres_url() const;
  // " (SQLite)" or " (PostgreSQL)" to follow a row's name when more than one store is measured;
  // empty for the one default store, so that the output reads as it always did.
  std::string store_label(const std::string& store) const;
  // The sizes of --quick, unless given explicitly (`given` names the options given).
  void scale_down(const std::vector<std::string>& given);
};

// The push and terminals rows on `store` (one of o.stores).
Result<std::vector<Figure>> push_figures(Launcher& launcher, const BenchOptions& o, const Ceilings& c,
                                         const std::string& store);
Result<std::vector<Figure>> pull_figures(Launcher& launcher, const BenchOptions& o, const Ceilings& c);
Result<std::vector<Figure>> entry_figures(const BenchOptions& o);
Result<std::vector<Figure>> terminal_figures(Launcher& launcher, const BenchOptions& o,
                                             const std::vector<Bytes>& sample, const std::string& store);
// The period report over o.report_events (head office's aggregates, bench_ledger.h): reading one
// period, bringing it up to date after 1,000 events, the full recompute against the baseline of
// decoding every event, and the peak memory.
Result<std::vector<Figure>> report_figures(const BenchOptions& o);
// The dashboard's overview over o.dashboard_events of o.dashboard_terminals (bench_dashboard.h):
// the first request (the ledger built) against `returns` on the same store, the later ones
// against GET /v1/hello, and the server's peak memory against that of `returns`.
Result<std::vector<Figure>> dashboard_figures(Launcher& launcher, const BenchOptions& o);

}  // namespace shiftbook::bench
