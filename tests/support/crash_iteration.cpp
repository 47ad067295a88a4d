// One iteration of the crash world (World::run in crash_world.h): kill, restart, finish, check.
#include <filesystem>
#include <random>

#include "shiftbook/canonical.h"
#include "support/crash_checks.h"
#include "support/crash_process.h"
#include "support/crash_world.h"

namespace shiftbook::testing::crash {

namespace fs = std::filesystem;

namespace {

// How long a sync may go on after its server died: it should notice at once (the connection
// breaks); this bound only keeps a hung sync from hanging the test.
constexpr auto kEndAfterServerDeath = std::chrono::seconds(60);

// The folders and files of one iteration.
struct Paths {
  explicit Paths(std::string r)
      : root(std::move(r)),
        server(root + "/server"),
        a(root + "/a"),
        b(root + "/b"),
        server_db(server + "/server.db"),
        a_db(a + "/terminal.db"),
        b_db(b + "/terminal.db") {}
  std::string root, server, a, b, server_db, a_db, b_db;
};

class Iteration {
 public:
  Iteration(Outcome& o, const Paths& p, const PublicKey& a, const PublicKey& b, std::uint64_t events,
            std::uint64_t b_events)
      : o_(o), p_(p), a_(a), b_(b), events_(events), b_events_(b_events) {}

  // False when the iteration cannot go on (a failure says why).
  bool start_server(const std::string& name) {
    auto s = ServerChild::start(p_.server, p_.root + "/" + name);
    if (!s.is_ok()) return fail("the server did not start: " + s.status().message());
    server_ = std::move(s).value();
    return true;
  }

  bool kill(Side side) {
    std::mt19937_64 rng(o_.seed);
    const std::int64_t delay_us = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(o_.kill.window_us + 1));
    o_.kill.delay_us = delay_us;
    auto sync = start_to_files({SHIFTBOOK_BIN, "--store", p_.a, "sync", "--server", server_.url()},
                               p_.root + "/sync-killed.out", p_.root + "/sync-killed.err");
    if (!sync.is_ok()) return fail(sync.status().message());
    const auto start = Steady::now();
    sync->wait_until(start + std::chrono::microseconds(delay_us));  // it may end by itself first
    if (side == Side::kServer) {
      server_.kill_now();
      const std::optional<int> ended = sync->wait_until(Steady::now() + kEndAfterServerDeath);
      if (!ended) {
        sync->kill_now();
        return fail("the sync did not end within 60 s after its server was killed");
      }
      o_.kill.sync_exit = *ended;
      check_clean_failure(sync->err());
    } else {
      o_.kill.sync_exit = sync->kill_now();
      if (side == Side::kBoth) server_.kill_now();
    }
    return note_kill_point();
  }

  bool finish() {
    if (!server_.running() && !start_server("server-restarted")) return false;
    auto ran = run({SHIFTBOOK_BIN, "--store", p_.a, "sync", "--server", server_.url(), "--json"},
                   p_.root + "/sync-final", kProgramTimeout);
    if (!ran.is_ok()) return fail("the sync after the kill: " + ran.status().message());
    if (ran->exit_code != 0) {
      return fail("the sync after the kill exited with " + std::to_string(ran->exit_code) + ": " + ran->err);
    }
    o_.round_trips = sync_round_trips(ran->out);
    return true;
  }

  void check_a() {
    auto status = run({SHIFTBOOK_BIN, "--store", p_.a, "status", "--json"}, p_.root + "/status", kProgramTimeout);
    if (!status.is_ok() || status->exit_code != 0) {
      fail("status of A failed: " + (status.is_ok() ? status->err : status.status().message()));
    } else {
      const Json doc = Json::parse(status->out, nullptr, false);
      if (!doc.is_object() || doc.value("unsynced_events", std::int64_t{-1}) != 0) {
        fail("A's status does not show every event synced: " + status->out);
      }
    }
    auto server = read_server(p_.server_db, a_);
    auto chain = read_terminal_chain(p_.a_db, a_);
    auto sync = read_terminal_sync(p_.a_db);
    if (!server.is_ok() || !chain.is_ok() || !sync.is_ok()) {
      const Status& why = !server.is_ok() ? server.status() : !chain.is_ok() ? chain.status() : sync.status();
      fail("reading the stores: " + why.message());
      return;
    }
    server_a_ = std::move(server).value();
    if (chain->size() != events_) {
      fail("terminal A holds " + std::to_string(chain->size()) + " of its own " + std::to_string(events_) + " events");
    }
    Failures found;
    check_server_chain(server_a_, a_, sync->server_key, events_, "terminal A", found);
    check_same_chain(*chain, server_a_.events, "the server's copy of terminal A's chain against A's own", found);
    for (auto& f : found) fail(f);
    const bool receipt_at_end = sync->receipt_seq == events_ && sync->receipt_hash && !chain->empty() &&
                                *sync->receipt_hash == chain->back().hash;
    if (!receipt_at_end) {
      fail("A's stored receipt covers its events 1.." + std::to_string(sync->receipt_seq) + ", not 1.." +
           std::to_string(events_));
    }
    server_key_ = sync->server_key;
    expect_ok({SHIFTBOOK_BIN, "--store", p_.a, "verify"}, "verify of A");
  }

