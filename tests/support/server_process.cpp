#include "support/server_process.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/test_backend.h"

namespace shiftbook::testing {

namespace {

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(5);
// How often the log file is looked at again while a test waits for a line.
constexpr auto kLogPoll = std::chrono::milliseconds(5);

}  // namespace

namespace {

StoreMaker& postgres_store_maker() {
  static StoreMaker make = nullptr;
  return make;
}

}  // namespace

void set_postgres_store_maker(StoreMaker make) { postgres_store_maker() = make; }

ServerProcess::ServerProcess() {
  std::vector<std::string> args{"init"};
  if (postgres_backend()) {
    const bool registered = postgres_store_maker() != nullptr;
    REQUIRE_MESSAGE(registered, "a run for PostgreSQL, and this test program registers no "
                                                       "PostgreSQL stores (set_postgres_store_maker)");
    args.insert(args.end(), {"--store", postgres_store_maker()()});
  }
  RunResult init = run(args);
  REQUIRE_MESSAGE(init.exit_code == 0, init.err);
}

ServerProcess::ServerProcess(const std::string& store_url) {
  RunResult init = run({"init", "--store", store_url});
  REQUIRE_MESSAGE(init.exit_code == 0, init.err);
}

ServerProcess::ServerProcess(SameHeadOffice, const ServerProcess& first) {
  std::filesystem::create_directories(dir());
  std::filesystem::permissions(dir(), std::filesystem::perms::owner_all);
  for (const char* name : {"server.key", "store"}) {
    std::filesystem::copy_file(first.dir() + "/" + name, dir() + "/" + name);
  }
}

ServerProcess::~ServerProcess() { stop(); }

std::string ServerProcess::store_url() const {
  const std::string recorded = dir() + "/store";
  if (!std::filesystem::exists(recorded)) return "sqlite:" + dir() + "/server.db";
  std::ifstream in(recorded);
  std::string url;
  std::getline(in, url);
  return url;
}

RunResult ServerProcess::run(std::vector<std::string> args, const std::string& input) const {
  args.insert(args.begin(), {"--dir", dir()});
  return run_program(SHIFTBOOK_SERVER_BIN, args, input);
}

Json ServerProcess::json(const std::vector<std::string>& args) const {
  RunResult r = run(args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return Json::parse(r.out);
}

std::string ServerProcess::key_hex() const { return json({"key", "--json"})["server_key"].get<std::string>(); }

std::string ServerProcess::create_code(const std::string& site, const std::vector<std::string>& units) const {
  std::vector<std::string> args{"code", "create", "--site", site, "--json"};
  for (const auto& u : units) args.insert(args.end(), {"--unit", u});
  return json(args)["code"].get<std::string>();
}

std::string ServerProcess::start(const std::vector<std::string>& extra) {
  REQUIRE_MESSAGE(!running(), "the server is running already");
  std::vector<std::string> argv{SHIFTBOOK_SERVER_BIN, "--dir", dir(), "serve"};
  // `extra` may name the address (to restart a server on the port it had); else any free port.
  if (std::find(extra.begin(), extra.end(), "--listen") == extra.end()) {
    argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  ProcessOptions options;
  options.out_file = temp_.file("serve.log");
  options.err_file = temp_.file("serve.err");
  Result<Process> started = Process::start(argv, options);
  REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
  process_ = std::move(started).value();
  Result<std::string> url = process_.wait_for_line("listening on ", ProcessClock::now() + kStartTimeout);
  REQUIRE_MESSAGE(url.is_ok(), url.status().to_string());
  url_ = std::move(url).value();
  return url_;
}

int ServerProcess::stop() { return process_.stop(kStopTimeout); }

int ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  return process_.wait_until(ProcessClock::now() + timeout).value_or(-2);
}

void ServerProcess::signal(int sig) const { process_.signal(sig); }

std::string ServerProcess::log() const { return process_.out(); }

std::string ServerProcess::err() const { return process_.err(); }

bool ServerProcess::wait_for_log(const std::string& fragment, std::chrono::milliseconds timeout) const {
  const auto deadline = ProcessClock::now() + timeout;
  for (;;) {
    if (log().find(fragment) != std::string::npos) return true;
    if (ProcessClock::now() >= deadline) return false;
    std::this_thread::sleep_for(kLogPoll);
  }
}

std::size_t ServerProcess::log_count(const std::string& fragment) const {
  const std::string text = log();
  std::size_t n = 0;
  for (auto at = text.find(fragment); at != std::string::npos; at = text.find(fragment, at + fragment.size())) ++n;
  return n;
}

void setup_head_office(const ServerProcess& server) {
  auto ok = [&](const std::vector<std::string>& args, const std::string& input = {}) {
    RunResult r = server.run(args, input);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  };
  ok({"site", "add", "S1", "--name", "Plant One", "--tz", "UTC"});
  ok({"site", "add", "S2", "--name", "Plant Two", "--tz", "Europe/Berlin"});
  ok({"unit", "add", "U1", "--site", "S1", "--name", "Press shop"});
  ok({"unit", "add", "U2", "--site", "S1", "--name", "Paint shop"});
  ok({"unit", "add", "U9", "--site", "S2", "--name", "Foundry"});
  ok({"period", "add", "2026-11", "--start", "2026-11-01", "--end", "2026-11-30"});
  ok({"product", "add", "P1", "--name", "Bracket", "--unit", "pcs", "--decimals", "0"});
  ok({"product", "add", "P2", "--name", "Powder coat", "--unit", "kg", "--decimals", "3"});
  const std::vector<std::vector<std::string>> people = {{"worker", "W1", "S1", "Anna", "1111"},
                                                        {"worker", "W2", "S1", "Boris", "2222"},
                                                        {"worker", "W3", "S1", "Chen", "3333"},
                                                        {"worker", "W9", "S2", "Dara", "9999"},
                                                        {"leader", "L1", "S1", "Lena", "4321"}};
  for (const auto& p : people) {
    ok({p[0], "add", p[1], "--site", p[2], "--name", p[3], "--pin-cost", "minimum"}, p[4] + "\n");
  }
  ok({"quota", "set", "--unit", "U1", "--period", "2026-11", "--product", "P1", "--quantity", "500"});
  // Set twice, so that P2's quota is at version 2 as in sample_reference().
  ok({"quota", "set", "--unit", "U1", "--period", "2026-11", "--product", "P2", "--quantity", "200"});
  ok({"quota", "set", "--unit", "U1", "--period", "2026-11", "--product", "P2", "--quantity", "250"});
}

}  // namespace shiftbook::testing
