// The benchmark's shared plumbing (bench_common.h).
#include "bench_common.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "shiftbook/crypto.h"
#include "shiftbook/kinds.h"

extern char** environ;

namespace shiftbook::bench {
namespace fs = std::filesystem;

double seconds_since(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

double ms_since(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(q * static_cast<double>(v.size()) + 0.999999);
  return v[std::min(v.size(), std::max<std::size_t>(rank, 1)) - 1];
}

std::string load_average() {
  std::istringstream in(read_text("/proc/loadavg"));
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// ---- ScratchDir --------------------------------------------------------------------------------

Result<ScratchDir> ScratchDir::make(const std::string& parent, const std::string& prefix, bool keep) {
  std::string tmpl = parent + "/" + prefix + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    return unavailable("cannot make a folder under " + parent + ": " + std::strerror(errno));
  }
  return ScratchDir(tmpl, keep);
}

ScratchDir::ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)), keep_(other.keep_) {
  other.path_.clear();
}

ScratchDir::~ScratchDir() {
  if (path_.empty()) return;
  if (keep_) {
    std::fprintf(stderr, "  kept %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Status make_folder(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return unavailable("cannot make " + path + ": " + ec.message());
  return Status::ok();
}

Status copy_folder(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (ec) return unavailable("cannot copy " + from + " to " + to + ": " + ec.message());
  return Status::ok();
}

// ---- Launcher ----------------------------------------------------------------------------------

namespace {

struct Reply {
  int spawn_error = 0;
  int exit_code = -1;
  double seconds = 0;
  long max_rss_kib = 0;
};

bool write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// posix_spawn of `args` (null-terminated) with standard input from `in_path` and the outputs into
// the two files; 0 or the error number.
int spawn(char* const* args, const char* in_path, const char* out_path, const char* err_path, pid_t& pid) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in_path, O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args, environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc;
}

// The launcher's loop: one request (input path, output path, error path, argv...) at a time.
void serve_launches(int in, int out) {
  for (;;) {
    std::uint32_t size = 0;
    if (!read_all(in, &size, sizeof size)) return;
    std::string wire(size, '\0');
    if (!read_all(in, wire.data(), size)) return;
    std::vector<char*> args;
    for (std::size_t at = 0; at < wire.size(); at = wire.find('\0', at) + 1) args.push_back(&wire[at]);
    args.push_back(nullptr);
    Reply reply;
    const auto start = Steady::now();
    pid_t pid = -1;
    reply.spawn_error = spawn(args.data() + 3, args[0], args[1], args[2], pid);
    if (reply.spawn_error == 0) {
      int status = 0;
      rusage usage{};
      while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
      }
      reply.seconds = seconds_since(start);
      reply.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      reply.max_rss_kib = usage.ru_maxrss;  // Linux reports kibibytes
    }
    if (!write_all(out, &reply, sizeof reply)) return;
  }
}

std::string command_text(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  return cmd;
}

}  // namespace

Launcher::Launcher() {
  int requests[2], replies[2];
  if (::pipe2(requests, O_CLOEXEC) != 0 || ::pipe2(replies, O_CLOEXEC) != 0) return;
  pid_ = ::fork();
  if (pid_ == 0) {
    ::close(requests[1]);
    ::close(replies[0]);
    serve_launches(requests[0], replies[1]);
    ::_exit(0);
  }
  ::close(requests[0]);
  ::close(replies[1]);
  to_ = requests[1];
  from_ = replies[0];
}

Launcher::~Launcher() {
  ::close(to_);  // end of requests: the launcher exits
  ::close(from_);
  int status = 0;
  if (pid_ > 0) ::waitpid(pid_, &status, 0);
}

Result<Finished> Launcher::run(const std::vector<std::string>& argv, const std::string& scratch,
                              const std::string& input) {
  if (pid_ <= 0) return unavailable("the launcher process could not be started");
  const std::string out_path = scratch + "/child.out", err_path = scratch + "/child.err";
  std::string in_path = "/dev/null";
  if (!input.empty()) {
    in_path = scratch + "/child.in";
    std::ofstream in(in_path, std::ios::binary | std::ios::trunc);
    in << input;
    in.close();
    if (!in) return unavailable("cannot write " + in_path);
  }
  std::string wire = in_path + '\0' + out_path + '\0' + err_path + '\0';
  for (const std::string& a : argv) wire += a + '\0';
  const auto size = static_cast<std::uint32_t>(wire.size());
  Reply reply;
  if (!write_all(to_, &size, sizeof size) || !write_all(to_, wire.data(), wire.size()) ||
      !read_all(from_, &reply, sizeof reply)) {
    return unavailable("the launcher process is gone");
  }
  if (reply.spawn_error != 0) return unavailable("cannot start " + argv[0] + ": " + std::strerror(reply.spawn_error));
  Finished f;
  f.exit_code = reply.exit_code;
  f.seconds = reply.seconds;
  f.max_rss_mib = static_cast<double>(reply.max_rss_kib) / 1024.0;
  f.out = read_text(out_path);
  f.err = read_text(err_path);
  return f;
}

Result<std::string> Launcher::check(const std::vector<std::string>& argv, const std::string& scratch,
                                    const std::string& input) {
  SB_ASSIGN_OR_RETURN(Finished f, run(argv, scratch, input));
  if (f.exit_code != 0) {
    return internal_error(command_text(argv) + " exited with " + std::to_string(f.exit_code) + ": " + f.err);
  }
  return f.out;
}

// ---- ServerChild -------------------------------------------------------------------------------

