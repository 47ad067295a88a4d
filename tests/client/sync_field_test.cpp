// The sync driver in the field: the "revoked" answer, the health record every attempt writes,
// and `watch` (retries with backoff, syncs on new entries, stops on what retrying cannot mend),
// against a scripted server in the process and a listener that drives time by hand.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "client/scripted_server.h"
#include "support/fixture.h"
#include "sync_client.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

Message revoked(const ScriptedServer& server, const PublicKey& device, const Message& request,
                const std::string& reason = "stolen") {
  RevocationNotice n = sign_revocation(server.key, device, kSampleNowMs - 3'600'000, reason);
  Message m;
  m.header = Json{{"type", "revoked"},
                  {"notice", {{"revoked_ms", n.revoked_ms}, {"reason", n.reason}, {"sig", to_hex(n.signature)}}},
                  {"quarantined", request.events.size()}};
  return m;
}

Json health(Terminal& t) { return must(t.store->status())["sync_health"]; }

const Status kDown = unavailable("cannot reach http://scripted.test: connection refused");

// A listener whose time passes only when the watch waits: each wait advances the terminal's clock
// and runs what the test scheduled for that moment.
struct Driver final : client::WatchListener {
  Terminal& t;
  std::vector<std::int64_t> retry_waits;   // the waits announced after failures
  std::vector<std::string> retry_outcomes;
  std::vector<client::SyncReport> syncs;   // every completed sync
  std::int64_t waited = 0;                 // total time waited
  std::function<void(Driver&)> on_wait;    // runs after each wait
  std::optional<client::SyncReport> stopped_on;
  bool stop = false;
  int max_waits = 1000;                    // a bound on a test that goes wrong

  explicit Driver(Terminal& term) : t(term) {}
  void synced(const client::SyncReport& r) override { syncs.push_back(r); }
  void retrying(const client::SyncReport& r, const Status&, std::int64_t, std::int64_t wait_ms) override {
    retry_waits.push_back(wait_ms);
    retry_outcomes.emplace_back(client::sync_outcome_name(r.outcome));
  }
  void stopping(const client::SyncReport& r, const Status&) override { stopped_on = r; }
  bool wait(std::int64_t ms) override {
    waited += ms;
    t.clock.advance(ms);
    if (--max_waits <= 0) stop = true;
    if (on_wait) on_wait(*this);
    return !stop;
  }
  bool stop_requested() override { return stop; }
};

}  // namespace

TEST_CASE("sync client: a revoked answer drops others' data, sends the rest into quarantine and ends the sync") {
  Terminal t;
  ScriptedServer server;
  record(t, 30);
  enroll(t, server);
  server.handler = [&](const Message& r) { return revoked(server, t.store->device(), r); };
  client::SyncOptions options;
  options.push_bytes = 2000;
  client::SyncReport report;
  Status s = client::sync(*t.store, server, t.clock, report, {}, options);
  CHECK(s.code() == Code::kPermissionDenied);
  CHECK_MESSAGE(s.message().find("head office revoked this terminal on 2026-11-16 07:00 UTC (reason: stolen)") !=
                    std::string::npos, s.message());
  CHECK(s.message().find("its own 30 events stay in its log; the 30 head office had not acknowledged were sent, and "
                         "head office keeps them in quarantine. Contact head office") != std::string::npos);
  CHECK(report.outcome == client::SyncOutcome::kRevoked);
  CHECK(report.quarantined == 30);
  REQUIRE(server.requests.size() > 2);
  std::uint64_t next = 1;
  for (const Message& r : server.requests) {
    CHECK(first_seq(r) == next);
    next += r.events.size();
  }
  CHECK(next == 31);
  client::SyncState state = must(t.store->sync_state());
  REQUIRE(state.revoked.has_value());
  CHECK(state.revoked->reason == "stolen");
  CHECK(health(t)["last_outcome"] == "revoked");
}

