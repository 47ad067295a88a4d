// Terminals driven through the shiftbook binary against a real shiftbook-server, for the
// integration tests that need enrolled terminals of site S1 (setup_head_office).
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "cli/cli_support.h"
#include "support/server_process.h"

namespace shiftbook::testing {

// The command succeeded; otherwise the test stops with what it said.
inline void ok(const RunResult& r, const std::string& what) {
  REQUIRE_MESSAGE(r.exit_code == 0, (what + ": " + r.err));
}

// A terminal of site S1 and unit U1, enrolled with `server`, synced once, with L1 logged in.
inline void enroll(const Cli& t, const ServerProcess& server) {
  ok(t.run({"init"}), "init");
  ok(t.run({"enroll", "--server", server.url(), "--code", server.create_code("S1", {"U1"})}), "enroll");
  ok(t.run({"sync"}), "first sync");
  ok(t.run({"login", "L1"}, "4321\n"), "login");
}

// A shift of unit U1 on 2026-11-16: W1 from 06:00 to 14:00 and 620 pieces of P1, synced.
inline void log_a_day(const Cli& t) {
  ok(t.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  ok(t.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}), "hours");
  ok(t.run({"log", "output", "--product", "P1", "--quantity", "620"}), "output");
  ok(t.run({"sync"}), "sync");
}

// A server command refused with this exit code and a message holding `fragment`, printing nothing.
inline void refused(const RunResult& r, int exit_code, const std::string& fragment) {
  CHECK_MESSAGE(r.exit_code == exit_code, r.err);
  CHECK_MESSAGE(r.err.find(fragment) != std::string::npos, r.err);
  CHECK(r.out.empty());
}

// The terminal's device key, as `status --json` names it.
inline std::string device_of(const Cli& t) { return t.json({"status", "--json"})["device"].get<std::string>(); }

}  // namespace shiftbook::testing
