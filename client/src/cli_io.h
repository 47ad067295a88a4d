// The command line's contact with the outside world: exit codes, error lines, PINs from a
// terminal or from standard input, JSON files in, JSON and aligned tables out (files are written
// atomically by files.h, shared with the store). No behaviour of the terminal lives here; that is the store's. Used from the one
// thread of the `shiftbook` process.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "shiftbook/canonical.h"
#include "shiftbook/platform/console.h"
#include "shiftbook/status.h"

namespace shiftbook::cli {

// Exit statuses, the one mapping from a Status code to an exit status (docs/CLI.md), PIN
// reading, JSON lines and tables: shared with shiftbook-server in platform/console.h.
using console::exit_code;
using console::kExitInternal;
using console::kExitOk;
using console::kExitUsage;
using console::print_json;
using console::read_pin;
using console::Table;
using console::wipe;
// The server could not be reached (enroll, sync): nothing was lost; try again later. Set by the
// command through Context::server_unreachable, since the code (unavailable) is a busy store's too.
inline constexpr int kExitUnreachable = 12;
// Head office revoked this terminal (sync): set through Context::terminal_revoked.
inline constexpr int kExitRevoked = 13;
// The table of exit statuses and the PIN rules, for the end of every --help.
std::string exit_codes_help();

// Prints "shiftbook: <message>" to standard error.
void print_error(const std::string& message);

// The whole of a file, or of standard input when `path` is "-".
Result<std::string> read_input(const std::string& path);
// A JSON document from a file or "-"; a syntax error is invalid_argument with the parser's
// position. The one place the command line parses JSON.
Result<Json> read_json_file(const std::string& path);

// Small renderings shared by the commands.
std::string duration_text(std::int64_t minutes);  // 480 -> "8:00"
// A string field of a JSON object, or `fallback` when absent or not a string.
std::string str_of(const Json& obj, const char* key, const std::string& fallback = "");
std::int64_t int_of(const Json& obj, const char* key, std::int64_t fallback = 0);
bool bool_of(const Json& obj, const char* key);
// An array field of a JSON object, or an empty array.
const Json& array_of(const Json& obj, const char* key);

}  // namespace shiftbook::cli
