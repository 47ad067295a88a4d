// The sync driver against a scripted server in the same process: the Transport opens each request
// with the server key, as the server does, and a test's handler decides the answer. What the real
// server does is tests/integration/sync_test.cpp's; this covers the driver's own rules.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "shiftbook/envelope.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"
#include "support/fixture.h"
#include "sync_client.h"

using namespace shiftbook;
using shiftbook::testing::kSampleNowMs;
using shiftbook::testing::Terminal;

namespace {

template <typename T>
T must(Result<T> r) {
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(r).value();
}

// A server in the process: the key, the site signer's delegation, and a handler per request.
class ScriptedServer final : public client::Transport {
 public:
  using Handler = std::function<Message(const Message& request)>;

  DeviceKey key = DeviceKey::generate();
  Delegation delegation = sign_delegation(key, "S1", derive_site_signer(key, "S1").public_key());
  Handler handler;
  std::vector<Message> requests;  // every request opened, in order
  int gets = 0;
  // When set, answers are replaced by these bytes (an impostor, or a network that tampers).
  std::optional<Bytes> raw_answer;

  Result<client::HttpReply> get(const std::string& path) override {
    ++gets;
    REQUIRE(path == "/v1/hello");
    Json hello{{"protocol", 1}, {"server_key", to_hex(key.public_key())}, {"fingerprint", format_fingerprint(key.public_key())}};
    return client::HttpReply{200, hello.dump(), {}};
  }

  Result<client::HttpReply> post(const std::string&, ByteView body) override {
    OpenedRequest opened = must(open_request(key, body));
    requests.push_back(must(decode_message(opened.plaintext)));
    if (raw_answer) return client::HttpReply{200, std::string(raw_answer->begin(), raw_answer->end()), {}};
    Bytes plain = must(encode_message(handler(requests.back())));
    Bytes sealed = must(seal_response(opened.context, plain));
    return client::HttpReply{200, std::string(sealed.begin(), sealed.end()), {}};
  }

  const std::string& url() const override { return url_; }

  // An enrollment code made for this server.
  std::string code() const {
    EnrollCode c;
    c.secret = {1, 2, 3, 4, 5, 6, 7, 8};
    Hash f = server_fingerprint(key.public_key());
    std::copy(f.begin(), f.begin() + 10, c.fingerprint.begin());
    return format_enroll_code(c);
  }

  // A sync answer acknowledging the request's push (or `held` when nothing was pushed).
  Message receipt_for(const Message& request, const PublicKey& device, std::uint64_t held, const Hash& held_hash,
                      bool more = false) const {
    std::uint64_t seq = held;
    Hash hash = held_hash;
    if (!request.events.empty()) {
      Event last = must(decode_event(request.events.back()));
      seq = last.seq;
      hash = last.hash;
    }
    Receipt r = sign_receipt(key, device, seq, hash, kSampleNowMs + 1000);
    Message m;
    m.header = Json{{"type", "sync"},
                    {"receipt", {{"seq", r.seq}, {"hash", to_hex(r.hash)}, {"server_ms", r.server_ms},
                                 {"sig", to_hex(r.signature)}}},
                    {"cursor", request.header["cursor"]},
                    {"more", more},
                    {"heads", Json::array()}};
    return m;
  }

 private:
  std::string url_ = "http://scripted.test";
};

Message refusal(const std::string& code, const std::string& message, std::int64_t expected_seq = 0) {
  Message m;
  m.header = Json{{"type", "error"}, {"code", code}, {"message", message}};
  if (expected_seq > 0) m.header["expected_seq"] = expected_seq;
  return m;
}

void enroll(Terminal& t, ScriptedServer& server) {
  REQUIRE(t.store->enroll(server.url(), server.key.public_key(), "S1", {"U1"}, kSampleNowMs, server.delegation).is_ok());
}

// Records `n` own events: a shift of U1 and output in it. Before enrollment, while the fixture's
// plan and leader are there (enrollment drops both).
void record(Terminal& t, int n) {
  REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  for (int i = 1; i < n; ++i) REQUIRE(t.store->log_output("", "P1", i).is_ok());
}

std::uint64_t first_seq(const Message& request) {
  return request.events.empty() ? 0 : must(decode_event(request.events.front())).seq;
}

}  // namespace

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
