// The store's side of sync, driven without a network: answers are built by hand with the
// protocol's own signing functions, as a server (or an attacker) would build them.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "client/sync_world.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"
#include "support/fixture.h"

using namespace shiftbook;
using namespace shiftbook::testing;

TEST_CASE("sync state: enrollment pins the server and drops local reference data, leaders and the login") {
  Terminal t;
  HeadOffice ho;
  REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  REQUIRE(ho.enroll(t, {"U2", "U1"}).is_ok());
  client::SyncState state = must(t.store->sync_state());
  CHECK(state.enrollment.server_url == "http://head-office.test");
  CHECK(state.enrollment.server_key == ho.server.public_key());
  CHECK(state.enrollment.site == "S1");
  CHECK(state.enrollment.units == std::vector<std::string>{"U1", "U2"});
  CHECK(state.enrollment.signer.signer == ho.signer.key.public_key());
  CHECK(state.unacknowledged() == 1);  // the shift recorded before stays, to be pushed
  CHECK(must(t.store->reference())["sites"].empty());
  CHECK(must(t.store->leaders())["leaders"].empty());
  CHECK(t.store->session().status().code() == Code::kFailedPrecondition);
  CHECK(must(t.store->status())["enrollment"]["site"] == "S1");
}

TEST_CASE("sync state: a second enrollment is refused, and so is a delegation the server key did not sign") {
  Terminal t;
  HeadOffice ho;
  Delegation forged = sign_delegation(DeviceKey::generate(), "S1", ho.signer.key.public_key());
  Status bad = t.store->enroll("http://x.test", ho.server.public_key(), "S1", {"U1"}, 0, forged);
  CHECK(bad.code() == Code::kUnauthenticated);
  CHECK(t.store->sync_state().status().code() == Code::kFailedPrecondition);  // not enrolled
  REQUIRE(ho.enroll(t).is_ok());
  Status again = ho.enroll(t);
  CHECK(again.code() == Code::kAlreadyExists);
  CHECK(again.message().find("already enrolled with http://head-office.test") != std::string::npos);
}

TEST_CASE("sync state: an enrolled terminal refuses ref import and leader add and remove") {
  Enrolled e;
  Status imported = e.t.store->import_reference(shiftbook::testing::sample_reference());
  CHECK(imported.code() == Code::kFailedPrecondition);
  CHECK(imported.message().find("come from head office with 'shiftbook sync'") != std::string::npos);
  CHECK(e.t.store->add_leader("L2", "Lou", "5555").code() == Code::kFailedPrecondition);
  CHECK(e.t.store->remove_leader("L7").code() == Code::kFailedPrecondition);
}

TEST_CASE("sync state: pulled head-office events become reference data and leaders who can log in") {
  Enrolled e;  // enrolled for U1 only
  Json ref = must(e.t.store->reference());
  CHECK(ref["sites"] == Json::array({{{"id", "S1"}, {"name", "Plant One"}, {"tz", "UTC"}}}));
  CHECK(ref["units"] == Json::array({{{"id", "U1"}, {"site", "S1"}, {"name", "Press shop"}}}));  // not U2
  CHECK(ref["workers"].size() == 2);
  CHECK(ref["quotas"] == Json::array({{{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 400},
                                       {"version", 3}}}));
  CHECK(must(e.t.store->session()).leader == "L7");  // logged in with head office's PIN
  CHECK(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  CHECK(e.t.store->open_shift("U2", std::nullopt, std::nullopt).status().code() == Code::kNotFound);
  auto out = must(e.t.store->log_output("", "P1", 10));
  CHECK(must(e.t.store->show_entry(std::to_string(out.seq)))["entry"]["quota_version"] == 3);
}

TEST_CASE("sync state: head office retiring a worker and a leader removes them and ends that login") {
  Enrolled e;
  e.ho.signer.add("ref_worker", {{"id", "W2"}, {"site", "S1"}, {"name", "Boris"}, {"pin_hash", cheap_hash("2222")},
                                 {"active", false}}, "HO");
  e.ho.signer.add("ref_leader", {{"id", "L7"}, {"site", "S1"}, {"name", "Vera"}, {"pin_hash", cheap_hash("7777")},
                                 {"active", false}}, "HO");
  must(e.t.store->accept_sync(client::PushBatch{}, answer(e.ho.server, e.t, 0, Hash{}, {{&e.ho.signer, 10, 11}}, 2)));
  CHECK(must(e.t.store->reference())["workers"].size() == 1);
  CHECK(must(e.t.store->leaders())["leaders"].empty());
  CHECK(e.t.store->session().status().code() == Code::kFailedPrecondition);
}

TEST_CASE("sync state: another terminal's entries show in list, also when they overlap local hours") {
  Enrolled e;
  REQUIRE(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  REQUIRE(e.t.store->log_hours("", "W1", 480, 720, false).is_ok());  // 08:00-12:00 here
  Chain other = other_terminal();                                     // 09:00-11:00 there
  auto accepted = must(e.t.store->accept_sync(client::PushBatch{}, answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 2}}, 2)));
  CHECK(accepted.pulled == 2);
  CHECK(accepted.unshown == 0);
  Json list = must(e.t.store->list_entries({}));
  REQUIRE(list["entries"].size() == 2);
  int theirs = 0;
  for (const Json& entry : list["entries"]) theirs += entry["device"] == to_hex(other.key.public_key()) ? 1 : 0;
  CHECK(theirs == 1);
  CHECK(must(e.t.store->list_shifts(false))["shifts"].size() == 2);
}

