// The console both commands share: exit statuses, PIN prompts without echo, JSON lines, tables.
#include "shiftbook/platform/console.h"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <iostream>

namespace shiftbook::console {

int exit_code(Code code) {
  switch (code) {
    case Code::kOk: return kExitOk;
    case Code::kInvalidArgument: return 3;
    case Code::kNotFound: return 4;
    case Code::kAlreadyExists: return 5;
    case Code::kFailedPrecondition: return 6;
    case Code::kUnauthenticated: return 7;
    case Code::kPermissionDenied: return 8;
    case Code::kDataLoss: return 9;
    case Code::kUnavailable: return 10;
    case Code::kAborted: return 10;  // also transient: running the command again is the answer
    case Code::kResourceExhausted: return 11;
    case Code::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

void wipe(std::string& secret) {
  if (!secret.empty()) ::explicit_bzero(secret.data(), secret.size());
  secret.clear();
}

Status check_pin_text(std::string_view pin) {
  if (pin.size() < 4 || pin.size() > 64) return invalid_argument("a PIN must be 4 to 64 characters");
  for (unsigned char c : pin) {
    if (c < 0x20 || c == 0x7f) return invalid_argument("a PIN must not hold control characters");
  }
  return Status::ok();
}

namespace {

// Echo is restored on the way out, including when Ctrl-C or a kill arrives mid-prompt.
struct termios g_saved_termios;
volatile std::sig_atomic_t g_echo_off = 0;

extern "C" void restore_echo_and_die(int sig) {
  if (g_echo_off) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

class EchoOff {
 public:
  EchoOff() {
    if (::tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) return;
    struct termios quiet = g_saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    old_int_ = std::signal(SIGINT, restore_echo_and_die);
    old_term_ = std::signal(SIGTERM, restore_echo_and_die);
    if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0) g_echo_off = 1;
  }
  ~EchoOff() {
    if (g_echo_off) ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
    g_echo_off = 0;
    if (old_int_ != SIG_ERR) std::signal(SIGINT, old_int_);
    if (old_term_ != SIG_ERR) std::signal(SIGTERM, old_term_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  void (*old_int_)(int) = SIG_ERR;
  void (*old_term_)(int) = SIG_ERR;
};

// One line of standard input without its "\n" or "\r\n"; false at end of input.
bool read_line(std::string& line) {
  line.clear();
  if (!std::getline(std::cin, line) && line.empty()) return false;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

Result<std::string> prompt_secret(const std::string& prompt, std::string_view what) {
  std::string secret;
  bool got;
  {
    // Echo goes off before the prompt shows, so nothing typed after it can appear.
    EchoOff quiet;
    std::cerr << prompt << ": " << std::flush;
    got = read_line(secret);
  }
  if (!got) return invalid_argument("no " + std::string(what) + " was entered");
  return secret;
}

// Width on screen: code points, not bytes, so names with accents stay aligned.
std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace

Result<std::string> read_secret(const std::string& prompt, std::string_view what, bool confirm) {
  const std::string name(what);
  if (!::isatty(STDIN_FILENO)) {
    std::string secret;
    if (!read_line(secret) || secret.empty()) {
      wipe(secret);
      return invalid_argument("no " + name + " on standard input: give the " + name +
                              " as one line (it is never taken from the command line)");
    }
    return secret;
  }
  SB_ASSIGN_OR_RETURN(std::string secret, prompt_secret(prompt, what));
  if (secret.empty()) return invalid_argument("no " + name + " was entered");
  if (confirm) {
    auto again = prompt_secret(prompt + " again", what);
    if (!again.is_ok()) {
      wipe(secret);
      return again.status();
    }
    bool same = *again == secret;
    wipe(*again);
    if (!same) {
      wipe(secret);
      return invalid_argument("the two " + name + "s do not match; nothing was changed");
    }
  }
  return secret;
}

Result<std::string> read_pin(const std::string& prompt, bool confirm) { return read_secret(prompt, "PIN", confirm); }

void print_json(const Json& doc) {
  std::cout << doc.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  }
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - display_width(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
}

}  // namespace shiftbook::console
