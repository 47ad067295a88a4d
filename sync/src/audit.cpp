// The audit export's lines and their verification (audit.h, docs/AUDIT.md). Problems are
// collected, not fatal: an auditor wants every broken chain and every wrong approval, not the
// first. Only a file that is not an export at all stops the audit.
#include "shiftbook/audit.h"

#include <algorithm>
#include <utility>

#include "shiftbook/bytes.h"
#include "shiftbook/kinds.h"

namespace shiftbook {
namespace {

constexpr std::string_view kApprovalKind = "period_approval";

std::string hex(ByteView b) { return to_hex(b); }

template <std::size_t N>
Result<std::array<std::uint8_t, N>> hex_field(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return invalid_argument(std::string("field '") + name + "' is missing or not text");
  auto v = array_from_hex<N>(it->get<std::string>());
  if (!v.is_ok()) return invalid_argument(std::string("field '") + name + "' is not " + std::to_string(2 * N) + " hex digits");
  return *v;
}

Result<std::uint64_t> u64_field(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned()) {
    return invalid_argument(std::string("field '") + name + "' is missing or not a whole number");
  }
  return it->get<std::uint64_t>();
}

Result<std::int64_t> i64_field(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) {
    return invalid_argument(std::string("field '") + name + "' is missing or not a whole number");
  }
  return it->get<std::int64_t>();
}

Result<std::string> text_field(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return invalid_argument(std::string("field '") + name + "' is missing or not text");
  return it->get<std::string>();
}

// What an approval records against what the events give, field by field.
std::vector<std::string> differences(const UnitFigures& approved, const UnitFigures& events) {
  std::vector<std::string> out;
  auto say = [&](const std::string& what, std::int64_t a, std::int64_t e) {
    if (a != e) out.push_back(what + ": approved " + std::to_string(a) + ", events give " + std::to_string(e));
  };
  say("rule version", approved.rule_version, events.rule_version);
  std::map<std::string, std::pair<const ProductFigures*, const ProductFigures*>> products;
  for (const ProductFigures& p : approved.products) products[p.product].first = &p;
  for (const ProductFigures& p : events.products) products[p.product].second = &p;
  const ProductFigures none_p;
  for (const auto& [id, pair] : products) {
    const ProductFigures& a = pair.first ? *pair.first : none_p;
    const ProductFigures& e = pair.second ? *pair.second : none_p;
    say(id + " actual", a.actual, e.actual);
    say(id + " quota", a.quota, e.quota);
    say(id + " quota version", a.quota_version, e.quota_version);
  }
  std::map<std::string, std::pair<const WorkerFigures*, const WorkerFigures*>> workers;
  for (const WorkerFigures& w : approved.workers) workers[w.worker].first = &w;
  for (const WorkerFigures& w : events.workers) workers[w.worker].second = &w;
  WorkerFigures none_w;
  for (const auto& [id, pair] : workers) {
    const WorkerFigures& a = pair.first ? *pair.first : none_w;
    const WorkerFigures& e = pair.second ? *pair.second : none_w;
    say("worker " + id + " minutes", a.minutes, e.minutes);
    say("worker " + id + " special minutes", a.special_minutes, e.special_minutes);
    say("worker " + id + " skill upgrades", a.skill_upgrades, e.skill_upgrades);
    say("worker " + id + " innovations", a.innovations, e.innovations);
    say("worker " + id + " achievement", a.achievement_permille, e.achievement_permille);
  }
  return out;
}

}  // namespace

Json audit_header_line(const PublicKey& server, std::int64_t exported_ms) {
  return Json{{"format", kAuditFormat}, {"server_key", hex(server)}, {"exported_ms", exported_ms}};
}

Json audit_site_line(const AuditSite& s) {
  return Json{{"type", "site"}, {"site", s.site}, {"signer", hex(s.signer)}, {"delegation", hex(s.delegation)}};
}

Json audit_device_line(const AuditDevice& d) {
  return Json{{"type", "device"}, {"device", hex(d.device)},      {"site", d.site},
              {"units", d.units}, {"enrolled_ms", d.enrolled_ms}, {"revoked_ms", d.revoked_ms}};
}

Json audit_event_line(std::uint64_t pos, ByteView raw) {
  return Json{{"type", "event"}, {"pos", pos}, {"raw", hex(raw)}};
}

Json audit_push_line(const AuditPush& p) {
  Json j{{"type", "push"},          {"device", hex(p.head.device)}, {"first_pos", p.first_pos},
         {"last_pos", p.last_pos},  {"seq", p.head.seq},            {"hash", hex(p.head.hash)},
         {"head_sig", hex(p.head.signature)}};
  if (p.receipt) {
    j["receipt_ms"] = p.receipt->server_ms;
    j["receipt_sig"] = hex(p.receipt->signature);
  }
  return j;
}