TEST_CASE("sync state: an answer repeated after it was stored adds nothing") {
  Enrolled e;
  Chain other = other_terminal();
  Message a = answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 2}}, 2);
  CHECK(must(e.t.store->accept_sync(client::PushBatch{}, a)).pulled == 2);
  CHECK(must(e.t.store->accept_sync(client::PushBatch{}, a)).pulled == 0);
  CHECK(must(e.t.store->list_entries({}))["entries"].size() == 1);
}

TEST_CASE("sync state: a pulled correction of an entry this terminal never received is kept but not shown") {
  Enrolled e;
  Chain other(DeviceKey::generate());
  Json entry{{"shift", std::string(64, 'a')}, {"worker", "W1"}, {"start", 60}, {"end", 120}, {"special", false}};
  other.add("correction", {{"target", std::string(64, 'b')}, {"reason", "typo"}, {"entry", entry}});
  auto accepted = must(e.t.store->accept_sync(client::PushBatch{}, answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 1}}, 2)));
  CHECK(accepted.pulled == 1);
  CHECK(accepted.unshown == 1);
  CHECK(must(e.t.store->raw_events(other.key.public_key())).size() == 1);
  client::VerifyReport report = must(e.t.store->verify());
  CHECK_MESSAGE(report.problem.is_ok(), report.problem.to_string());
}

TEST_CASE("sync state: refused answers store nothing and name what was wrong") {
  Enrolled e;
  Chain other = other_terminal();
  const std::string before = sync_footprint(e.t);
  auto refuse = [&](const Message& m, Code code, const std::string& words) {
    auto r = e.t.store->accept_sync(client::PushBatch{}, m);
    REQUIRE_FALSE(r.is_ok());
    CHECK(r.status().code() == code);
    CHECK_MESSAGE(r.status().message().find(words) != std::string::npos, r.status().message());
    CHECK(sync_footprint(e.t) == before);
  };
  SUBCASE("a tampered event") {
    Message m = answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 2}}, 2);
    // W1's hours become W3's: the event still decodes, but it is not the one the head covers.
    Bytes& raw = m.events[1];
    const std::string worker = "W1";
    auto at = std::search(raw.begin(), raw.end(), worker.begin(), worker.end());
    REQUIRE(at != raw.end());
    at[1] = '3';
    refuse(m, Code::kDataLoss, "device " + short_device(other.key.public_key()));
  }
  SUBCASE("a broken chain") {
    Chain gap = other_terminal();
    gap.add("bonus", {{"shift", hash_ref(gap.events[0].event.hash)}, {"worker", "W2"}, {"type", "innovation"}});
    Message m = answer(e.ho.server, e.t, 0, Hash{}, {{&gap, 3, 3}}, 2);
    refuse(m, Code::kDataLoss, "gap");
  }
  SUBCASE("a missing head") {
    Message m = answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 2}}, 2);
    m.header["heads"] = Json::array();
    refuse(m, Code::kDataLoss, "without a signed head");
  }
  SUBCASE("a forged head") {
    Message m = answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 2}}, 2);
    SignedHead forged = sign_head(DeviceKey::generate(), 2, other.events[1].event.hash);
    m.header["heads"][0]["sig"] = to_hex(forged.signature);
    refuse(m, Code::kUnauthenticated, "does not verify");
  }
  SUBCASE("a head for a device without events in the answer") {
    Message m = answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 2}}, 2);
    m.header["heads"].push_back(e.ho.signer.head(9));
    refuse(m, Code::kDataLoss, "none of its events");
  }
  SUBCASE("head-office data from a device that is not the site signer") {
    Chain rogue(DeviceKey::generate());
    rogue.add("ref_worker", {{"id", "W9"}, {"site", "S1"}, {"name", "Mallory"}, {"pin_hash", cheap_hash("0000")},
                             {"active", true}});
    refuse(answer(e.ho.server, e.t, 0, Hash{}, {{&rogue, 1, 1}}, 2), Code::kDataLoss, "not site S1's signer");
  }
  SUBCASE("a receipt signed by another key") {
    DeviceKey impostor = DeviceKey::generate();
    refuse(answer(impostor, e.t, 0, Hash{}, {{&other, 1, 2}}, 2), Code::kUnauthenticated, "pinned server key");
  }
  SUBCASE("a receipt for more than the terminal has") {
    refuse(answer(e.ho.server, e.t, 5, Hash{1}, {}, 2), Code::kDataLoss, "has only 0");
  }
  SUBCASE("an event of this terminal itself") {
    REQUIRE(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
    client::PushBatch mine = must(e.t.store->next_push());
    Message m = answer(e.ho.server, e.t, 0, Hash{}, {}, 2);
    m.events.push_back(mine.events[0]);
    m.header["heads"].push_back(Json{{"device", to_hex(mine.head->device)}, {"seq", 1},
                                     {"hash", to_hex(mine.head->hash)}, {"sig", to_hex(mine.head->signature)}});
    auto r = e.t.store->accept_sync(client::PushBatch{}, m);
    CHECK(r.status().code() == Code::kDataLoss);
    CHECK(r.status().message().find("this terminal itself") != std::string::npos);
  }
}

