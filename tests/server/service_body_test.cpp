// Pushed bodies through Service: the server checks most of them on their bytes (body_scan.h) and
// builds only shift_opens and corrections, so each kind's refusals are pushed here and must come
// back as invalid with validate_body's own message, nothing stored; and a correction of an entry
// pushed earlier in the same push is checked against that entry's body.
#include <doctest/doctest.h>

#include <string>

#include "service_world.h"

namespace {

using namespace shiftbook::service_world;

// Pushes `body` of `kind` as event 2, after a shift of U1; "stored", or "<code>: <message>" with
// the event's name left out. The terminal forgets the event either way.
std::string push_body(HeadOffice& ho, Terminal& a, const std::string& kind, Json body) {
  a.record(kind, std::move(body));
  Answer r = push(ho, a, a.chain.size(), a.chain.size());
  a.chain.pop_back();
  if (r.type() == "sync") return "stored";
  const std::string text = r.text();
  return r.error() + ": " + text.substr(text.find(": ") + 2);
}

// The message validate_body gives for the same body, as the server words a refusal.
std::string expected(const std::string& kind, const Json& body) {
  Status s = validate_body(kind, body);
  return s.is_ok() ? "stored" : "invalid: " + s.message();
}

}  // namespace

TEST_CASE("service: pushed bodies of every kind checked on their bytes are refused with validate_body's message") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  const Hash shift = a.open_shift("U1");
  REQUIRE(push(ho, a, 1, 1).type() == "sync");
  const std::string ref = hash_ref(shift);
  const Json output = {{"shift", ref}, {"product", "P1"}, {"quantity", 5}};
  struct Pushed {
    std::string kind;
    Json body;
  };
  const Pushed bad_bodies[] = {
      {"output", {{"shift", ref}, {"product", "P1"}, {"quantity", 0}}},
      {"output", {{"shift", ref}, {"product", " P1"}, {"quantity", 5}}},
      {"output", {{"shift", ref}, {"product", "P1"}, {"quantity", 5}, {"colour", "red"}}},
      {"output", {{"shift", ref}, {"product", "P1"}, {"quantity", 5}, {"quota_version", 0}}},
      {"hours", {{"shift", ref}, {"worker", "W1"}, {"start", 600}, {"end", 540}, {"special", false}}},
      {"hours", {{"shift", ref}, {"worker", "W1"}, {"start", 600}, {"end", 700}, {"special", 1}}},
      {"bonus", {{"shift", ref}, {"worker", "W1"}, {"type", "overtime"}}},
      {"bonus", {{"shift", ref}, {"worker", "W1"}, {"type", "innovation"}, {"note", ""}}},
      {"shift_close", {{"shift", std::string(64, 'C')}}},
      {"void", {{"target", ref}, {"reason", std::string(501, 'r')}}},
      {"confirm", {{"entry", ref}}},
  };
  for (const Pushed& p : bad_bodies) {
    CAPTURE(p.body.dump());
    const std::string want = expected(p.kind, p.body);
    REQUIRE(want != "stored");
    CHECK(push_body(ho, a, p.kind, p.body) == want);
  }
  CHECK(ho.device(a.device()).seq == 1);
  CHECK(push_body(ho, a, "output", output) == "stored");
  CHECK(ho.device(a.device()).seq == 2);
}

TEST_CASE("service: a correction of an entry pushed earlier in the same push is checked against its body") {
  HeadOffice ho;
  Terminal a;
  enroll(ho, a, "S1", {"U1"});
  const Hash shift = a.open_shift("U1");
  Json output = {{"shift", hash_ref(shift)}, {"product", "P1"}, {"quantity", 5}};
  const Hash entry = a.record("output", output);
  Json moved = output;
  moved["product"] = "P2";
  a.record("correction", {{"target", hash_ref(entry)}, {"reason", "fix"}, {"entry", moved}});
  Answer refused = push(ho, a, 1, 3);
  CHECK(refused.error() == "invalid");
  CHECK(refused.text().find("a correction may not change the product of an entry") != std::string::npos);
  CHECK(ho.device(a.device()).seq == 0);
  a.chain.pop_back();
  output["quantity"] = 7;
  a.record("correction", {{"target", hash_ref(entry)}, {"reason", "fix"}, {"entry", output}});
  CHECK(push(ho, a, 1, 3).type() == "sync");
  CHECK(ho.device(a.device()).seq == 3);
}
