// The terminal's side of protocol version 2 (docs/PROTOCOL.md, "Versions and kinds this version
// does not know"): it speaks the highest version both sides know, and keeps the events of kinds it
// does not know, unapplied, whoever signed them; authority still comes from the signer.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "client/scripted_server.h"
#include "client/sync_world.h"
#include "shiftbook/protocol.h"
#include "support/fixture.h"
#include "sync_client.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

// A scripted server whose hello says `protocol` and, when given, `versions`.
class Offering final : public client::Transport {
 public:
  Offering(ScriptedServer& inner, Json protocol, Json versions)
      : inner_(inner), protocol_(std::move(protocol)), versions_(std::move(versions)) {}
  Result<client::HttpReply> get(const std::string& path) override {
    REQUIRE(path == "/v1/hello");
    Json hello{{"protocol", protocol_}, {"server_key", to_hex(inner_.key.public_key())}};
    if (!versions_.is_null()) hello["versions"] = versions_;
    return client::HttpReply{200, hello.dump(), {}};
  }
  Result<client::HttpReply> post(const std::string& path, ByteView body) override { return inner_.post(path, body); }
  const std::string& url() const override { return inner_.url(); }

 private:
  ScriptedServer& inner_;
  Json protocol_, versions_;
};

Message enrolled(const ScriptedServer& server) {
  Message m;
  m.header = Json{{"type", "enrolled"}, {"site", "S1"}, {"units", {"U1"}}, {"server_ms", kSampleNowMs},
                  {"signer", {{"site", "S1"}, {"key", to_hex(server.delegation.signer)},
                              {"sig", to_hex(server.delegation.signature)}}}};
  return m;
}

std::vector<int> versions_sent(const ScriptedServer& server) {
  std::vector<int> out;
  for (const Message& m : server.requests) out.push_back(m.header["v"].get<int>());
  return out;
}

// What list and shift list show: the derived tables, rendered.
std::string derived(const client::Store& store) {
  return must(store.list_entries(client::ListFilter{})).dump() + "\n" + must(store.list_shifts(false)).dump();
}

int events_held(Terminal& t) { return must(t.store->status())["events"].get<int>(); }

// Takes an answer carrying events from..to of `chain` (a receipt for nothing pushed).
Result<client::SyncAccepted> take(Enrolled& e, const Chain& chain, std::size_t from, std::size_t to) {
  return e.t.store->accept_sync(client::PushBatch{}, answer(e.ho.server, e.t, 0, Hash{}, {{&chain, from, to}}, 2));
}

}  // namespace

TEST_CASE("sync kinds: a server that lists no versions (protocol 1) is enrolled with in version 1") {
  Terminal t;
  ScriptedServer server;  // its hello: protocol 1 and no versions
  server.handler = [&](const Message&) { return enrolled(server); };
  client::EnrollReport report;
  Status s = client::enroll(*t.store, server, server.code(), report);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  CHECK(versions_sent(server) == std::vector<int>{1});
}

TEST_CASE("sync kinds: a server that lists versions 1 and 2 is enrolled with in version 2") {
  Terminal t;
  ScriptedServer server;
  server.handler = [&](const Message&) { return enrolled(server); };
  Offering offering(server, 1, Json::array({1, 2}));
  client::EnrollReport report;
  Status s = client::enroll(*t.store, offering, server.code(), report);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  CHECK(versions_sent(server) == std::vector<int>{2});
}

TEST_CASE("sync kinds: a server with no version in common is refused before anything is sent") {
  Terminal t;
  ScriptedServer server;
  server.handler = [&](const Message&) { return enrolled(server); };
  client::EnrollReport report;
  Offering newer(server, 1, Json::array({3, 4}));
  Status s = client::enroll(*t.store, newer, server.code(), report);
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(s.message().find("speaks protocol 3 to 4, this shiftbook speaks 1 to 2; update shiftbook") !=
        std::string::npos);
  Offering only_seven(server, 7, nullptr);
  Status seven = client::enroll(*t.store, only_seven, server.code(), report);
  CHECK(seven.message().find("speaks protocol 7, this shiftbook speaks 1 to 2; update shiftbook") != std::string::npos);
  Offering junk(server, 1, "two");
  CHECK(client::enroll(*t.store, junk, server.code(), report).message().find("not a Shiftbook server") !=
        std::string::npos);
  CHECK(server.requests.empty());
}

