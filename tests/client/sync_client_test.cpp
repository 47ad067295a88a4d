// The sync driver against a scripted server in the same process: the Transport opens each request
// with the server key, as the server does, and a test's handler decides the answer. What the real
// server does is tests/integration/sync_test.cpp's; this covers the driver's own rules.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "client/scripted_server.h"
#include "shiftbook/envelope.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"
#include "support/fixture.h"
#include "sync_client.h"

using namespace shiftbook;
using namespace shiftbook::testing;

TEST_CASE("sync client: enrollment checks the code, the server's key, and stores the answer") {
  Terminal t;
  ScriptedServer server;
  server.handler = [&](const Message& request) {
    CHECK(request.header["type"] == "enroll");
    CHECK(request.header["code"] == "0102030405060708");
    Message m;
    m.header = Json{{"type", "enrolled"}, {"site", "S1"}, {"units", {"U1", "U2"}}, {"server_ms", kSampleNowMs},
                    {"signer", {{"site", "S1"}, {"key", to_hex(server.delegation.signer)},
                                {"sig", to_hex(server.delegation.signature)}}}};
    return m;
  };
  client::EnrollReport report;
  Status s = client::enroll(*t.store, server, server.code(), report);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  CHECK(report.site == "S1");
  CHECK(report.units == std::vector<std::string>{"U1", "U2"});
  CHECK(report.fingerprint == format_fingerprint(server.key.public_key()));
  CHECK(must(t.store->sync_state()).enrollment.server_key == server.key.public_key());
  CHECK(client::enroll(*t.store, server, server.code(), report).code() == Code::kAlreadyExists);
  CHECK(server.requests.size() == 1);  // the second attempt sent nothing
}

TEST_CASE("sync client: a code made for another server is refused before anything is sent") {
  Terminal t;
  ScriptedServer server, other;
  client::EnrollReport report;
  Status s = client::enroll(*t.store, server, other.code(), report);
  CHECK(s.code() == Code::kUnauthenticated);
  CHECK(s.message().find("is not the one this code was made for") != std::string::npos);
  CHECK(server.gets == 1);
  CHECK(server.requests.empty());
  CHECK(client::enroll(*t.store, server, "7K3M-0000", report).code() == Code::kInvalidArgument);
}

TEST_CASE("sync client: an answer that does not open with the pinned key stores nothing") {
  Terminal t;
  ScriptedServer server;
  record(t, 2);
  enroll(t, server);
  Bytes impostor(200, 0x5a);
  server.raw_answer = impostor;
  client::SyncReport report;
  Status s = client::sync(*t.store, server, t.clock, report);
  CHECK(s.code() == Code::kUnauthenticated);
  CHECK(s.message().find("did not authenticate with the pinned key") != std::string::npos);
  CHECK(must(t.store->sync_state()).unacknowledged() == 2);
  CHECK_FALSE(must(t.store->sync_state()).receipt.has_value());
}

TEST_CASE("sync client: pushes in batches until the server holds everything") {
  Terminal t;
  ScriptedServer server;
  record(t, 40);
  enroll(t, server);
  server.handler = [&](const Message& r) { return server.receipt_for(r, t.store->device(), 0, Hash{}); };
  client::SyncReport report;
  std::vector<std::uint64_t> seen;
  client::SyncOptions options;
  options.push_bytes = 2000;
  Status s = client::sync(*t.store, server, t.clock, report, [&](const client::SyncReport& r) { seen.push_back(r.pushed); },
                          options);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  CHECK(report.pushed == 40);
  CHECK(report.server_seq == 40);
  CHECK(report.round_trips == server.requests.size());
  CHECK(report.round_trips > 2);
  CHECK(seen.size() == report.round_trips);
  for (const Message& r : server.requests) CHECK(r.header.contains("head"));
  CHECK(must(t.store->sync_state()).unacknowledged() == 0);
}