Result<std::unique_ptr<ServerChild>> ServerChild::start(const std::string& dir, const std::string& scratch,
                                                        int threads) {
  const std::string log = scratch + "/server.log", err = scratch + "/server.err";
  std::vector<std::string> argv{server_bin(), "serve", "--dir", dir, "--listen", "127.0.0.1:0"};
  if (threads > 0) argv.insert(argv.end(), {"--threads", std::to_string(threads)});
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  if (const int rc = spawn(args.data(), "/dev/null", log.c_str(), err.c_str(), pid); rc != 0) {
    return unavailable(std::string("cannot start ") + server_bin() + ": " + std::strerror(rc));
  }
  std::unique_ptr<ServerChild> child(new ServerChild(pid, log));
  static const std::regex kListening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
  const auto deadline = Steady::now() + std::chrono::seconds(10);
  for (;;) {
    std::smatch m;
    const std::string text = read_text(log);
    if (std::regex_search(text, m, kListening)) {
      child->port_ = std::stoi(m[1]);
      child->url_ = "http://127.0.0.1:" + m[1].str();
      return child;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      child->pid_ = -1;
      return unavailable("the server exited before listening: " + read_text(err));
    }
    if (Steady::now() > deadline) return unavailable("the server printed no 'listening on' line within 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ServerChild::~ServerChild() {
  if (pid_ > 0) (void)stop();
}

Status ServerChild::stop(int grace_s) {
  if (pid_ <= 0) return Status::ok();
  ::kill(pid_, SIGTERM);
  const auto deadline = Steady::now() + std::chrono::seconds(grace_s);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (Steady::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return internal_error("the server ignored SIGTERM for " + std::to_string(grace_s) + " s and was killed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return internal_error("the server did not stop cleanly (status " + std::to_string(status) + ")");
  }
  return Status::ok();
}

std::vector<double> ServerChild::sync_ms() const {
  static const std::regex kLine("^sync device .* ([0-9]+\\.[0-9]) ms$");
  std::vector<double> out;
  std::istringstream in(read_text(log_));
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, kLine)) out.push_back(std::stod(m[1]));
  }
  return out;
}

double ServerChild::cpu_seconds() const {
  if (pid_ <= 0) return 0;
  // /proc/PID/stat: "PID (COMM) STATE ..." with utime and stime the 12th and 13th fields after
  // the closing parenthesis, in clock ticks.
  const std::string stat = read_text("/proc/" + std::to_string(pid_) + "/stat");
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 1));
  std::string field;
  double ticks = 0;
  for (int i = 1; i <= 13 && in >> field; ++i) {
    if (i >= 12) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double ServerChild::peak_rss_mib() const {
  if (pid_ <= 0) return 0;
  static const std::regex kHwm("VmHWM:\\s+([0-9]+) kB");
  std::smatch m;
  const std::string status = read_text("/proc/" + std::to_string(pid_) + "/status");
  return std::regex_search(status, m, kHwm) ? std::stod(m[1]) / 1024.0 : 0;
}

double own_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// ---- head office ---------------------------------------------------------------------------------

const char* shiftbook_bin() { return SHIFTBOOK_BIN; }
const char* server_bin() { return SHIFTBOOK_SERVER_BIN; }

std::string unit_name(int index, int units) {
  char name[16];
  std::snprintf(name, sizeof name, "U%0*d", static_cast<int>(std::to_string(units).size()), index + 1);
  return name;
}

Status set_up_head_office(Launcher& launcher, const std::string& dir, const std::string& scratch, std::int64_t today,
                          const std::vector<std::string>& units, const std::string& store_url) {
  auto admin = [&](std::vector<std::string> args) -> Status {
    args.insert(args.begin(), server_bin());
    args.insert(args.end(), {"--dir", dir});
    return launcher.check(args, scratch).status();
  };
  SB_RETURN_IF_ERROR(admin({"init", "--store", store_url}));
  SB_ASSIGN_OR_RETURN(std::string pin, hash_pin("4321", PinCost::kMinimum));
  SB_RETURN_IF_ERROR(admin({"site", "add", "S1", "--name", "Plant", "--tz", "UTC"}));
  for (const std::string& unit : units) {
    SB_RETURN_IF_ERROR(admin({"unit", "add", unit, "--site", "S1", "--name", "Press shop " + unit}));
  }
  SB_RETURN_IF_ERROR(
      admin({"period", "add", "bench", "--start", format_date(today - 30), "--end", format_date(today + 3650)}));
  SB_RETURN_IF_ERROR(admin({"product", "add", "P1", "--name", "Bracket", "--unit", "pcs", "--decimals", "0"}));
  SB_RETURN_IF_ERROR(admin({"leader", "add", "L1", "--site", "S1", "--name", "Bench", "--pin-hash", pin}));
  for (const std::string& unit : units) {
    SB_RETURN_IF_ERROR(
        admin({"quota", "set", "--unit", unit, "--period", "bench", "--product", "P1", "--quantity", "100000000"}));
  }
  return Status::ok();
}

Result<std::string> create_code(Launcher& launcher, const std::string& dir, const std::string& scratch,
                                const std::string& unit) {
  SB_ASSIGN_OR_RETURN(std::string printed,
                      launcher.check({server_bin(), "code", "create", "--site", "S1", "--unit", unit, "--dir", dir},
                                     scratch));
  // 8 groups of 4 Crockford base32 digits.
  static const std::regex kCode("[0-9A-Z]{4}(-[0-9A-Z]{4}){7}");
  std::smatch m;
  if (!std::regex_search(printed, m, kCode)) return internal_error("no enrollment code in: " + printed);
  return m[0].str();
}

}  // namespace shiftbook::bench
