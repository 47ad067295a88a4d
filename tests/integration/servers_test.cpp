// Several shiftbook-server processes on one store (docs/POSTGRES.md, issue 8): three processes with
// one key on one database (the PostgreSQL server $SHIFTBOOK_TEST_POSTGRES names; one SQLite file
// without it), terminals syncing through all of them at once, each terminal through every one in
// turn. What one server would hold, they hold together: every event once, at one position of one
// global order, every receipt valid, every terminal holding every other's events; and a request
// replayed to another process than the one it was sent to changes nothing.
#include <doctest/doctest.h>

#include <httplib.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "attack_world.h"
#include "cli/cli_support.h"
#include "integration/dashboard_client.h"
#include "integration/terminal_cli.h"
#include "support/fixture.h"
#include "support/postgres_schema.h"
#include "support/test_backend.h"
#include "support/server_process.h"

using namespace shiftbook;
using shiftbook::testing::Cli;
using shiftbook::testing::RunResult;
using shiftbook::testing::ServerProcess;

namespace {

// The store of a test: a fresh PostgreSQL schema in a run for PostgreSQL, else a SQLite file in
// `spare` (several processes may share one SQLite file too).
std::string test_store(const testing::TempDir& spare) {
  return testing::postgres_backend() ? testing::postgres_schemas().make() : "sqlite:" + spare.file("hq.db");
}

// The first failure of a command, as text (for threads, which must not REQUIRE).
std::string failed(const RunResult& r, const std::string& what) {
  return r.exit_code == 0 ? std::string() : what + " (exit " + std::to_string(r.exit_code) + "): " + r.err;
}

// One head office of three processes on one store (a test's own): the first made with
// `init --store`, the others folders holding copies of its key and store URL. The standard head
// office is written through the first; `prepare` may add to it before any process serves.
struct ThreeProcesses {
  explicit ThreeProcesses(bool serve, const std::function<void(const ServerProcess&)>& prepare = {}) {
    testing::setup_head_office(first);
    if (prepare) prepare(first);
    if (serve) {
      for (ServerProcess* s : all) s->start();
    }
  }
  testing::TempDir spare;
  const std::string url = test_store(spare);
  ServerProcess first{url};
  ServerProcess second{ServerProcess::SameHeadOffice{}, first};
  ServerProcess third{ServerProcess::SameHeadOffice{}, first};
  const std::vector<ServerProcess*> all{&first, &second, &third};
};

}  // namespace

