// What the service tests share: a head office on a fresh store (Service over SQLite in a temp
// folder, a FakeClock, the sample reference data of tests/support/fixture.h), terminals whose
// chains are recorded by hand, and requests built the way a terminal builds them (real events,
// a signed head, encode_message and seal_request), their answers opened with the request's own
// context. Used from one test thread.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "service.h"
#include "shiftbook/envelope.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"
#include "support/fixture.h"
#include "support/postgres_schema.h"
#include "support/test_backend.h"

namespace shiftbook::service_world {

using namespace shiftbook;
using server::Reply;
using server::Service;
using server::ServiceOptions;

inline constexpr const char* kPeer = "127.0.0.1";
inline constexpr std::int64_t kHourMs = 3'600'000;

// A head office on a fresh store, holding the sample reference data of tests/support/fixture.h.
struct HeadOffice {
  explicit HeadOffice(ServiceOptions options = {}) {
    auto storage = server::open_storage(store_url, true);
    REQUIRE_MESSAGE(storage.is_ok(), storage.status().to_string());
    auto key = DeviceKey::from_secret(signing_key.secret());
    REQUIRE(key.is_ok());
    service = std::make_unique<Service>(std::move(storage).value(), std::move(*key), clock, options);
    Json ref = testing::sample_reference();
    const std::pair<const char*, const char*> order[] = {{"sites", "ref_site"},     {"units", "ref_unit"},
                                                         {"periods", "ref_period"}, {"products", "ref_product"},
                                                         {"workers", "ref_worker"}, {"quotas", "ref_quota"}};
    for (const auto& [list, kind] : order) {
      for (Json item : ref[list]) {
        if (std::string(kind) == "ref_worker") item["active"] = true;
        put(kind, item);
      }
    }
  }
  void put(const std::string& kind, const Json& body) {
    auto r = service->put_reference(kind, body);
    REQUIRE_MESSAGE(r.is_ok(), std::string(kind + ": " + r.status().to_string()));
  }
  std::string code(const std::string& site, const std::vector<std::string>& units) {
    auto c = service->create_code(site, units, 24 * kHourMs);
    REQUIRE_MESSAGE(c.is_ok(), c.status().to_string());
    return *c;
  }
  server::DeviceRecord device(const PublicKey& key) {
    auto d = service->storage().device(key);
    REQUIRE(d.is_ok());
    REQUIRE(d->has_value());
    return **d;
  }
  const PublicKey& key() const { return service->server_key(); }

  testing::TempDir dir;
  // The store: DIR/server.db, or a fresh PostgreSQL schema in a run for PostgreSQL.
  std::string store_url =
      testing::postgres_backend() ? testing::postgres_schemas().make() : "sqlite:" + dir.file("server.db");
  FakeClock clock{testing::kSampleNowMs};
  DeviceKey signing_key = DeviceKey::generate();  // the server's, for tests that forge with it
  std::unique_ptr<Service> service;
};

// A terminal's chain, recorded by hand.
struct Terminal {
  DeviceKey key = DeviceKey::generate();
  std::vector<SealedEvent> chain;

