// Head office's revocation of a terminal, at the store (Store::accept_revocation): a notice signed
// by the pinned server key for this terminal drops everything it held of others and keeps its own
// log; a forged notice, or one for another terminal, changes nothing at all.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "client/sync_world.h"
#include "support/fixture.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

// Every table of the store, counted, and the log as export writes it: what "nothing changed" means.
std::string whole_store(Terminal& t) {
  const std::string db = t.store_dir() + "/terminal.db";
  std::string out;
  for (const char* table : {"events", "heads", "shifts", "entries", "versions", "sites", "units", "periods",
                            "products", "workers", "quotas", "leaders", "session", "pin_attempts"}) {
    out += std::string(table) + "=" + std::to_string(query_int(db, std::string("SELECT count(*) FROM ") + table)) + " ";
  }
  out += "revoked=" + std::to_string(query_int(db, "SELECT count(*) FROM enrollment WHERE revoked_ms IS NOT NULL"));
  std::ostringstream log;
  REQUIRE(t.store->export_log(log).is_ok());
  return out + "\n" + log.str();
}

// An enrolled terminal with its own shift and hours (the first acknowledged, the rest not), and
// another terminal's shift and hours pulled, plus an own correction of that other terminal's entry.
struct Busy : Enrolled {
  Chain other = other_terminal();
  Busy() {
    REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
    client::PushBatch first = must(t.store->next_push());
    must(t.store->accept_sync(first, answer(ho.server, t, 1, first.head->hash, {{&other, 1, 2}}, 2)));
    REQUIRE(t.store->log_hours("", "W2", 480, 720, false).is_ok());
    const std::string theirs = hash_ref(other.events[1].event.hash).substr(0, 8);
    REQUIRE(t.store->correct(theirs, Json{{"end", 600}}, "left early").is_ok());
  }
  std::string db() const { return t.store_dir() + "/terminal.db"; }
};

}  // namespace

