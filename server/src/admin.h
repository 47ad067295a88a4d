// The `shiftbook-server` subcommands. Each registers its arguments with CLI11 and, once parsing
// has succeeded, leaves one action in the Context for main() to run; the action opens the server
// folder, makes one or two Service calls and prints. Actions return a Status and never exit
// themselves, so main() maps every failure to an exit status in one place. One thread.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "service.h"
#include "shiftbook/clock.h"
#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook::server::cli {

struct Context {
  std::string dir;                 // --dir, or $SHIFTBOOK_SERVER_DIR
  bool json = false;               // --json of the chosen subcommand
  std::function<Status()> action;  // set by the chosen subcommand's callback
  SystemClock clock;

  // The Service over the server in `dir`.
  Result<std::unique_ptr<Service>> open() const;
};

// Makes `run(ctx, *opts)` the action when `sub` is the subcommand given.
template <typename Opts, typename Run>
void on_run(CLI::App* sub, Context& ctx, std::shared_ptr<Opts> opts, Run run) {
  sub->callback([&ctx, opts, run] { ctx.action = [&ctx, opts, run] { return run(ctx, *opts); }; });
}

// Makes `run(ctx)` the action when `sub` is the subcommand given (for commands without options).
template <typename Run>
void on_run(CLI::App* sub, Context& ctx, Run run) {
  sub->callback([&ctx, run] { ctx.action = [&ctx, run] { return run(ctx); }; });
}

inline void add_json_flag(CLI::App* sub, Context& ctx) {
  sub->add_flag("--json", ctx.json, "Print one JSON document instead of text");
}

// "2026-11-17 08:00 UTC"; "never" for 0.
std::string format_utc(std::int64_t ms);
// The first 8 hex digits of a key, as terminals show their own.
std::string short_key(const PublicKey& key);

// site, unit, period, product, worker, leader, quota: head office's reference data.
void add_reference_commands(CLI::App& app, Context& ctx);
// code create|list, device list: who may enroll, and who did.
void add_access_commands(CLI::App& app, Context& ctx);

}  // namespace shiftbook::server::cli
