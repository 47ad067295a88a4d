// What both commands (`shiftbook` at the terminal, `shiftbook-server` at head office) share at
// the console: the one mapping from a Status code to an exit status, PINs read without echo from a
// terminal or as one line of standard input, one-line JSON documents and aligned text tables.
// Invariant: a PIN never appears on screen or in a message, and echo is restored however the
// prompt ends (also on SIGINT or SIGTERM). For the one thread of a command-line process.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/canonical.h"
#include "shiftbook/status.h"

namespace shiftbook::console {

// Exit statuses. kExitUsage is for arguments the parser refuses; the others follow a Status code
// through exit_code(). Both commands document the table (docs/CLI.md, docs/SERVER.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitUsage = 2;
int exit_code(Code code);

// Reads a secret, `what` naming it in messages ("PIN", "password"). From a terminal: prompts on
// standard error without echo, twice when `confirm` is set, and the two must match. Otherwise:
// one line of standard input without its line ending. An empty secret, end of input or
// mismatching entries are invalid_argument.
Result<std::string> read_secret(const std::string& prompt, std::string_view what, bool confirm);
// read_secret of a PIN.
Result<std::string> read_pin(const std::string& prompt, bool confirm);
// The shape every PIN has: 4 to 64 characters, no control characters (invalid_argument).
Status check_pin_text(std::string_view pin);
// Overwrites a secret before its memory is released.
void wipe(std::string& secret);

// One JSON document on one line of standard output.
void print_json(const Json& doc);

// A text table: columns padded to their widest cell (in code points), two spaces apart, trailing
// spaces trimmed.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.size() == 1; }
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace shiftbook::console
