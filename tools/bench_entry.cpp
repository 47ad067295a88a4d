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
// shiftbook-bench runs the same timing as its "entry" row (bench_entry_row.h); this program adds
// the store's size.
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

#include "bench_common.h"
#include "bench_entry_row.h"
#include "shiftbook/client/store.h"
#include "shiftbook/kinds.h"

namespace {

using namespace shiftbook;
using namespace shiftbook::bench;
namespace fs = std::filesystem;

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

template <typename T>
T must(Result<T> r, const char* what) {
  must(r.status(), what);
  return std::move(r).value();
}

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
  auto owned = must(entry_store(dir, clock, today, false), "store");
  client::Store& store = *owned;

  auto commits = must(CommitFloor::open(root + "/baseline.db"), "one-row commits");
  std::printf("shiftbook-bench-entry: %d runs of %d entries, store in %s (WAL, synchronous=FULL);\n"
              "before each run, %d one-row SQLite commits with the same settings (the fsync floor)\n\n",
              opt.runs, opt.entries, dir.c_str(), opt.entries / 4);
  std::printf("%-7s %8s %10s %10s %10s %10s %11s %8s\n", "run", "entries", "median ms", "mean ms", "p99 ms", "max ms",
              "commit ms", "ratio");
  auto print = [&](const std::string& name, const EntryRun& s) {
    std::printf("%-7s %8d %10.3f %10.3f %10.3f %10.3f %11.3f %8.2f\n", name.c_str(), opt.entries, s.median_ms,
                s.mean_ms, s.p99_ms, s.max_ms, s.commit_ms, s.median_ms / s.commit_ms);
  };
  std::vector<double> medians, commit_medians;
  for (int run = 0; run < opt.runs; ++run) {
    const double commit = must(commits->median_commit_ms(opt.entries / 4), "one-row commits");
    const EntryRun s = must(timed_entries(store, today + run, opt.entries, run > 0, commit), "entries");
    medians.push_back(s.median_ms);
    commit_medians.push_back(commit);
    print(std::to_string(run + 1), s);
  }
  // The same work without an fsync per commit (synchronous=NORMAL): what an entry costs besides it.
  {
    auto relaxed = must(entry_store(root + "/relaxed", clock, today, true), "relaxed store");
    const double commit = must(commits->median_commit_ms(opt.entries / 4), "one-row commits");
    print("NORMAL", must(timed_entries(*relaxed, today, opt.entries, false, commit), "entries"));
  }
  std::printf("\n%-56s %9.3f ms\n", "one entry, durable: median of the run medians", median(medians));
  std::printf("%-56s %9.3f ms\n", "one-row SQLite commit, WAL, FULL: median of the runs'", median(commit_medians));

  if (opt.size_entries > 0) {
    const std::uintmax_t before = checkpointed_size(dir);
    const auto start = Steady::now();
    for (long i = 0; i < opt.size_entries; ++i) {
      auto r = store.log_output("", "P1", i % 1000 + 1);
      if (!r.is_ok()) die("size entry " + std::to_string(i) + ": " + r.status().to_string());
      if ((i + 1) % 10'000 == 0) std::fprintf(stderr, "  %ld of %ld entries\n", i + 1, opt.size_entries);
    }
    const double seconds = seconds_since(start);
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
