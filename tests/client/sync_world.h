// Head office and other terminals written by hand, for the store's side of sync: chains signed
// with the protocol's own functions, as a server (or an attacker) would build them, and sync
// answers carrying them. Shared by the tests of tests/client; one test thread.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"
#include "support/fixture.h"

namespace shiftbook::testing {

template <typename T>
T must(Result<T> r) {
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(r).value();
}

inline std::string cheap_hash(const std::string& pin) { return must(hash_pin(pin, PinCost::kMinimum)); }

// One device's chain, written by hand.
struct Chain {
  explicit Chain(DeviceKey k) : key(std::move(k)) {}
  DeviceKey key;
  Hash prev{};
  std::uint64_t hlc = hlc_pack(kSampleNowMs, 0);
  std::vector<SealedEvent> events;

  const Event& add(const std::string& kind, Json body, const std::string& author = "L7") {
    Event e;
    e.device = key.public_key();
    e.seq = events.size() + 1;
    e.hlc = ++hlc;
    e.prev = prev;
    e.author = author;
    e.kind = kind;
    e.body = std::move(body);
    events.push_back(must(seal_event(e)));
    prev = events.back().event.hash;
    return events.back().event;
  }
  Json head(std::size_t seq) const {
    SignedHead h = sign_head(key, seq, events[seq - 1].event.hash);
    return Json{{"device", to_hex(h.device)}, {"seq", seq}, {"hash", to_hex(h.hash)}, {"sig", to_hex(h.signature)}};
  }
};

// Head office for site S1: the server key, the site signer's chain, its delegation.
struct HeadOffice {
  DeviceKey server = DeviceKey::generate();
  Chain signer{derive_site_signer(server, "S1")};
  Delegation delegation = sign_delegation(server, "S1", signer.key.public_key());

  // The reference data a terminal of S1 needs, as head office writes it.
  void add_reference() {
    signer.add("ref_site", {{"id", "S1"}, {"name", "Plant One"}, {"tz", "UTC"}}, "HO");
    signer.add("ref_unit", {{"id", "U1"}, {"site", "S1"}, {"name", "Press shop"}}, "HO");
    signer.add("ref_unit", {{"id", "U2"}, {"site", "S1"}, {"name", "Paint shop"}}, "HO");
    signer.add("ref_period", {{"id", "2026-11"}, {"start", "2026-11-01"}, {"end", "2026-11-30"}}, "HO");
    signer.add("ref_product", {{"id", "P1"}, {"name", "Bracket"}, {"unit", "pcs"}, {"decimals", 0}}, "HO");
    signer.add("ref_worker", {{"id", "W1"}, {"site", "S1"}, {"name", "Anna"}, {"pin_hash", cheap_hash("1111")},
                              {"active", true}}, "HO");
    signer.add("ref_worker", {{"id", "W2"}, {"site", "S1"}, {"name", "Boris"}, {"pin_hash", cheap_hash("2222")},
                              {"active", true}}, "HO");
    signer.add("ref_leader", {{"id", "L7"}, {"site", "S1"}, {"name", "Vera"}, {"pin_hash", cheap_hash("7777")},
                              {"active", true}}, "HO");
    signer.add("ref_quota", {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 400},
                             {"version", 3}}, "HO");
  }
  Status enroll(Terminal& t, std::vector<std::string> units = {"U1"}) const {
    return t.store->enroll("http://head-office.test", server.public_key(), "S1", units, kSampleNowMs, delegation);
  }
};

// Events [from, to] (1-based seqs) of a chain, with its head at `to`.
struct Slice {
  const Chain* chain;
  std::size_t from, to;
};

inline Json receipt_json(const Receipt& r) {
  return Json{{"seq", r.seq}, {"hash", to_hex(r.hash)}, {"server_ms", r.server_ms}, {"sig", to_hex(r.signature)}};
}

// A sync answer for `t` signed by `server`: a receipt for (seq, hash), and the slices.
inline Message answer(const DeviceKey& server, const Terminal& t, std::uint64_t seq, const Hash& hash,
                      const std::vector<Slice>& slices, std::uint64_t cursor = 1, bool more = false) {
  Message m;
  Json heads = Json::array();
  for (const Slice& s : slices) {
    for (std::size_t i = s.from; i <= s.to; ++i) m.events.push_back(s.chain->events[i - 1].bytes);
    heads.push_back(s.chain->head(s.to));
  }
  m.header = Json{{"type", "sync"},
                  {"receipt", receipt_json(sign_receipt(server, t.store->device(), seq, hash, kSampleNowMs + 5))},
                  {"cursor", cursor},
                  {"more", more},
                  {"heads", heads}};
  return m;
}

// What a refused answer must leave untouched: the events, the cursor and the receipt.
inline std::string sync_footprint(Terminal& t) {
  auto state = must(t.store->sync_state());
  auto status = must(t.store->status());
  return std::to_string(status["events"].get<int>()) + "/" + std::to_string(state.cursor) + "/" +
         std::to_string(state.receipt ? state.receipt->seq : 0) + "/" +
         std::to_string(must(t.store->reference())["workers"].size());
}

// A terminal enrolled for U1 that holds head office's reference data, with leader L7 logged in.
struct Enrolled {
  Terminal t;
  HeadOffice ho;
  Enrolled() {
    ho.add_reference();
    REQUIRE(ho.enroll(t).is_ok());
    must(t.store->accept_sync(client::PushBatch{}, answer(ho.server, t, 0, Hash{}, {{&ho.signer, 1, 9}})));
    must(t.store->login("L7", "7777"));
  }
};

// Another terminal of U1 with a shift and W1's hours 09:00-11:00 in it.
inline Chain other_terminal() {
  Chain c(DeviceKey::generate());
  const Event& open = c.add("shift_open", {{"unit", "U1"}, {"date", "2026-11-16"}});
  c.add("hours", {{"shift", hash_ref(open.hash)}, {"worker", "W1"}, {"start", 540}, {"end", 660}, {"special", false}});
  return c;
}

}  // namespace shiftbook::testing
