// A real shiftbook-faultproxy (SHIFTBOOK_FAULTPROXY_BIN) for integration tests: started in front
// of a server's URL with the options given, its "listening on" line read, driven through its
// control endpoints (docs/FAULTS.md), and stopped with SIGTERM (SIGKILL after 5 s) on
// destruction. It prints a few lines at start and at stop only, so its output is read at those
// moments, never by a thread. Every wait is bounded. Used from one test thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "shiftbook/canonical.h"
#include "shiftbook/platform/process.h"
#include "support/fixture.h"

namespace shiftbook::testing {

class ProxyProcess {
 public:
  // Spawns `--listen 127.0.0.1:0 --upstream UPSTREAM --stats FILE options...` and reads its
  // standard output until the "listening on URL" line (the test fails after 10 s, or if the
  // process ends first).
  explicit ProxyProcess(const std::string& upstream, const std::vector<std::string>& options = {});
  ~ProxyProcess();
  ProxyProcess(const ProxyProcess&) = delete;
  ProxyProcess& operator=(const ProxyProcess&) = delete;

  // "http://127.0.0.1:PORT": where terminals reach the server through the faults.
  const std::string& url() const { return url_; }
  pid_t pid() const { return process_.pid(); }
  std::string stats_file() const { return temp_.file("stats.json"); }

  // POST /_proxy/upstream (the test fails unless it is taken).
  void set_upstream(const std::string& upstream) const;
  // POST /_proxy/faults with `faults` (such as {"drop_request": 1}); the test fails unless taken.
  void set_faults(const Json& faults) const;
  // Every rate back to 0.
  void faults_off() const;
  // GET /_proxy/stats.
  Json stats() const;
  // One count of stats()["faults"] ("drop_request", ...).
  std::int64_t faults(const std::string& kind) const;

  // Sends SIGTERM and waits up to 5 s (then SIGKILLs); the exit status (128 + signal for a
  // process that died of a signal). Everything it printed is in output() afterwards.
  int stop();
  const std::string& output() const { return out_; }

 private:
  TempDir temp_;
  Process process_;
  int status_ = -1;
  std::string url_;
  std::string out_;
};

}  // namespace shiftbook::testing