  const PublicKey& device() const { return key.public_key(); }
  Hash record(const std::string& kind, Json body) {
    Event e;
    e.device = device();
    e.seq = chain.size() + 1;
    e.hlc = hlc_next(chain.empty() ? 0 : chain.back().event.hlc, testing::kSampleNowMs);
    e.prev = chain.empty() ? Hash{} : chain.back().event.hash;
    e.author = "L1";
    e.kind = kind;
    e.body = std::move(body);
    auto sealed = seal_event(std::move(e));
    REQUIRE_MESSAGE(sealed.is_ok(), sealed.status().to_string());
    chain.push_back(std::move(*sealed));
    return chain.back().event.hash;
  }
  Hash open_shift(const std::string& unit) { return record("shift_open", {{"unit", unit}, {"date", "2026-11-16"}}); }
  Hash hours(const Hash& shift, int start = 480) {
    return record("hours", {{"shift", hash_ref(shift)}, {"worker", "W1"}, {"start", start}, {"end", start + 60},
                            {"special", false}});
  }
};

// One request and its answer, opened with the request's context when the answer is an envelope.
struct Answer {
  Reply reply;
  Message message;
  std::string type() const { return message.header.value("type", std::string()); }
  std::string error() const { return message.header.value("code", std::string()); }
  std::string text() const { return message.header.value("message", std::string()); }
  std::string json_code() const { return Json::parse(reply.body)["error"]["code"].get<std::string>(); }
};

inline Bytes seal(const DeviceKey& key, const PublicKey& server, const Message& m, EnvelopeContext& ctx) {
  auto plain = encode_message(m);
  REQUIRE_MESSAGE(plain.is_ok(), plain.status().to_string());
  auto sealed = seal_request(key, server, *plain);
  REQUIRE(sealed.is_ok());
  ctx = std::move(sealed->context);
  return std::move(sealed->wire);
}

inline Answer open(Reply reply, const EnvelopeContext& ctx) {
  Answer a{std::move(reply), {}};
  if (a.reply.http_status == 200) {
    auto plain = open_response(ctx, as_bytes(a.reply.body));
    REQUIRE_MESSAGE(plain.is_ok(), plain.status().to_string());
    auto m = decode_message(*plain);
    REQUIRE_MESSAGE(m.is_ok(), m.status().to_string());
    a.message = std::move(*m);
  }
  return a;
}

inline Answer send_enroll(HeadOffice& ho, const DeviceKey& key, const std::string& code_text, const std::string& peer = kPeer) {
  auto code = parse_enroll_code(code_text);
  REQUIRE(code.is_ok());
  Message m;
  m.header = {{"type", "enroll"}, {"v", 1}, {"code", to_hex(code->secret)}};
  EnvelopeContext ctx;
  Bytes wire = seal(key, ho.key(), m, ctx);
  return open(ho.service->enroll(wire, peer), ctx);
}

// Enrolls `t`; returns its site's signer key, as the delegation names it.
inline PublicKey enroll(HeadOffice& ho, const Terminal& t, const std::string& site, const std::vector<std::string>& units) {
  Answer a = send_enroll(ho, t.key, ho.code(site, units));
  REQUIRE_MESSAGE(a.type() == "enrolled", a.text());
  return *array_from_hex<32>(a.message.header["signer"]["key"].get<std::string>());
}

// A sync request pushing events first..last of `t` (none when first is 0), signed at `last`.
inline Message sync_message(const Terminal& t, std::size_t first, std::size_t last, std::uint64_t cursor = 0,
                     std::int64_t pull_max = static_cast<std::int64_t>(kDefaultPullBytes)) {
  Message m;
  m.header = {{"type", "sync"}, {"v", 1}, {"cursor", cursor}, {"pull_max", pull_max},
              {"client_ms", testing::kSampleNowMs}};
  if (first > 0) {
    for (std::size_t s = first; s <= last; ++s) m.events.push_back(t.chain[s - 1].bytes);
    SignedHead h = sign_head(t.key, last, t.chain[last - 1].event.hash);
    m.header["head"] = {{"seq", last}, {"hash", to_hex(h.hash)}, {"sig", to_hex(h.signature)}};
  }
  return m;
}

inline Answer send(HeadOffice& ho, const DeviceKey& key, const Message& m) {
  EnvelopeContext ctx;
  Bytes wire = seal(key, ho.key(), m, ctx);
  return open(ho.service->sync(wire, kPeer), ctx);
}
inline Answer push(HeadOffice& ho, const Terminal& t, std::size_t first, std::size_t last) {
  return send(ho, t.key, sync_message(t, first, last));
}

inline Receipt receipt_of(const Answer& a, const PublicKey& device) {
  const Json& r = a.message.header.at("receipt");
  Receipt out;
  out.device = device;
  out.seq = r.at("seq").get<std::uint64_t>();
  out.hash = *array_from_hex<32>(r.at("hash").get<std::string>());
  out.server_ms = r.at("server_ms").get<std::int64_t>();
  out.signature = *array_from_hex<64>(r.at("sig").get<std::string>());
  return out;
}

// Everything `t` can pull, batch after batch.
struct Pulled {
  std::vector<Event> events;
  int batches = 0;
};
inline Pulled pull_all(HeadOffice& ho, const Terminal& t, std::int64_t pull_max = kDefaultPullBytes) {
  Pulled out;
  std::uint64_t cursor = 0;
  for (int round = 0; round < 100; ++round) {
    Answer a = send(ho, t.key, sync_message(t, 0, 0, cursor, pull_max));
    REQUIRE_MESSAGE(a.type() == "sync", a.text());
    ++out.batches;
    for (const Bytes& raw : a.message.events) {
      auto e = decode_event(raw);
      REQUIRE(e.is_ok());
      out.events.push_back(std::move(*e));
    }
    cursor = a.message.header.at("cursor").get<std::uint64_t>();
    if (!a.message.header.at("more").get<bool>()) return out;
  }
  FAIL("pull did not finish in 100 round trips");
  return out;
}

// "<device>:<seq> <kind> [<id>]" lines; a device is named by `names` or by its short form.
inline std::string render(const std::vector<Event>& events, const std::map<PublicKey, std::string>& names) {
  std::string out;
  for (const Event& e : events) {
    auto it = names.find(e.device);
    std::string who = it != names.end() ? it->second : short_device(e.device);
    std::string what = e.kind;
    if (e.body.contains("id")) what += " " + e.body["id"].get<std::string>();
    out += who + ":" + std::to_string(e.seq) + " " + what + "\n";
  }
  return out;
}

inline std::set<std::string> kinds_from(const std::vector<Event>& events, const PublicKey& device) {
  std::set<std::string> out;
  for (const Event& e : events) {
    if (e.device == device) out.insert(e.kind + (e.body.contains("id") ? " " + e.body["id"].get<std::string>() : ""));
  }
  return out;
}

}  // namespace shiftbook::service_world