TEST_CASE("sync kinds: a sync refused as version 2 by a version 1 server goes on in version 1") {
  Terminal t;
  ScriptedServer server;
  record(t, 2);
  enroll(t, server);
  server.handler = [&](const Message& request) {
    if (request.header["v"] != 1) {
      return refusal("version", "this server speaks protocol version 1, the request is version 2");
    }
    return server.receipt_for(request, t.store->device(), 0, Hash{});
  };
  client::SyncReport report;
  Status s = client::sync(*t.store, server, t.clock, report);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  CHECK(versions_sent(server) == std::vector<int>{2, 1});
  CHECK(server.gets == 1);
  CHECK(report.pushed == 2);
  CHECK(must(t.store->sync_state()).receipt->seq == 2);
}

TEST_CASE("sync kinds: a version refusal from a server that speaks version 2 is reported, not retried") {
  Terminal t;
  ScriptedServer server;
  record(t, 2);
  enroll(t, server);
  server.handler = [&](const Message&) { return refusal("version", "not today"); };
  Offering offering(server, 1, Json::array({1, 2}));
  client::SyncReport report;
  Status s = client::sync(*t.store, offering, t.clock, report);
  CHECK_FALSE(s.is_ok());
  CHECK(s.message().find("version: not today") != std::string::npos);
  CHECK(versions_sent(server) == std::vector<int>{2});
}

TEST_CASE("sync kinds: another terminal's unknown kind is stored and kept unapplied, verify and rebuild agree") {
  Enrolled e;
  Chain c = other_terminal();
  c.add("future_note", {{"shift", hash_ref(c.events[0].event.hash)}, {"note", "press 4 jams"}});
  const int before = events_held(e.t);
  auto taken = take(e, c, 1, 3);
  REQUIRE_MESSAGE(taken.is_ok(), taken.status().to_string());
  CHECK(taken->pulled == 3);
  CHECK(events_held(e.t) == before + 3);
  const std::string shown = derived(*e.t.store);
  CHECK(shown.find("future_note") == std::string::npos);
  CHECK(shown.find("\"hours\"") != std::string::npos);
  auto verified = must(e.t.store->verify());
  CHECK_MESSAGE(verified.problem.is_ok(), verified.problem.to_string());
  REQUIRE(e.t.store->rebuild_derived().is_ok());
  CHECK(derived(*e.t.store) == shown);
}

TEST_CASE("sync kinds: the site signer's event of a kind this version does not know is kept") {
  Enrolled e;
  e.ho.signer.add("future_policy", {{"rule", "double shifts need approval"}}, "HO");
  const Json reference = must(e.t.store->reference());
  auto taken = take(e, e.ho.signer, 10, 10);
  REQUIRE_MESSAGE(taken.is_ok(), taken.status().to_string());
  CHECK(taken->pulled == 1);
  CHECK(must(e.t.store->reference()) == reference);
  CHECK(must(e.t.store->verify()).problem.is_ok());
  REQUIRE(e.t.store->rebuild_derived().is_ok());
  CHECK(must(e.t.store->reference()) == reference);
}

TEST_CASE("sync kinds: authority comes from the signer, never from a kind's name") {
  Enrolled e;
  const std::string footprint = sync_footprint(e.t);
  SUBCASE("another terminal's head-office kind") {
    Chain c = other_terminal();
    const std::string fork = hash_ref(c.events[1].event.hash);
    c.add("resolution", {{"fork", fork}, {"winner", fork}, {"losers", Json::array()}, {"reason", "mine"}});
    Status s = take(e, c, 1, 3).status();
    CHECK(s.code() == Code::kDataLoss);
    CHECK(s.message().find("is head-office data (resolution) from a device that is not site S1's signer") !=
          std::string::npos);
  }
  SUBCASE("the signer's known head-office kind with a bad body") {
    e.ho.signer.add("ref_site", {{"id", "S1"}}, "HO");
    Status s = take(e, e.ho.signer, 10, 10).status();
    CHECK(s.code() == Code::kDataLoss);
  }
  SUBCASE("the signer's event of a terminal kind") {
    e.ho.signer.add("shift_open", {{"unit", "U1"}, {"date", "2026-11-16"}}, "HO");
    Status s = take(e, e.ho.signer, 10, 10).status();
    CHECK(s.code() == Code::kDataLoss);
    CHECK(s.message().find("which only terminals write") != std::string::npos);
  }
  CHECK(sync_footprint(e.t) == footprint);
}
