// The durable-entry row: how long one entry takes to record on a terminal through the Store API
// with the store's real settings (WAL, synchronous=FULL) and the real clock, read against the
// floor under any durable entry, a one-row SQLite commit with the same settings (one fsync) timed
// in the same folder just before each run, because a virtual disk's fsync time drifts from minute
// to minute. Used by shiftbook-bench and shiftbook-bench-entry (docs/DURABILITY.md). One thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shiftbook/client/store.h"
#include "shiftbook/clock.h"
#include "shiftbook/status.h"

namespace shiftbook::bench {

inline constexpr int kEntryWorkers = 300;

struct EntryRun {
  double median_ms = 0, mean_ms = 0, p99_ms = 0, max_ms = 0;
  double commit_ms = 0;  // median one-row commit beside it: the floor
};

// A store ready to record in `dir`: one site in UTC, unit U1, product P1 with a quota, a period
// around `today`, kEntryWorkers workers, leader L1 logged in for the longest idle time.
// `relaxed` selects synchronous=NORMAL.
Result<std::unique_ptr<client::Store>> entry_store(const std::string& dir, const Clock& clock, std::int64_t today,
                                                   bool relaxed);

// One-row commits into a fresh WAL database with synchronous=FULL, one fsync each.
class CommitFloor {
 public:
  static Result<std::unique_ptr<CommitFloor>> open(const std::string& path);
  ~CommitFloor();
  CommitFloor(const CommitFloor&) = delete;
  CommitFloor& operator=(const CommitFloor&) = delete;
  // The median milliseconds of `n` commits.
  Result<double> median_commit_ms(int n);

 private:
  CommitFloor() = default;
  struct Db;
  std::unique_ptr<Db> db_;
};

// Times `entries` calls in a new shift of U1 dated `day` (closing the open one first if `close`):
// three outputs, then an hours entry of a worker not yet seen that day, and again. `commit_ms` is
// copied into the result.
Result<EntryRun> timed_entries(client::Store& store, std::int64_t day, int entries, bool close, double commit_ms);

}  // namespace shiftbook::bench
