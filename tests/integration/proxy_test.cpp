// The fault proxy (tools/faultproxy.cpp, docs/FAULTS.md) between real terminals (the shiftbook
// program) and a real shiftbook-server: each fault on its own does what it says and the protocol
// takes it (a lost answer is a retry held already, a duplicate gets the same receipt), and three
// terminals syncing through every fault at once converge with nothing lost or duplicated.
#include <doctest/doctest.h>
#include <httplib.h>
#include <sqlite3.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_support.h"
#include "shiftbook/platform/process.h"
#include "support/fixture.h"
#include "support/proxy_process.h"
#include "support/server_process.h"

using namespace shiftbook;
using shiftbook::testing::Cli;
using shiftbook::testing::ProxyProcess;
using shiftbook::testing::RunResult;
using shiftbook::testing::ServerProcess;
using Steady = std::chrono::steady_clock;

namespace {

constexpr int kExitUnreachable = 12;

void ok(const RunResult& r, const std::string& what) { REQUIRE_MESSAGE(r.exit_code == 0, (what + ": " + r.err)); }

// A head office and a proxy in front of it, with no faults until a test sets them.
struct World {
  ServerProcess server;
  std::unique_ptr<ProxyProcess> proxy;
  explicit World(const std::vector<std::string>& proxy_options = {"--seed", "7"}) {
    shiftbook::testing::setup_head_office(server);
    server.start();
    proxy = std::make_unique<ProxyProcess>(server.url(), proxy_options);
  }
};

// A terminal enrolled through the proxy for U1 (so the proxy is the address it keeps), synced once,
// L1 logged in and a shift of U1 open: one event of its own.
struct Terminal {
  Cli cli;
  std::string device;  // hex
  explicit Terminal(const World& w) {
    device = cli.json({"init", "--json"})["device"].get<std::string>();
    ok(cli.run({"enroll", "--server", w.proxy->url(), "--code", w.server.create_code("S1", {"U1"})}), "enroll");
    ok(cli.run({"sync"}), "first sync");
    ok(cli.run({"login", "L1"}, "4321\n"), "login");
    ok(cli.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "shift open");
  }
  RunResult run(const std::vector<std::string>& args, const std::string& input = {}) const {
    return cli.run(args, input);
  }
  void log_output(int quantity) const {
    ok(run({"log", "output", "--product", "P1", "--quantity", std::to_string(quantity)}), "log output");
  }
  std::int64_t unsynced() const { return cli.json({"status", "--json"})["unsynced_events"].get<std::int64_t>(); }
  std::string short_id() const { return device.substr(0, 8); }
};

// The hashes of `device`'s events in seq order, as one hex text, from a SQLite file and a query
// that takes the device key as its one parameter.
std::string chain_text(const std::string& db_path, const std::string& sql, const std::string& device_hex) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE_MESSAGE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK, sqlite3_errmsg(db));
  std::vector<unsigned char> key;
  for (std::size_t i = 0; i + 1 < device_hex.size(); i += 2) key.push_back(std::stoi(device_hex.substr(i, 2), nullptr, 16));
  sqlite3_bind_blob(st, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  std::string out;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

std::string terminal_chain(const Terminal& holder, const std::string& device) {
  return chain_text(holder.cli.store() + "/terminal.db",
                    "SELECT group_concat(h, '') FROM (SELECT hex(hash) AS h FROM events WHERE device = ? ORDER BY seq)",
                    device);
}

// The same from head office's store, on either backend, through `events`.
std::string server_chain(const ServerProcess& server, const std::string& device) {
  const Json listed = server.json({"events", "--device", device, "--limit", "100000", "--json"});
  std::string out;
  for (const Json& e : listed.at("events")) {
    for (const char c : e.at("hash").get<std::string>()) out += static_cast<char>(std::toupper(c));
  }
  return out;
}

// A shiftbook run in the background (a sync the proxy may hold), waited for with a bound; killed
// if the test ends first.
class Background {
 public:
  Background(const Cli& cli, const std::vector<std::string>& args) {
    std::vector<std::string> argv{SHIFTBOOK_BIN, "--store", cli.store()};
    argv.insert(argv.end(), args.begin(), args.end());
    Result<Process> started = Process::start(argv);
    REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
    child_ = std::move(started).value();
  }
  // Its exit status and output; the test fails if it runs 30 s more.
  RunResult wait() {
    const std::optional<int> status = child_.finish(Steady::now() + std::chrono::seconds(30));
    RunResult out{status ? *status : child_.kill_now(), child_.out(), child_.err()};
    REQUIRE_MESSAGE(status.has_value(), "a background shiftbook did not finish within 30 s");
    return out;
  }

 private:
  Process child_;
};

}  // namespace

