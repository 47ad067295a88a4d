// The row of many terminals syncing at once: a load generator inside the benchmark. Set up once: a
// server with site S1 and units of `per_unit` terminals each, one enrollment code per terminal
// (the admin command), `terminals` in-process terminals (WireTerminal, device keys from fixed
// seeds) enrolled over HTTP, and each terminal's chain of `events` events (a shift of its unit,
// then outputs) built in memory; the server's folder is kept while stopped.
//
// Each run copies that folder (on PostgreSQL, `store`, also the set-up's schema into a fresh one,
// bench_pg.h), starts the copy (`serve`, its pool of `server_threads` or the
// default) and gives every terminal its own thread and keep-alive connection. At one signal all
// of them sync at once: a round trip that pushes the whole chain (one batch, a head signed at its
// last event) and pulls, then pull round trips until the server has no more; the terminal then
// disconnects. When all are done they sync again at once, pulling what their unit's other
// terminals pushed meanwhile. Every round trip is timed from sending the sealed request to holding
// the opened, decoded answer. The run checks every answer: each receipt verifies and acknowledges
// exactly the chain pushed, each pulled head verifies, and in the end each terminal received every
// event of its unit's other terminals (the last head of each at its chain's end), the site's
// reference chain, and nothing else. One thread drives it; the terminals run on their own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "bench_pg.h"
#include "shiftbook/bytes.h"
#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook::bench {

struct LoadOptions {
  int terminals = 200;
  int per_unit = 10;
  int events = 1000;        // each terminal's chain: a shift_open, then events - 1 outputs
  int server_threads = 0;   // 0: the server's default pool
  std::string store = "sqlite:";  // the server's store (bench_pg.h): a PostgreSQL schema per run
};

struct LoadRun {
  int terminals = 0;
  int acknowledged = 0;              // whose push a verified receipt acknowledged in full
  int complete = 0;                  // that received exactly their unit's events and the reference chain
  int failed_syncs = 0;              // terminals whose sync stopped with an error
  std::string sync_failure;          // the first of those errors
  std::string problem;               // the first failure seen by the checks, if any
  std::vector<double> round_trip_ms;  // every round trip of both syncs
  std::vector<double> push_ms;        // the round trips that pushed (one per terminal)
  std::vector<double> server_ms;      // the server's own time per sync request (its log)
  double push_phase_s = 0;           // from the signal to the last terminal done with its first sync
  double total_s = 0;                // from the signal to the last terminal done with both
  std::uint64_t events_pulled = 0;
  // Processor time used during the run by the server and by the load generator (this process):
  // on 2 cores no schedule finishes the run in less than their sum divided by 2.
  double server_cpu_s = 0;
  double generator_cpu_s = 0;
};

class LoadRow {
 public:
  static Result<std::unique_ptr<LoadRow>> set_up(Launcher& launcher, const std::string& parent, bool keep,
                                                 LoadOptions options);
  ~LoadRow();
  const LoadOptions& options() const { return options_; }
  Result<LoadRun> run_once();

 private:
  struct Terminal;
  LoadRow(Launcher& l, ScratchDir root, bool keep, LoadOptions o);
  Launcher& launcher_;
  ScratchDir root_;
  bool keep_ = false;
  LoadOptions options_;
  std::unique_ptr<RowStore> store_;
  PublicKey server_key_{};
  PublicKey signer_key_{};
  std::vector<Terminal> terminals_;
};

}  // namespace shiftbook::bench
