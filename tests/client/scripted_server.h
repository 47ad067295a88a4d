// A head-office server inside the test process, as the sync driver sees it through its Transport:
// it opens each request with the server key, as the real server does, and a test's handler
// decides the answer (or the network fails, or a plain HTTP error comes back). What the real
// server does is tests/integration's; this is for the driver's own rules. One test thread.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/sync_world.h"
#include "shiftbook/envelope.h"
#include "shiftbook/protocol.h"
#include "support/fixture.h"
#include "sync_client.h"

namespace shiftbook::testing {

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
  // When set, every exchange fails so (a network that is down: unavailable)...
  std::optional<Status> down;
  // ... or is answered with this plain HTTP reply before the request is opened (a 500, a 503).
  std::optional<client::HttpReply> http_reply;

  Result<client::HttpReply> get(const std::string& path) override {
    if (down) return *down;
    ++gets;
    REQUIRE(path == "/v1/hello");
    Json hello{{"protocol", 1}, {"server_key", to_hex(key.public_key())}, {"fingerprint", format_fingerprint(key.public_key())}};
    return client::HttpReply{200, hello.dump(), {}};
  }

  Result<client::HttpReply> post(const std::string&, ByteView body) override {
    if (down) return *down;
    if (http_reply) return *http_reply;
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

inline Message refusal(const std::string& code, const std::string& message, std::int64_t expected_seq = 0) {
  Message m;
  m.header = Json{{"type", "error"}, {"code", code}, {"message", message}};
  if (expected_seq > 0) m.header["expected_seq"] = expected_seq;
  return m;
}

inline void enroll(Terminal& t, ScriptedServer& server) {
  REQUIRE(t.store->enroll(server.url(), server.key.public_key(), "S1", {"U1"}, kSampleNowMs, server.delegation).is_ok());
}

// Records `n` own events: a shift of U1 and output in it. Before enrollment, while the fixture's
// plan and leader are there (enrollment drops both).
inline void record(Terminal& t, int n) {
  REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  for (int i = 1; i < n; ++i) REQUIRE(t.store->log_output("", "P1", i).is_ok());
}

inline std::uint64_t first_seq(const Message& request) {
  return request.events.empty() ? 0 : must(decode_event(request.events.front())).seq;
}

}  // namespace shiftbook::testing
