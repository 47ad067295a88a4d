#include "support/fixture.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <sqlite3.h>

#include "shiftbook/crypto.h"

extern char** environ;

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

Child spawn_child(const std::vector<std::string>& argv_in, const std::vector<std::string>& env, bool with_input) {
  REQUIRE(!argv_in.empty());
  int in_pipe[2] = {-1, -1}, out_pipe[2], err_pipe[2];
  if (with_input) REQUIRE(::pipe2(in_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (with_input) {
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  std::vector<std::string> argv_s = argv_in;
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("SHIFTBOOK_STORE=", 0) == 0 || kv.rfind("SHIFTBOOK_SERVER_DIR=", 0) == 0) continue;
    env_s.push_back(kv);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv_s[0].c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (with_input) ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    if (with_input) ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    FAIL((std::string("cannot start ") + argv_s[0]));
  }
  return Child{pid, in_pipe[1], out_pipe[0], err_pipe[0]};
}

RunResult run_program(const std::string& program, const std::vector<std::string>& args, const std::string& input,
                      const std::vector<std::string>& env) {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  const Child child = spawn_child(argv, env, true);
  const pid_t pid = child.pid;

  // Feed input (small: PINs and files) then close, so the child sees end of input.
  ::signal(SIGPIPE, SIG_IGN);
  std::size_t written = 0;
  while (written < input.size()) {
    ssize_t n = ::write(child.in_fd, input.data() + written, input.size() - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  ::close(child.in_fd);

  RunResult result;
  pollfd fds[2] = {{child.out_fd, POLLIN, 0}, {child.err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      FAIL((program + " did not finish within 60 seconds"));
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace shiftbook::testing
