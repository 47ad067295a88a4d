// shiftbook-bench-sync: push and pull throughput of `shiftbook sync` against a real
// `shiftbook-server` over 127.0.0.1, and the terminal's peak memory while pulling. A figure to
// report, never a test (docs/SYNC_FIGURES.md). Each run works in a fresh temporary folder:
//   1. a server (`init`, a site S1 with unit U1, a period around today, a product, a leader, a
//      quota, two enrollment codes) serving on 127.0.0.1:0;
//   2. terminal A enrolls and syncs once (reference data and the leader arrive), then records
//      --events outputs through the Store API with synchronous=NORMAL (recording is not measured);
//   3. timed: `shiftbook sync` of A, a child process (push of every event: hashing, head
//      signature, encryption, the server's checks and commit), wall time -> events/s;
//   4. terminal B enrolls in U1, then timed: `shiftbook sync` of B (pull of A's events, each
//      batch verified and committed), wall time -> events/s, and B's peak RSS from wait4;
//   5. the answer is checked: B holds exactly A's chain, byte for byte;
//   6. the ceiling of storage beside it: A's raw events inserted into a plain SQLite table (WAL,
//      synchronous=FULL) in one transaction.
// It prints each run, then the medians and the ratios to the ceiling. The programs run are the
// ones built beside it (SHIFTBOOK_BIN, SHIFTBOOK_SERVER_BIN), so build it in a Release tree.
//
// usage: shiftbook-bench-sync [--events N] [--runs R] [--dir PARENT] [--keep]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shiftbook/client/store.h"
#include "shiftbook/kinds.h"

extern char** environ;

