// The dashboard row (docs/BENCHMARK.md): the time head office's overview (`GET /dashboard/?period=P`,
// docs/DASHBOARD.md) takes to render for many terminals and a large log, from a real
// `shiftbook-server serve` over 127.0.0.1.
//
// Set up once: a server (site S1, one unit per 10 terminals, period "bench", product P1, leader
// L1 and a quota per unit, all through the admin commands) and the account `bench` (`account
// create`, the password on standard input); `terminals` in-process terminals (WireTerminal)
// enrolled over HTTP, each pushing its share of `events` events, whole shifts of the site's shape
// (bench_site.h: shift_open, hours, corrections, output, bonuses), in round trips of up to 4 MiB,
// each receipt checked. The server's folder is kept while stopped.
//
// Each run starts the server on that folder (it keeps each site's ledger once read: ServiceOptions
// ::keep_ledgers), signs in through the sign-in form, and times the first overview (the ledger is
// built from the store), then `warm` more (the ledger kept, brought up to date), then as many
// `GET /v1/hello` on the same connection (the floor of any request); then it reads the server's
// peak memory and stops it. Every overview is checked: HTTP 200, and each unit's actual output is
// the sum of the outputs its terminals pushed. One thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.h"
#include "shiftbook/status.h"

namespace shiftbook::bench {

struct DashboardOptions {
  int terminals = 200;
  std::uint64_t events = 10'000'000;
  int warm = 20;  // overviews timed after the first, and hellos, per run
};

struct DashboardRun {
  double first_s = 0;              // the first overview: the ledger built
  std::vector<double> later_ms;    // the overviews after it
  std::vector<double> hello_ms;
  double server_peak_mib = 0;      // VmHWM after the overviews
  double stop_s = 0;               // from SIGTERM to its exit
};

// `shiftbook-server returns --period bench` on the same folder: the same ledger built and the
// same returns read, by a process of its own with no HTTP.
struct ReturnsRun {
  double seconds = 0;
  double peak_mib = 0;
};

class DashboardRow {
 public:
  static Result<std::unique_ptr<DashboardRow>> set_up(Launcher& launcher, const std::string& parent, bool keep,
                                                      DashboardOptions options);
  std::uint64_t events() const { return events_; }  // pushed and accepted: whole shifts, about options.events
  double build_s() const { return build_s_; }       // enrolling and pushing them
  double store_mib() const { return store_mib_; }   // the server folder's size after the pushes
  int units() const { return static_cast<int>(output_.size()); }
  Result<ReturnsRun> returns_once();
  Result<DashboardRun> run_once();

 private:
  DashboardRow(Launcher& l, ScratchDir root, bool keep, DashboardOptions o)
      : launcher_(l), root_(std::move(root)), keep_(keep), options_(o) {}
  Status check_overview(int status, const std::string& body) const;
  Launcher& launcher_;
  ScratchDir root_;
  bool keep_ = false;
  DashboardOptions options_;
  std::uint64_t events_ = 0;
  double build_s_ = 0;
  double store_mib_ = 0;
  std::map<std::string, std::int64_t> output_;  // per unit
};

}  // namespace shiftbook::bench