TEST_CASE("sync state: a push holds the unacknowledged events within the byte bound, with a signed head") {
  Enrolled e;
  REQUIRE(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  for (int i = 0; i < 20; ++i) REQUIRE(e.t.store->log_output("", "P1", i + 1).is_ok());
  client::PushBatch first = must(e.t.store->next_push(std::nullopt, 1000));
  REQUIRE(first.head.has_value());
  CHECK(first.first_seq == 1);
  CHECK(first.bytes <= 1000);
  CHECK(first.events.size() > 1);
  CHECK(first.events.size() < 21);
  CHECK(first.head->seq == first.events.size());
  CHECK(verify_head(*first.head));
  CHECK(first.head->hash == must(decode_event(first.events.back())).hash);

  auto accepted = must(e.t.store->accept_sync(first, answer(e.ho.server, e.t, first.head->seq, first.head->hash, {}, 9)));
  CHECK(accepted.pushed == first.events.size());
  client::PushBatch next = must(e.t.store->next_push());
  CHECK(next.first_seq == first.head->seq + 1);
  CHECK(next.head->seq == 21);
  CHECK(must(e.t.store->sync_state()).unacknowledged() == 21 - first.events.size());
  CHECK(must(e.t.store->next_push(21)).events.empty());
}

TEST_CASE("sync state: a receipt that does not match what was pushed is refused") {
  Enrolled e;
  REQUIRE(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  REQUIRE(e.t.store->log_output("", "P1", 5).is_ok());
  client::PushBatch push = must(e.t.store->next_push());
  auto r = e.t.store->accept_sync(push, answer(e.ho.server, e.t, 1, must(decode_event(push.events[0])).hash, {}, 2));
  CHECK(r.status().code() == Code::kDataLoss);
  CHECK(must(e.t.store->sync_state()).unacknowledged() == 2);
}

TEST_CASE("sync state: verify and rebuild cover other terminals' events and head office's reference data") {
  Enrolled e;
  REQUIRE(e.t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  Chain other = other_terminal();
  must(e.t.store->accept_sync(client::PushBatch{}, answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 2}}, 2)));
  client::VerifyReport report = must(e.t.store->verify());
  CHECK_MESSAGE(report.problem.is_ok(), report.problem.to_string());
  CHECK(report.devices == 3);  // this terminal, the other, the site signer
  const Json list = must(e.t.store->list_entries({}));
  const Json ref = must(e.t.store->reference());

  const std::string db = e.t.store_dir() + "/terminal.db";
  shiftbook::testing::exec_sql(db, "DELETE FROM workers WHERE id = 'W1'");
  report = must(e.t.store->verify());
  CHECK(report.problem.code() == Code::kDataLoss);
  CHECK(report.problem.message().find("workers") != std::string::npos);
  REQUIRE(e.t.store->rebuild_derived().is_ok());
  CHECK(must(e.t.store->verify()).problem.is_ok());
  CHECK(must(e.t.store->list_entries({})) == list);
  CHECK(must(e.t.store->reference()) == ref);
}
