// `shiftbook`: the shift leader's command at the terminal. Parses arguments, runs the one chosen
// command, and turns its Status into an exit status and one line on standard error.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "cli_commands.h"
#include "cli_io.h"
#include "shiftbook/crypto.h"

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    // Point at the help of the deepest subcommand that was recognised.
    const CLI::App* deepest = &app;
    std::string path = "shiftbook";
    while (!deepest->get_subcommands().empty()) {
      deepest = deepest->get_subcommands().front();
      path += " " + deepest->get_name();
    }
    // CLI11 checks for a missing subcommand before it complains about words it did not know, so a
    // misspelt command would read "A subcommand is required"; name the word instead.
    std::string what = e.what();
    const auto unknown = app.remaining(true);
    if (deepest->get_require_subcommand_min() > 0 && !unknown.empty() && unknown.front().rfind('-', 0) != 0) {
      what = "unknown command '" + unknown.front() + "'";
    }
    cli::print_error(what + " (see '" + path + " --help')");
    return cli::kExitUsage;
  }

  try {
    if (!crypto_init().is_ok()) {
      cli::print_error("cannot start the cryptographic library");
      return cli::kExitInternal;
    }
    Status s = ctx.action ? ctx.action() : internal_error("no command to run");
    std::cout.flush();
    if (s.is_ok()) return cli::kExitOk;
    cli::print_error(s.message());
    return ctx.server_unreachable ? cli::kExitUnreachable : cli::exit_code(s.code());
  } catch (const std::exception& e) {
    cli::print_error(std::string("internal error: ") + e.what());
    return cli::kExitInternal;
  }
}