void AuditVerifier::problem(std::string what) {
  ++result_.problem_count;
  if (result_.problems.size() < kMaxAuditProblems) result_.problems.push_back(std::move(what));
}

Status AuditVerifier::header(const PublicKey& server) {
  if (header_seen_) return invalid_argument("a second header");
  header_seen_ = true;
  if (server != server_) {
    return failed_precondition("the export is of server " + short_device(server) + ", not of the server key given (" +
                               short_device(server_) + "); check the key you were given");
  }
  return Status::ok();
}

void AuditVerifier::site(const AuditSite& s) {
  Delegation d{s.site, s.signer, s.delegation};
  if (!verify_delegation(server_, d)) {
    problem("site " + s.site + ": the server's delegation to signer " + short_device(s.signer) +
            " does not verify; nothing that signer wrote can be trusted");
    return;
  }
  ledgers_.emplace(s.site, Ledger(s.signer));
  Chain& c = chains_[s.signer];
  c.site = s.site;
  c.signer = true;
}

void AuditVerifier::device(const AuditDevice& d) {
  if (!ledgers_.contains(d.site)) {
    problem("device " + short_device(d.device) + " belongs to site " + d.site + ", which the export does not vouch for");
    return;
  }
  Chain& c = chains_[d.device];
  c.site = d.site;
}

AuditVerifier::Chain* AuditVerifier::chain_of(const PublicKey& device) {
  auto it = chains_.find(device);
  return it == chains_.end() ? nullptr : &it->second;
}

// An approval must record the figures the events held before it give (RETURNS.md, "Approval").
void AuditVerifier::check_approval(const std::string& site, Ledger& ledger, const Event& e) {
  AuditApproval a;
  a.site = site;
  a.unit = e.body.value("unit", std::string());
  a.period = e.body.value("period", std::string());
  a.signer_seq = e.seq;
  a.event = e.hash;
  auto approved = figures_of_approval(e.body);
  std::optional<UnitPeriodReport> r = ledger.report(a.unit, a.period, false);
  if (!approved.is_ok()) {
    a.differences.push_back(approved.status().message());
  } else if (!r) {
    a.differences.push_back("period " + a.period + " is not defined before the approval");
  } else {
    a.differences = differences(*approved, r->computed);
  }
  a.matches = a.differences.empty();
  if (!a.matches) {
    problem("site " + site + ": the approval of unit " + a.unit + "'s period " + a.period + " (signer seq " +
            std::to_string(e.seq) + ") does not match the events held when it was written: " + a.differences.front() +
            (a.differences.size() > 1 ? " (and " + std::to_string(a.differences.size() - 1) + " more)" : ""));
  }
  result_.approvals.push_back(std::move(a));
}

void AuditVerifier::event(std::uint64_t pos, ByteView raw) {
  ++result_.events;
  if (pos <= last_pos_) {
    problem("event at position " + std::to_string(pos) + " comes after position " + std::to_string(last_pos_) +
            "; the export is out of order");
  }
  last_pos_ = std::max(last_pos_, pos);
  auto decoded = decode_event(raw);
  if (!decoded.is_ok()) {
    problem("event at position " + std::to_string(pos) + " does not decode: " + decoded.status().message());
    return;
  }
  const Event& e = *decoded;
  Chain* c = chain_of(e.device);
  if (c == nullptr) {
    problem(event_name(e.device, e.seq) + " is of a device the export does not list");
    return;
  }
  if (e.seq != c->seq + 1 || e.prev != (e.seq == 1 ? Hash{} : c->hash)) {
    problem(event_name(e.device, e.seq) + " does not link to the chain held (its last event is seq " +
            std::to_string(c->seq) + "); events are missing or were changed");
  }
  c->seq = e.seq;
  c->hash = e.hash;
  c->last_pos = pos;
  Ledger& ledger = ledgers_.at(c->site);
  if (c->signer && e.kind == kApprovalKind) check_approval(c->site, ledger, e);
  if (Status added = ledger.add(e); !added.is_ok()) {
    problem(event_name(e.device, e.seq) + " cannot be merged: " + added.message());
  }
  if (!c->signer) c->unacknowledged.push_back(e.hash);
}

void AuditVerifier::push(const AuditPush& p) {
  ++result_.pushes;
  const std::string what = "the push of " + short_device(p.head.device) + " ending at seq " + std::to_string(p.head.seq);
  Chain* c = chain_of(p.head.device);
  if (c == nullptr) {
    problem(what + " is of a device the export does not list");
    return;
  }
  if (!verify_head(p.head)) {
    problem(what + ": the device's signature of its head does not verify");
  } else if (p.head.seq != c->seq || p.head.hash != c->hash || p.last_pos != c->last_pos) {
    problem(what + ": the signed head is not at the chain's last event exported (seq " + std::to_string(c->seq) + ")");
  } else {
    c->pushed_seq = c->seq;
  }
  if (p.receipt) {
    ++result_.receipts;
    if (!verify_receipt(server_, *p.receipt) || p.receipt->seq != p.head.seq || p.receipt->hash != p.head.hash ||
        p.receipt->device != p.head.device) {
      problem(what + ": the server's receipt does not verify");
    } else if (!c->signer) {
      Ledger& ledger = ledgers_.at(c->site);
      for (const Hash& h : c->unacknowledged) ledger.set_acknowledged(h, p.receipt->server_ms);
    }
  }
  c->unacknowledged.clear();
}

