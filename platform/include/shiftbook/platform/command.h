// The command-line plumbing both programs share (`shiftbook` at the terminal, `shiftbook-server`
// at head office), over CLI11: each subcommand, once parsing has succeeded, leaves one action in
// the program's context; main() parses, runs that action, and maps its Status to an exit status in
// one place. Actions return a Status and never exit themselves. For the one thread of a
// command-line process.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "shiftbook/clock.h"
#include "shiftbook/status.h"

namespace shiftbook::command {

// What every program's context holds; each program's Context derives from it.
struct ContextBase {
  bool json = false;               // --json of the chosen subcommand
  std::function<Status()> action;  // set by the chosen subcommand's callback
  SystemClock clock;
};

// Makes `run(ctx, *opts)` the action when `sub` is the subcommand given.
template <typename Ctx, typename Opts, typename Run>
void on_run(CLI::App* sub, Ctx& ctx, std::shared_ptr<Opts> opts, Run run) {
  sub->callback([&ctx, opts, run] { ctx.action = [&ctx, opts, run] { return run(ctx, *opts); }; });
}

// Makes `run(ctx)` the action when `sub` is the subcommand given (for commands without options).
template <typename Ctx, typename Run>
void on_run(CLI::App* sub, Ctx& ctx, Run run) {
  sub->callback([&ctx, run] { ctx.action = [&ctx, run] { return run(ctx); }; });
}

inline void add_json_flag(CLI::App* sub, ContextBase& ctx) {
  sub->add_flag("--json", ctx.json, "Print one JSON document instead of text");
}

// Parses the command line. On --help returns the exit status of printing it; on a parse error
// prints "PROGRAM: what was wrong (see 'PROGRAM SUB --help')" (naming a misspelt command as such)
// on standard error and returns the usage exit status. nullopt when the action should run.
std::optional<int> parse(CLI::App& app, int argc, char** argv);

// Starts the cryptographic library, runs `action` and maps its Status to an exit status, printing
// a failure as "PROGRAM: message" on standard error. `exit_for` may choose the exit status of a
// failure instead of the Status code's default. Exceptions become internal errors.
int run(const std::string& program, const std::function<Status()>& action,
        const std::function<int(const Status&)>& exit_for = {});

}  // namespace shiftbook::command