TEST_CASE("faultproxy: refuses an address that is not loopback, on either side, and a rate outside 0..1") {
  auto proxy = [](const std::vector<std::string>& args) {
    return shiftbook::testing::run_program(SHIFTBOOK_FAULTPROXY_BIN, args);
  };
  RunResult listen = proxy({"--listen", "0.0.0.0:0", "--upstream", "http://127.0.0.1:9"});
  CHECK(listen.exit_code == 3);
  CHECK(listen.err.find("'0.0.0.0' is not a loopback address") != std::string::npos);
  RunResult upstream = proxy({"--listen", "127.0.0.1:0", "--upstream", "http://10.0.0.5:8470"});
  CHECK(upstream.exit_code == 3);
  CHECK(upstream.err.find("upstream 'http://10.0.0.5:8470': '10.0.0.5' is not a loopback address") !=
        std::string::npos);
  RunResult named = proxy({"--listen", "127.0.0.1:0", "--upstream", "http://localhost:8470"});
  CHECK(named.exit_code == 3);
  RunResult rate = proxy({"--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:9", "--drop-request", "1.5"});
  CHECK(rate.exit_code == 2);
  CHECK(rate.err.find("--drop-request") != std::string::npos);
  RunResult delay = proxy({"--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:9", "--delay-ms", "50-10"});
  CHECK(delay.exit_code == 3);
  CHECK(delay.err.find("--delay-ms '50-10'") != std::string::npos);
}

TEST_CASE("faultproxy: without faults every request is forwarded once and answered whole") {
  World w;
  Terminal t(w);
  t.log_output(40);
  ok(t.run({"sync"}), "sync");
  CHECK(t.unsynced() == 0);
  const Json stats = w.proxy->stats();
  CHECK(stats["requests"].get<int>() >= 3);  // hello, enroll, syncs
  CHECK(stats["forwarded"] == stats["requests"]);
  CHECK(stats["answered"] == stats["requests"]);
  CHECK(stats["faults_total"] == 0);
  CHECK(w.server.log_count("sync device " + t.short_id()) == stats["requests"].get<std::size_t>() - 2);
}

TEST_CASE("faultproxy: drop-request: the terminal hears nothing, the server sees nothing, and nothing is lost") {
  World w;
  Terminal t(w);
  const std::size_t seen = w.server.log_count("sync device " + t.short_id());
  w.proxy->set_faults({{"drop_request", 1}});
  RunResult r = t.run({"sync"});
  CHECK(r.exit_code == kExitUnreachable);
  CHECK(r.err.find("no answer") != std::string::npos);
  CHECK(w.proxy->faults("drop_request") == 1);
  CHECK(w.server.log_count("sync device " + t.short_id()) == seen);
  CHECK(t.unsynced() == 1);
  w.proxy->faults_off();
  ok(t.run({"sync"}), "sync without faults");
  CHECK(t.unsynced() == 0);
}

TEST_CASE("faultproxy: drop-response: the server commits the push, the terminal hears nothing, the next sync is held already") {
  World w;
  Terminal t(w);
  t.log_output(12);
  w.proxy->set_faults({{"drop_response", 1}});
  RunResult r = t.run({"sync"});
  CHECK(r.exit_code == kExitUnreachable);
  CHECK(r.err.find("entries stay on this terminal") != std::string::npos);
  CHECK(w.server.wait_for_log("sync device " + t.short_id() + " peer 127.0.0.1 pushed 2 (seq 1..2)"));
  CHECK(t.unsynced() == 2);
  CHECK(w.proxy->faults("drop_response") == 1);
  w.proxy->faults_off();
  Json again = t.cli.json({"sync", "--json"});
  CHECK(again["pushed"] == 2);  // acknowledged now, by the receipt the server had stored
  CHECK(again["server_seq"] == 2);
  CHECK(w.server.log_count("pushed 0 (held already, up to seq 2)") == 1);
  CHECK(t.unsynced() == 0);
}

