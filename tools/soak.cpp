// shiftbook-soak: terminals syncing through shiftbook-faultproxy while syncs and the server are
// SIGKILLed at random moments, then the checks (soak_world.h, docs/FAULTS.md). Parses arguments,
// runs the soak, prints its figures; exit 0 only when every check passed.
#include <CLI/CLI.hpp>

#include <iostream>

#include "shiftbook/platform/command.h"
#include "shiftbook/platform/console.h"
#include "soak_world.h"

int main(int argc, char** argv) {
  using namespace shiftbook;
  soak::SoakOptions o;
  o.shiftbook_bin = SHIFTBOOK_BIN;
  o.server_bin = SHIFTBOOK_SERVER_BIN;
  o.proxy_bin = SHIFTBOOK_FAULTPROXY_BIN;
  bool json = false;
  CLI::App app{"shiftbook-soak: terminals sync through the fault proxy while syncs and the server are SIGKILLed\n"
               "at random moments; then checks that nothing was lost or duplicated, every chain verifies and\n"
               "every replica converged (docs/FAULTS.md). Exit 0 when all holds, 9 when a check failed.",
               "shiftbook-soak"};
  app.add_option("--terminals", o.terminals, "Terminals, all in one production unit (default 3)")->check(CLI::Range(1, 64));
  app.add_option("--events-per-terminal", o.events_per_terminal, "Entries each terminal records (default 30)")
      ->check(CLI::Range(0, 1'000'000));
  app.add_option("--minutes", o.minutes, "Length of the faulty phase, such as 0.3 or 10 (default 0.5)")
      ->check(CLI::Range(0.01, 24.0 * 60));
  app.add_option("--seed", o.seed, "Seed of every random choice and of the proxy (default 1)");
  app.add_option("--fault-rate", o.fault_rate, "The proxy's rate for each kind of fault (default 0.08)")
      ->check(CLI::Range(0.0, 0.5));
  app.add_option("--client-kill-rate", o.client_kill_rate, "Share of syncs SIGKILLed at a random moment (default 0.25)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--server-kill-seconds", o.server_kill_seconds, "Mean time between server SIGKILLs (default 3)")
      ->check(CLI::Range(0.2, 3600.0));
  app.add_option("--dir", o.work_dir, "Work folder (default: a fresh one, removed after a run without problems)");
  app.add_flag("--keep", o.keep, "Keep the work folder after a run without problems");
  app.add_option("--shiftbook", o.shiftbook_bin, "The shiftbook program (default: the one built beside this)");
  app.add_option("--server", o.server_bin, "The shiftbook-server program");
  app.add_option("--proxy", o.proxy_bin, "The shiftbook-faultproxy program");
  app.add_flag("--json", json, "Print the figures as one JSON document");
  if (auto done = command::parse(app, argc, argv)) return *done;
  return command::run("shiftbook-soak", [&]() -> Status {
    SB_ASSIGN_OR_RETURN(soak::SoakFigures figures, soak::run_soak(o, std::cerr));
    if (json) {
      console::print_json(figures.to_json());
    } else {
      std::cout << figures.to_text();
    }
    if (!figures.problems.empty()) {
      return data_loss("the soak found " + std::to_string(figures.problems.size()) + " problem(s); the first: " +
                       figures.problems.front());
    }
    return Status::ok();
  });
}
