// Protocol versions and kinds this version does not know (docs/PROTOCOL.md, "Versions and kinds
// this version does not know"): the server takes requests of versions 1 and 2, lists them in its
// hello, and from version 2 on takes and relays a terminal's event of a kind it does not know when
// it names a shift of that terminal; a real terminal store pulls such an event and keeps it.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <utility>

#include "service_world.h"
#include "sync_client.h"

namespace shiftbook::service_world {
namespace {

Message v2(Message m) {
  m.header["v"] = 2;
  return m;
}

Answer push_v2(HeadOffice& ho, const Terminal& t, std::size_t first, std::size_t last) {
  return send(ho, t.key, v2(sync_message(t, first, last)));
}

bool says(const Answer& a, const std::string& part) { return a.text().find(part) != std::string::npos; }

Json future_note(const Hash& shift) { return Json{{"shift", hash_ref(shift)}, {"note", "press 4 jams"}}; }

// A terminal enrolled for U1 with a shift open, then an event of kind `kind` whose body
// `body_for` makes from that shift.
Terminal with_event(HeadOffice& ho, const std::string& kind, const std::function<Json(const Hash&)>& body_for) {
  Terminal t;
  enroll(ho, t, "S1", {"U1"});
  const Hash shift = t.open_shift("U1");
  t.record(kind, body_for(shift));
  return t;
}

Terminal with_event(HeadOffice& ho, const std::string& kind, const Json& body) {
  return with_event(ho, kind, [&body](const Hash&) { return body; });
}

TEST_CASE("service kinds: hello keeps protocol 1 and lists versions 1 and 2") {
  HeadOffice ho;
  Json hello = Json::parse(ho.service->hello().body);
  CHECK(hello["protocol"] == 1);
  CHECK(hello["versions"] == Json::array({1, 2}));
}

TEST_CASE("service kinds: requests of version 1 and 2 sync, version 3 is refused with version") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  a.open_shift("U1");
  a.hours(a.chain[0].event.hash);
  CHECK(push(ho, a, 1, 1).type() == "sync");
  CHECK(push_v2(ho, a, 2, 2).type() == "sync");
  CHECK(ho.device(a.device()).seq == 2);
  Message v3 = sync_message(a, 0, 0);
  v3.header["v"] = 3;
  Answer refused = send(ho, a.key, v3);
  CHECK(refused.error() == "version");
  CHECK(says(refused, "protocol versions 1 to 2, the request is version 3"));
  Message v0 = sync_message(a, 0, 0);
  v0.header["v"] = 0;
  CHECK(send(ho, a.key, v0).error() == "version");
}

TEST_CASE("service kinds: an unknown kind naming its terminal's shift is taken and relayed unchanged") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  const Hash shift = a.open_shift("U1");
  a.record("future_note", future_note(shift));
  a.hours(shift);
  Answer taken = push_v2(ho, a, 1, 3);
  REQUIRE_MESSAGE(taken.type() == "sync", taken.text());
  CHECK(ho.device(a.device()).seq == 3);

  Terminal b;
  enroll(ho, b, "S1", {"U1"});
  Answer pulled = send(ho, b.key, v2(sync_message(b, 0, 0)));
  REQUIRE(pulled.type() == "sync");
  bool relayed = false;
  for (const Bytes& raw : pulled.message.events) relayed = relayed || raw == a.chain[1].bytes;
  CHECK(relayed);
  CHECK(render(pull_all(ho, b).events, {{a.device(), "a"}}).find("a:2 future_note\n") != std::string::npos);
}

TEST_CASE("service kinds: a version 1 request with an unknown kind is refused as version 1 was") {
  HeadOffice ho;
  Terminal a = with_event(ho, "future_note", future_note);
  Answer refused = push(ho, a, 1, 2);
  CHECK(refused.error() == "kind");
  CHECK(says(refused, "kind 'future_note' is not a kind a terminal may write"));
  CHECK(ho.device(a.device()).seq == 0);
}

TEST_CASE("service kinds: an unknown kind without a shift is refused, saying it must name one") {
  HeadOffice ho;
  Terminal a = with_event(ho, "future_note", {{"note", "no shift"}});
  Answer refused = push_v2(ho, a, 1, 2);
  CHECK(refused.error() == "kind");
  CHECK(says(refused, "kind 'future_note' is not known to this server"));
  CHECK(says(refused, "must name its shift"));
  CHECK(ho.device(a.device()).seq == 0);

  Terminal bad_ref = with_event(ho, "future_note", {{"shift", "not a hash"}});
  CHECK(push_v2(ho, bad_ref, 1, 2).error() == "kind");
}

