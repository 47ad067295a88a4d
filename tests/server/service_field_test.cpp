// The server in the field, through Service's public surface (service_world.h): revocation (the
// device_revoke event, the "revoked" answer and its notice, quarantine: idempotent, never pulled),
// trusted time (a shift_open's receipt checked at push; each event's bracket), finding a device by
// a prefix of its key, and how far behind each terminal is.
#include <doctest/doctest.h>

#include <cctype>
#include <string>
#include <vector>

#include "service_world.h"

namespace {

using namespace shiftbook::service_world;

RevocationNotice notice_of(const Answer& a, const PublicKey& device) {
  const Json& n = a.message.header.at("notice");
  RevocationNotice out;
  out.device = device;
  out.revoked_ms = n.at("revoked_ms").get<std::int64_t>();
  out.reason = n.at("reason").get<std::string>();
  out.signature = *array_from_hex<64>(n.at("sig").get<std::string>());
  return out;
}

server::DeviceRecord revoke(HeadOffice& ho, const Terminal& t, const std::string& reason) {
  auto r = ho.service->revoke_device(t.device(), reason);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return *r;
}

std::size_t quarantined(HeadOffice& ho, const Terminal& t) {
  auto q = ho.service->quarantined(&t.device());
  REQUIRE(q.is_ok());
  return q->size();
}

// A shift_open of `t` that names `r` as the last receipt it holds.
Hash open_shift_after(Terminal& t, const Receipt& r) {
  return t.record("shift_open", {{"unit", "U1"}, {"date", "2026-11-16"}, {"receipt", receipt_field(r)}});
}

// "seq kind after..before" per event, times in minutes after kSampleNowMs ("-" for none).
std::string brackets(HeadOffice& ho, const Terminal& t, std::uint64_t from = 1, std::size_t limit = 100) {
  auto events = ho.service->events(t.device(), from, limit);
  REQUIRE_MESSAGE(events.is_ok(), events.status().to_string());
  auto minutes = [](const std::optional<Receipt>& r) {
    return r ? std::to_string((r->server_ms - testing::kSampleNowMs) / 60'000) : std::string("-");
  };
  std::string out;
  for (const auto& e : *events) {
    out += std::to_string(e.seq) + " " + e.kind + " " + minutes(e.after) + ".." + minutes(e.before) + "\n";
  }
  return out;
}

// ---- revocation ------------------------------------------------------------------------------------

TEST_CASE("service: a revoked terminal's push is kept in quarantine and answered with a notice that verifies") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  Hash shift = a.open_shift("U1");
  a.hours(shift);
  REQUIRE(push(ho, a, 1, 2).type() == "sync");
  ho.clock.advance(60'000);
  const server::DeviceRecord revoked = revoke(ho, a, "stolen from the press shop");
  CHECK(revoked.revoked_ms == testing::kSampleNowMs + 60'000);
  a.hours(shift, 600);
  a.hours(shift, 700);
  ho.clock.advance(60'000);

  Answer answer = push(ho, a, 1, 4);
  REQUIRE_MESSAGE(answer.type() == "revoked", answer.text());
  CHECK(answer.message.header["quarantined"] == 2);
  CHECK(answer.message.events.empty());
  RevocationNotice n = notice_of(answer, a.device());
  CHECK(n.revoked_ms == revoked.revoked_ms);
  CHECK(n.reason == "stolen from the press shop");
  CHECK(verify_revocation(ho.key(), n));
  CHECK(answer.reply.log_line.find("revoked: quarantined 2 (seq 3..4)") != std::string::npos);
  // Nothing of it was accepted; the sync was noted.
  CHECK(ho.device(a.device()).seq == 2);
  CHECK(ho.device(a.device()).quarantined == 2);
  CHECK(ho.device(a.device()).last_sync_ms == testing::kSampleNowMs + 120'000);
}

TEST_CASE("service: quarantine is idempotent, and a revoked terminal that pushes nothing still hears revoked") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  revoke(ho, a, "lost");
  Hash shift = a.open_shift("U1");
  a.hours(shift);
  CHECK(push(ho, a, 1, 2).message.header["quarantined"] == 2);
  Answer retry = push(ho, a, 1, 2);
  REQUIRE(retry.type() == "revoked");
  CHECK(retry.message.header["quarantined"] == 0);
  Answer empty = send(ho, a.key, sync_message(a, 0, 0));
  REQUIRE(empty.type() == "revoked");
  CHECK(empty.message.header["quarantined"] == 0);
  CHECK(verify_revocation(ho.key(), notice_of(empty, a.device())));
  CHECK(quarantined(ho, a) == 2);
  auto held = ho.service->quarantined(nullptr);
  REQUIRE(held.is_ok());
  CHECK(held->front().kind == "shift_open");
  CHECK(held->back().head.seq == 2);
}

TEST_CASE("service: what a revoked terminal sends is never pulled, the site's terminals pull the device_revoke") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  const PublicKey signer = enroll(ho, b, "S1", {"U1"});
  Hash shift = a.open_shift("U1");
  REQUIRE(push(ho, a, 1, 1).type() == "sync");
  revoke(ho, a, "lost");
  a.hours(shift);
  REQUIRE(push(ho, a, 1, 2).type() == "revoked");

  Pulled p = pull_all(ho, b);
  std::string from_a;
  const Event* notice = nullptr;
  for (const Event& e : p.events) {
    if (e.device == a.device()) from_a += std::to_string(e.seq) + " " + e.kind + ";";
    if (e.device == signer && e.kind == "device_revoke") notice = &e;
  }
  CHECK(from_a == "1 shift_open;");  // what it delivered before stays
  REQUIRE(notice != nullptr);
  CHECK(notice->body == Json{{"device", to_hex(a.device())}, {"reason", "lost"}});
  CHECK(notice->author == "head-office");
  CHECK(validate_head_office_body("device_revoke", notice->body).is_ok());
}

TEST_CASE("service: a revoked terminal's push that fails the push checks is refused, nothing quarantined") {
  HeadOffice ho;
  Terminal a, other;
  enroll(ho, a, "S1", {"U1"});
  revoke(ho, a, "lost");
  a.open_shift("U1");
  Message forged = sync_message(a, 1, 1);
  forged.header["head"]["sig"] = to_hex(sign_head(other.key, 1, a.chain[0].event.hash).signature);
  Answer bad_head = send(ho, a.key, forged);
  CHECK(bad_head.error() == "chain");
  other.open_shift("U1");
  Message foreign = sync_message(other, 1, 1);
  Answer not_its_own = send(ho, a.key, foreign);
  CHECK(not_its_own.error() == "foreign_device");
  CHECK(quarantined(ho, a) == 0);
}

TEST_CASE("service: revoking twice, an unknown device, or without a proper reason is refused") {
  HeadOffice ho;
  Terminal a, stranger;
  enroll(ho, a, "S1", {"U1"});
  auto empty = ho.service->revoke_device(a.device(), "");
  CHECK(empty.status().code() == Code::kInvalidArgument);
  CHECK(empty.status().message().find("reason") != std::string::npos);
  CHECK(ho.service->revoke_device(a.device(), std::string(501, 'x')).status().code() == Code::kInvalidArgument);
  CHECK(ho.service->revoke_device(a.device(), "line\nbreak").status().code() == Code::kInvalidArgument);
  CHECK(ho.service->revoke_device(stranger.device(), "lost").status().code() == Code::kNotFound);
  CHECK(ho.device(a.device()).revoked_ms == 0);
  revoke(ho, a, std::string(500, 'x'));
  auto twice = ho.service->revoke_device(a.device(), "again");
  CHECK(twice.status().code() == Code::kFailedPrecondition);
  CHECK(twice.status().message().find("revoked already on 2026-11-16 08:00 UTC") != std::string::npos);
}

TEST_CASE("service: find_device takes 8 to 64 hex digits of a key, and refuses unknown and ambiguous prefixes") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  const std::string hex = to_hex(a.device());
  std::string upper = hex.substr(0, 8);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(ho.service->find_device(hex.substr(0, 8))->key == a.device());
  CHECK(ho.service->find_device(upper)->key == a.device());
  CHECK(ho.service->find_device(hex)->key == a.device());
  CHECK(ho.service->find_device(hex.substr(0, 7)).status().code() == Code::kInvalidArgument);
  CHECK(ho.service->find_device(hex + "0").status().code() == Code::kInvalidArgument);
  CHECK(ho.service->find_device("zzzzzzzz").status().code() == Code::kInvalidArgument);
  std::string other = hex.substr(0, 8);
  other[0] = other[0] == '0' ? '1' : '0';
  CHECK(ho.service->find_device(other).status().code() == Code::kNotFound);
  // A key that shares all but its last digits with a's makes 8 digits ambiguous.
  PublicKey twin = a.device();
  twin[31] ^= 1;
  server::CodeRecord code;
  code.secret_hash = blake2b_256(as_bytes(std::string("twin")));
  code.site = "S1";
  code.units = {"U1"};
  code.expires_ms = testing::kSampleNowMs + 1000;
  REQUIRE(ho.service->storage().add_code(code).is_ok());
  REQUIRE(ho.service->storage().redeem_code(code.secret_hash, twin, testing::kSampleNowMs).is_ok());
  auto two = ho.service->find_device(hex.substr(0, 8));
  CHECK(two.status().code() == Code::kInvalidArgument);
  CHECK(two.status().message().find("starts the keys of 2 terminals") != std::string::npos);
  CHECK(ho.service->find_device(hex)->key == a.device());
}

// ---- trusted time ----------------------------------------------------------------------------------

TEST_CASE("service: a shift_open may name a receipt this server gave the terminal, held or earlier in the push") {
  HeadOffice ho;
  Terminal t;
  enroll(ho, t, "S1", {"U1"});
  const Receipt none = receipt_of(send(ho, t.key, sync_message(t, 0, 0)), t.device());
  t.hours(open_shift_after(t, none));  // seq 0: before anything was acknowledged
  Answer first = push(ho, t, 1, 2);
  REQUIRE_MESSAGE(first.type() == "sync", first.text());
  t.hours(open_shift_after(t, receipt_of(first, t.device())));  // seq 3 names seq 2, held
  // A receipt for seq 4, signed by this server, named by a shift at seq 5 in the same push.
  open_shift_after(t, sign_receipt(ho.signing_key, t.device(), 4, t.chain[3].event.hash, testing::kSampleNowMs));
  Answer second = push(ho, t, 3, 5);
  REQUIRE_MESSAGE(second.type() == "sync", second.text());
  CHECK(ho.device(t.device()).seq == 5);
}

TEST_CASE("service: a shift_open naming a forged, foreign, later or mismatched receipt is refused as invalid") {
  HeadOffice ho;
  Terminal t, u;
  enroll(ho, t, "S1", {"U1"});
  enroll(ho, u, "S1", {"U1"});
  Hash shift = t.open_shift("U1");
  t.hours(shift);
  REQUIRE(push(ho, t, 1, 2).type() == "sync");
  u.open_shift("U1");
  const Receipt of_u = receipt_of(push(ho, u, 1, 1), u.device());
  const Hash held2 = t.chain[1].event.hash;
  const DeviceKey stranger = DeviceKey::generate();
  const std::pair<Receipt, const char*> cases[] = {
      {sign_receipt(stranger, t.device(), 2, held2, testing::kSampleNowMs), "does not verify with this server's key"},
      {of_u, "does not verify with this server's key"},
      {sign_receipt(ho.signing_key, t.device(), 3, held2, testing::kSampleNowMs), "not for an event before the shift"},
      {sign_receipt(ho.signing_key, t.device(), 2, t.chain[0].event.hash, testing::kSampleNowMs),
       "not this terminal's event at that seq"},
  };
  for (const auto& [receipt, why] : cases) {
    open_shift_after(t, receipt);
    Answer refused = push(ho, t, 3, 3);
    CHECK(refused.error() == "invalid");
    CHECK_MESSAGE(refused.text().find(why) != std::string::npos, refused.text());
    t.chain.pop_back();
  }
  CHECK(ho.device(t.device()).seq == 2);
}

TEST_CASE("service: each event is bracketed by its shift's named receipt and its own push's receipt") {
  HeadOffice ho;
  Terminal t;
  enroll(ho, t, "S1", {"U1"});
  const Receipt r0 = receipt_of(send(ho, t.key, sync_message(t, 0, 0)), t.device());  // at minute 0
  Hash s1 = open_shift_after(t, r0);
  t.hours(s1);
  ho.clock.advance(60 * 60'000);
  REQUIRE(push(ho, t, 1, 2).type() == "sync");  // minute 60
  t.hours(s1, 600);
  ho.clock.advance(60 * 60'000);
  const Receipt r3 = receipt_of(push(ho, t, 3, 3), t.device());  // minute 120
  Hash s2 = open_shift_after(t, r3);
  t.hours(s2);
  t.open_shift("U1");  // names no receipt: no lower bound from here on
  ho.clock.advance(60 * 60'000);
  REQUIRE(push(ho, t, 4, 6).type() == "sync");  // minute 180
  CHECK(brackets(ho, t) ==
        "1 shift_open 0..60\n2 hours 0..60\n3 hours 0..120\n4 shift_open 120..180\n5 hours 120..180\n"
        "6 shift_open -..180\n");
  // From the middle: the shift before the range still sets the lower bound.
  CHECK(brackets(ho, t, 3, 2) == "3 hours 0..120\n4 shift_open 120..180\n");
  auto events = ho.service->events(t.device(), 5, 1);
  REQUIRE(events.is_ok());
  CHECK(events->front().after_shift == 4);
  CHECK(events->front().terminal_ms == testing::kSampleNowMs);
  CHECK(verify_receipt(ho.key(), *events->front().after));
  CHECK(verify_receipt(ho.key(), *events->front().before));
}

// ---- health ----------------------------------------------------------------------------------------

TEST_CASE("service: device_health counts what each terminal has yet to pull, and none for one never synced") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1"});
  auto behind = [&](const Terminal& t) {
    auto all = ho.service->device_health();
    REQUIRE(all.is_ok());
    for (const auto& h : *all) {
      if (h.device.key == t.device()) return h.behind ? std::to_string(*h.behind) : std::string("never");
    }
    return std::string("missing");
  };
  Hash shift = a.open_shift("U1");
  a.hours(shift);
  REQUIRE(push(ho, a, 1, 2).type() == "sync");
  CHECK(behind(b) == "never");
  pull_all(ho, b);
  CHECK(behind(b) == "0");
  CHECK(behind(a) == "0");  // its own events are not for it to pull; the site's were pulled with its push
  a.hours(shift, 600);
  REQUIRE(push(ho, a, 3, 3).type() == "sync");
  ho.put("ref_unit", {{"id", "U3"}, {"site", "S1"}, {"name", "Paint shop"}});  // one event of the site's chain
  CHECK(behind(b) == "2");
  CHECK(ho.device(b.device()).last_cursor > 0);
}

}  // namespace
