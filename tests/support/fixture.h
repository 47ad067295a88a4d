// Shared test support: temporary folders, a sample set of reference data, a terminal that is
// ready to record (store, reference data, a logged-in leader), and running the shiftbook binary.
// Used from one test thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "shiftbook/client/store.h"
#include "shiftbook/clock.h"

namespace shiftbook::testing {

// A fresh folder under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// 2026-11-16 08:00 UTC: a Monday inside the sample period.
inline constexpr std::int64_t kSampleNowMs = 1'794'816'000'000;

// One site S1 (tz UTC) with units U1 and U2; a second site S2 with unit U9; period 2026-11
// (whole November); products P1 (pcs, whole units) and P2 (kg, 3 decimals); workers W1..W3 on
// S1 with PINs "1111", "2222", "3333", W9 on S2 with "9999" (hashed at minimum cost); quotas for
// U1/2026-11: P1 500 (version 1), P2 250.000 kg (version 2).
shiftbook::Json sample_reference();

// A terminal ready to record: store initialised in a temp folder, sample reference data
// imported, leader L1 ("Lena", PIN "4321") added and logged in. Clock starts at kSampleNowMs.
struct Terminal {
  Terminal();
  TempDir dir;
  FakeClock clock{kSampleNowMs};
  std::unique_ptr<client::Store> store;
  std::string store_dir() const { return dir.file("store"); }
};

// Options that make PIN hashing cheap for tests.
client::StoreOptions fast_options();

// Runs SQL straight on a database file (made if missing), as someone editing the store behind the
// program's back would; any SQLite error fails the test with its message.
void exec_sql(const std::string& db_path, const std::string& sql);
// The integer the first row of `sql` holds in its first column.
std::int64_t query_int(const std::string& db_path, const std::string& sql);

// Runs the shiftbook binary with `args`, feeding `input` on standard input; captures both outputs.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
RunResult run_shiftbook(const std::vector<std::string>& args, const std::string& input = {},
                        const std::vector<std::string>& env = {});
// The same for any program (shiftbook-server: SHIFTBOOK_SERVER_BIN). The child never inherits
// $SHIFTBOOK_STORE or $SHIFTBOOK_SERVER_DIR; `env` may set them.
RunResult run_program(const std::string& program, const std::vector<std::string>& args,
                      const std::string& input = {}, const std::vector<std::string>& env = {});

// A started child process and the parent's ends of its pipes (-1 where there is none).
struct Child {
  int pid = -1;
  int in_fd = -1;   // its standard input, when started with_input; else it reads /dev/null
  int out_fd = -1;  // its standard output
  int err_fd = -1;  // its standard error
};
// Starts argv[0] with the rest of argv as arguments. The child sees this process's environment
// minus any store or server folder default (SHIFTBOOK_STORE, SHIFTBOOK_SERVER_DIR), plus `env`.
// Fails the test if it cannot start.
Child spawn_child(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                  bool with_input = false);

}  // namespace shiftbook::testing
