// Service::ledger and Service::resolve over a real store: a site's ledger holds its own
// terminals' events and its signer's, each terminal event with the time its push was
// acknowledged; a revoked terminal's delivered events still count and its quarantine never does;
// a resolution is appended to the site signer's chain and decides the fork.
#include <doctest/doctest.h>

#include "service_world.h"
#include "shiftbook/ledger.h"

using namespace shiftbook;
using namespace shiftbook::service_world;

namespace {

server::SiteLedger ledger_of(HeadOffice& ho, const std::string& site) {
  auto l = ho.service->ledger(site);
  REQUIRE_MESSAGE(l.is_ok(), l.status().to_string());
  return std::move(*l);
}

Hash hours_of(Terminal& t, const Hash& shift, const std::string& worker, int start, int end) {
  return t.record("hours", {{"shift", hash_ref(shift)}, {"worker", worker}, {"start", start}, {"end", end},
                            {"special", false}});
}

}  // namespace

TEST_CASE("service ledger: a site's own terminals and signer, acknowledged times, revoked terminals' deliveries") {
  HeadOffice ho;
  Terminal a, c;
  const PublicKey s1_signer = enroll(ho, a, "S1", {"U1"});
  enroll(ho, c, "S2", {"U9"});
  const Hash shift = a.open_shift("U1");
  const Hash counted = hours_of(a, shift, "W1", 480, 540);
  REQUIRE(push(ho, a, 1, 2).type() == "sync");
  const Hash c_shift = c.open_shift("U9");
  hours_of(c, c_shift, "W9", 480, 600);
  REQUIRE(push(ho, c, 1, 2).type() == "sync");

  auto sites = ho.service->sites();
  REQUIRE(sites.is_ok());
  CHECK(*sites == std::vector<std::string>{"S1", "S2"});
  CHECK(ho.service->ledger("S9").status().code() == Code::kNotFound);

  server::SiteLedger s1 = ledger_of(ho, "S1");
  CHECK(s1.ledger.signer() == s1_signer);
  REQUIRE(s1.devices.size() == 1);
  CHECK(s1.devices[0].key == a.device());
  const Totals before = s1.ledger.totals();
  REQUIRE(before.workers.size() == 1);
  CHECK(before.workers.begin()->first == WorkerKey{"W1", "U1", "2026-11"});
  CHECK(before.workers.begin()->second.minutes == 60);
  const AnomalyFacts facts = s1.ledger.anomaly_facts({});
  CHECK(facts.claims.size() == 2);
  for (const EventClockFact& claim : facts.claims) CHECK(claim.before_ms == ho.device(a.device()).last_sync_ms);
  CHECK_FALSE(facts.periods.empty());
  CHECK_FALSE(facts.quotas.empty());
  CHECK(ledger_of(ho, "S2").ledger.totals().workers.begin()->first == WorkerKey{"W9", "U9", "2026-11"});

  // Revoked: what it delivered still counts; what it sends now is quarantined and never counts.
  REQUIRE(ho.service->revoke_device(a.device(), "stolen").is_ok());
  hours_of(a, shift, "W2", 600, 700);
  REQUIRE(push(ho, a, 3, 3).type() == "revoked");
  server::SiteLedger after = ledger_of(ho, "S1");
  CHECK(after.ledger.totals() == before);
  CHECK(after.ledger.entries().contains(counted));
}

TEST_CASE("service ledger: resolve appends to the site signer's chain and the ledger follows it") {
  HeadOffice ho;
  Terminal a, b;
  enroll(ho, a, "S1", {"U1"});
  enroll(ho, b, "S1", {"U1"});
  const Hash shift = a.open_shift("U1");
  const Hash root = hours_of(a, shift, "W1", 480, 960);
  const Hash mine = a.record("correction", {{"target", hash_ref(root)}, {"reason", "left early"},
                                            {"entry", {{"shift", hash_ref(shift)}, {"worker", "W1"}, {"start", 480},
                                                       {"end", 900}, {"special", false}}}});
  REQUIRE(push(ho, a, 1, 2).type() == "sync");
  const Hash theirs = b.record("correction", {{"target", hash_ref(root)}, {"reason", "stayed late"},
                                              {"entry", {{"shift", hash_ref(shift)}, {"worker", "W1"},
                                                         {"start", 480}, {"end", 990}, {"special", false}}}});
  REQUIRE(push(ho, b, 1, 1).type() == "sync");
  REQUIRE(push(ho, a, 3, 3).type() == "sync");

  std::vector<LedgerConflict> open = ledger_of(ho, "S1").ledger.conflicts();
  REQUIRE(open.size() == 1);
  CHECK(open[0].conflict.children.size() == 2);
  CHECK_FALSE(open[0].conflict.resolved);
  CHECK(ho.service->resolve("S2", to_hex(root), to_hex(mine), "x").status().code() == Code::kNotFound);
  CHECK(ho.service->resolve("", to_hex(root), to_hex(root), "x").status().code() == Code::kInvalidArgument);
  CHECK(ho.service->resolve("", to_hex(root), to_hex(mine), "a\nb").status().code() == Code::kInvalidArgument);
  CHECK(ledger_of(ho, "S1").ledger.conflicts() == open);

  const std::string other = to_hex(mine == open[0].conflict.winner ? theirs : mine);
  auto r = ho.service->resolve("", to_hex(root).substr(0, 8), other.substr(0, 9), "checked with the worker");
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  CHECK(r->site == "S1");
  CHECK(r->unit == "U1");
  CHECK(r->root == root);
  CHECK(to_hex(r->winner) == other);
  REQUIRE(r->losers.size() == 1);
  CHECK(r->losers[0] == open[0].conflict.winner);

  server::SiteLedger s1 = ledger_of(ho, "S1");
  auto src = s1.ledger.source(r->event);
  REQUIRE(src);
  CHECK(src->device == s1.ledger.signer());
  CHECK(src->seq == r->signer_seq);
  CHECK(src->kind == "resolution");
  std::vector<LedgerConflict> resolved = s1.ledger.conflicts();
  REQUIRE(resolved.size() == 1);
  CHECK(to_hex(resolved[0].conflict.winner) == other);
  CHECK(resolved[0].conflict.resolved);
  CHECK(resolved[0].conflict.resolution == r->event);
}
