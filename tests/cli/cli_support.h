// Driving the shiftbook binary against a store in a temporary folder. Setup that is not under
// test (the leader's PIN hash) goes through the library at minimum Argon2id cost, so that each
// test pays for interactive-cost hashing only where it tests it. One test thread.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "shiftbook/client/store.h"
#include "shiftbook/clock.h"
#include "support/fixture.h"

namespace shiftbook::testing {

class Cli {
 public:
  std::string store() const { return dir_.file("store"); }
  std::string file(const std::string& name) const { return dir_.file(name); }

  // Runs `shiftbook --store <store> args...`.
  RunResult run(std::vector<std::string> args, const std::string& input = {}) const {
    args.insert(args.begin(), {"--store", store()});
    return run_shiftbook(args, input);
  }

  // Runs a command that must succeed and print one JSON document.
  Json json(const std::vector<std::string>& args) const {
    RunResult r = run(args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return Json::parse(r.out);
  }

  // Writes `text` to a file in the temporary folder and returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(file(name), std::ios::binary) << text;
    return file(name);
  }

  // A new store holding the sample reference data (fixture.h).
  void init_with_reference() const {
    RunResult init = run({"init"});
    REQUIRE_MESSAGE(init.exit_code == 0, init.err);
    RunResult ref = run({"ref", "import", write("reference.json", sample_reference().dump())});
    REQUIRE_MESSAGE(ref.exit_code == 0, ref.err);
  }

  // Adds leader L1 ("Lena", PIN "4321") with a cheap PIN hash, and logs L1 in when `login`.
  void add_leader(bool login) const {
    SystemClock clock;
    auto s = client::Store::open(store(), clock, fast_options());
    REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
    Status added = (*s)->add_leader("L1", "Lena", "4321");
    REQUIRE_MESSAGE(added.is_ok(), added.to_string());
    if (login) REQUIRE((*s)->login("L1", "4321").is_ok());
  }

  // Ready to record: reference data, L1 logged in, shift 1 of U1 open on 2026-11-16.
  void ready() const {
    init_with_reference();
    add_leader(true);
    RunResult open = run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"});
    REQUIRE_MESSAGE(open.exit_code == 0, open.err);
  }

  // How many events the store holds, from `status --json`.
  std::int64_t events() const { return json({"status", "--json"})["events"].get<std::int64_t>(); }

 private:
  TempDir dir_;
};

// Expects a failure: exit status, a message fragment on standard error, nothing on standard output.
inline void check_fails(const RunResult& r, int exit_code, const std::string& message) {
  CHECK_MESSAGE(r.exit_code == exit_code, r.err);
  CHECK_MESSAGE(r.err.find(message) != std::string::npos, r.err);
  CHECK(r.err.rfind("shiftbook: ", 0) == 0);
  CHECK(r.out.empty());
}

}  // namespace shiftbook::testing