TEST_CASE("faultproxy: truncate-response: a cut answer is refused whole and the next sync finishes the work") {
  World w;
  Terminal t(w);
  t.log_output(7);
  w.proxy->set_faults({{"truncate_response", 1}});
  RunResult r = t.run({"sync"});
  CHECK(r.exit_code == kExitUnreachable);
  CHECK(w.server.wait_for_log("pushed 2 (seq 1..2)"));
  CHECK(w.proxy->faults("truncate_response") == 1);
  CHECK(t.unsynced() == 2);
  CHECK(t.cli.json({"verify", "--json"})["ok"] == true);
  w.proxy->faults_off();
  ok(t.run({"sync"}), "sync without faults");
  CHECK(t.unsynced() == 0);
  CHECK(server_chain(w.server, t.device) == terminal_chain(t, t.device));
}

TEST_CASE("faultproxy: duplicate-request: the server takes the second copy as a retry and the terminal gets the same receipt") {
  World w;
  Terminal t(w);
  t.log_output(3);
  w.proxy->set_faults({{"duplicate_request", 1}});
  Json sync = t.cli.json({"sync", "--json"});
  CHECK(sync["pushed"] == 2);
  CHECK(sync["server_seq"] == 2);
  CHECK(w.server.log_count("sync device " + t.short_id() + " peer 127.0.0.1 pushed 2 (seq 1..2)") == 1);
  CHECK(w.server.log_count("sync device " + t.short_id() + " peer 127.0.0.1 pushed 0 (held already, up to seq 2)") == 1);
  CHECK(w.proxy->faults("duplicate_request") == 1);
  CHECK(t.unsynced() == 0);
  CHECK(server_chain(w.server, t.device) == terminal_chain(t, t.device));
}

TEST_CASE("faultproxy: delay: requests and answers wait, and the sync still completes") {
  World w;
  Terminal t(w);
  w.proxy->set_faults({{"delay", 1}, {"delay_min_ms", 150}, {"delay_max_ms", 150}});
  const std::int64_t before = w.proxy->stats()["requests"].get<std::int64_t>();
  const auto start = Steady::now();
  ok(t.run({"sync"}), "sync");
  CHECK(Steady::now() - start >= std::chrono::milliseconds(300));  // before forwarding and before answering
  const std::int64_t requests = w.proxy->stats()["requests"].get<std::int64_t>() - before;
  CHECK(requests >= 1);
  CHECK(w.proxy->faults("delay") == 2 * requests);
  CHECK(t.unsynced() == 0);
}

