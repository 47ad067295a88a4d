// The seeded simulation of docs/SIMULATION.md: many terminals and one head office in one
// process, driven through the real code paths (client::Store, the sync driver, server::Service
// over SQLite) with an in-process transport that loses requests and answers, while terminals go
// offline, record, correct and void entries, have their clocks jump, and terminals and the server
// restart. It keeps its own ground truth of every entry and checks, along the way, that a terminal
// reads its own writes and never sees an entry go back, and at the end that every replica holds
// exactly the server's chains, every chain verifies, nothing was lost or duplicated, and every
// terminal's totals equal the ground truth. The same options and seed give the same run.
// One thread.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "shiftbook/status.h"

namespace shiftbook::sim {

struct SimOptions {
  std::uint64_t seed = 1;
  int terminals = 20;
  int units = 4;                 // production units of the one site; terminals spread over them
  int steps = 2'000;             // actions of the run, before the final catch-up
  int lose_request_percent = 5;  // of the requests of an online terminal, lost before the server
  int lose_answer_percent = 5;   // lost after the server took them (as a crash mid-sync would)
  std::string dir;               // where the run's folder goes ($TMPDIR or /tmp when empty)
  bool keep = false;             // keep the folder (a failed run keeps it anyway)
};

struct SimFigures {
  std::uint64_t events = 0;          // events the terminals recorded, as the server holds them at the end
  std::uint64_t entries = 0;         // entries recorded (hours, output, bonus)
  std::uint64_t corrections = 0;
  std::uint64_t voids = 0;
  std::uint64_t cross_corrections = 0;  // corrections and voids of another terminal's entry
  std::uint64_t forked_changes = 0;  // corrections and voids of a version something else superseded already
  std::uint64_t forks = 0;           // versions with several children at the end: conflicts
  std::uint64_t open_conflicts = 0;  // of them, not closed by head office at the end
  std::uint64_t resolutions = 0;     // head office's decisions of forks
  std::uint64_t anomalies = 0;       // what the server's anomaly rules found at the end
  std::uint64_t refused = 0;         // recordings the store refused (overlapping hours, ...)
  std::uint64_t syncs = 0;           // sync runs started
  std::uint64_t failed_syncs = 0;    // of those, ended by a lost request or answer, or offline
  std::uint64_t lost_requests = 0;
  std::uint64_t lost_answers = 0;
  std::uint64_t terminal_restarts = 0;
  std::uint64_t server_restarts = 0;
  std::uint64_t clock_jumps = 0;
  std::uint64_t offline_periods = 0;
  std::uint64_t catch_up_rounds = 0;  // rounds of syncs at the end until nothing moved
  double seconds = 0;
  std::string folder;  // the run's folder, when kept
};

// Runs one simulation. ok with its figures when every check held; otherwise the first check that
// failed, naming the seed, the step and what differed (the folder is kept then). `log`, when
// given, gets a line per notable action.
Result<SimFigures> run_simulation(const SimOptions& options, std::ostream* log = nullptr);

}  // namespace shiftbook::sim
