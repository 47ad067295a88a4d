// shiftbook-sim: runs the seeded simulation of docs/SIMULATION.md for one seed or many, prints a
// line per seed and the figures of all of them, and exits 1 at the first seed whose checks fail
// (its line says what differed and how to replay it), 2 for a usage error.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "shiftbook/crypto.h"
#include "shiftbook/platform/command.h"
#include "sim_world.h"

using namespace shiftbook;

int main(int argc, char** argv) {
  sim::SimOptions o;
  std::uint64_t seeds = 1;
  bool verbose = false;
  CLI::App app{"Simulates many terminals and one head office in one process, through the real store, sync and "
               "server code, with lost requests and answers, offline periods, clock jumps and restarts, and checks "
               "that every replica converges on the ground truth (docs/SIMULATION.md). Exit status: 0 when every "
               "seed passed, 1 at the first that failed, 2 for a usage error.",
               "shiftbook-sim"};
  app.add_option("--seed", o.seed, "The first seed; seed k of a run of many is this plus k - 1")->check(CLI::Range(1ULL, ~0ULL >> 1));
  app.add_option("--seeds", seeds, "How many seeds to run, one after the other")->check(CLI::Range(1ULL, 1'000'000ULL));
  app.add_option("--terminals", o.terminals, "Terminals (default 20)")->check(CLI::Range(2, 500));
  app.add_option("--units", o.units, "Production units the terminals are spread over (default 4)")->check(CLI::Range(1, 50));
  app.add_option("--steps", o.steps, "Actions per seed before the final catch-up (default 2,000)")->check(CLI::Range(0, 10'000'000));
  app.add_option("--lose-requests", o.lose_request_percent, "Percent of sync requests lost before the server (default 5)")
      ->check(CLI::Range(0, 90));
  app.add_option("--lose-answers", o.lose_answer_percent,
                 "Percent of sync answers lost after the server took the request (default 5)")
      ->check(CLI::Range(0, 90));
  app.add_option("--dir", o.dir, "Where the runs' folders go (default $TMPDIR or /tmp)")->check(CLI::ExistingDirectory);
  app.add_flag("--keep", o.keep, "Keep every run's folder (a failed run keeps its own anyway)");
  app.add_flag("--verbose", verbose, "Print a line per notable action (restarts, clock jumps)");
  if (auto exit = command::parse(app, argc, argv)) return *exit;
  return command::run("shiftbook-sim", [&]() -> Status {
    SB_RETURN_IF_ERROR(crypto_init());
    sim::SimFigures all;
    const std::uint64_t first = o.seed;
    for (std::uint64_t k = 0; k < seeds; ++k) {
      o.seed = first + k;
      SB_ASSIGN_OR_RETURN(sim::SimFigures f, sim::run_simulation(o, verbose ? &std::cout : nullptr));
      std::cout << "seed " << o.seed << ": " << f.events << " events (" << f.entries << " entries, " << f.corrections
                << " corrections, " << f.voids << " voids, " << f.cross_corrections << " of another terminal's, "
                << f.forked_changes << " of a version already changed elsewhere), " << f.forks << " conflicts ("
                << f.open_conflicts << " open, " << f.resolutions << " decisions by head office), " << f.anomalies << " anomalies, " << f.syncs << " syncs ("
                << f.failed_syncs << " cut off), " << f.terminal_restarts << " restarts of terminals, "
                << f.server_restarts << " of the server, " << f.clock_jumps << " clock jumps; converged in "
                << f.catch_up_rounds << " rounds; ok (" << std::fixed << std::setprecision(1) << f.seconds << " s)"
                << (f.folder.empty() ? "" : ", kept in " + f.folder) << std::endl;
      all.events += f.events;
      all.entries += f.entries;
      all.corrections += f.corrections;
      all.voids += f.voids;
      all.forked_changes += f.forked_changes;
      all.forks += f.forks;
      all.open_conflicts += f.open_conflicts;
      all.resolutions += f.resolutions;
      all.anomalies += f.anomalies;
      all.syncs += f.syncs;
      all.lost_requests += f.lost_requests;
      all.lost_answers += f.lost_answers;
      all.terminal_restarts += f.terminal_restarts;
      all.server_restarts += f.server_restarts;
      all.clock_jumps += f.clock_jumps;
      all.seconds += f.seconds;
    }
    std::cout << "\n" << seeds << " seeds from " << first << " passed: " << all.events << " events, " << all.entries
              << " entries, " << all.corrections << " corrections, " << all.voids << " voids, " << all.forked_changes
              << " forking changes, " << all.forks << " conflicts (" << all.open_conflicts << " open at the end, " << all.resolutions << " decisions), "
              << all.anomalies << " anomalies, " << all.syncs << " syncs, " << all.lost_requests << " requests and "
              << all.lost_answers << " answers lost, " << all.terminal_restarts << " terminal and "
              << all.server_restarts << " server restarts, " << all.clock_jumps << " clock jumps, " << std::fixed
              << std::setprecision(1) << all.seconds << " s" << std::endl;
    return Status::ok();
  });
}
