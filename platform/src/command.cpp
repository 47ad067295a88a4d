// The shared parse-and-run of both command-line programs (command.h).
#include "shiftbook/platform/command.h"

#include <exception>
#include <iostream>

#include "shiftbook/crypto.h"
#include "shiftbook/platform/console.h"

namespace shiftbook::command {

std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    // Point at the help of the deepest subcommand that was recognised.
    const CLI::App* deepest = &app;
    std::string path = app.get_name();
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
    std::cerr << app.get_name() << ": " << what << " (see '" << path << " --help')\n";
    return console::kExitUsage;
  }
}

int run(const std::string& program, const std::function<Status()>& action,
        const std::function<int(const Status&)>& exit_for) {
  try {
    if (!crypto_init().is_ok()) {
      std::cerr << program << ": cannot start the cryptographic library\n";
      return console::kExitInternal;
    }
    Status s = action ? action() : internal_error("no command to run");
    std::cout.flush();
    if (s.is_ok()) return console::kExitOk;
    std::cerr << program << ": " << s.message() << '\n';
    return exit_for ? exit_for(s) : console::exit_code(s.code());
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error: " << e.what() << '\n';
    return console::kExitInternal;
  }
}

}  // namespace shiftbook::command