namespace {

using namespace shiftbook;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

struct Options {
  long events = 100'000;
  int runs = 3;
  std::string parent;
  bool keep = false;
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "shiftbook-bench-sync: " << what << "\n";
  std::exit(1);
}

void must(const Status& s, const std::string& what) {
  if (!s.is_ok()) die(what + ": " + s.to_string());
}

double seconds_since(Steady::time_point start) {
  return std::chrono::duration<double>(Steady::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// posix_spawn of `argv` with standard input from /dev/null and both outputs into files.
pid_t spawn(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, copy[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) die("cannot start " + copy[0] + ": " + std::strerror(rc));
  return pid;
}

// One finished child: its exit status, outputs, wall time and peak resident memory.
struct Finished {
  int exit_code = -1;
  std::string out, err;
  double seconds = 0;
  long max_rss_kib = 0;
};

// Starts and waits for the measured programs from a small process forked before this one grows.
// Linux carries the peak RSS of the memory a process had before exec into its ru_maxrss, and
// posix_spawn runs the child in its parent's memory until exec: spawned from this process (which
// holds 100,000 events), every child would report at least this process's peak. The launcher's
// own peak is a few MiB, the floor under every figure it reports.
class Launcher {
 public:
  Launcher() {
    int requests[2], replies[2];
    if (::pipe2(requests, O_CLOEXEC) != 0 || ::pipe2(replies, O_CLOEXEC) != 0) die("cannot make pipes");
    pid_ = ::fork();
    if (pid_ < 0) die("cannot fork the launcher");
    if (pid_ == 0) {
      ::close(requests[1]);
      ::close(replies[0]);
      serve(requests[0], replies[1]);
      ::_exit(0);
    }
    ::close(requests[0]);
    ::close(replies[1]);
    to_ = requests[1];
    from_ = replies[0];
  }
  ~Launcher() {
    ::close(to_);  // end of requests: the launcher exits
    ::close(from_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;

  // Runs a program to completion; `scratch` holds its output files.
  Finished run(const std::vector<std::string>& argv, const std::string& scratch) {
    const std::string out_path = scratch + "/child.out", err_path = scratch + "/child.err";
    std::vector<std::string> request{out_path, err_path};
    request.insert(request.end(), argv.begin(), argv.end());
    std::string wire;
    for (const std::string& a : request) wire += a + '\0';
    const std::uint32_t size = static_cast<std::uint32_t>(wire.size());
    if (!write_all(to_, &size, sizeof size) || !write_all(to_, wire.data(), wire.size())) die("the launcher is gone");
    Reply reply;
    if (!read_all(from_, &reply, sizeof reply)) die("the launcher is gone");
    if (reply.spawn_error != 0) die("cannot start " + argv[0] + ": " + std::strerror(reply.spawn_error));
    Finished f;
    f.exit_code = reply.exit_code;
    f.seconds = reply.seconds;
    f.max_rss_kib = reply.max_rss_kib;
    f.out = read_text(out_path);
    f.err = read_text(err_path);
    return f;
  }

 private:
  struct Reply {
    int spawn_error = 0;
    int exit_code = -1;
    double seconds = 0;
    long max_rss_kib = 0;
  };

  static bool write_all(int fd, const void* data, std::size_t n) {
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
  static bool read_all(int fd, void* data, std::size_t n) {
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

  // The launcher's loop: one request (output path, error path, argv...) at a time.
  static void serve(int in, int out) {
    for (;;) {
      std::uint32_t size = 0;
      if (!read_all(in, &size, sizeof size)) return;
      std::string wire(size, '\0');
      if (!read_all(in, wire.data(), size)) return;
      std::vector<char*> args;
      for (std::size_t at = 0; at < wire.size(); at = wire.find('\0', at) + 1) args.push_back(&wire[at]);
      args.push_back(nullptr);
      posix_spawn_file_actions_t actions;
      posix_spawn_file_actions_init(&actions);
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
      posix_spawn_file_actions_addopen(&actions, 1, args[0], O_WRONLY | O_CREAT | O_TRUNC, 0600);
      posix_spawn_file_actions_addopen(&actions, 2, args[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
      Reply reply;
      const auto start = Steady::now();
      pid_t pid = -1;
      reply.spawn_error = ::posix_spawn(&pid, args[2], &actions, nullptr, args.data() + 2, environ);
      posix_spawn_file_actions_destroy(&actions);
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

  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

Launcher* g_launcher = nullptr;  // made first thing in main, while this process is small

Finished run(const std::vector<std::string>& argv, const std::string& scratch) { return g_launcher->run(argv, scratch); }

// Runs a program that must succeed; returns its standard output.
std::string check_run(const std::vector<std::string>& argv, const std::string& scratch) {
  Finished f = run(argv, scratch);
  if (f.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    die(cmd + " exited with " + std::to_string(f.exit_code) + ": " + f.err);
  }
  return f.out;
}

// A `shiftbook-server serve` child on 127.0.0.1:0; SIGTERM and a bounded wait on destruction.
class Server {
 public:
  Server(const std::string& dir, const std::string& scratch) : log_(scratch + "/server.log") {
    pid_ = spawn({SHIFTBOOK_SERVER_BIN, "serve", "--dir", dir, "--listen", "127.0.0.1:0"}, log_,
                 scratch + "/server.err");
    static const std::regex kListening("listening on (http://127\\.0\\.0\\.1:[0-9]+)");
    const auto deadline = Steady::now() + std::chrono::seconds(10);
    while (url_.empty()) {
      std::smatch m;
      const std::string log = read_text(log_);
      if (std::regex_search(log, m, kListening)) {
        url_ = m[1];
        break;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        die("the server exited before listening: " + read_text(scratch + "/server.err"));
      }
      if (Steady::now() > deadline) die("the server printed no 'listening on' line within 10 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~Server() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = Steady::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Steady::now() > deadline) {
        std::cerr << "shiftbook-bench-sync: the server ignored SIGTERM for 10 s; killing it\n";
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  const std::string& url() const { return url_; }
  // Lines the server logged (one per sync).
  std::size_t log_lines() const {
    const std::string log = read_text(log_);
    return static_cast<std::size_t>(std::count(log.begin(), log.end(), '\n'));
  }

 private:
  std::string log_;
  std::string url_;
  pid_t pid_ = -1;
};

// The code in what `code create` printed: 8 groups of 4 Crockford base32 digits.
std::string find_code(const std::string& printed) {
  static const std::regex kCode("[0-9A-Z]{4}(-[0-9A-Z]{4}){7}");
  std::smatch m;
  if (!std::regex_search(printed, m, kCode)) die("no enrollment code in: " + printed);
  return m[0];
}

// Head office: S1 (UTC) with U1, a period around `today`, P1, leader L1 (PIN 4321), a quota,
// and two codes for U1.
std::vector<std::string> set_up_head_office(const std::string& dir, const std::string& scratch, std::int64_t today) {
  check_run({SHIFTBOOK_SERVER_BIN, "init", "--dir", dir}, scratch);
  auto admin = [&](std::vector<std::string> args) {
    args.insert(args.begin(), SHIFTBOOK_SERVER_BIN);
    args.insert(args.end(), {"--dir", dir});
    return check_run(args, scratch);
  };
  auto pin = hash_pin("4321", PinCost::kMinimum);
  if (!pin.is_ok()) die("hashing a PIN: " + pin.status().to_string());
  admin({"site", "add", "S1", "--name", "Plant", "--tz", "UTC"});
  admin({"unit", "add", "U1", "--site", "S1", "--name", "Press shop"});
  admin({"period", "add", "bench", "--start", format_date(today - 30), "--end", format_date(today + 3650)});
  admin({"product", "add", "P1", "--name", "Bracket", "--unit", "pcs", "--decimals", "0"});
  admin({"leader", "add", "L1", "--site", "S1", "--name", "Bench", "--pin-hash", *pin});
  admin({"quota", "set", "--unit", "U1", "--period", "bench", "--product", "P1", "--quantity", "100000000"});
  return {find_code(admin({"code", "create", "--site", "S1", "--unit", "U1"})),
          find_code(admin({"code", "create", "--site", "S1", "--unit", "U1"}))};
}

void enroll(const std::string& store, const Server& server, const std::string& code, const std::string& scratch) {
  check_run({SHIFTBOOK_BIN, "--store", store, "init"}, scratch);
  check_run({SHIFTBOOK_BIN, "--store", store, "enroll", "--server", server.url(), "--code", code}, scratch);
}

// Records `n` outputs on an enrolled terminal through the Store API, synchronous=NORMAL.
PublicKey record(const std::string& store_dir, const Clock& clock, std::int64_t today, long n) {
  client::StoreOptions options;
  options.relaxed_durability = true;
  options.pin_cost = PinCost::kMinimum;
  auto opened = client::Store::open(store_dir, clock, options);
  if (!opened.is_ok()) die("opening terminal A: " + opened.status().to_string());
  client::Store& store = **opened;
  must(store.login("L1", "4321", client::kMaxIdleMinutes).status(), "login of L1 on terminal A");
  must(store.open_shift("U1", today, std::nullopt).status(), "opening a shift on terminal A");
  for (long i = 0; i < n; ++i) {
    must(store.log_output("", "P1", i % 1000 + 1).status(), "recording output " + std::to_string(i + 1));
    if ((i + 1) % 20'000 == 0) std::fprintf(stderr, "  recorded %ld of %ld\n", i + 1, n);
  }
  return store.device();
}

std::vector<Bytes> chain_of(const std::string& store_dir, const Clock& clock, const PublicKey& device) {
  auto opened = client::Store::open(store_dir, clock);
  if (!opened.is_ok()) die("opening " + store_dir + ": " + opened.status().to_string());
  auto raw = (*opened)->raw_events(device);
  if (!raw.is_ok()) die("reading events of " + short_device(device) + ": " + raw.status().to_string());
  return std::move(raw).value();
}

// The ceiling of storage: the same events into a plain table, one transaction, durable commit.
double baseline_seconds(const std::string& path, const std::vector<Bytes>& events) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) die("cannot open " + path);
  auto exec = [&](const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) die(std::string("baseline: ") + sqlite3_errmsg(db));
  };
  exec("PRAGMA journal_mode = WAL");
  exec("PRAGMA synchronous = FULL");
  exec("CREATE TABLE events (seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, raw BLOB NOT NULL)");
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO events(seq, hash, raw) VALUES(?, ?, ?)", -1, &st, nullptr) != SQLITE_OK) {
    die("baseline: cannot prepare");
  }
  const auto start = Steady::now();
  exec("BEGIN");
  std::int64_t seq = 0;
  for (const Bytes& raw : events) {
    const Hash h = blake2b_256(raw);
    sqlite3_bind_int64(st, 1, ++seq);
    sqlite3_bind_blob(st, 2, h.data(), static_cast<int>(h.size()), SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, raw.data(), static_cast<int>(raw.size()), SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) die(std::string("baseline: ") + sqlite3_errmsg(db));
    sqlite3_reset(st);
  }
  exec("COMMIT");
  const double seconds = seconds_since(start);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return seconds;
}

struct RunFigures {
  double push_s = 0, pull_s = 0, baseline_s = 0;
  double push_rss_mib = 0, pull_rss_mib = 0;
  double floor_rss_mib = 0;  // `shiftbook --help`: the program and its libraries, no store
  double mean_event_bytes = 0;
};

RunFigures one_run(const Options& opt, const std::string& root) {
  const std::string scratch = root + "/scratch", server_dir = root + "/server";
  const std::string a_dir = root + "/terminal-a", b_dir = root + "/terminal-b";
  fs::create_directories(scratch);
  SystemClock clock;
  const std::int64_t today = clock.now_ms() / 86'400'000;
  RunFigures f;
  const std::vector<std::string> codes = set_up_head_office(server_dir, scratch, today);
  Server server(server_dir, scratch);

  f.floor_rss_mib = static_cast<double>(run({SHIFTBOOK_BIN, "--help"}, scratch).max_rss_kib) / 1024.0;
  enroll(a_dir, server, codes[0], scratch);
  check_run({SHIFTBOOK_BIN, "--store", a_dir, "sync"}, scratch);  // reference data and the leader
  const PublicKey a = record(a_dir, clock, today, opt.events);
  const std::vector<Bytes> a_chain = chain_of(a_dir, clock, a);
  const auto total = static_cast<double>(a_chain.size());

  for (const Bytes& e : a_chain) f.mean_event_bytes += static_cast<double>(e.size()) / total;

  Finished push = run({SHIFTBOOK_BIN, "--store", a_dir, "sync"}, scratch);
  if (push.exit_code != 0) die("sync of terminal A exited with " + std::to_string(push.exit_code) + ": " + push.err);
  f.push_s = push.seconds;
  f.push_rss_mib = static_cast<double>(push.max_rss_kib) / 1024.0;

  enroll(b_dir, server, codes[1], scratch);
  Finished pull = run({SHIFTBOOK_BIN, "--store", b_dir, "sync"}, scratch);
  if (pull.exit_code != 0) die("sync of terminal B exited with " + std::to_string(pull.exit_code) + ": " + pull.err);
  f.pull_s = pull.seconds;
  f.pull_rss_mib = static_cast<double>(pull.max_rss_kib) / 1024.0;

  // The benchmark checks its answer: B holds A's whole chain, byte for byte.
  if (chain_of(b_dir, clock, a) != a_chain) {
    die("terminal B does not hold terminal A's " + std::to_string(a_chain.size()) + " events after its sync");
  }
  f.baseline_s = baseline_seconds(root + "/baseline.db", a_chain);
  std::fprintf(stderr, "  %s: %zu sync lines logged; push: %s", server.url().c_str(), server.log_lines(),
               push.out.c_str());
  return f;
}

Options parse(int argc, char** argv) {
  Options o;
  const char* tmp = std::getenv("TMPDIR");
  o.parent = tmp && *tmp ? tmp : "/tmp";
  const std::string usage = "usage: shiftbook-bench-sync [--events N] [--runs R] [--dir PARENT] [--keep]";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value; " + usage);
      return argv[++i];
    };
    try {
      if (a == "--events") o.events = std::stol(value());
      else if (a == "--runs") o.runs = std::stoi(value());
      else if (a == "--dir") o.parent = value();
      else if (a == "--keep") o.keep = true;
      else die(usage);
    } catch (const std::exception&) {
      die(a + " needs a whole number; " + usage);
    }
  }
  if (o.events < 1 || o.runs < 1) die("--events and --runs must be at least 1");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Launcher launcher;
  g_launcher = &launcher;
  const Options opt = parse(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  must(crypto_init(), "crypto");
  std::printf("shiftbook-bench-sync: %d runs; terminal A pushes %ld outputs (plus its shift), terminal B pulls them;\n"
              "wall time of each `shiftbook sync` process against shiftbook-server on 127.0.0.1; baseline: the same\n"
              "events into a plain SQLite table (WAL, synchronous=FULL), one transaction\n\n",
              opt.runs, opt.events);
  std::printf("%-4s %8s %7s %9s %8s %7s %9s %8s %10s %11s %9s\n", "run", "events", "push s", "push ev/s", "push MiB",
              "pull s", "pull ev/s", "pull MiB", "baseline s", "baseline/s", "bytes/ev");
  const double n = static_cast<double>(opt.events + 1);  // the outputs and their shift_open
  std::vector<double> push_rate, pull_rate, base_rate, pull_rss, push_rss, floor_rss;
  for (int run_no = 1; run_no <= opt.runs; ++run_no) {
    std::string tmpl = opt.parent + "/shiftbook-bench-sync-XXXXXX";
    if (!::mkdtemp(tmpl.data())) die("cannot make a folder under " + opt.parent);
    const RunFigures f = one_run(opt, tmpl);
    push_rate.push_back(n / f.push_s);
    pull_rate.push_back(n / f.pull_s);
    base_rate.push_back(n / f.baseline_s);
    push_rss.push_back(f.push_rss_mib);
    pull_rss.push_back(f.pull_rss_mib);
    floor_rss.push_back(f.floor_rss_mib);
    std::printf("%-4d %8.0f %7.2f %9.0f %8.1f %7.2f %9.0f %8.1f %10.3f %11.0f %9.0f\n", run_no, n, f.push_s,
                push_rate.back(), f.push_rss_mib, f.pull_s, pull_rate.back(), f.pull_rss_mib, f.baseline_s,
                base_rate.back(), f.mean_event_bytes);
    if (!opt.keep) {
      std::error_code ec;
      fs::remove_all(tmpl, ec);
    } else {
      std::printf("     kept %s\n", tmpl.c_str());
    }
  }
  const double push = median(push_rate), pull = median(pull_rate), base = median(base_rate);
  std::printf("\nmedians over %d runs\n", opt.runs);
  std::printf("%-52s %12.0f events/s\n", "push (shiftbook sync of A)", push);
  std::printf("%-52s %12.0f events/s\n", "pull (shiftbook sync of B)", pull);
  std::printf("%-52s %12.0f events/s\n", "plain SQLite insert, one transaction", base);
  std::printf("%-52s %12.2f\n", "push / plain insert", push / base);
  std::printf("%-52s %12.2f\n", "pull / plain insert", pull / base);
  std::printf("%-52s %12.1f MiB\n", "peak RSS of the pulling terminal", median(pull_rss));
  std::printf("%-52s %12.1f MiB\n", "peak RSS of the pushing terminal", median(push_rss));
  std::printf("%-52s %12.1f MiB\n", "peak RSS of `shiftbook --help` (the floor)", median(floor_rss));
  return 0;
}