TEST_CASE("service kinds: an unknown kind naming another terminal's shift, or no shift, is refused") {
  HeadOffice ho;
  Terminal other;
  enroll(ho, other, "S1", {"U1"});
  const Hash others = other.open_shift("U1");
  REQUIRE(push_v2(ho, other, 1, 1).type() == "sync");

  Terminal a = with_event(ho, "future_note", future_note(others));
  Answer foreign = push_v2(ho, a, 1, 2);
  CHECK(foreign.error() == "invalid");
  CHECK(says(foreign, "was opened by another terminal"));

  Terminal b;
  enroll(ho, b, "S1", {"U1"});
  const Hash shift = b.open_shift("U1");
  const Hash hours = b.hours(shift);
  b.record("future_note", future_note(hours));
  Answer not_shift = push_v2(ho, b, 1, 3);
  CHECK(not_shift.error() == "invalid");
  CHECK(says(not_shift, "is not a shift the server holds"));
  CHECK(ho.device(a.device()).seq == 0);
  CHECK(ho.device(b.device()).seq == 0);
}

TEST_CASE("service kinds: a terminal's head-office kind stays refused, whatever it names") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  const Hash shift = a.open_shift("U1");
  a.record("resolution", {{"shift", hash_ref(shift)}, {"fork", hash_ref(shift)}, {"winner", hash_ref(shift)},
                          {"losers", Json::array()}, {"reason", "the terminal decides"}});
  Answer refused = push_v2(ho, a, 1, 2);
  CHECK(refused.error() == "kind");
  CHECK(says(refused, "kind 'resolution' is written only by head office"));
  CHECK(ho.device(a.device()).seq == 0);
}

TEST_CASE("service kinds: an event whose kind is no kind name does not even decode") {
  HeadOffice ho;
  Terminal a = with_event(ho, "future_note", future_note);
  Message m = v2(sync_message(a, 1, 2));
  Bytes& raw = m.events[1];
  const std::string kind = "future_note";
  auto at = std::search(raw.begin(), raw.end(), kind.begin(), kind.end());
  REQUIRE(at != raw.end());
  *at = 'F';  // "Future_note": upper case is not allowed in a kind
  Answer refused = send(ho, a.key, m);
  CHECK(refused.error() == "malformed");
  CHECK(says(refused, "kind"));
  CHECK(ho.device(a.device()).seq == 0);
}

// ---- a real terminal store, over the service in this process ---------------------------------

class InProcess final : public client::Transport {
 public:
  explicit InProcess(Service& s) : service_(s) {}
  Result<client::HttpReply> get(const std::string& path) override {
    REQUIRE(path == "/v1/hello");
    Reply r = service_.hello();
    return client::HttpReply{r.http_status, r.body, {}};
  }
  Result<client::HttpReply> post(const std::string& path, ByteView body) override {
    Reply r = path == "/v1/enroll" ? service_.enroll(body, kPeer) : service_.sync(body, kPeer);
    return client::HttpReply{r.http_status, std::move(r.body), {}};
  }
  const std::string& url() const override { return url_; }

 private:
  Service& service_;
  std::string url_ = "http://in-process.test";
};

// What list and shift list show: the derived tables, rendered.
std::string derived(const client::Store& store) {
  auto entries = store.list_entries(client::ListFilter{});
  auto shifts = store.list_shifts(false);
  REQUIRE_MESSAGE(entries.is_ok(), entries.status().to_string());
  REQUIRE_MESSAGE(shifts.is_ok(), shifts.status().to_string());
  return entries->dump() + "\n" + shifts->dump();
}

TEST_CASE("service kinds: another terminal pulls an unknown kind, keeps it unapplied, verifies and rebuilds") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  const Hash shift = a.open_shift("U1");
  a.hours(shift);
  a.record("future_note", future_note(shift));
  REQUIRE(push_v2(ho, a, 1, 3).type() == "sync");

  testing::Terminal b;
  InProcess link(*ho.service);
  client::EnrollReport enrolled;
  Status e = client::enroll(*b.store, link, ho.code("S1", {"U1"}), enrolled);
  REQUIRE_MESSAGE(e.is_ok(), e.to_string());
  client::SyncReport report;
  Status s = client::sync(*b.store, link, b.clock, report);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  CHECK(testing::query_int(b.store_dir() + "/terminal.db",
                           "SELECT count(*) FROM events WHERE kind = 'future_note'") == 1);
  const std::string before = derived(*b.store);
  CHECK(before.find("future_note") == std::string::npos);
  CHECK(before.find("\"hours\"") != std::string::npos);  // a's hours, applied beside the unknown kind
  auto verified = b.store->verify();
  REQUIRE(verified.is_ok());
  CHECK_MESSAGE(verified->problem.is_ok(), verified->problem.to_string());
  REQUIRE(b.store->rebuild_derived().is_ok());
  CHECK(derived(*b.store) == before);
}

}  // namespace
}  // namespace shiftbook::service_world
