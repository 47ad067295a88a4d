// shiftbook-bench-entry: how long one entry takes to record durably on a terminal, and how much
// room the store needs per 100,000 entries. A figure to report, never a test: it makes a store in a
// temporary folder (the real clock, the store's real durability settings: WAL, synchronous=FULL),
// logs a leader in, opens a shift and times each Store call of --runs runs of 1,000 entries (three
// outputs, then an hours entry of a worker not yet seen that day, and again), printing the median
// and p99 of each run and the median of the medians. Before each run it times one-row SQLite
// commits with the same settings in the same folder (one fsync each, the floor), so each run's
// figure also reads as a ratio to the floor; one more run with synchronous=NORMAL shows what an
// entry costs besides its fsync. Then it
// records --size-entries more outputs and reports the growth of terminal.db plus its WAL after a
// checkpoint. The folder is removed at the end unless --keep is given.
//
// usage: shiftbook-bench-entry [--runs N] [--entries N] [--size-entries N] [--dir PARENT] [--keep]
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "shiftbook/client/store.h"
#include "shiftbook/kinds.h"

namespace {

using namespace shiftbook;
namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;

constexpr int kWorkers = 300;

struct Options {
  int runs = 5;
  int entries = 1000;
  long size_entries = 100'000;
  std::string parent;
  bool keep = false;
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "shiftbook-bench-entry: " << what << "\n";
  std::exit(1);
}

void must(const Status& s, const char* what) {
  if (!s.is_ok()) die(std::string(what) + ": " + s.to_string());
}

double ms_since(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

// The q-quantile (0..1) of `v` by the nearest-rank method; sorts `v`.
double quantile(std::vector<double>& v, double q) {
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(q * static_cast<double>(v.size()) + 0.999999);
  return v[std::min(v.size(), std::max<std::size_t>(rank, 1)) - 1];
}

// One site in UTC, one unit, one product with a quota, a period around today, kWorkers workers.
Json reference(std::int64_t today) {
  auto pin = hash_pin("1111", PinCost::kMinimum);
  if (!pin.is_ok()) die("hashing a PIN: " + pin.status().to_string());
  Json workers = Json::array();
  for (int i = 0; i < kWorkers; ++i) {
    workers.push_back({{"id", "W" + std::to_string(i)}, {"site", "S1"}, {"name", "Worker " + std::to_string(i)},
                       {"pin_hash", *pin}});
  }
  return Json{{"format", "shiftbook-reference/1"},
              {"sites", Json::array({{{"id", "S1"}, {"name", "Plant"}, {"tz", "UTC"}}})},
              {"units", Json::array({{{"id", "U1"}, {"site", "S1"}, {"name", "Press shop"}}})},
              {"periods", Json::array({{{"id", "bench"}, {"start", format_date(today - 30)}, {"end", format_date(today + 3650)}}})},
              {"products", Json::array({{{"id", "P1"}, {"name", "Bracket"}, {"unit", "pcs"}, {"decimals", 0}}})},
              {"workers", std::move(workers)},
              {"quotas", Json::array({{{"unit", "U1"}, {"period", "bench"}, {"product", "P1"}, {"quantity", 100000}, {"version", 1}}})}};
}

// The floor: a fresh WAL database with synchronous=FULL taking one-row commits, one fsync each.
// Timed beside every run, because a virtual disk's fsync time drifts from minute to minute.
class Baseline {
 public:
  explicit Baseline(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) die("cannot open " + path);
    for (const char* sql : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                            "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)"}) {
      if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) die(std::string("baseline: ") + sqlite3_errmsg(db_));
    }
    if (sqlite3_prepare_v2(db_, "INSERT INTO t(body) VALUES(randomblob(200))", -1, &st_, nullptr) != SQLITE_OK) {
      die("baseline: cannot prepare");
    }
  }
  ~Baseline() {
    sqlite3_finalize(st_);
    sqlite3_close(db_);
  }
  Baseline(const Baseline&) = delete;
  Baseline& operator=(const Baseline&) = delete;

  // Milliseconds of each of `n` commits.
  std::vector<double> commits(int n) {
    std::vector<double> out;
    for (int i = 0; i < n; ++i) {
      auto start = Steady::now();
      if (sqlite3_step(st_) != SQLITE_DONE) die(std::string("baseline: ") + sqlite3_errmsg(db_));
      sqlite3_reset(st_);
      out.push_back(ms_since(start));
    }
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* st_ = nullptr;
};