Status AuditVerifier::line(std::string_view text) {
  ++line_no_;
  const std::string where = "line " + std::to_string(line_no_) + ": ";
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument(where + "not a JSON object; is this an audit export?");
  if (!header_seen_) {
    if (j.value("format", std::string()) != kAuditFormat) {
      return invalid_argument(where + "not an audit export (its first line must carry \"format\": \"" +
                              std::string(kAuditFormat) + "\")");
    }
    auto server = hex_field<32>(j, "server_key");
    if (!server.is_ok()) return server.status().with_context(where);
    return header(*server).with_context(where);
  }
  const std::string type = j.value("type", std::string());
  auto fail = [&](const Status& s) { return s.with_context(where + type + ": "); };
  if (type == "event") {
    auto pos = u64_field(j, "pos");
    auto raw = text_field(j, "raw");
    if (!pos.is_ok()) return fail(pos.status());
    if (!raw.is_ok()) return fail(raw.status());
    auto bytes = from_hex(*raw);
    if (!bytes.is_ok()) return fail(invalid_argument("field 'raw' is not hex"));
    event(*pos, *bytes);
    return Status::ok();
  }
  if (type == "push") {
    AuditPush p;
    auto device = hex_field<32>(j, "device");
    auto hash = hex_field<32>(j, "hash");
    auto sig = hex_field<64>(j, "head_sig");
    auto seq = u64_field(j, "seq");
    auto first = u64_field(j, "first_pos");
    auto last = u64_field(j, "last_pos");
    for (const Status& s : {device.status(), hash.status(), sig.status(), seq.status(), first.status(), last.status()}) {
      if (!s.is_ok()) return fail(s);
    }
    p.head = SignedHead{*device, *seq, *hash, *sig};
    p.first_pos = *first;
    p.last_pos = *last;
    if (j.contains("receipt_sig")) {
      auto ms = i64_field(j, "receipt_ms");
      auto rsig = hex_field<64>(j, "receipt_sig");
      if (!ms.is_ok()) return fail(ms.status());
      if (!rsig.is_ok()) return fail(rsig.status());
      p.receipt = Receipt{*device, *seq, *hash, *ms, *rsig};
    }
    push(p);
    return Status::ok();
  }
  if (type == "site") {
    auto name = text_field(j, "site");
    auto signer = hex_field<32>(j, "signer");
    auto sig = hex_field<64>(j, "delegation");
    if (!name.is_ok()) return fail(name.status());
    if (!signer.is_ok()) return fail(signer.status());
    if (!sig.is_ok()) return fail(sig.status());
    site(AuditSite{*name, *signer, *sig});
    return Status::ok();
  }
  if (type == "device") {
    AuditDevice d;
    auto key = hex_field<32>(j, "device");
    auto name = text_field(j, "site");
    auto enrolled = i64_field(j, "enrolled_ms");
    auto revoked = i64_field(j, "revoked_ms");
    if (!key.is_ok()) return fail(key.status());
    if (!name.is_ok()) return fail(name.status());
    if (!enrolled.is_ok()) return fail(enrolled.status());
    if (!revoked.is_ok()) return fail(revoked.status());
    auto units = j.find("units");
    if (units == j.end() || !units->is_array()) return fail(invalid_argument("field 'units' is missing or not a list"));
    for (const Json& u : *units) {
      if (!u.is_string()) return fail(invalid_argument("field 'units' must hold unit ids"));
      d.units.push_back(u.get<std::string>());
    }
    d.device = *key;
    d.site = *name;
    d.enrolled_ms = *enrolled;
    d.revoked_ms = *revoked;
    device(d);
    return Status::ok();
  }
  return invalid_argument(where + "unknown line type '" + type + "' (site, device, event or push)");
}

AuditResult AuditVerifier::finish() {
  for (const auto& [key, c] : chains_) {
    if (c.seq == 0) continue;
    ++result_.chains;
    if (c.pushed_seq != c.seq) {
      problem("device " + short_device(key) + ": events " + std::to_string(c.pushed_seq + 1) + " to " +
              std::to_string(c.seq) + " are under no signed head");
    }
  }
  for (auto& [site, ledger] : ledgers_) {
    result_.reports[site] = ledger.reports();
    result_.returns[site] = ledger.returns();
  }
  return std::move(result_);
}

}  // namespace shiftbook