TEST_CASE("sync client: a gap answer restarts the push where the server stands, once") {
  Terminal t;
  ScriptedServer server;
  record(t, 5);
  enroll(t, server);
  // A receipt for events 1..3 is stored, as an earlier sync would have left it.
  std::vector<Bytes> raw = must(t.store->raw_events(t.store->device()));
  client::PushBatch first = must(t.store->next_push(std::nullopt, raw[0].size() + raw[1].size() + raw[2].size()));
  REQUIRE(first.events.size() == 3);
  Message pushed;
  pushed.events = first.events;
  pushed.header = Json{{"cursor", 0}};
  must(t.store->accept_sync(first, server.receipt_for(pushed, t.store->device(), 0, Hash{})));

  // The server lost events 2 and 3 (restored from a backup): it asks for 2.
  server.handler = [&](const Message& r) {
    if (first_seq(r) != 2) return refusal("gap", "expected event 2", 2);
    return server.receipt_for(r, t.store->device(), 0, Hash{});
  };
  client::SyncReport report;
  Status s = client::sync(*t.store, server, t.clock, report);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  REQUIRE(server.requests.size() == 2);
  CHECK(first_seq(server.requests[0]) == 4);
  CHECK(first_seq(server.requests[1]) == 2);
  CHECK(report.server_seq == 5);

  server.handler = [&](const Message&) { return refusal("gap", "expected event 2", 2); };
  s = client::sync(*t.store, server, t.clock, report);
  CHECK(s.code() == Code::kInternal);
  CHECK(s.message().find("gap") != std::string::npos);
}

TEST_CASE("sync client: a server holding less than it acknowledged is sent the rest again, batch after batch") {
  Terminal t;
  ScriptedServer server;
  record(t, 12);
  enroll(t, server);
  // Everything was acknowledged once.
  server.handler = [&](const Message& r) { return server.receipt_for(r, t.store->device(), 0, Hash{}); };
  client::SyncReport first;
  REQUIRE(client::sync(*t.store, server, t.clock, first).is_ok());
  REQUIRE(first.server_seq == 12);
  std::vector<Bytes> raw = must(t.store->raw_events(t.store->device()));
  const Event third = must(decode_event(raw[2]));

  // Then the server was put back to a backup holding events 1..3: with nothing new to push, its
  // answer's receipt says 3. The terminal sends 4.. again, in batches, until it holds all 12.
  server.requests.clear();
  std::uint64_t held = 3;
  Hash held_hash = third.hash;
  server.handler = [&](const Message& r) {
    if (!r.events.empty() && first_seq(r) != held + 1) return refusal("gap", "expected another event", held + 1);
    Message answer = server.receipt_for(r, t.store->device(), held, held_hash);
    held = answer.header["receipt"]["seq"].get<std::uint64_t>();
    held_hash = *array_from_hex<32>(answer.header["receipt"]["hash"].get<std::string>());
    return answer;
  };
  client::SyncOptions options;
  options.push_bytes = raw[3].size() * 4;  // a few events a request
  client::SyncReport report;
  Status s = client::sync(*t.store, server, t.clock, report, nullptr, options);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  REQUIRE(server.requests.size() >= 3);
  CHECK(server.requests[0].events.empty());
  CHECK(first_seq(server.requests[1]) == 4);
  CHECK(held == 12);
  CHECK(report.server_seq == 12);
  CHECK(must(t.store->sync_state()).unacknowledged() == 0);
}

TEST_CASE("sync client: the server's refusal stops the sync with its reason") {
  Terminal t;
  ScriptedServer server;
  record(t, 2);
  enroll(t, server);
  server.handler = [&](const Message&) { return refusal("scope", "event 2 is for unit U2, outside this device's units"); };
  client::SyncReport report;
  Status s = client::sync(*t.store, server, t.clock, report);
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(s.message().find("scope: event 2 is for unit U2") != std::string::npos);
  CHECK(must(t.store->sync_state()).unacknowledged() == 2);
}

TEST_CASE("sync client: a server that takes and gives nothing while it says there is more stops the sync") {
  Terminal t;
  ScriptedServer server;
  enroll(t, server);
  server.handler = [&](const Message& r) { return server.receipt_for(r, t.store->device(), 0, Hash{}, true); };
  client::SyncReport report;
  Status s = client::sync(*t.store, server, t.clock, report);
  CHECK(s.code() == Code::kAborted);
  CHECK(report.round_trips == 1);
}
