// The `shiftbook` subcommands. Each registers its arguments with CLI11 and, once parsing has
// succeeded, leaves one action in the Context for main() to run; the action opens the store,
// makes one or two store calls and prints. Actions return a Status and never exit themselves, so
// main() maps every failure to an exit status in one place. One thread.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "shiftbook/client/store.h"
#include "shiftbook/platform/command.h"
#include "shiftbook/clock.h"
#include "shiftbook/status.h"

namespace shiftbook::cli {

struct Context : command::ContextBase {
  std::string store_dir;           // --store, or client::default_store_dir()
  // Set by enroll and sync when they failed because the server could not be reached: the exit
  // status is then kExitUnreachable, which the code alone (unavailable) does not tell apart from
  // a busy store.
  bool server_unreachable = false;
  // Set by sync when head office revoked this terminal: the exit status is then kExitRevoked.
  bool terminal_revoked = false;

  Result<std::unique_ptr<client::Store>> open_store() const {
    return client::Store::open(store_dir, clock, {});
  }
};

using command::add_json_flag;
using command::on_run;

// Prints what a recording call appended: the line `text` ("recorded entry 12: hours W1 ..."), or
// with --json {"seq":12,"hash":"...","kind":"hours"}.
void print_recorded(const Context& ctx, const client::Recorded& r, const std::string& text);

// init, ref import|show|hash-pin, leader add|list, login, logout, shift open|close|list
void add_setup_commands(CLI::App& app, Context& ctx);
// log hours|output|bonus, confirm, correct, void
void add_record_commands(CLI::App& app, Context& ctx);
// list, show, summary, status, verify, export
void add_read_commands(CLI::App& app, Context& ctx);
// enroll, sync
void add_sync_commands(CLI::App& app, Context& ctx);
// bundle export|import: sync by files
void add_bundle_commands(CLI::App& app, Context& ctx);

}  // namespace shiftbook::cli