TEST_CASE("servers: three processes on one store take syncs at once, each terminal through all of them, and hold what one would") {
  ThreeProcesses w(true);
  INFO("store: " << w.url);
  ServerProcess& first = w.first;
  const std::vector<ServerProcess*>& servers = w.all;

  constexpr int kTerminals = 6;
  constexpr int kRounds = 3;
  std::vector<Cli> terminals(kTerminals);
  for (int i = 0; i < kTerminals; ++i) {
    const Cli& t = terminals[static_cast<std::size_t>(i)];
    ok(t.run({"init"}), "init");
    ok(t.run({"enroll", "--server", servers[static_cast<std::size_t>(i % 3)]->url(), "--code",
              first.create_code("S1", {"U1"})}),
       "enroll");
    ok(t.run({"sync"}), "first sync");
    ok(t.run({"login", "L1"}, "4321\n"), "login");
  }

  // All at once: each terminal records a shift a round and syncs it through the next server.
  std::vector<std::string> failures(kTerminals);
  std::vector<std::thread> threads;
  for (int i = 0; i < kTerminals; ++i) {
    threads.emplace_back([&, i] {
      const Cli& t = terminals[static_cast<std::size_t>(i)];
      std::string& failure = failures[static_cast<std::size_t>(i)];
      const std::string worker = "W" + std::to_string(i % 3 + 1);
      for (int round = 0; round < kRounds && failure.empty(); ++round) {
        const std::string date = "2026-11-" + std::to_string(17 + round);
        const std::string& server = servers[static_cast<std::size_t>((i + round) % 3)]->url();
        for (const auto& [args, what] : std::vector<std::pair<std::vector<std::string>, std::string>>{
                 {{"shift", "open", "--unit", "U1", "--date", date}, "open"},
                 {{"log", "hours", "--worker", worker, "--start", "06:00", "--end", "14:00"}, "hours"},
                 {{"log", "output", "--product", "P1", "--quantity", std::to_string(10 * (i + 1))}, "output"},
                 {{"shift", "close"}, "close"},
                 {{"sync", "--server", server}, "sync through " + server}}) {
          if (failure.empty()) failure = failed(t.run(args), "terminal " + std::to_string(i) + ", round " +
                                                                 std::to_string(round) + ": " + what);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& f : failures) CHECK_MESSAGE(f.empty(), f);

  // Every terminal syncs through every server once more: each now holds what all the others pushed.
  for (ServerProcess* s : servers) {
    for (const Cli& t : terminals) ok(t.run({"sync", "--server", s->url()}), "settling sync through " + s->url());
  }

  // Each terminal: all its events acknowledged, and the same log of everything as every other.
  std::map<std::string, std::uint64_t> own;  // device -> its last seq, as its receipt says
  std::int64_t events = -1;
  for (const Cli& t : terminals) {
    const Json status = t.json({"status", "--json"});
    CHECK(status.at("unsynced_events") == 0);
    own[status.at("device").get<std::string>()] = status.at("last_sync").at("receipt_seq").get<std::uint64_t>();
    if (events < 0) events = status.at("events").get<std::int64_t>();
    CHECK(status.at("events") == events);
    ok(t.run({"verify"}), "verify");
  }
  // Every server folder reads the same store: the same devices, each delivered exactly once.
  for (ServerProcess* s : servers) {
    const Json devices = s->json({"devices", "--json"});
    std::map<std::string, std::uint64_t> delivered;
    for (const Json& d : devices.at("devices")) delivered[d.at("device").get<std::string>()] = d.at("delivered").get<std::uint64_t>();
    CHECK(delivered == own);
    const RunResult audit = s->run({"audit"});
    CHECK_MESSAGE(audit.exit_code == 0, audit.err);
    CHECK_MESSAGE(audit.out.find("no problems") != std::string::npos, audit.out);
  }
  // One global order: positions 1..N, each once; each terminal's events in exactly one push each.
  ok(first.run({"audit", "export", first.file("audit.jsonl")}), "audit export");
  std::ifstream in(first.file("audit.jsonl"));
  std::uint64_t next_pos = 1;
  std::uint64_t in_pushes = 0;
  std::map<std::string, std::uint64_t> pushed;  // device -> events in its pushes
  for (std::string line; std::getline(in, line);) {
    const Json j = Json::parse(line);
    const std::string type = j.value("type", std::string());
    if (type == "event") {
      CHECK(j.at("pos").get<std::uint64_t>() == next_pos);
      ++next_pos;
    }
    if (type == "push") {
      const std::uint64_t n = j.at("last_pos").get<std::uint64_t>() - j.at("first_pos").get<std::uint64_t>() + 1;
      pushed[j.at("device").get<std::string>()] += n;
      in_pushes += n;
    }
  }
  CHECK(next_pos - 1 == in_pushes);
  for (const auto& [device, seq] : own) CHECK(pushed[device] == seq);
  // Each server served some of the syncs.
  for (ServerProcess* s : servers) CHECK(s->log_count("sync device") > 0);
}

TEST_CASE("servers: a sync request replayed to another process of the same head office changes nothing") {
  namespace attack = testing::attack;
  ThreeProcesses w(false);
  INFO("store: " << w.url);
  ServerProcess& first = w.first;
  ServerProcess& second = w.second;
  attack::Wire to_first(first.start());
  attack::Wire to_second(second.start());
  const PublicKey server_key = to_first.server_key();
  CHECK(to_second.server_key() == server_key);
  const DeviceKey device = DeviceKey::generate();
  REQUIRE(attack::enroll(to_first, server_key, device, first.create_code("S1", {"U1"})).status == 200);

  attack::Chain chain(device.public_key());
  const Hash shift = chain.add("shift_open", attack::shift_open_body("U1")).event.hash;
  chain.add("output", attack::output_body(shift, 5));
  const attack::Request captured = attack::seal(
      device, server_key, attack::sync_message(chain.from(1), sign_head(device, 2, chain.last().event.hash)));
  REQUIRE(to_first.post("/v1/sync", captured.wire, &captured.context).header().at("receipt").at("seq") == 2);
  // The device pushes on through the second process.
  chain.add("output", attack::output_body(shift, 6));
  const attack::Request next = attack::seal(
      device, server_key, attack::sync_message(chain.from(3), sign_head(device, 3, chain.last().event.hash)));
  const Json latest = to_second.post("/v1/sync", next.wire, &next.context).header().at("receipt");
  REQUIRE(latest.at("seq") == 3);
  const Json before = first.json({"devices", "--json"}).at("devices");

  // The first request, replayed to the process that never saw it.
  const attack::Answer replayed = to_second.post("/v1/sync", captured.wire, &captured.context);
  REQUIRE(replayed.status == 200);
  CHECK(replayed.header().at("receipt") == latest);
  CHECK(second.wait_for_log("held already"));
  const Json after = first.json({"devices", "--json"}).at("devices");
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].at("device") == before[i].at("device"));
    CHECK(after[i].at("delivered") == before[i].at("delivered"));
    CHECK(after[i].at("head") == before[i].at("head"));
  }
  const RunResult audit = second.run({"audit"});
  CHECK_MESSAGE(audit.out.find("no problems") != std::string::npos, audit.out << audit.err);
}

TEST_CASE("servers: the reports each process keeps follow what the others stored, and one approval wins across them") {
  ThreeProcesses w(true, [](const ServerProcess& first) {
    testing::add_rules(first);
    testing::add_account(first, "anna");
  });
  INFO("store: " << w.url);
  ServerProcess& first = w.first;
  ServerProcess& second = w.second;
  ServerProcess& third = w.third;
  const std::vector<ServerProcess*>& servers = w.all;
  const std::string token = first.json({"token", "create", "--name", "payroll office", "--json"})["token"];

  // The returns of U1 for 2026-11 as a process's kept ledger gives them (GET /v1/reports/returns),
  // each checked against `returns --json`, which reads the store afresh.
  const auto returns = [&](const ServerProcess& s) {
    httplib::Client http = testing::http_client(s.url());
    auto r = http.Get("/v1/reports/returns?unit=U1&period=2026-11", {{"Authorization", "Bearer " + token}});
    REQUIRE(r);
    REQUIRE_MESSAGE(r->status == 200, r->body);
    CHECK(r->body == first.run({"returns", "--json", "--unit", "U1", "--period", "2026-11"}).out);
    return Json::parse(r->body).at("returns");
  };
  const auto actual_p1 = [&](const ServerProcess& s) {
    for (const Json& row : returns(s)) {
      if (row.at("product") == "P1") return row.at("actual").get<std::int64_t>();
    }
    FAIL("no P1 in the returns of " << s.url());
    return std::int64_t{-1};
  };

  Cli t;
  testing::enroll(t, first);
  testing::log_a_day(t);  // 620 pcs of P1, synced through the first
  for (ServerProcess* s : servers) CHECK(actual_p1(*s) == 620);  // each builds its ledger and keeps it

  // More output synced through the third: the first and second, whose ledgers are kept from before,
  // bring them up to date from the store.
  ok(t.run({"log", "output", "--product", "P1", "--quantity", "25"}), "output");
  ok(t.run({"sync", "--server", third.url()}), "sync through the third");
  for (ServerProcess* s : servers) CHECK(actual_p1(*s) == 645);

  // A session started on the second is known to the third (it is kept in the store). Both are
  // asked to approve U1 at once: one approval is written, the other refused as approved already.
  testing::Browser on_second = testing::signed_in(second);
  testing::Browser on_third(third.url());
  on_third.session_cookie = on_second.session_cookie;
  auto page = on_third.get("/dashboard/returns?period=2026-11");
  REQUIRE(page->status == 200);
  const std::string csrf = testing::form_token(page->body);
  CHECK(csrf == testing::form_token(on_second.get("/dashboard/returns?period=2026-11")->body));
  const httplib::Params approve{{"csrf", csrf}, {"unit", "U1"}, {"period", "2026-11"}};
  // A few rounds, each reopened from the command line after, so that the two requests overlap
  // in some of them whatever the machine's timing (one round once let two approvals through).
  constexpr int kRounds = 4;
  for (int round = 1; round <= kRounds; ++round) {
    INFO("round " << round);
    std::vector<int> statuses(2);
    std::vector<std::string> alerts(2);
    {
      std::vector<std::thread> both;
      std::vector<testing::Browser*> browsers{&on_second, &on_third};
      for (std::size_t i = 0; i < 2; ++i) {
        both.emplace_back([&, i] {
          testing::Browser& b = *browsers[i];
          auto r = b.http.Post("/dashboard/returns/approve", b.cookies(), approve);
          statuses[i] = r ? r->status : -1;
          alerts[i] = r ? testing::alert_of(r->body) : std::string();
        });
      }
      for (auto& th : both) th.join();
    }
    std::sort(statuses.begin(), statuses.end());
    CHECK(statuses == std::vector<int>{303, 409});
    CHECK_MESSAGE((testing::has(alerts[0], "reopen it first") || testing::has(alerts[1], "reopen it first")),
                  alerts[0] << " | " << alerts[1]);
    const Json decided = first.json({"shares", "--unit", "U1", "--period", "2026-11", "--json"})["reports"];
    REQUIRE(decided.size() == 1);
    CHECK(decided[0]["state"] == "approved");
    // One approval event a round, not two: approvals and reopenings alternate.
    CHECK(decided[0]["decisions"].size() == static_cast<std::size_t>(2 * round - 1));
    if (round < kRounds) {
      ok(first.run({"reopen", "--unit", "U1", "--period", "2026-11", "--reason", "round " + std::to_string(round)}),
         "reopen");
    }
  }

  // The first process learns of the approval from the store, and of a late entry after it, synced
  // through the second.
  ok(t.run({"shift", "close"}), "close");
  ok(t.run({"shift", "open", "--unit", "U1", "--date", "2026-11-17"}), "open the 17th");
  ok(t.run({"log", "output", "--product", "P1", "--quantity", "30"}), "late output");
  ok(t.run({"sync", "--server", second.url()}), "sync through the second");
  testing::Browser on_first = testing::signed_in(first);
  auto late = on_first.get("/dashboard/returns?period=2026-11");
  CHECK(testing::has(late->body, "Changed since its approval: P1 +30 pcs"));
  for (ServerProcess* s : servers) CHECK(actual_p1(*s) == 645);  // the 30 are booked forward
  const RunResult audit = third.run({"audit"});
  CHECK_MESSAGE(audit.out.find("no problems") != std::string::npos, audit.out << audit.err);
}
