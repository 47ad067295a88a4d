// A real `shiftbook-server` (SHIFTBOOK_SERVER_BIN) for integration tests: a server folder in a
// temporary directory, admin commands run against it, and `serve --listen 127.0.0.1:0` as a
// child process (shiftbook/platform/process.h) whose standard output (the "listening on" line and
// one log line per request) and error go to files beside the folder, so that a test can wait for
// "the refusal was logged" without sleeping and a server that logs a lot never stalls.
// Every wait is bounded; the process is stopped (SIGTERM, SIGKILL after 5 s) on destruction.
// Used from one test thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "shiftbook/canonical.h"
#include "shiftbook/platform/process.h"
#include "support/fixture.h"

namespace shiftbook::testing {

class ServerProcess {
 public:
  // Runs `init` in a fresh temporary folder (the test fails if it does not succeed): its store is
  // DIR/server.db, or in a run for PostgreSQL (support/test_backend.h) a fresh PostgreSQL schema.
  ServerProcess();
  // Runs `init --store URL` in a fresh temporary folder.
  explicit ServerProcess(const std::string& store_url);
  // Another process of `first`'s head office: a folder of its own holding copies of `first`'s key
  // and store URL (first must have been made with a store URL), as a second machine would.
  struct SameHeadOffice {};
  ServerProcess(SameHeadOffice, const ServerProcess& first);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // The URL of its store, as `init` recorded it (sqlite:DIR/server.db when it recorded none).
  std::string store_url() const;
  // The server folder (DIR) and a path beside it for a test's own files.
  std::string dir() const { return temp_.file("server"); }
  std::string file(const std::string& name) const { return temp_.file(name); }

  // Runs `shiftbook-server --dir DIR args...` to the end, feeding `input` on standard input.
  RunResult run(std::vector<std::string> args, const std::string& input = {}) const;
  // Runs a command that must succeed (exit 0) and print one JSON document.
  Json json(const std::vector<std::string>& args) const;
  // The server key, as `key --json` prints it (64 hex digits).
  std::string key_hex() const;
  // A fresh enrollment code for `site` and `units`.
  std::string create_code(const std::string& site, const std::vector<std::string>& units) const;

  // Spawns `serve --listen 127.0.0.1:0 extra...` (`extra` may give its own --listen, such as the
  // address a stopped server had), waits for the "listening on URL" line (the test fails after
  // 10 s, or if the process ends first), and returns the URL ("http://127.0.0.1:PORT").
  std::string start(const std::vector<std::string>& extra = {});
  const std::string& url() const { return url_; }
  bool running() const { return process_.pid() > 0; }
  pid_t pid() const { return process_.pid(); }

  // Sends SIGTERM and waits up to 5 s, then SIGKILLs; returns the exit status (128 + signal for
  // a process that died of a signal; -1 when none was started).
  int stop();
  // Sends a signal without waiting (SIGINT, say); stop() reaps.
  void signal(int sig) const;
  // Waits for the process to exit by itself for up to `timeout`; its exit status, or -2 if it
  // is still running then.
  int wait_exit(std::chrono::milliseconds timeout);

  // Everything the server (the last one started) printed on standard output (log lines) and
  // standard error so far.
  std::string log() const;
  std::string err() const;
  // Waits until the log holds `fragment` (true), up to `timeout` (false).
  bool wait_for_log(const std::string& fragment,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) const;
  // How many times the log holds `fragment`.
  std::size_t log_count(const std::string& fragment) const;

 private:
  TempDir temp_;
  Process process_;
  std::string url_;
};

// The standard head office of the integration tests, written through the admin commands (PIN
// hashes at minimum cost, so it takes well under a second), the same data as sample_reference()
// of fixture.h: site S1 (UTC) with units U1 and U2, site S2 (Europe/Berlin) with U9; period
// 2026-11; products P1 (pcs, 0 decimals) and P2 (kg, 3 decimals); workers W1..W3 on S1 with PINs
// 1111/2222/3333 and W9 on S2 with 9999; shift leader L1 (Lena, PIN 4321) on S1; quotas for
// U1/2026-11: P1 500 (version 1) and P2 250.000 kg (version 2).
void setup_head_office(const ServerProcess& server);

// What makes a fresh PostgreSQL store URL for ServerProcess() in a run for PostgreSQL. Test
// programs linked with the server's library register it (this library does not link the PostgreSQL
// client); tests/integration/postgres_stores.cpp does.
using StoreMaker = std::string (*)();
void set_postgres_store_maker(StoreMaker make);

}  // namespace shiftbook::testing
