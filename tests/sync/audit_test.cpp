// The audit export's verification (audit.h, docs/AUDIT.md): a clean export verifies and gives the
// reports; every kind of tampering an auditor must catch is reported as a problem, not skipped.
#include "shiftbook/audit.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "shiftbook/kinds.h"

using namespace shiftbook;

namespace {

constexpr std::int64_t kBaseMs = 1'763'600'000'000;

// A keyed chain: events sealed with real hashes, pushed in batches with the device's signed head
// and the server's receipt, each line as the export writes it.
struct Writer {
  DeviceKey server = DeviceKey::generate();
  DeviceKey signer = derive_site_signer(server, "S1");
  DeviceKey terminal = DeviceKey::generate();
  std::vector<Json> lines;
  std::uint64_t pos = 0;
  struct ChainState {
    std::uint64_t seq = 0;
    Hash last{};
    std::uint64_t first_pos = 0;
  };
  std::map<PublicKey, ChainState> chains;

  Writer() {
    lines.push_back(audit_header_line(server.public_key(), kBaseMs));
    lines.push_back(audit_site_line(
        AuditSite{"S1", signer.public_key(), sign_delegation(server, "S1", signer.public_key()).signature}));
    lines.push_back(audit_device_line(AuditDevice{terminal.public_key(), "S1", {"U1"}, kBaseMs, 0}));
  }
  Event add(const DeviceKey& key, const std::string& kind, Json body) {
    ChainState& c = chains[key.public_key()];
    Event e;
    e.device = key.public_key();
    e.seq = ++c.seq;
    e.hlc = static_cast<std::uint64_t>(kBaseMs + static_cast<std::int64_t>(e.seq) * 1000) << 16;
    e.prev = c.last;
    e.author = &key == &signer ? "head-office" : "L1";
    e.kind = kind;
    e.body = std::move(body);
    auto sealed = seal_event(std::move(e));
    REQUIRE_MESSAGE(sealed.is_ok(), sealed.status().to_string());
    c.last = sealed->event.hash;
    if (c.first_pos == 0) c.first_pos = pos + 1;
    lines.push_back(audit_event_line(++pos, sealed->bytes));
    return sealed->event;
  }
  void push(const DeviceKey& key, std::int64_t server_ms = kBaseMs + 60'000) {
    ChainState& c = chains[key.public_key()];
    AuditPush p;
    p.device = key.public_key();
    p.first_pos = c.first_pos;
    p.last_pos = pos;
    p.head = sign_head(key, c.seq, c.last);
    p.receipt = sign_receipt(server, key.public_key(), c.seq, c.last, server_ms);
    lines.push_back(audit_push_line(p));
    c.first_pos = 0;
  }
  // Head office's plan and a day of the terminal's work: output 620 against a quota of 500.
  Event shift;
  void plan_and_work() {
    add(signer, "ref_period", {{"id", "2026-11"}, {"start", "2026-11-01"}, {"end", "2026-11-30"}});
    add(signer, "ref_quota", {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 500}, {"version", 1}});
    add(signer, "ref_rules", {{"version", 1}, {"from", "2026-01-01"}, {"pool_share_permille", 750},
                              {"special_weight_permille", 500}, {"skill_points", 100}, {"innovation_points", 0}});
    push(signer);
    shift = add(terminal, "shift_open", {{"unit", "U1"}, {"date", "2026-11-20"}});
    add(terminal, "hours", {{"shift", hash_ref(shift.hash)}, {"worker", "W1"}, {"start", 360}, {"end", 840}, {"special", false}});
    add(terminal, "output", {{"shift", hash_ref(shift.hash)}, {"product", "P1"}, {"quantity", 620}});
    push(terminal);
  }
  AuditResult verify(const PublicKey& key) const {
    AuditVerifier v(key);
    for (const Json& l : lines) {
      Status s = v.line(l.dump());
      REQUIRE_MESSAGE(s.is_ok(), s.to_string());
    }
    return v.finish();
  }
  AuditResult verify() const { return verify(server.public_key()); }
};

