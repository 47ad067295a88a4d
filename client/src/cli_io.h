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
#include "shiftbook/status.h"

namespace shiftbook::cli {

// Exit statuses. kExitUsage is for arguments the parser refuses; the others follow a Status code.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitUsage = 2;

// The one mapping from a Status code to an exit status (docs/CLI.md).
int exit_code(Code code);
// The table of exit statuses and the PIN rules, for the end of every --help.
std::string exit_codes_help();

// Prints "shiftbook: <message>" to standard error.
void print_error(const std::string& message);

// Reads a PIN. From a terminal: prompts on standard error without echo, twice when `confirm` is
// set, and the two must match. Otherwise: one line of standard input without its line ending.
// An empty PIN, end of input or mismatching entries are invalid_argument.
Result<std::string> read_pin(const std::string& prompt, bool confirm);
// Overwrites a secret before its memory is released.
void wipe(std::string& secret);

// The whole of a file, or of standard input when `path` is "-".
Result<std::string> read_input(const std::string& path);
// A JSON document from a file or "-"; a syntax error is invalid_argument with the parser's
// position. The one place the command line parses JSON.
Result<Json> read_json_file(const std::string& path);

// One JSON document on one line of standard output.
void print_json(const Json& doc);

// A text table: columns padded to their widest cell, two spaces apart, trailing spaces trimmed.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.size() == 1; }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Small renderings shared by the commands.
std::string duration_text(std::int64_t minutes);  // 480 -> "8:00"
// A string field of a JSON object, or `fallback` when absent or not a string.
std::string str_of(const Json& obj, const char* key, const std::string& fallback = "");
std::int64_t int_of(const Json& obj, const char* key, std::int64_t fallback = 0);
bool bool_of(const Json& obj, const char* key);
// An array field of a JSON object, or an empty array.
const Json& array_of(const Json& obj, const char* key);

}  // namespace shiftbook::cli
