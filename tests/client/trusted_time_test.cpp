// Trusted time (kinds.h, shift_open_receipt): a shift_open names the last receipt its terminal
// held, so the server's signed time brackets everything after it. The terminal writes it, checks
// it on other terminals' shift_opens it pulls, and verify checks it again.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "client/sync_world.h"
#include "support/fixture.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

// The receipt the last own event (a shift_open) names, if any.
std::optional<Receipt> named_receipt(Terminal& t) {
  auto events = must(t.store->raw_events(t.store->device()));
  REQUIRE_FALSE(events.empty());
  Event e = must(decode_event(events.back()));
  REQUIRE(e.kind == "shift_open");
  return must(shift_open_receipt(e.body, e.device));
}

Json open_body(const std::optional<Receipt>& r) {
  Json body{{"unit", "U1"}, {"date", "2026-11-16"}};
  if (r) body["receipt"] = receipt_field(*r);
  return body;
}

}  // namespace

TEST_CASE("trusted time: a shift_open names the receipt the terminal holds, and none before it holds one") {
  Terminal plain;
  REQUIRE(plain.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  CHECK_FALSE(named_receipt(plain).has_value());

  Enrolled e;  // holds head office's receipt for none of its events (seq 0)
  REQUIRE(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  std::optional<Receipt> first = named_receipt(e.t);
  REQUIRE(first.has_value());
  CHECK(first->seq == 0);
  CHECK(first->server_ms == kSampleNowMs + 5);
  CHECK(verify_receipt(e.ho.server.public_key(), *first));

  client::PushBatch push = must(e.t.store->next_push());
  must(e.t.store->accept_sync(push, answer(e.ho.server, e.t, 1, push.head->hash, {}, 2)));
  REQUIRE(e.t.store->close_shift("").is_ok());
  REQUIRE(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  std::optional<Receipt> second = named_receipt(e.t);
  REQUIRE(second.has_value());
  CHECK(second->seq == 1);
  CHECK(second->hash == push.head->hash);
  CHECK(must(e.t.store->verify()).problem.is_ok());
}

TEST_CASE("trusted time: pulled shift_opens whose receipts check out are taken") {
  Enrolled e;
  Chain other(DeviceKey::generate());
  const PublicKey them = other.key.public_key();
  const Event& open = other.add("shift_open", open_body(sign_receipt(e.ho.server, them, 0, Hash{}, kSampleNowMs)));
  other.add("shift_close", {{"shift", hash_ref(open.hash)}});
  const Hash second = other.events[1].event.hash;
  other.add("shift_open", open_body(sign_receipt(e.ho.server, them, 2, second, kSampleNowMs + 7)));
  auto accepted = must(e.t.store->accept_sync(client::PushBatch{}, answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 3}}, 2)));
  CHECK(accepted.pulled == 3);
  CHECK(must(e.t.store->verify()).problem.is_ok());
}

TEST_CASE("trusted time: a pulled shift_open naming a receipt that does not check out refuses the answer") {
  Enrolled e;
  Chain other(DeviceKey::generate());
  const PublicKey them = other.key.public_key();
  const Event& open = other.add("shift_open", open_body(std::nullopt));
  other.add("shift_close", {{"shift", hash_ref(open.hash)}});
  const Hash first = other.events[0].event.hash;
  const std::string before = sync_footprint(e.t);
  auto refused = [&](const Receipt& r, const std::string& words) {
    other.add("shift_open", open_body(r));
    auto taken = e.t.store->accept_sync(client::PushBatch{}, answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 3}}, 2));
    REQUIRE_FALSE(taken.is_ok());
    CHECK(taken.status().code() == Code::kDataLoss);
    CHECK_MESSAGE(taken.status().message().find("event 3 of device " + short_device(them)) != std::string::npos,
                  taken.status().message());
    CHECK_MESSAGE(taken.status().message().find(words) != std::string::npos, taken.status().message());
    CHECK(sync_footprint(e.t) == before);
  };
  SUBCASE("signed by another key") {
    refused(sign_receipt(DeviceKey::generate(), them, 1, first, kSampleNowMs), "does not verify");
  }
  SUBCASE("the server's receipt for another device") {
    refused(sign_receipt(e.ho.server, e.t.store->device(), 1, first, kSampleNowMs), "does not verify");
  }
  SUBCASE("for the shift_open itself or later") {
    refused(sign_receipt(e.ho.server, them, 3, first, kSampleNowMs), "not an event before it");
  }
  SUBCASE("naming another hash than the chain's") {
    refused(sign_receipt(e.ho.server, them, 2, first, kSampleNowMs), "another hash");
  }
}

TEST_CASE("trusted time: verify checks the receipt each shift_open names against the pinned key") {
  Enrolled e;
  REQUIRE(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  CHECK(must(e.t.store->verify()).problem.is_ok());
  // The pinned key replaced behind the terminal's back: its own shift_open no longer checks out.
  exec_sql(e.t.store_dir() + "/terminal.db",
           "UPDATE enrollment SET server_key = x'" + to_hex(DeviceKey::generate().public_key()) + "'");
  client::VerifyReport report = must(e.t.store->verify());
  CHECK(report.problem.code() == Code::kDataLoss);
  CHECK_MESSAGE(report.problem.message().find("event 1 of device " + short_device(e.t.store->device())) !=
                    std::string::npos,
                report.problem.message());
  CHECK(report.problem.message().find("does not verify with the pinned server key") != std::string::npos);
}
