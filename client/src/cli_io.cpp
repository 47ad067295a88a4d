// The command line's input and output: exit codes, PIN reading, JSON files, atomic files, tables.
#include "cli_io.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <streambuf>

namespace shiftbook::cli {

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

std::string exit_codes_help() {
  return "Every command takes --store DIR, before or after it, and --help.\n"
         "Exit status:\n"
         "  0   ok\n"
         "  1   internal error\n"
         "  2   usage error (unknown command or option, missing argument)\n"
         "  3   invalid input\n"
         "  4   not found (no store, unknown worker, product, entry...)\n"
         "  5   already exists\n"
         "  6   not allowed now (no login, no open shift, entry void, store too new...)\n"
         "  7   wrong PIN\n"
         "  8   locked out or not permitted\n"
         "  9   store damaged, or verify found a problem\n"
         "  10  store busy (another program is using it); try again\n"
         "  11  a limit was reached (disk full...)\n"
         "PINs are never taken from the command line: they are read without echo from the terminal,\n"
         "or as one line of standard input.";
}

void print_error(const std::string& message) { std::cerr << "shiftbook: " << message << '\n'; }

void wipe(std::string& secret) {
  if (!secret.empty()) ::explicit_bzero(secret.data(), secret.size());
  secret.clear();
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

Result<std::string> prompt_pin(const std::string& prompt) {
  std::string pin;
  bool got;
  {
    // Echo goes off before the prompt shows, so nothing typed after it can appear.
    EchoOff quiet;
    std::cerr << prompt << ": " << std::flush;
    got = read_line(pin);
  }
  if (!got) return invalid_argument("no PIN was entered");
  return pin;
}

}  // namespace

Result<std::string> read_pin(const std::string& prompt, bool confirm) {
  if (!::isatty(STDIN_FILENO)) {
    std::string pin;
    if (!read_line(pin) || pin.empty()) {
      wipe(pin);
      return invalid_argument("no PIN on standard input: give the PIN as one line (it is never taken from the command line)");
    }
    return pin;
  }
  SB_ASSIGN_OR_RETURN(std::string pin, prompt_pin(prompt));
  if (pin.empty()) return invalid_argument("no PIN was entered");
  if (confirm) {
    auto again = prompt_pin(prompt + " again");
    if (!again.is_ok()) {
      wipe(pin);
      return again.status();
    }
    bool same = *again == pin;
    wipe(*again);
    if (!same) {
      wipe(pin);
      return invalid_argument("the two PINs do not match; nothing was changed");
    }
  }
  return pin;
}

Result<std::string> read_input(const std::string& path) {
  if (path == "-") {
    std::ostringstream all;
    all << std::cin.rdbuf();
    return all.str();
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string msg = "cannot read " + path + ": " + std::strerror(e);
    if (e == ENOENT) return not_found(msg);
    if (e == EACCES || e == EPERM) return permission_denied(msg);
    return invalid_argument(msg);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return invalid_argument("cannot read " + path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<Json> read_json_file(const std::string& path) {
  SB_ASSIGN_OR_RETURN(std::string text, read_input(path));
  const std::string name = path == "-" ? "standard input" : path;
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 3, column 7: ...";
    // keep the part a person needs.
    std::string what = e.what();
    auto at = what.find("] ");
    if (at != std::string::npos) what = what.substr(at + 2);
    return invalid_argument(name + " is not valid JSON: " + what);
  } catch (const Json::exception& e) {
    return invalid_argument(name + " is not valid JSON: " + e.what());
  }
}

void print_json(const Json& doc) {
  std::cout << doc.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
}

namespace {
// Width on screen: code points, not bytes, so names with accents stay aligned.
std::size_t display_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}
}  // namespace

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

std::string duration_text(std::int64_t minutes) {
  std::string sign = minutes < 0 ? "-" : "";
  if (minutes < 0) minutes = -minutes;
  std::string mm = std::to_string(minutes % 60);
  return sign + std::to_string(minutes / 60) + ":" + (mm.size() < 2 ? "0" + mm : mm);
}

std::string str_of(const Json& obj, const char* key, const std::string& fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return fallback;
  return it->get<std::string>();
}

std::int64_t int_of(const Json& obj, const char* key, std::int64_t fallback) {
  if (!obj.is_object()) return fallback;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return fallback;
  return it->get<std::int64_t>();
}

bool bool_of(const Json& obj, const char* key) {
  if (!obj.is_object()) return false;
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

const Json& array_of(const Json& obj, const char* key) {
  static const Json kEmpty = Json::array();
  if (!obj.is_object()) return kEmpty;
  auto it = obj.find(key);
  return it != obj.end() && it->is_array() ? *it : kEmpty;
}

}  // namespace shiftbook::cli
