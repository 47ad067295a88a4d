// The soak of issue 7 (docs/FAULTS.md): a real shiftbook-server, a shiftbook-faultproxy in front
// of it, and several terminals (the `shiftbook` program, each store in its own folder) that record
// entries and sync through the proxy, with every fault on, while syncs and the server are
// SIGKILLed at random moments (the server restarts on the same folder and the proxy is pointed at
// its new port). Then a quiet round with the faults off, and the checks: nothing lost or
// duplicated (the server holds exactly each terminal's chain, and each chain holds exactly the
// entries whose command succeeded), every chain verifies, every replica converged. Driven from
// one thread; it starts one thread per terminal and one that kills the server.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "shiftbook/canonical.h"
#include "shiftbook/status.h"

namespace shiftbook::soak {

struct SoakOptions {
  int terminals = 3;
  int events_per_terminal = 30;
  double minutes = 0.5;              // of the faulty phase
  std::uint64_t seed = 1;
  double fault_rate = 0.08;          // the proxy's rate for every kind of fault
  double client_kill_rate = 0.25;    // the share of syncs SIGKILLed at a random moment
  int client_kill_window_ms = 150;   // ... within this long after they start
  double server_kill_seconds = 3;    // mean time between two SIGKILLs of the server
  std::string work_dir;              // empty: a fresh folder, removed after a run without problems
  bool keep = false;                 // keep the work folder even then
  std::string shiftbook_bin;
  std::string server_bin;
  std::string proxy_bin;
};

struct SoakFigures {
  int terminals = 0;
  std::uint64_t events_recorded = 0;   // entries whose `shiftbook log` command succeeded, shifts opened too
  std::uint64_t events_on_server = 0;  // the terminals' events the server holds at the end
  std::uint64_t syncs = 0;             // `shiftbook sync` runs in the faulty phase
  std::uint64_t syncs_ok = 0;
  std::uint64_t syncs_unreachable = 0;  // exit 12: dropped, cut, or the server was down
  std::uint64_t syncs_retry_later = 0;  // exit 10: the server failed or asked to try later
  std::uint64_t client_kills = 0;      // syncs SIGKILLed while running
  std::uint64_t server_kills = 0;
  std::uint64_t quiet_rounds = 0;      // rounds of syncs with faults off until nothing moved
  Json proxy = Json::object();         // the proxy's counts (GET /_proxy/stats)
  double minutes = 0;                  // the whole run, setup and checks included
  std::string work_dir;
  std::vector<std::string> problems;   // empty when every check passed

  Json to_json() const;
  std::string to_text() const;
};

// Runs the soak. A failure to set it up (a program that does not start, a command of the setup
// that fails) is the Status; whatever goes wrong after that is in figures.problems.
Result<SoakFigures> run_soak(const SoakOptions& options, std::ostream& progress);

}  // namespace shiftbook::soak