  // The server's copy of B is whole, and A holds exactly it.
  void check_b_on_a() {
    auto server = read_server(p_.server_db, b_);
    auto held = read_terminal_chain(p_.a_db, b_);
    if (!server.is_ok() || !held.is_ok()) {
      fail("reading B's chain: " + (server.is_ok() ? held.status() : server.status()).message());
      return;
    }
    Failures found;
    check_server_chain(*server, b_, server_key_, b_events_, "terminal B", found);
    check_same_chain(server->events, *held, "terminal A's copy of B's chain against the server's", found);
    for (auto& f : found) fail(f);
  }

  // B pulls A's chain and holds exactly the server's copy of it.
  void check_a_on_b() {
    if (!expect_ok({SHIFTBOOK_BIN, "--store", p_.b, "sync", "--server", server_.url()}, "the sync of B")) return;
    auto held = read_terminal_chain(p_.b_db, a_);
    if (!held.is_ok()) {
      fail("reading B's copy of A's chain: " + held.status().message());
      return;
    }
    Failures found;
    check_same_chain(server_a_.events, *held, "terminal B's copy of A's chain against the server's", found);
    for (auto& f : found) fail(f);
    expect_ok({SHIFTBOOK_BIN, "--store", p_.b, "verify"}, "verify of B");
  }

  void stop_server() {
    if (const int status = server_.stop(); status != 0) {
      fail("the server exited with " + std::to_string(status) + " on SIGTERM: " + server_.err());
    }
  }

 private:
  bool fail(const std::string& what) {
    o_.failures.push_back("seed " + std::to_string(o_.seed) + ", iteration " + std::to_string(o_.iteration) + " (" +
                          std::string(side_name(o_.side)) + " killed " + std::to_string(o_.kill.delay_us / 1000) +
                          " ms into a " + std::to_string(o_.kill.window_us / 1000) + " ms sync; folder " + p_.root +
                          "): " + what);
    return false;
  }

  bool expect_ok(const std::vector<std::string>& argv, const std::string& what) {
    auto ran = run(argv, p_.root + "/check", kProgramTimeout);
    if (!ran.is_ok()) return fail(what + ": " + ran.status().message());
    if (ran->exit_code != 0) return fail(what + " exited with " + std::to_string(ran->exit_code) + ": " + ran->err);
    return true;
  }

  // A sync whose server died ends by itself: done (0) or unreachable (12), with one line saying so.
  void check_clean_failure(const std::string& err) {
    const int code = o_.kill.sync_exit;
    if (code == 0) return;
    const bool one_line = err.rfind("shiftbook: ", 0) == 0 && err.find('\n') == err.size() - 1;
    if (code != 12 || !one_line) {
      fail("the sync whose server was killed exited with " + std::to_string(code) +
           " (0 or 12 expected, with one line of message): " + err);
    }
  }

  bool note_kill_point() {
    auto held = read_server_held(p_.server_db, a_);
    auto sync = read_terminal_sync(p_.a_db);
    auto pulled = read_terminal_count(p_.a_db, b_);
    if (!held.is_ok() || !sync.is_ok() || !pulled.is_ok()) {
      return fail("reading the stores after the kill: " +
                  (!held.is_ok() ? held.status() : !sync.is_ok() ? sync.status() : pulled.status()).message());
    }
    KillPoint& k = o_.kill;
    k.server_held = *held;
    k.receipt = sync->receipt_seq;
    k.pulled = *pulled;
    if (k.receipt == events_ && k.pulled == b_events_) {
      k.phase = Phase::kAfter;
    } else if (k.server_held > k.receipt) {
      k.phase = Phase::kAnswer;
    } else {
      k.phase = k.receipt == events_ ? Phase::kPull : Phase::kPush;
    }
    if (k.receipt > k.server_held) {
      fail("after the kill A holds a receipt for " + std::to_string(k.receipt) + " events but the server holds " +
           std::to_string(k.server_held));
    }
    return true;
  }

  Outcome& o_;
  const Paths& p_;
  PublicKey a_, b_;
  std::uint64_t events_, b_events_;
  ServerChild server_;
  ServerView server_a_;
  PublicKey server_key_{};
};

}  // namespace

Outcome World::run(int iteration, std::uint64_t seed, Side side, bool check_b) {
  const auto start = Steady::now();
  Outcome o;
  o.iteration = iteration;
  o.seed = seed;
  o.side = side;
  o.kill.window_us = window_us_;
  const Paths p(dir_ + "/iteration-" + std::to_string(iteration));
  Iteration it(o, p, a_, b_, options_.events, options_.b_events);
  std::error_code ec;
  fs::remove_all(p.root, ec);
  fs::copy(dir_ + "/template", p.root, fs::copy_options::recursive, ec);
  if (ec) {
    o.failures.push_back("seed " + std::to_string(seed) + ", iteration " + std::to_string(iteration) +
                         ": cannot copy the template: " + ec.message());
  } else if (it.start_server("server") && it.kill(side) && it.finish()) {
    it.check_a();
    it.check_b_on_a();
    if (check_b) it.check_a_on_b();
    o.checked_b = check_b;
    it.stop_server();
  }
  o.seconds = std::chrono::duration<double>(Steady::now() - start).count();
  if (!o.ok()) {
    failed_ = true;
  } else if (!options_.keep) {
    fs::remove_all(p.root, ec);
  }
  return o;
}

}  // namespace shiftbook::testing::crash
