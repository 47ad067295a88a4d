// `shiftbook`: the shift leader's command at the terminal. Parses arguments, runs the one chosen
// command, and turns its Status into an exit status and one line on standard error.
#include <CLI/CLI.hpp>

#include "cli_commands.h"
#include "cli_io.h"
#include "shiftbook/platform/command.h"

int main(int argc, char** argv) {
  using namespace shiftbook;
  cli::Context ctx;
  ctx.store_dir = client::default_store_dir();

  CLI::App app{"shiftbook: record shifts, hours, output and bonuses on this terminal, offline,\n"
               "in a signed, hash-chained log, and sync it with head office.",
               "shiftbook"};
  app.fallthrough();  // --store (and --help) may follow the subcommand
  app.require_subcommand(1);
  app.add_option("--store", ctx.store_dir,
                 "Folder of the terminal's store (default: $SHIFTBOOK_STORE, else $XDG_DATA_HOME/shiftbook, "
                 "else ~/.local/share/shiftbook)")
      ->type_name("DIR");
  app.footer(cli::exit_codes_help());
  cli::add_setup_commands(app, ctx);
  cli::add_record_commands(app, ctx);
  cli::add_read_commands(app, ctx);
  cli::add_sync_commands(app, ctx);
  cli::add_bundle_commands(app, ctx);

  if (auto done = command::parse(app, argc, argv)) return *done;
  return command::run("shiftbook", ctx.action, [&ctx](const Status& s) {
    if (ctx.terminal_revoked) return cli::kExitRevoked;
    return ctx.server_unreachable ? cli::kExitUnreachable : cli::exit_code(s.code());
  });
}