TEST_CASE("sync client: a revoked answer whose notice the pinned key did not sign changes nothing") {
  Terminal t;
  ScriptedServer server, other;
  record(t, 2);
  enroll(t, server);
  server.handler = [&](const Message& r) { return revoked(other, t.store->device(), r); };
  client::SyncReport report;
  Status s = client::sync(*t.store, server, t.clock, report);
  CHECK(s.code() == Code::kUnauthenticated);
  CHECK(report.outcome == client::SyncOutcome::kRejected);
  CHECK_FALSE(must(t.store->sync_state()).revoked.has_value());
  CHECK(health(t)["last_outcome"] == "rejected");

  server.handler = [&](const Message&) {
    Message m;
    m.header = Json{{"type", "revoked"}, {"quarantined", 0}};
    return m;
  };
  s = client::sync(*t.store, server, t.clock, report);
  CHECK(s.code() == Code::kDataLoss);
  CHECK(s.message().find("'revoked' answer does not follow the protocol (notice") != std::string::npos);
}

TEST_CASE("sync client: every attempt is recorded: since when syncs fail, how many, why, and the last success") {
  Terminal t;
  ScriptedServer server;
  record(t, 2);
  enroll(t, server);
  client::SyncReport report;
  CHECK(health(t).is_null());

  server.down = kDown;
  CHECK(client::sync(*t.store, server, t.clock, report).code() == Code::kUnavailable);
  CHECK(report.outcome == client::SyncOutcome::kUnreachable);
  CHECK(report.unreachable);
  t.clock.advance(60'000);
  server.down.reset();
  server.http_reply = client::HttpReply{500, R"({"error":{"code":"internal","message":"disk full"}})", {}};
  CHECK(client::sync(*t.store, server, t.clock, report).code() == Code::kUnavailable);
  CHECK(report.outcome == client::SyncOutcome::kServerBusy);
  CHECK(client::is_transient(report.outcome));
  Json h = health(t);
  CHECK(h["failures"] == 2);
  CHECK(h["failing_since_ms"] == kSampleNowMs);
  CHECK(h["last_attempt_ms"] == kSampleNowMs + 60'000);
  CHECK(h["last_outcome"] == "server_busy");
  CHECK(h["last_code"] == "internal");
  CHECK(h["last_error"].get<std::string>().find("disk full") != std::string::npos);
  CHECK(h["last_success_ms"].is_null());

  server.http_reply.reset();
  server.handler = [&](const Message&) { return refusal("scope", "event 2 is for unit U2"); };
  CHECK(client::sync(*t.store, server, t.clock, report).code() == Code::kFailedPrecondition);
  CHECK(report.outcome == client::SyncOutcome::kRefused);
  CHECK_FALSE(client::is_transient(report.outcome));
  CHECK(health(t)["last_code"] == "scope");
  CHECK(health(t)["failures"] == 3);

  t.clock.advance(60'000);
  server.handler = [&](const Message& r) { return server.receipt_for(r, t.store->device(), 0, Hash{}); };
  REQUIRE(client::sync(*t.store, server, t.clock, report).is_ok());
  h = health(t);
  CHECK(h["last_outcome"] == "ok");
  CHECK(h["failures"] == 0);
  CHECK(h["failing_since_ms"].is_null());
  CHECK(h["last_error"].is_null());
  CHECK(h["last_success_ms"] == kSampleNowMs + 120'000);
}

TEST_CASE("sync client: a receipt for more than the terminal holds is recorded as a rolled-back store") {
  Terminal t;
  ScriptedServer server;
  enroll(t, server);
  server.handler = [&](const Message& r) { return server.receipt_for(r, t.store->device(), 7, Hash{7}); };
  client::SyncReport report;
  Status s = client::sync(*t.store, server, t.clock, report);
  CHECK(s.code() == Code::kDataLoss);
  CHECK(report.outcome == client::SyncOutcome::kRolledBack);
  CHECK_FALSE(client::is_transient(report.outcome));
  CHECK(health(t)["last_outcome"] == "rolled_back");
  CHECK(health(t)["last_error"].get<std::string>().find("restored from a backup") != std::string::npos);
}

TEST_CASE("watch: while the server cannot be reached it retries with doubling, jittered waits, then syncs") {
  Terminal t;
  ScriptedServer server;
  record(t, 3);
  enroll(t, server);
  server.down = kDown;
  server.handler = [&](const Message& r) { return server.receipt_for(r, t.store->device(), 0, Hash{}); };
  Driver d(t);
  d.on_wait = [&](Driver& self) {
    if (self.retry_waits.size() == 6) server.down.reset();  // back after the sixth failure
    if (!self.syncs.empty()) self.stop = true;
  };
  client::WatchOptions options;
  options.retry_max_ms = 10'000;
  options.seed = 7;
  Status s = client::watch(*t.store, server, t.clock, d, options);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  REQUIRE(d.retry_waits.size() == 6);
  const std::int64_t caps[] = {1'000, 2'000, 4'000, 8'000, 10'000, 10'000};
  for (std::size_t i = 0; i < 6; ++i) {
    CHECK(d.retry_waits[i] >= caps[i] / 2);
    CHECK(d.retry_waits[i] <= caps[i]);
    CHECK(d.retry_outcomes[i] == "unreachable");
  }
  REQUIRE(d.syncs.size() == 1);
  CHECK(d.syncs[0].pushed == 3);
  CHECK(health(t)["last_outcome"] == "ok");
}

TEST_CASE("watch: a new entry is synced within a poll, and the server is asked at least every interval") {
  Enrolled e;  // holds head office's reference data; L7 logged in
  ScriptedServer server;
  server.key = must(DeviceKey::from_secret(e.ho.server.secret()));  // the key the terminal pinned
  // A server that holds what it was sent: its receipt never falls behind one it gave (a receipt
  // below the terminal's would say it lost events, and they would go again).
  std::uint64_t held = 0;
  Hash held_hash{};
  server.handler = [&](const Message& r) {
    Message answer = server.receipt_for(r, e.t.store->device(), held, held_hash);
    held = answer.header["receipt"]["seq"].get<std::uint64_t>();
    held_hash = *array_from_hex<32>(answer.header["receipt"]["hash"].get<std::string>());
    return answer;
  };
  Driver d(e.t);
  std::int64_t recorded_at = -1;
  d.on_wait = [&](Driver& self) {
    if (self.waited == 3'000) {
      REQUIRE(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
      recorded_at = self.waited;
    }
    if (self.syncs.size() == 3) self.stop = true;
  };
  client::WatchOptions options;
  options.interval_ms = 20'000;
  Status s = client::watch(*e.t.store, server, e.t.clock, d, options);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  REQUIRE(server.requests.size() == 3);
  CHECK(server.requests[0].events.empty());          // the first sync: nothing to push
  CHECK(server.requests[1].events.size() == 1);      // the shift, a poll after it was recorded
  CHECK(server.requests[2].events.empty());          // the interval's sync
  CHECK(recorded_at == 3'000);
  CHECK(d.waited == 3'000 + 1'000 + 20'000);
  CHECK(d.retry_waits.empty());
}

TEST_CASE("watch: a failure retrying cannot mend ends it, and so does a stop between round trips") {
  Terminal t;
  ScriptedServer server;
  record(t, 2);
  enroll(t, server);
  Driver d(t);
  SUBCASE("revoked") {
    server.handler = [&](const Message& r) { return revoked(server, t.store->device(), r); };
    Status s = client::watch(*t.store, server, t.clock, d);
    CHECK(s.code() == Code::kPermissionDenied);
    REQUIRE(d.stopped_on.has_value());
    CHECK(d.stopped_on->outcome == client::SyncOutcome::kRevoked);
  }
  SUBCASE("a refusal") {
    server.handler = [&](const Message&) { return refusal("kind", "event 1 is of a kind a terminal may not write"); };
    CHECK(client::watch(*t.store, server, t.clock, d).code() == Code::kFailedPrecondition);
    CHECK(d.retry_waits.empty());
  }
  SUBCASE("a stop asked for while a sync runs") {
    server.handler = [&](const Message& r) {
      d.stop = true;
      return server.receipt_for(r, t.store->device(), 0, Hash{}, true);  // says there is more
    };
    Status s = client::watch(*t.store, server, t.clock, d);
    CHECK(s.is_ok());
    CHECK(server.requests.size() == 1);
    CHECK(d.syncs.empty());
  }
}
