// What every benchmark row shares: timing and order statistics, scratch folders, the launcher that
// runs the real programs and reads their peak memory, a `shiftbook-server serve` child on
// 127.0.0.1:0, and head office's set-up through the admin commands. Benchmarks report figures;
// they never assert them. One thread uses a Launcher or a ServerChild at a time; the statistics
// are pure functions.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shiftbook/status.h"

namespace shiftbook::bench {

using Steady = std::chrono::steady_clock;

double seconds_since(Steady::time_point start);
double ms_since(Steady::time_point start);
// The median of `v` (the mean of the middle two for an even count); 0 for none.
double median(std::vector<double> v);
// The q-quantile (0..1) of `v` by the nearest-rank method; 0 for none.
double quantile(std::vector<double> v, double q);
// The three load averages of /proc/loadavg, as written there ("0.66 1.11 1.66").
std::string load_average();

std::string read_text(const std::string& path);

// A folder made under `parent` with mkdtemp, removed with everything in it on destruction unless
// `keep`. Moves only.
class ScratchDir {
 public:
  static Result<ScratchDir> make(const std::string& parent, const std::string& prefix, bool keep);
  ScratchDir(ScratchDir&& other) noexcept;
  ScratchDir& operator=(ScratchDir&&) = delete;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();
  const std::string& path() const { return path_; }

 private:
  ScratchDir(std::string path, bool keep) : path_(std::move(path)), keep_(keep) {}
  std::string path_;
  bool keep_ = false;
};

// Makes the folder `path` and its parents.
Status make_folder(const std::string& path);
// Copies the folder `from` (a stopped server's or terminal's) to `to`, which must not exist.
Status copy_folder(const std::string& from, const std::string& to);

// One finished child: its exit status, outputs, wall time and peak resident memory.
struct Finished {
  int exit_code = -1;
  std::string out, err;
  double seconds = 0;
  double max_rss_mib = 0;
};

// Runs the measured programs from a small process forked before the benchmark grows. Linux carries
// the peak RSS of the memory a process had before exec into its ru_maxrss, and posix_spawn runs
// the child in its parent's memory until exec: spawned from the benchmark (which holds a million
// events), every child would report at least the benchmark's peak. Make one first thing in main.
class Launcher {
 public:
  Launcher();
  ~Launcher();
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;

  // Runs a program to completion, standard input `input` (from a file in `scratch`; /dev/null when
  // empty); `scratch` gets its output files. unavailable when it cannot be started or the launcher
  // is gone; its exit status is data.
  Result<Finished> run(const std::vector<std::string>& argv, const std::string& scratch,
                       const std::string& input = std::string());
  // As run(), and a non-zero exit status is internal_error with the command and its standard error.
  Result<std::string> check(const std::vector<std::string>& argv, const std::string& scratch,
                            const std::string& input = std::string());

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

// A `shiftbook-server serve --listen 127.0.0.1:0` child (started directly, not by the launcher:
// it outlives a run), its log in `scratch`/server.log. SIGTERM and a bounded wait on destruction.
class ServerChild {
 public:
  // Starts it and waits up to 10 s for its "listening on" line.
  static Result<std::unique_ptr<ServerChild>> start(const std::string& dir, const std::string& scratch,
                                                    int threads = 0);
  ~ServerChild();
  ServerChild(const ServerChild&) = delete;
  ServerChild& operator=(const ServerChild&) = delete;

  const std::string& url() const { return url_; }
  int port() const { return port_; }
  // The server-side milliseconds of every sync the log shows so far (each line ends "12.3 ms").
  std::vector<double> sync_ms() const;
  // The processor time it has used so far, user and system, from /proc (0 once stopped).
  double cpu_seconds() const;
  // Its peak resident memory so far, MiB (VmHWM, /proc; 0 once stopped).
  double peak_rss_mib() const;
  // Stops it (SIGTERM) and waits up to `grace_s` for it to exit (a server holding a large ledger
  // takes a while to free it); internal_error when it did not stop cleanly.
  Status stop(int grace_s = 20);

 private:
  ServerChild(pid_t pid, std::string log) : pid_(pid), log_(std::move(log)) {}
  pid_t pid_ = -1;
  std::string log_;
  std::string url_;
  int port_ = 0;
};

// The processor time this process has used so far, user and system, all threads.
double own_cpu_seconds();

// The programs measured: the ones built beside the benchmark.
const char* shiftbook_bin();
const char* server_bin();

// "U01".."U20": unit `index` (from 0) of `units`, numbered with as many digits as the last one has.
std::string unit_name(int index, int units);

// Head office's set-up through `shiftbook-server` admin commands in `dir`: init (`--store
// store_url`: "sqlite:", the folder's own file, or a PostgreSQL schema's URL); site S1 (UTC);
// one unit per name in `units`; period "bench" from 30 days before `today` to ten years after;
// product P1; leader L1 (PIN 4321); a quota of P1 for each unit.
Status set_up_head_office(Launcher& launcher, const std::string& dir, const std::string& scratch, std::int64_t today,
                          const std::vector<std::string>& units, const std::string& store_url = "sqlite:");
// A fresh enrollment code for site S1 and `unit`, as `code create` printed it.
Result<std::string> create_code(Launcher& launcher, const std::string& dir, const std::string& scratch,
                                const std::string& unit);

}  // namespace shiftbook::bench
