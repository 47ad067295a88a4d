// The push and pull rows: `shiftbook sync`, the real program, against `shiftbook-server serve` on
// 127.0.0.1, timed from its start to its exit (so the figures include starting the process and
// opening the store), with its peak memory from wait4 through the Launcher.
//
// Push: set up once (a server with site S1 and unit U1, its store on `store_url`, bench_pg.h;
// terminal A enrolled with `shiftbook
// enroll`, synced once for the reference data and leader L1, then `events` outputs and their
// shift recorded through the Store API with synchronous=NORMAL, which is set-up and not measured),
// both folders kept while stopped. Each run copies both folders, starts the copied server and
// times `shiftbook --store A sync --server URL` (the copy's port is new; its key is the pinned
// one; on PostgreSQL its store is a fresh schema holding a copy of the set-up's, RowStore): every event read from the store, a head signed per batch, sealed, sent in batches of
// 4 MiB, checked by the server and committed with a signed receipt per batch. The run checks
// that the server acknowledged all of them.
//
// Pull: set up once (a server with S1 and U1; an in-process terminal G enrolled in U1 pushes
// `events` events, a shift and outputs, in batches of 4 MiB). Each run enrolls a fresh terminal
// B with `shiftbook enroll` and times `shiftbook --store B sync`: the reference data and G's
// events, each batch opened, verified and committed; then checks that B holds G's whole chain.
// One thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "bench_pg.h"
#include "shiftbook/bytes.h"
#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook::bench {

struct SyncRun {
  double seconds = 0;
  double peak_rss_mib = 0;
  std::vector<double> server_ms;  // push: the server's own time per sync request (its log)
};

class PushRow {
 public:
  static Result<std::unique_ptr<PushRow>> set_up(Launcher& launcher, const std::string& parent, bool keep,
                                                 long outputs, const std::string& store_url);
  // The events pushed: the outputs and their shift_open.
  std::uint64_t events() const { return events_; }
  double mean_event_bytes() const { return mean_bytes_; }
  Result<SyncRun> run_once();

 private:
  PushRow(Launcher& l, ScratchDir root, bool keep) : launcher_(l), root_(std::move(root)), keep_(keep) {}
  Launcher& launcher_;
  ScratchDir root_;
  bool keep_ = false;
  std::unique_ptr<RowStore> store_;
  std::uint64_t events_ = 0;
  double mean_bytes_ = 0;
};

class PullRow {
 public:
  static Result<std::unique_ptr<PullRow>> set_up(Launcher& launcher, const std::string& parent, bool keep,
                                                 std::uint64_t events, int runs);
  std::uint64_t events() const { return events_; }
  // Each run uses one of the codes made at set-up; at most `runs` runs.
  Result<SyncRun> run_once();
  // The peak memory of `shiftbook --help`: the program and its libraries, no store.
  Result<double> floor_rss_mib();

 private:
  PullRow(Launcher& l, ScratchDir root, bool keep) : launcher_(l), root_(std::move(root)), keep_(keep) {}
  Launcher& launcher_;
  ScratchDir root_;
  bool keep_ = false;
  std::unique_ptr<ServerChild> server_;
  std::vector<std::string> codes_;
  std::uint64_t events_ = 0;
  PublicKey generator_{};
  Bytes first_event_, last_event_;
  int runs_done_ = 0;
};

}  // namespace shiftbook::bench