TEST_CASE("faultproxy: reorder: a held request goes after the next one, and a lone one goes on after the hold") {
  World w;
  Terminal a(w);
  Terminal b(w);
  ok(b.run({"sync"}), "b catches up");  // so that b's next sync is one round trip
  w.proxy->set_faults({{"reorder", 1}, {"reorder_hold_ms", 5000}});
  const std::int64_t before = w.proxy->stats()["requests"].get<std::int64_t>();
  const std::size_t a_lines = w.server.log_count("sync device " + a.short_id());
  Background held(a.cli, {"sync"});
  // a's request has reached the proxy (and is held) once the proxy counts it.
  const auto deadline = Steady::now() + std::chrono::seconds(10);
  while (w.proxy->stats()["requests"].get<std::int64_t>() == before && Steady::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(w.proxy->stats()["requests"].get<std::int64_t>() == before + 1);
  CHECK(w.server.log_count("sync device " + a.short_id()) == a_lines);  // held, not forwarded
  ok(b.run({"sync"}), "b overtakes");
  ok(held.wait(), "a, held and overtaken");
  const std::string log = w.server.log();
  const auto a_at = log.rfind("sync device " + a.short_id());
  const auto b_at = log.rfind("sync device " + b.short_id());
  CHECK(b_at < a_at);
  CHECK(w.proxy->faults("reorder") == 1);

  w.proxy->set_faults({{"reorder_hold_ms", 200}});
  const auto start = Steady::now();
  ok(a.run({"sync"}), "a alone");
  CHECK(Steady::now() - start >= std::chrono::milliseconds(200));
  CHECK(w.proxy->stats()["reorder_alone"] == 1);
  CHECK(a.unsynced() == 0);
}

TEST_CASE("faultproxy: the upstream changes while it runs, as when the server restarts on another port") {
  World w;
  Terminal t(w);
  w.server.stop();
  RunResult down = t.run({"sync"});
  CHECK(down.exit_code == kExitUnreachable);
  CHECK(w.proxy->stats()["upstream_failed"].get<int>() >= 1);
  w.server.start();
  w.proxy->set_upstream(w.server.url());
  ok(t.run({"sync"}), "sync after the restart");
  CHECK(t.unsynced() == 0);

  httplib::Client control(w.proxy->url());
  auto refused = control.Post("/_proxy/upstream", "http://192.0.2.1:80", "text/plain");
  REQUIRE(refused);
  CHECK(refused->status == 400);
  CHECK(refused->body.find("is not a loopback address") != std::string::npos);
  auto bad_rate = control.Post("/_proxy/faults", R"({"delay": 2})", "application/json");
  REQUIRE(bad_rate);
  CHECK(bad_rate->status == 400);
  CHECK(bad_rate->body.find("'delay' must be a number from 0 to 1") != std::string::npos);
  auto unknown = control.Post("/_proxy/faults", R"({"jitter": 1})", "application/json");
  REQUIRE(unknown);
  CHECK(unknown->status == 400);
  CHECK(unknown->body.find("'jitter' is not a fault setting") != std::string::npos);
  CHECK(w.proxy->stats()["faults_total"] == 0);  // the refused settings changed nothing
}

TEST_CASE("faultproxy: SIGTERM stops it cleanly, printing the counts and writing them to --stats") {
  World w;
  Terminal t(w);
  w.proxy->set_faults({{"drop_request", 1}});
  CHECK(t.run({"sync"}).exit_code == kExitUnreachable);
  const Json live = w.proxy->stats();
  CHECK(w.proxy->stop() == 0);
  CHECK(w.proxy->output().find("faults injected: drop-request 1,") != std::string::npos);
  CHECK(w.proxy->output().find("stopped") != std::string::npos);
  std::ifstream in(w.proxy->stats_file());
  std::stringstream text;
  text << in.rdbuf();
  const Json written = Json::parse(text.str());
  CHECK(written["faults"] == live["faults"]);
  CHECK(written["seed"] == 7);
}

TEST_CASE("faultproxy: three terminals syncing through every fault at once converge, nothing lost or duplicated") {
  World w;
  std::vector<std::unique_ptr<Terminal>> terminals;
  for (int i = 0; i < 3; ++i) terminals.push_back(std::make_unique<Terminal>(w));
  for (int i = 0; i < 3; ++i) {
    for (int q = 1; q <= 4; ++q) terminals[i]->log_output(10 * (i + 1) + q);
  }
  w.proxy->set_faults({{"drop_request", 0.15}, {"drop_response", 0.15}, {"truncate_response", 0.15},
                       {"duplicate_request", 0.2}, {"delay", 0.2}, {"reorder", 0.2}, {"delay_min_ms", 1},
                       {"delay_max_ms", 20}, {"reorder_hold_ms", 50}});
  // Rounds of the three syncing at once, until one in which every sync succeeded and nothing
  // moved; every failure must be the network's (exit 12), never a refusal.
  bool converged = false;
  int rounds = 0;
  for (; rounds < 40 && !converged; ++rounds) {
    std::vector<std::unique_ptr<Background>> syncs;
    for (const auto& t : terminals) syncs.push_back(std::make_unique<Background>(t->cli, std::vector<std::string>{"sync", "--json"}));
    converged = true;
    for (const auto& sync : syncs) {
      const RunResult r = sync->wait();
      REQUIRE_MESSAGE((r.exit_code == 0 || r.exit_code == kExitUnreachable), r.err);
      if (r.exit_code != 0) {
        converged = false;
        continue;
      }
      const Json doc = Json::parse(r.out);
      if (doc["pushed"] != 0 || doc["pulled"] != 0 || doc["unsynced_events"] != 0) converged = false;
    }
  }
  REQUIRE_MESSAGE(converged, "no quiet round within 40; proxy: " << w.proxy->stats().dump());
  MESSAGE("converged after " << rounds << " rounds; proxy: " << w.proxy->stats().dump());
  CHECK(w.proxy->stats()["faults_total"].get<int>() > 0);
  for (const auto& t : terminals) {
    const std::string own = terminal_chain(*t, t->device);
    CHECK(own.size() == 5 * 64);  // the shift and four entries, 32-byte hashes in hex
    CHECK(server_chain(w.server, t->device) == own);
    for (const auto& other : terminals) CHECK(terminal_chain(*other, t->device) == own);
    CHECK(t->cli.json({"verify", "--json"})["ok"] == true);
    CHECK(t->cli.json({"list", "--json"})["entries"].size() == 12);
  }
}