// terminal.db and its WAL after a full checkpoint that empties the WAL.
std::uintmax_t checkpointed_size(const std::string& dir) {
  const std::string db_path = dir + "/terminal.db";
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) die("cannot open " + db_path);
  // A connection learns that the file is in WAL mode on its first read; until then a checkpoint
  // does nothing.
  if (sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr) != SQLITE_OK) {
    die(std::string("reading the store: ") + sqlite3_errmsg(db));
  }
  if (sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr) != SQLITE_OK) {
    die(std::string("checkpoint: ") + sqlite3_errmsg(db));
  }
  std::error_code ec;
  std::uintmax_t size = fs::file_size(db_path, ec);
  if (fs::exists(db_path + "-wal")) size += fs::file_size(db_path + "-wal", ec);
  sqlite3_close(db);
  return size;
}

// The mean length of the stored events' canonical bytes, over the output events.
double mean_event_bytes(const std::string& dir) {
  sqlite3* db = nullptr;
  if (sqlite3_open((dir + "/terminal.db").c_str(), &db) != SQLITE_OK) die("cannot open the store");
  sqlite3_stmt* st = nullptr;
  double mean = 0;
  if (sqlite3_prepare_v2(db, "SELECT avg(length(raw)) FROM events WHERE kind = 'output'", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    mean = sqlite3_column_double(st, 0);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return mean;
}

// A store ready to record: the bench's reference data, leader L1 logged in for the longest idle
// time. `relaxed` selects synchronous=NORMAL.
std::unique_ptr<client::Store> bench_store(const std::string& dir, const Clock& clock, std::int64_t today, bool relaxed) {
  client::StoreOptions options;
  options.pin_cost = PinCost::kMinimum;
  options.relaxed_durability = relaxed;
  auto created = client::Store::init(dir, clock, options);
  if (!created.is_ok()) die("init: " + created.status().to_string());
  must((*created)->import_reference(reference(today)), "reference");
  must((*created)->add_leader("L1", "Bench", "4321"), "leader");
  must((*created)->login("L1", "4321", client::kMaxIdleMinutes).status(), "login");
  return std::move(created).value();
}

struct RunStats {
  double median = 0, mean = 0, p99 = 0, max = 0;
};

// Times `entries` calls in a new shift of U1 dated `day` (closing the open one first if `close`):
// three outputs, then an hours entry of a worker not yet seen that day, and again.
RunStats timed_run(client::Store& store, std::int64_t day, int entries, bool close) {
  if (close) must(store.close_shift("").status(), "close shift");
  must(store.open_shift("U1", day, std::nullopt).status(), "open shift");
  std::vector<double> times;
  int worker = 0;
  for (int i = 0; i < entries; ++i) {
    auto start = Steady::now();
    auto r = (i % 4 == 3) ? store.log_hours("", "W" + std::to_string(worker++ % kWorkers), 480, 960, false)
                          : store.log_output("", "P1", i + 1);
    times.push_back(ms_since(start));
    if (!r.is_ok()) die("entry " + std::to_string(i) + ": " + r.status().to_string());
  }
  RunStats s;
  for (double t : times) s.mean += t / static_cast<double>(times.size());
  s.median = quantile(times, 0.5);
  s.p99 = quantile(times, 0.99);
  s.max = times.back();  // sorted by quantile
  return s;
}

Options parse(int argc, char** argv) {
  Options o;
  const char* tmp = std::getenv("TMPDIR");
  o.parent = tmp && *tmp ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--runs") o.runs = std::stoi(value());
    else if (a == "--entries") o.entries = std::stoi(value());
    else if (a == "--size-entries") o.size_entries = std::stol(value());
    else if (a == "--dir") o.parent = value();
    else if (a == "--keep") o.keep = true;
    else die("usage: shiftbook-bench-entry [--runs N] [--entries N] [--size-entries N] [--dir PARENT] [--keep]");
  }
  if (o.runs < 1 || o.entries < 4 || o.size_entries < 0) die("--runs and --entries must be positive");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line of the table as soon as it is known
  must(crypto_init(), "crypto");
  std::string tmpl = opt.parent + "/shiftbook-bench-XXXXXX";
  if (!::mkdtemp(tmpl.data())) die("cannot make a folder under " + opt.parent);
  const std::string root = tmpl, dir = root + "/store";

  SystemClock clock;
  const std::int64_t today = clock.now_ms() / 86'400'000;
  auto owned = bench_store(dir, clock, today, false);
  client::Store& store = *owned;

  Baseline baseline(root + "/baseline.db");
  std::printf("shiftbook-bench-entry: %d runs of %d entries, store in %s (WAL, synchronous=FULL);\n"
              "before each run, %d one-row SQLite commits with the same settings (the fsync floor)\n\n",
              opt.runs, opt.entries, dir.c_str(), opt.entries / 4);
  std::printf("%-7s %8s %10s %10s %10s %10s %11s %8s\n", "run", "entries", "median ms", "mean ms", "p99 ms", "max ms",
              "commit ms", "ratio");
  auto print = [&](const std::string& name, const RunStats& s, double commit) {
    std::printf("%-7s %8d %10.3f %10.3f %10.3f %10.3f %11.3f %8.2f\n", name.c_str(), opt.entries, s.median, s.mean,
                s.p99, s.max, commit, s.median / commit);
  };
  std::vector<double> medians, commit_medians;
  for (int run = 0; run < opt.runs; ++run) {
    std::vector<double> floor = baseline.commits(opt.entries / 4);
    const double commit = quantile(floor, 0.5);
    RunStats s = timed_run(store, today + run, opt.entries, run > 0);
    medians.push_back(s.median);
    commit_medians.push_back(commit);
    print(std::to_string(run + 1), s, commit);
  }
  // The same work without an fsync per commit (synchronous=NORMAL): what an entry costs besides it.
  {
    auto relaxed = bench_store(root + "/relaxed", clock, today, true);
    std::vector<double> floor = baseline.commits(opt.entries / 4);
    print("NORMAL", timed_run(*relaxed, today, opt.entries, false), quantile(floor, 0.5));
  }
  const double median_of_medians = quantile(medians, 0.5);
  std::printf("\n%-56s %9.3f ms\n", "one entry, durable: median of the run medians", median_of_medians);
  std::printf("%-56s %9.3f ms\n", "one-row SQLite commit, WAL, FULL: median of the runs'", quantile(commit_medians, 0.5));

  if (opt.size_entries > 0) {
    const std::uintmax_t before = checkpointed_size(dir);
    const auto start = Steady::now();
    for (long i = 0; i < opt.size_entries; ++i) {
      auto r = store.log_output("", "P1", i % 1000 + 1);
      if (!r.is_ok()) die("size entry " + std::to_string(i) + ": " + r.status().to_string());
      if ((i + 1) % 10'000 == 0) std::fprintf(stderr, "  %ld of %ld entries\n", i + 1, opt.size_entries);
    }
    const double seconds = ms_since(start) / 1000.0;
    const std::uintmax_t after = checkpointed_size(dir);
    const double per_entry = static_cast<double>(after - before) / static_cast<double>(opt.size_entries);
    std::printf("\n%-56s %9ld in %.0f s (%.0f entries/s)\n", "size: output entries recorded", opt.size_entries,
                seconds, static_cast<double>(opt.size_entries) / seconds);
    std::printf("%-56s %9.0f bytes\n", "terminal.db + WAL growth per entry (checkpointed)", per_entry);
    std::printf("%-56s %9.1f MiB\n", "per 100,000 entries", per_entry * 100'000 / (1024.0 * 1024.0));
    std::printf("%-56s %9.0f bytes\n", "of which the event's own canonical bytes", mean_event_bytes(dir));
    std::printf("%-56s %9.1f MiB\n", "whole store now (terminal.db)", static_cast<double>(after) / (1024.0 * 1024.0));
  }
  owned.reset();
  if (!opt.keep) {
    std::error_code ec;
    fs::remove_all(root, ec);
  } else {
    std::printf("\nkept %s\n", root.c_str());
  }
  return 0;
}