TEST_CASE("revocation: a notice signed by the pinned key drops others' data and keeps this terminal's own log") {
  Busy b;
  const std::string own_log = [&] {
    auto events = must(b.t.store->raw_events(b.t.store->device()));
    return std::to_string(events.size());
  }();
  RevocationNotice n = sign_revocation(b.ho.server, b.t.store->device(), kSampleNowMs + 60'000, "stolen");
  client::RevocationReport r = must(b.t.store->accept_revocation(n));
  CHECK_FALSE(r.already);
  CHECK(r.removed_events == 9 + 2);  // the site signer's reference data and the other terminal's two
  CHECK(r.removed_devices == 2);
  CHECK(r.own_events == 3);
  CHECK(r.unacknowledged == 2);
  CHECK(own_log == "3");
  CHECK(query_int(b.db(), "SELECT count(*) FROM events WHERE device != x'" + to_hex(b.t.store->device()) + "'") == 0);
  CHECK(query_int(b.db(), "SELECT count(*) FROM heads") == 1);
  CHECK(must(b.t.store->reference())["workers"].empty());
  CHECK(must(b.t.store->leaders())["leaders"].empty());
  Json list = must(b.t.store->list_entries({}));
  REQUIRE(list["entries"].size() == 1);  // own hours; the correction of the other's entry stays unshown
  CHECK(list["entries"][0]["worker"] == "W2");
  CHECK(list["revoked"]["reason"] == "stolen");
  CHECK(must(b.t.store->list_shifts(false))["shifts"].size() == 1);
  CHECK(must(b.t.store->sync_state()).revoked->revoked_ms == kSampleNowMs + 60'000);
  Json status = must(b.t.store->status());
  CHECK(status["revoked"] == Json{{"revoked_ms", kSampleNowMs + 60'000}, {"reason", "stolen"}});
  CHECK(status["leader"].is_null());
  CHECK(status["unsynced_events"] == 2);
  client::VerifyReport v = must(b.t.store->verify());
  CHECK_MESSAGE(v.problem.is_ok(), v.problem.to_string());
  REQUIRE(b.t.store->rebuild_derived().is_ok());
  CHECK(must(b.t.store->list_entries({})) == list);
}

TEST_CASE("revocation: a revoked terminal refuses to log in and record, saying why") {
  Busy b;
  must(b.t.store->accept_revocation(sign_revocation(b.ho.server, b.t.store->device(), kSampleNowMs, "stolen")));
  Status login = b.t.store->login("L7", "7777").status();
  CHECK(login.code() == Code::kFailedPrecondition);
  CHECK_MESSAGE(login.message().find("head office revoked this terminal on 2026-11-16 08:00 UTC (reason: stolen)") !=
                    std::string::npos,
                login.message());
  Status open = b.t.store->open_shift("U1", std::nullopt, std::nullopt).status();
  CHECK(open.code() == Code::kFailedPrecondition);
  CHECK(open.message().find("records nothing more") != std::string::npos);
}

TEST_CASE("revocation: a forged notice changes nothing") {
  Busy b;
  const std::string before = whole_store(b.t);
  RevocationNotice forged = sign_revocation(DeviceKey::generate(), b.t.store->device(), kSampleNowMs, "stolen");
  auto r = b.t.store->accept_revocation(forged);
  CHECK(r.status().code() == Code::kUnauthenticated);
  CHECK(r.status().message().find("did not verify with the pinned server key") != std::string::npos);
  // A notice signed right but altered afterwards does not verify either.
  RevocationNotice altered = sign_revocation(b.ho.server, b.t.store->device(), kSampleNowMs, "stolen");
  altered.reason = "lost";
  CHECK(b.t.store->accept_revocation(altered).status().code() == Code::kUnauthenticated);
  CHECK(whole_store(b.t) == before);
  CHECK(must(b.t.store->session()).leader == "L7");
}

TEST_CASE("revocation: a notice for another terminal changes nothing") {
  Busy b;
  const std::string before = whole_store(b.t);
  RevocationNotice n = sign_revocation(b.ho.server, b.other.key.public_key(), kSampleNowMs, "stolen");
  auto r = b.t.store->accept_revocation(n);
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(r.status().message().find("not this one") != std::string::npos);
  CHECK(whole_store(b.t) == before);
}

TEST_CASE("revocation: a second notice keeps the first one's time and reason") {
  Busy b;
  must(b.t.store->accept_revocation(sign_revocation(b.ho.server, b.t.store->device(), kSampleNowMs, "stolen")));
  const std::string after_first = whole_store(b.t);
  client::RevocationReport again =
      must(b.t.store->accept_revocation(sign_revocation(b.ho.server, b.t.store->device(), kSampleNowMs + 9, "lost")));
  CHECK(again.already);
  CHECK(again.removed_events == 0);
  CHECK(again.revocation.reason == "stolen");
  CHECK(whole_store(b.t) == after_first);
}

TEST_CASE("revocation: a terminal that is not enrolled has nothing to be revoked from") {
  Terminal t;
  auto r = t.store->accept_revocation(sign_revocation(DeviceKey::generate(), t.store->device(), kSampleNowMs, "x"));
  CHECK(r.status().code() == Code::kFailedPrecondition);
}

TEST_CASE("revocation: head office's device_revoke of another terminal is kept and listed, and changes nothing else") {
  Busy b;
  const Json before = must(b.t.store->list_entries({}));
  b.ho.signer.add("device_revoke", {{"device", to_hex(b.other.key.public_key())}, {"reason", "lost"}}, "HO");
  const Hash held = must(b.t.store->sync_state()).receipt->hash;
  auto taken = must(b.t.store->accept_sync(client::PushBatch{}, answer(b.ho.server, b.t, 1, held, {{&b.ho.signer, 10, 10}}, 3)));
  CHECK(taken.pulled == 1);
  Json listed = must(b.t.store->status())["revoked_terminals"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["device"] == to_hex(b.other.key.public_key()));
  CHECK(listed[0]["device_short"] == short_device(b.other.key.public_key()));
  CHECK(listed[0]["reason"] == "lost");
  CHECK(must(b.t.store->list_entries({})) == before);
  CHECK_FALSE(must(b.t.store->sync_state()).revoked.has_value());
  CHECK(must(b.t.store->verify()).problem.is_ok());
}