bool has_problem(const AuditResult& r, const std::string& text) {
  for (const std::string& p : r.problems) {
    if (p.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("audit: a clean export verifies and gives the returns and shares from its raw events") {
  Writer w;
  w.plan_and_work();
  AuditResult r = w.verify();
  CHECK_MESSAGE(r.ok(), (r.problems.empty() ? "" : r.problems.front()));
  CHECK(r.events == 6);
  CHECK(r.pushes == 2);
  CHECK(r.receipts == 2);
  CHECK(r.chains == 2);
  REQUIRE(r.returns.at("S1").size() == 1);
  CHECK(r.returns.at("S1")[0].actual == 620);
  CHECK(r.returns.at("S1")[0].surplus == 120);
  REQUIRE(r.reports.at("S1").size() == 1);
  REQUIRE(r.reports.at("S1")[0].shares);
  CHECK(r.reports.at("S1")[0].shares->products[0].pool == 90);
  CHECK(r.reports.at("S1")[0].shares->products[0].lines[0].share == 90);
}

TEST_CASE("audit: an approval is checked against the events held when it was written") {
  Writer w;
  w.plan_and_work();
  UnitFigures right;
  right.rule_version = 1;
  right.products = {{"P1", 500, 1, 620}};
  right.workers = {{"W1", 480, 0, 0, 0, 1000}};
  w.add(w.signer, "period_approval", approval_body("U1", "2026-11", right));
  UnitFigures inflated = right;
  inflated.products[0].actual = 700;  // a false return
  w.add(w.signer, "period_reopen", {{"unit", "U1"}, {"period", "2026-11"}, {"reason", "recount"}});
  w.add(w.signer, "period_approval", approval_body("U1", "2026-11", inflated));
  w.push(w.signer);
  AuditResult r = w.verify();
  REQUIRE(r.approvals.size() == 2);
  CHECK(r.approvals[0].matches);
  CHECK_FALSE(r.approvals[1].matches);
  REQUIRE(r.approvals[1].differences.size() == 1);
  CHECK(r.approvals[1].differences[0] == "P1 actual: approved 700, events give 620");
  CHECK(r.problem_count == 1);
  CHECK(has_problem(r, "the approval of unit U1's period 2026-11 (signer seq 6) does not match"));
}

TEST_CASE("audit: a changed event, a forged head, a forged receipt and unsigned events are problems") {
  SUBCASE("an event's body changed in the file") {
    Writer w;
    w.plan_and_work();
    // The output line (second to last) with 620 made 920: its hash changes, so the head no longer
    // names it.
    Json& line = w.lines[w.lines.size() - 2];
    auto raw = from_hex(line["raw"].get<std::string>());
    REQUIRE(raw.is_ok());
    Event e = *decode_event(*raw);
    e.body["quantity"] = 920;
    line["raw"] = to_hex(seal_event(std::move(e))->bytes);
    AuditResult r = w.verify();
    CHECK_FALSE(r.ok());
    CHECK(has_problem(r, "the signed head is not at the chain's last event"));
  }
  SUBCASE("an event removed") {
    Writer w;
    w.plan_and_work();
    w.lines.erase(w.lines.end() - 3);  // the hours
    AuditResult r = w.verify();
    CHECK(has_problem(r, "does not link to the chain held"));
  }
  SUBCASE("a head signed by another key") {
    Writer w;
    w.plan_and_work();
    Json& push = w.lines.back();
    DeviceKey other = DeviceKey::generate();
    push["head_sig"] = to_hex(sign_head(other, push["seq"].get<std::uint64_t>(),
                                        *array_from_hex<32>(push["hash"].get<std::string>())).signature);
    CHECK(has_problem(w.verify(), "the device's signature of its head does not verify"));
  }
  SUBCASE("a receipt not signed by the server") {
    Writer w;
    w.plan_and_work();
    Json& push = w.lines.back();
    push["receipt_ms"] = push["receipt_ms"].get<std::int64_t>() + 1;
    CHECK(has_problem(w.verify(), "the server's receipt does not verify"));
  }
  SUBCASE("events after the last signed head") {
    Writer w;
    w.plan_and_work();
    w.add(w.terminal, "output", {{"shift", hash_ref(w.shift.hash)}, {"product", "P1"}, {"quantity", 1}});
    CHECK(has_problem(w.verify(), "are under no signed head"));
  }
  SUBCASE("a site signer the server never delegated") {
    Writer w;
    DeviceKey rogue = DeviceKey::generate();
    w.lines[1] = audit_site_line(AuditSite{"S1", rogue.public_key(), sign_delegation(rogue, "S1", rogue.public_key()).signature});
    AuditVerifier v(w.server.public_key());
    REQUIRE(v.line(w.lines[0].dump()).is_ok());
    REQUIRE(v.line(w.lines[1].dump()).is_ok());
    REQUIRE(v.line(w.lines[2].dump()).is_ok());
    AuditResult r = v.finish();
    CHECK(has_problem(r, "the server's delegation to signer"));
    CHECK(has_problem(r, "which the export does not vouch for"));
  }
}

TEST_CASE("audit: another server's key, or a file that is no export, stops the audit with a clear message") {
  Writer w;
  w.plan_and_work();
  DeviceKey other = DeviceKey::generate();
  AuditVerifier v(other.public_key());
  Status s = v.line(w.lines[0].dump());
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK(s.message().find("not of the server key given") != std::string::npos);

  AuditVerifier fresh(w.server.public_key());
  Status not_json = fresh.line("hello");
  CHECK(not_json.code() == Code::kInvalidArgument);
  CHECK(not_json.message() == "line 1: not a JSON object; is this an audit export?");
  AuditVerifier wrong_format(w.server.public_key());
  CHECK(wrong_format.line(R"({"format":"shiftbook-payroll/1"})").message().find("not an audit export") != std::string::npos);
  AuditVerifier bad_line(w.server.public_key());
  REQUIRE(bad_line.line(w.lines[0].dump()).is_ok());
  CHECK(bad_line.line(R"({"type":"event","pos":1})").message() == "line 2: event: field 'raw' is missing or not text");
  CHECK(bad_line.line(R"({"type":"party"})").message() ==
        "line 3: unknown line type 'party' (site, device, event or push)");
}
