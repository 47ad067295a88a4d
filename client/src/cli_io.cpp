// The command line's input and output: the exit status help, JSON files in, small renderings.
#include "cli_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <streambuf>

namespace shiftbook::cli {

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
         "  7   wrong PIN, or a signature or server key that does not check out\n"
         "  8   locked out or not permitted\n"
         "  9   store damaged, verify found a problem, or the server's data does not check out\n"
         "  10  store busy (another program is using it), or server busy; try again\n"
         "  11  a limit was reached (disk full...)\n"
         "  12  the server cannot be reached (sync, enroll); entries stay here for the next sync\n"
         "  13  head office revoked this terminal (sync); contact head office\n"
         "PINs are never taken from the command line: they are read without echo from the terminal,\n"
         "or as one line of standard input.";
}

void print_error(const std::string& message) { std::cerr << "shiftbook: " << message << '\n'; }

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
