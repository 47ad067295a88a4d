#include "support/fixture.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <sqlite3.h>

#include "shiftbook/crypto.h"
#include "shiftbook/platform/process.h"

namespace shiftbook::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/shiftbook-test-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

client::StoreOptions fast_options() {
  client::StoreOptions o;
  o.pin_cost = PinCost::kMinimum;
  return o;
}

namespace {
std::string cheap_hash(const std::string& pin) {
  auto h = hash_pin(pin, PinCost::kMinimum);
  REQUIRE(h.is_ok());
  return *h;
}
}  // namespace

Json sample_reference() {
  return Json{
      {"format", "shiftbook-reference/1"},
      {"sites", Json::array({{{"id", "S1"}, {"name", "Plant One"}, {"tz", "UTC"}},
                             {{"id", "S2"}, {"name", "Plant Two"}, {"tz", "Europe/Berlin"}}})},
      {"units", Json::array({{{"id", "U1"}, {"site", "S1"}, {"name", "Press shop"}},
                             {{"id", "U2"}, {"site", "S1"}, {"name", "Paint shop"}},
                             {{"id", "U9"}, {"site", "S2"}, {"name", "Foundry"}}})},
      {"periods", Json::array({{{"id", "2026-11"}, {"start", "2026-11-01"}, {"end", "2026-11-30"}}})},
      {"products", Json::array({{{"id", "P1"}, {"name", "Bracket"}, {"unit", "pcs"}, {"decimals", 0}},
                                {{"id", "P2"}, {"name", "Powder coat"}, {"unit", "kg"}, {"decimals", 3}}})},
      {"workers", Json::array({{{"id", "W1"}, {"site", "S1"}, {"name", "Anna"}, {"pin_hash", cheap_hash("1111")}},
                               {{"id", "W2"}, {"site", "S1"}, {"name", "Boris"}, {"pin_hash", cheap_hash("2222")}},
                               {{"id", "W3"}, {"site", "S1"}, {"name", "Chen"}, {"pin_hash", cheap_hash("3333")}},
                               {{"id", "W9"}, {"site", "S2"}, {"name", "Dara"}, {"pin_hash", cheap_hash("9999")}}})},
      {"quotas", Json::array({{{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 500}, {"version", 1}},
                              {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P2"}, {"quantity", 250000}, {"version", 2}}})},
  };
}

Terminal::Terminal() {
  auto s = client::Store::init(store_dir(), clock, fast_options());
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  store = std::move(s).value();
  Status imported = store->import_reference(sample_reference());
  REQUIRE_MESSAGE(imported.is_ok(), imported.to_string());
  Status added = store->add_leader("L1", "Lena", "4321");
  REQUIRE_MESSAGE(added.is_ok(), added.to_string());
  auto login = store->login("L1", "4321");
  REQUIRE_MESSAGE(login.is_ok(), login.status().to_string());
}

void exec_sql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, message);
}

std::int64_t query_int(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  std::string message = sqlite3_errmsg(db);
  std::int64_t value = 0;
  bool row = rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW;
  if (row) value = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  REQUIRE_MESSAGE(rc == SQLITE_OK, message);
  const std::string no_row = "no row from: " + sql;
  REQUIRE_MESSAGE(row, no_row);
  return value;
}

RunResult run_shiftbook(const std::vector<std::string>& args, const std::string& input,
                        const std::vector<std::string>& env) {
  return run_program(SHIFTBOOK_BIN, args, input, env);
}

Child spawn_child(const std::vector<std::string>& argv, const std::vector<std::string>& env, bool with_input) {
  ProcessOptions options;
  options.env = env;
  options.with_input = with_input;
  Result<Process> started = Process::start(argv, options);
  REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
  const Process::Released child = started->release();
  return Child{child.pid, child.in_fd, child.out_fd, child.err_fd};
}

RunResult run_program(const std::string& program, const std::vector<std::string>& args, const std::string& input,
                      const std::vector<std::string>& env) {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.process.env = env;
  options.input = input;
  options.timeout = std::chrono::seconds(60);
  Result<Ran> ran = run_to_end(argv, options);
  REQUIRE_MESSAGE(ran.is_ok(), ran.status().to_string());
  return RunResult{ran->exit_code, ran->out, ran->err};
}

}  // namespace shiftbook::testing
