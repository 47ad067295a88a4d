// The state of one site's log (ledger.h). The merge decides every entry's state; this file only
// places entries (unit, date, worker, period) and adds them up, from ordered containers, so no
// arrival order shows through.
#include "shiftbook/ledger.h"

#include <algorithm>
#include <array>
#include <set>
#include <tuple>
#include <utility>

#include "shiftbook/clock.h"
#include "shiftbook/kinds.h"

namespace shiftbook {
namespace {

constexpr std::string_view kRefPeriod = "ref_period";
constexpr std::string_view kAnomalyNote = "anomaly_note";
constexpr std::string_view kSignalNote = "signal_note";
constexpr std::string_view kRefQuota = "ref_quota";
constexpr std::string_view kRefRules = "ref_rules";
constexpr std::string_view kRefAchievement = "ref_achievement";
constexpr std::string_view kApproval = "period_approval";
constexpr std::string_view kReopen = "period_reopen";
constexpr std::string_view kSkillUpgrade = "skill_upgrade";
constexpr std::string_view kInnovation = "innovation";

std::string text_field(const Json& body, const char* name) {
  auto it = body.find(name);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::int64_t> int_field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

std::vector<Hash> in_order(const std::unordered_set<Hash, HashKey>& hashes) {
  std::vector<Hash> out(hashes.begin(), hashes.end());
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::int64_t> date_field(const Event& e, const char* name) {
  auto day = parse_date(text_field(e.body, name));
  if (!day.is_ok()) return day.status().with_context(event_name(e.device, e.seq) + ": field '" + name + "': ");
  return *day;
}

}  // namespace

Status Ledger::read_reference(const Event& e) {
  if (e.kind == kRefPeriod) {
    const std::string id = text_field(e.body, "id");
    SB_ASSIGN_OR_RETURN(std::int64_t start, date_field(e, "start"));
    SB_ASSIGN_OR_RETURN(std::int64_t end, date_field(e, "end"));
    if (id.empty()) return invalid_argument(event_name(e.device, e.seq) + ": a period without its 'id'");
    Period& p = periods_[id];
    if (p.seq < e.seq) p = Period{e.seq, start, end};
    return Status::ok();
  }
  OutputKey key{text_field(e.body, "unit"), text_field(e.body, "period"), text_field(e.body, "product")};
  const std::optional<std::int64_t> version = int_field(e.body, "version");
  const std::optional<std::int64_t> quantity = int_field(e.body, "quantity");
  if (key.unit.empty() || key.period.empty() || key.product.empty() || !version || !quantity) {
    return invalid_argument(event_name(e.device, e.seq) +
                            ": a quota needs its unit, period, product, quantity and version");
  }
  Quota& q = quotas_[key];
  if (q.seq < e.seq) q = Quota{e.seq, *version, *quantity};
  return Status::ok();
}

// Rule sets, achievement figures, approvals and reopenings: bodies checked whole first, because
// the standalone verifier reads them from an export nobody vouches for.
Status Ledger::read_decision(const Event& e) {
  SB_RETURN_IF_ERROR(validate_head_office_body(e.kind, e.body).with_context(event_name(e.device, e.seq) + ": "));
  const Json& b = e.body;
  if (e.kind == kRefRules) {
    RuleSetRef r;
    r.rules.version = b.at("version").get<std::int64_t>();
    r.rules.pool_share_permille = b.at("pool_share_permille").get<std::int64_t>();
    r.rules.special_weight_permille = b.at("special_weight_permille").get<std::int64_t>();
    r.rules.skill_points = b.at("skill_points").get<std::int64_t>();
    r.rules.innovation_points = b.at("innovation_points").get<std::int64_t>();
    r.from_day = *parse_date(b.at("from").get<std::string>());
    r.signer_seq = e.seq;
    r.event = e.hash;
    auto held = rules_.find(r.rules.version);
    if (held == rules_.end() || held->second.signer_seq < e.seq) rules_[r.rules.version] = r;
    return Status::ok();
  }
  if (e.kind == kRefAchievement) {
    Achievement& a = achievements_[{b.at("worker").get<std::string>(), b.at("period").get<std::string>()}];
    if (a.seq < e.seq) a = Achievement{e.seq, b.at("permille").get<std::int64_t>()};
    return Status::ok();
  }
  PeriodDecision d;
  d.approve = e.kind == kApproval;
  d.signer_seq = e.seq;
  d.event = e.hash;
  d.written_ms = static_cast<std::int64_t>(hlc_ms(e.hlc));
  if (d.approve) {
    SB_ASSIGN_OR_RETURN(d.figures, figures_of_approval(b));
  } else {
    d.reason = b.at("reason").get<std::string>();
  }
  std::vector<PeriodDecision>& list = decisions_[{b.at("unit").get<std::string>(), b.at("period").get<std::string>()}];
  list.insert(std::upper_bound(list.begin(), list.end(), d,
                               [](const PeriodDecision& x, const PeriodDecision& y) { return x.signer_seq < y.signer_seq; }),
              std::move(d));
  return Status::ok();
}

Status Ledger::add(const Event& e) {
  if (events_.contains(e.hash)) return Status::ok();
  const bool from_signer = e.device == signer_;
  if (from_signer && (e.kind == kRefPeriod || e.kind == kRefQuota)) {
    SB_RETURN_IF_ERROR(read_reference(e));
  }
  if (from_signer && (e.kind == kRefRules || e.kind == kRefAchievement || e.kind == kApproval || e.kind == kReopen)) {
    SB_RETURN_IF_ERROR(read_decision(e));
  }
  // An anomaly's decision and a signal's (docs/SIGNALS.md) are kept together: their identifiers
  // never meet, as each begins with its kind.
  if (from_signer && (e.kind == kAnomalyNote || e.kind == kSignalNote)) {
    SB_RETURN_IF_ERROR(validate_head_office_body(e.kind, e.body).with_context(event_name(e.device, e.seq) + ": "));
    const char* field = e.kind == kAnomalyNote ? "anomaly" : "signal";
    AnomalyNote note{e.body.at(field).get<std::string>(), e.body.at("reason").get<std::string>(), e.seq, e.hash,
                     static_cast<std::int64_t>(hlc_ms(e.hlc))};
    auto held = notes_.find(note.anomaly);
    if (held == notes_.end() || held->second.signer_seq < note.signer_seq) notes_[note.anomaly] = std::move(note);
  }
  std::optional<Shift> opened;
  if (!from_signer && e.kind == kind::kShiftOpen) {
    const std::string unit = text_field(e.body, "unit");
    if (unit.empty()) return invalid_argument(event_name(e.device, e.seq) + ": a shift_open without its 'unit'");
    SB_ASSIGN_OR_RETURN(std::int64_t day, date_field(e, "date"));
    opened = Shift{unit, day};
  }
  SB_RETURN_IF_ERROR(merge_.add(e));
  if (from_signer && e.kind == kRefPeriod) periods_changed_ = true;
  if (opened) {
    shifts_.emplace(e.hash, *opened);
    // Entries that named this shift before it arrived now have a place.
    auto waiting = roots_by_shift_.find(e.hash);
    if (waiting != roots_by_shift_.end()) {
      misplaced_.insert(waiting->second.begin(), waiting->second.end());
      roots_by_shift_.erase(waiting);
    }
    // The merge read the receipt already, so it is well formed.
    auto receipt = shift_open_receipt(e.body, e.device);
    ShiftOpenMark mark{e.seq, std::nullopt};
    if (receipt.is_ok() && *receipt) mark.receipt_server_ms = (*receipt)->server_ms;
    insert_shift_open(shift_opens_[e.device], mark);
  }
  Seen seen = seen_of(e);
  if (auto early = acknowledged_early_.find(e.hash); early != acknowledged_early_.end()) {
    seen.acknowledged_ms = early->second;
    acknowledged_early_.erase(early);
  }
  events_.emplace(e.hash, seen);
  return Status::ok();
}

Ledger::Seen Ledger::seen_of(const Event& e) {
  auto device = device_ids_.find(e.device);
  if (device == device_ids_.end()) {
    device = device_ids_.emplace(e.device, static_cast<std::uint32_t>(devices_.size())).first;
    devices_.push_back(e.device);
  }
  auto kind = kind_ids_.find(e.kind);
  if (kind == kind_ids_.end()) {
    kind = kind_ids_.emplace(e.kind, static_cast<std::uint32_t>(kinds_.size())).first;
    kinds_.push_back(e.kind);
  }
  Seen seen;
  seen.seq = e.seq;
  seen.hlc = e.hlc;
  seen.device = device->second;
  seen.kind = kind->second;
  return seen;
}

EventSource Ledger::source_of(const Seen& seen) const {
  return EventSource{devices_[seen.device], seen.seq, kinds_[seen.kind]};
}

void Ledger::set_acknowledged(const Hash& event, std::int64_t server_ms) {
  auto seen = events_.find(event);
  if (seen == events_.end()) {
    acknowledged_early_[event] = server_ms;
  } else {
    seen->second.acknowledged_ms = server_ms;
  }
}

std::optional<Ledger::Shift> Ledger::shift_of(const Json& body) const {
  auto ref = parse_hash_ref(text_field(body, "shift"));
  if (!ref.is_ok()) return std::nullopt;
  auto shift = shifts_.find(*ref);
  if (shift == shifts_.end()) return std::nullopt;
  return shift->second;
}

void Ledger::each_entry(const std::function<void(const Hash& root, LedgerEntry& entry)>& fn) const {
  // Where an entry belongs: the shift its current body names (a correction keeps the shift, so it
  // is the root's), or for a confirm the shift of the hours it confirms.
  auto shift_for = [&](const EntryState& s) -> std::optional<Shift> {
    if (s.kind != kind::kConfirm) return shift_of(s.body);
    auto confirmed = parse_hash_ref(text_field(s.body, "entry"));
    if (!confirmed.is_ok()) return std::nullopt;
    std::optional<Hash> hours_root = merge_.root_of(*confirmed);
    if (!hours_root) return std::nullopt;
    auto hours = merge_.state(*hours_root);
    if (!hours.is_ok()) return std::nullopt;
    return shift_of(hours->body);
  };
  for (const Hash& root : merge_.roots()) {
    auto state = merge_.state(root);
    if (!state.is_ok()) continue;  // a root the set holds always has a state
    LedgerEntry entry;
    entry.kind = state->kind;
    entry.worker = text_field(state->body, "worker");
    if (std::optional<Shift> shift = shift_for(*state)) {
      entry.unit = shift->unit;
      entry.day = shift->day;
    }
    entry.state = std::move(*state);
    fn(root, entry);
  }
}

std::map<Hash, LedgerEntry> Ledger::entries() const {
  std::map<Hash, LedgerEntry> out;
  each_entry([&](const Hash& root, LedgerEntry& entry) { out.emplace_hint(out.end(), root, std::move(entry)); });
  return out;
}

std::vector<LedgerConflict> Ledger::conflicts() const {
  std::vector<LedgerConflict> out;
  each_entry([&](const Hash& root, LedgerEntry& entry) {
    for (Conflict& c : entry.state.conflicts) out.push_back(LedgerConflict{root, entry.unit, std::move(c)});
  });
  return out;
}

std::optional<EventSource> Ledger::source(const Hash& event) const {
  auto it = events_.find(event);
  if (it == events_.end()) return std::nullopt;
  return source_of(it->second);
}

std::vector<Hash> Ledger::event_hashes() const {
  std::vector<Hash> out;
  out.reserve(events_.size());
  for (const auto& [hash, seen] : events_) out.push_back(hash);
  std::sort(out.begin(), out.end());
  return out;
}

// As find_stale_quotas reads periods: the last starting on or before the day, if it still runs.
std::string Ledger::period_of(std::int64_t day) const {
  const std::pair<const std::string, Period>* best = nullptr;
  for (const auto& p : periods_) {
    if (p.second.start_day > day) continue;
    if (best == nullptr || std::tie(p.second.start_day, p.first) > std::tie(best->second.start_day, best->first)) {
      best = &p;
    }
  }
  if (best == nullptr || day > best->second.end_day) return std::string();
  return best->first;
}

AnomalyFacts Ledger::anomaly_facts(std::vector<DeviceClockFact> clocks) {
  AnomalyFacts f;
  each_entry([&](const Hash&, LedgerEntry& entry) {
    const EntryState& s = entry.state;
    if (s.is_void || !entry.day) return;
    const std::int64_t base = *entry.day * kMinutesPerDay;
    if (entry.kind == kind::kHours) {
      f.hours.push_back(HoursFact{s.current, entry.worker, *entry.day,
                                  base + int_field(s.body, "start").value_or(0),
                                  base + int_field(s.body, "end").value_or(0)});
    } else if (entry.kind == kind::kOutput) {
      f.outputs.push_back(OutputFact{s.current, entry.unit, text_field(s.body, "product"), *entry.day,
                                     int_field(s.body, "quota_version")});
    }
  });
  for (const auto& [id, p] : periods_) f.periods.push_back(PeriodFact{id, p.start_day, p.end_day});
  for (const auto& [key, q] : quotas_) f.quotas.push_back(QuotaFact{key.unit, key.period, key.product, q.version});
  f.clocks = std::move(clocks);
  f.claims = clock_claims();
  return f;
}

std::vector<EventClockFact> Ledger::clock_claims() const {
  std::vector<EventClockFact> out;
  for (const auto& [hash, seen] : events_) {
    const PublicKey& device = devices_[seen.device];
    if (device == signer_) continue;
    EventClockFact c;
    c.event = hash;
    c.device = device;
    c.seq = seen.seq;
    c.claimed_ms = static_cast<std::int64_t>(hlc_ms(seen.hlc));
    auto marks = shift_opens_.find(c.device);
    if (marks != shift_opens_.end()) c.after_ms = trusted_after_sorted(marks->second, c.seq);
    if (seen.acknowledged_ms != kUnacknowledged) c.before_ms = seen.acknowledged_ms;
    out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [](const EventClockFact& a, const EventClockFact& b) { return a.event < b.event; });
  return out;
}

SignalFacts Ledger::signal_facts(std::vector<DeviceClockFact> clocks, std::vector<DeviceFlagFact> flags) {
  SignalFacts f;
  f.clocks = std::move(clocks);
  f.claims = clock_claims();
  f.flags = std::move(flags);
  // Returns: the figures the reports show, with the output entries counted now as evidence.
  for (const PeriodReturn& r : returns()) {
    auto period = periods_.find(r.key.period);
    if (!r.quota || period == periods_.end()) continue;
    ReturnFact fact{r.key.unit, r.key.period, r.key.product, period->second.start_day, *r.quota, r.actual, {}};
    auto aggregate = aggregates_.find({r.key.unit, r.key.period});
    if (aggregate != aggregates_.end()) {
      auto sources = aggregate->second.product_sources.find(r.key.product);
      if (sources != aggregate->second.product_sources.end()) {
        for (const Hash& root : in_order(sources->second)) fact.outputs.push_back(contributions_.at(root).current);
      }
    }
    f.returns.push_back(std::move(fact));
  }
  // Where each entry belongs (unit, period), for the versions acknowledged after an approval.
  std::map<Hash, UnitPeriod> placed;
  each_entry([&](const Hash& root, LedgerEntry& entry) {
    if (!entry.day || entry.kind == kind::kConfirm) return;
    placed.emplace(root, UnitPeriod{entry.unit, period_of(*entry.day)});
    const EntryState& s = entry.state;
    if (!s.is_void && entry.kind == kind::kHours) {
      f.hours.push_back(UnitHoursFact{s.current, entry.unit, entry.worker, *entry.day,
                                      int_field(s.body, "end").value_or(0) - int_field(s.body, "start").value_or(0)});
    }
    auto seen = events_.find(root);
    if (seen == events_.end() || devices_[seen->second.device] == signer_) return;
    EntryRecordFact record{root, devices_[seen->second.device], seen->second.seq, *entry.day,
                           static_cast<std::int64_t>(hlc_ms(seen->second.hlc))};
    auto marks = shift_opens_.find(record.device);
    if (marks != shift_opens_.end()) {
      if (std::optional<std::int64_t> after = trusted_after_sorted(marks->second, record.seq)) {
        record.recorded_ms = std::max(record.recorded_ms, *after);
      }
    }
    f.records.push_back(record);
  });
  std::map<UnitPeriod, std::size_t> approved;  // -> index in f.approvals
  for (const auto& [key, list] : decisions_) {
    if (list.empty() || !list.back().approve) continue;
    approved.emplace(key, f.approvals.size());
    f.approvals.push_back(ApprovalFact{key.first, key.second, list.back().event, list.back().written_ms, {}});
  }
  if (approved.empty()) return f;
  for (const auto& [hash, seen] : events_) {
    if (devices_[seen.device] == signer_) continue;
    if (seen.acknowledged_ms == kUnacknowledged) continue;
    std::optional<Hash> root = merge_.root_of(hash);
    if (!root) continue;
    auto place = placed.find(*root);
    if (place == placed.end()) continue;
    auto index = approved.find(place->second);
    if (index == approved.end()) continue;
    ApprovalFact& a = f.approvals[index->second];
    if (seen.acknowledged_ms > a.approved_ms) a.changes.push_back(hash);
  }
  for (ApprovalFact& a : f.approvals) std::sort(a.changes.begin(), a.changes.end());
  return f;
}

Totals Ledger::totals() const {
  Totals t;
  each_entry([&](const Hash&, LedgerEntry& entry) {
    const EntryState& s = entry.state;
    if (s.is_void || !entry.day) return;
    const std::string period = period_of(*entry.day);
    if (entry.kind == kind::kHours) {
      WorkerTotal& w = t.workers[WorkerKey{entry.worker, entry.unit, period}];
      const std::int64_t minutes = int_field(s.body, "end").value_or(0) - int_field(s.body, "start").value_or(0);
      w.minutes += minutes;
      auto special = s.body.find("special");
      if (special != s.body.end() && special->is_boolean() && special->get<bool>()) w.special_minutes += minutes;
    } else if (entry.kind == kind::kBonus) {
      ++t.workers[WorkerKey{entry.worker, entry.unit, period}].bonuses[text_field(s.body, "type")];
    } else if (entry.kind == kind::kOutput) {
      t.outputs[OutputKey{entry.unit, period, text_field(s.body, "product")}] += int_field(s.body, "quantity").value_or(0);
    }
  });
  return t;
}

std::vector<PeriodReturn> Ledger::returns() {
  refresh();
  std::map<OutputKey, PeriodReturn> lines;
  for (const auto& [key, a] : aggregates_) {
    for (const auto& [product, actual] : a.actual) lines[OutputKey{key.first, key.second, product}].actual = actual;
  }
  for (const auto& [key, q] : quotas_) {
    PeriodReturn& r = lines[key];
    r.quota = q.quantity;
    r.quota_version = q.version;
  }
  // A unit's period shows what its report shows: the approved figures, or the live ones with the
  // adjustments booked in.
  // The figures alone: a return names no sources.
  for (const UnitPeriodReport& rep : build_reports({}, {}, false)) {
    for (const ProductFigures& p : rep.reported.products) {
      PeriodReturn& r = lines[OutputKey{rep.unit, rep.period, p.product}];
      r.actual = p.actual;
      r.quota.reset();
      r.quota_version.reset();
      if (p.quota_version > 0) {
        r.quota = p.quota;
        r.quota_version = p.quota_version;
      }
      r.approved = rep.approval.has_value();
      for (const Adjustment& a : rep.adjustments_in) {
        auto d = a.actual.find(p.product);
        if (d != a.actual.end()) r.adjustment += d->second;
      }
      if (rep.adjustment_out) {
        auto d = rep.adjustment_out->actual.find(p.product);
        if (d != rep.adjustment_out->actual.end()) r.pending = d->second;
      }
      r.adjusted_into = rep.adjusted_into;
    }
    if (!rep.adjustment_out) continue;
    // A product the approval did not list but that has output now.
    for (const auto& [product, delta] : rep.adjustment_out->actual) {
      PeriodReturn& r = lines[OutputKey{rep.unit, rep.period, product}];
      if (r.approved) continue;
      r.approved = true;
      r.actual = 0;
      r.quota.reset();
      r.quota_version.reset();
      r.pending = delta;
      r.adjusted_into = rep.adjusted_into;
    }
  }
  std::vector<PeriodReturn> out;
  for (auto& [key, r] : lines) {
    r.key = key;
    if (r.quota) {
      r.surplus = std::max<std::int64_t>(0, r.actual - *r.quota);
      // Both are at most 10^12 per entry summed over a period: the product stays far inside 128 bits.
      if (*r.quota > 0) {
        __extension__ using Wide = __int128;
        r.fulfilment_permille = static_cast<std::int64_t>(static_cast<Wide>(r.actual) * 1000 / *r.quota);
      }
    }
    out.push_back(r);
  }
  return out;
}

std::optional<RuleSetRef> Ledger::rules_in_force(std::int64_t day) const {
  const RuleSetRef* best = nullptr;
  for (const auto& [version, r] : rules_) {
    if (r.from_day > day) continue;
    if (best == nullptr || std::tie(r.from_day, version) > std::tie(best->from_day, best->rules.version)) best = &r;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

std::int64_t Ledger::achievement(const std::string& worker, const std::string& period) const {
  auto it = achievements_.find({worker, period});
  return it == achievements_.end() ? 1000 : it->second.permille;
}

namespace {

// A unit's figures in one period while they are gathered: by id, with where each came from.
struct Gathered {
  std::map<std::string, ProductFigures> products;
  std::map<std::string, WorkerFigures> workers;
  std::map<std::string, std::vector<FigureSource>> worker_sources, product_sources;
};

WorkerFigures& worker_in(std::map<std::string, WorkerFigures>& workers, const std::string& id) {
  WorkerFigures& w = workers[id];
  w.worker = id;
  return w;
}

ProductFigures& product_in(std::map<std::string, ProductFigures>& products, const std::string& id) {
  ProductFigures& p = products[id];
  p.product = id;
  return p;
}

// to += sign * d, over the counts an adjustment carries.
void add_counts(WorkerFigures& to, const WorkerFigures& d, std::int64_t sign) {
  to.minutes += sign * d.minutes;
  to.special_minutes += sign * d.special_minutes;
  to.skill_upgrades += sign * d.skill_upgrades;
  to.innovations += sign * d.innovations;
}

bool zero_counts(const WorkerFigures& w) {
  return w.minutes == 0 && w.special_minutes == 0 && w.skill_upgrades == 0 && w.innovations == 0;
}

// What `live` holds beyond `approved`; empty when they agree on everything carried.
Adjustment difference(const std::string& period, const UnitFigures& live, const UnitFigures& approved) {
  Adjustment a;
  a.from_period = period;
  for (const ProductFigures& p : live.products) a.actual[p.product] += p.actual;
  for (const ProductFigures& p : approved.products) a.actual[p.product] -= p.actual;
  std::erase_if(a.actual, [](const auto& kv) { return kv.second == 0; });
  for (const WorkerFigures& w : live.workers) add_counts(worker_in(a.workers, w.worker), w, 1);
  for (const WorkerFigures& w : approved.workers) add_counts(worker_in(a.workers, w.worker), w, -1);
  std::erase_if(a.workers, [](const auto& kv) { return zero_counts(kv.second); });
  for (auto& [id, w] : a.workers) w.achievement_permille = 0;
  return a;
}

// Sharing out reads no figure below 0 (docs/RETURNS.md, "Approval").
std::int64_t at_least_zero(std::int64_t v) { return std::max<std::int64_t>(0, v); }

void share(UnitPeriodReport& r, const std::map<std::int64_t, RuleSetRef>& rules) {
  if (r.reported.rule_version == 0) {
    r.shares_problem = "no rule set is in force for this period; add one with 'rules set'";
    return;
  }
  auto found = rules.find(r.reported.rule_version);
  if (found == rules.end()) {
    r.shares_problem = "rule set version " + std::to_string(r.reported.rule_version) + " is not held";
    return;
  }
  r.rules = found->second;
  std::vector<ProductOutput> products;
  for (const ProductFigures& p : r.reported.products) {
    if (p.quota_version > 0) products.push_back(ProductOutput{p.product, p.quota, at_least_zero(p.actual)});
  }
  std::vector<WorkerInput> workers;
  for (const WorkerFigures& w : r.reported.workers) {
    const std::int64_t minutes = at_least_zero(w.minutes);
    workers.push_back(WorkerInput{w.worker, minutes, std::clamp<std::int64_t>(w.special_minutes, 0, minutes),
                                  at_least_zero(w.skill_upgrades), at_least_zero(w.innovations),
                                  w.achievement_permille});
  }
  auto shares = share_out(found->second.rules, products, workers);
  if (!shares.is_ok()) {
    r.shares_problem = shares.status().message();
    return;
  }
  r.shares = std::move(*shares);
}

}  // namespace

namespace {

// The kinds of entry that count in the figures, as Contribution::kind numbers them.
constexpr std::array<std::string_view, 3> kCounted{kind::kHours, kind::kBonus, kind::kOutput};

}  // namespace

std::uint32_t Ledger::place_of(const UnitPeriod& key) {
  auto held = place_ids_.find(key);
  if (held != place_ids_.end()) return held->second;
  place_ids_.emplace(key, static_cast<std::uint32_t>(places_.size()));
  places_.push_back(key);
  return static_cast<std::uint32_t>(places_.size() - 1);
}

std::optional<Ledger::Contribution> Ledger::contribution_of(const Hash& root, const EntryState& state) {
  if (state.is_void) return std::nullopt;
  auto counted = std::find(kCounted.begin(), kCounted.end(), state.kind);
  if (counted == kCounted.end()) return std::nullopt;
  const std::string_view k = *counted;
  std::optional<Shift> shift;
  if (auto shift_ref = parse_hash_ref(text_field(state.body, "shift")); shift_ref.is_ok()) {
    auto held = shifts_.find(*shift_ref);
    if (held == shifts_.end()) {
      roots_by_shift_[*shift_ref].insert(root);  // placed when the shift arrives
    } else {
      shift = held->second;
    }
  }
  if (!shift) return std::nullopt;
  Contribution c;
  c.place = place_of({shift->unit, period_of(shift->day)});
  c.kind = static_cast<std::uint8_t>(counted - kCounted.begin());
  c.current = state.current;
  if (k == kind::kOutput) {
    c.who = text_field(state.body, "product");
    c.counts.minutes = int_field(state.body, "quantity").value_or(0);
    return c;
  }
  c.who = text_field(state.body, "worker");
  if (k == kind::kHours) {
    c.counts.minutes = int_field(state.body, "end").value_or(0) - int_field(state.body, "start").value_or(0);
    auto special = state.body.find("special");
    if (special != state.body.end() && special->is_boolean() && special->get<bool>()) {
      c.counts.special_minutes = c.counts.minutes;
    }
  } else {
    const std::string type = text_field(state.body, "type");
    if (type == kSkillUpgrade) c.counts.skill_upgrades = 1;
    if (type == kInnovation) c.counts.innovations = 1;
  }
  return c;
}

FigureSource Ledger::source_of(const Hash& root) const {
  const Contribution& c = contributions_.at(root);
  return FigureSource{root, c.current, std::string(kCounted[c.kind])};
}

void Ledger::apply(const Hash& root, const Contribution& c, std::int64_t sign) {
  const UnitPeriod& key = places_[c.place];
  Aggregate& a = aggregates_[key];
  const bool output = kCounted[c.kind] == kind::kOutput;
  std::unordered_set<Hash, HashKey>& sources = output ? a.product_sources[c.who] : a.worker_sources[c.who];
  if (sign > 0) {
    sources.insert(root);
  } else {
    sources.erase(root);
  }
  if (output) {
    a.actual[c.who] += sign * c.counts.minutes;
    if (sources.empty()) {
      a.product_sources.erase(c.who);
      a.actual.erase(c.who);
    }
  } else {
    WorkerFigures& w = worker_in(a.workers, c.who);
    w.minutes += sign * c.counts.minutes;
    w.special_minutes += sign * c.counts.special_minutes;
    w.skill_upgrades += sign * c.counts.skill_upgrades;
    w.innovations += sign * c.counts.innovations;
    if (sources.empty()) {
      a.worker_sources.erase(c.who);
      a.workers.erase(c.who);
    }
  }
  if (a.workers.empty() && a.actual.empty()) aggregates_.erase(key);
}

// Each changed entry's old contribution out, its new one in: the cost follows what changed, not
// the size of the log. A new period moves dates between periods, so then every entry is read again.
// States are computed one at a time, so a full read holds one entry's state, not the log's.
void Ledger::refresh() {
  std::vector<Hash> changed = merge_.take_changed_roots();
  if (periods_changed_) {
    periods_changed_ = false;
    changed = merge_.roots();
  }
  if (!misplaced_.empty()) {
    changed.insert(changed.end(), misplaced_.begin(), misplaced_.end());
    std::sort(changed.begin(), changed.end());
    changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
    misplaced_.clear();
  }
  for (const Hash& root : changed) {
    auto held = contributions_.find(root);
    if (held != contributions_.end()) {
      apply(root, held->second, -1);
      contributions_.erase(held);
    }
    auto state = merge_.state(root);
    if (!state.is_ok()) continue;
    if (std::optional<Contribution> c = contribution_of(root, *state)) {
      apply(root, *c, 1);
      contributions_.emplace(root, std::move(*c));
    }
  }
}

std::vector<UnitPeriodReport> Ledger::reports() { return build_reports({}, {}, true); }

std::vector<UnitPeriodReport> Ledger::period_reports(const std::string& period, bool with_sources) {
  return build_reports({}, period, with_sources);
}

// Every report of `unit` (of every unit when empty) in `period` (every period when empty). A
// unit's earlier periods are computed too, for the adjustments they carry forward; sources are
// copied only for the reports returned, and only when asked for.
std::vector<UnitPeriodReport> Ledger::build_reports(const std::string& unit_filter, const std::string& period_filter,
                                                    bool with_sources) {
  refresh();
  using Key = UnitPeriod;
  auto wanted_unit = [&](const std::string& u) { return unit_filter.empty() || u == unit_filter; };
  auto wanted_period = [&](const std::string& p) { return period_filter.empty() || p == period_filter; };
  std::map<Key, Gathered> gathered;
  for (const auto& [key, a] : aggregates_) {
    if (key.second.empty() || !wanted_unit(key.first)) continue;
    Gathered& g = gathered[key];
    for (const auto& [id, w] : a.workers) g.workers.emplace(id, w);
    for (const auto& [id, actual] : a.actual) product_in(g.products, id).actual = actual;
    if (!with_sources || !wanted_period(key.second)) continue;
    for (const auto& [id, roots] : a.worker_sources) {
      std::vector<FigureSource>& out = g.worker_sources[id];
      for (const Hash& root : in_order(roots)) out.push_back(source_of(root));
    }
    for (const auto& [id, roots] : a.product_sources) {
      std::vector<FigureSource>& out = g.product_sources[id];
      for (const Hash& root : in_order(roots)) out.push_back(source_of(root));
    }
  }
  for (const auto& [key, q] : quotas_) {
    if (periods_.contains(key.period) && wanted_unit(key.unit)) {
      product_in(gathered[{key.unit, key.period}].products, key.product);
    }
  }
  for (const auto& [key, list] : decisions_) {
    if (periods_.contains(key.second) && wanted_unit(key.first)) gathered[key];
  }

  // Each unit's periods in order of their start, so that adjustments move forward.
  std::vector<std::pair<std::int64_t, std::string>> order;
  for (const auto& [id, p] : periods_) order.emplace_back(p.start_day, id);
  std::sort(order.begin(), order.end());
  std::set<std::string> units;
  for (const auto& [key, g] : gathered) units.insert(key.first);

  std::vector<UnitPeriodReport> out;
  for (const std::string& unit : units) {
    std::optional<Adjustment> carry;
    std::vector<std::size_t> waiting;  // reports whose adjustment goes to the next open period
    for (const auto& [start, period] : order) {
      auto g = gathered.find({unit, period});
      if (g == gathered.end() && !carry) continue;
      Gathered empty;
      Gathered& in = g == gathered.end() ? empty : g->second;
      UnitPeriodReport r;
      r.unit = unit;
      r.period = period;
      r.start_day = start;
      r.end_day = periods_.at(period).end_day;
      for (auto& [product, p] : in.products) {
        auto q = quotas_.find(OutputKey{unit, period, product});
        if (q != quotas_.end()) {
          p.quota = q->second.quantity;
          p.quota_version = q->second.version;
        }
      }
      if (carry) {
        for (const auto& [product, delta] : carry->actual) {
          ProductFigures& p = product_in(in.products, product);
          auto q = quotas_.find(OutputKey{unit, period, product});
          if (q != quotas_.end() && p.quota_version == 0) {
            p.quota = q->second.quantity;
            p.quota_version = q->second.version;
          }
          p.actual += delta;
        }
        for (const auto& [worker, d] : carry->workers) add_counts(worker_in(in.workers, worker), d, 1);
        r.adjustments_in.push_back(std::move(*carry));
        carry.reset();
      }
      if (auto rules = rules_in_force(start)) r.computed.rule_version = rules->rules.version;
      for (auto& [id, p] : in.products) r.computed.products.push_back(p);
      for (auto& [id, w] : in.workers) {
        w.achievement_permille = achievement(id, period);
        r.computed.workers.push_back(w);
      }
      r.worker_sources = std::move(in.worker_sources);
      r.product_sources = std::move(in.product_sources);
      auto decided = decisions_.find({unit, period});
      if (decided != decisions_.end()) r.decisions = decided->second;
      if (!r.decisions.empty() && r.decisions.back().approve) r.approval = r.decisions.back();
      if (r.approval) {
        r.reported = r.approval->figures;
        Adjustment out_adj = difference(period, r.computed, r.reported);
        if (!out_adj.empty()) {
          r.adjustment_out = out_adj;
          carry = std::move(out_adj);
          waiting.push_back(out.size());
        }
      } else {
        r.reported = r.computed;
        for (std::size_t w : waiting) out[w].adjusted_into = period;
        waiting.clear();
      }
      share(r, rules_);
      out.push_back(std::move(r));
    }
  }
  if (!period_filter.empty()) {
    std::erase_if(out, [&](const UnitPeriodReport& r) { return r.period != period_filter; });
  }
  return out;
}

std::optional<UnitPeriodReport> Ledger::report(const std::string& unit, const std::string& period,
                                               bool with_sources) {
  auto p = periods_.find(period);
  if (p == periods_.end()) return std::nullopt;
  for (UnitPeriodReport& r : build_reports(unit, period, with_sources)) {
    if (r.unit == unit && r.period == period) return std::move(r);
  }
  // No figures, no quota, no decision: an empty report.
  UnitPeriodReport r;
  r.unit = unit;
  r.period = period;
  r.start_day = p->second.start_day;
  r.end_day = p->second.end_day;
  if (auto rules = rules_in_force(r.start_day)) r.computed.rule_version = rules->rules.version;
  r.reported = r.computed;
  share(r, rules_);
  return r;
}

Json figures_json(const UnitFigures& figures) {
  Json products = Json::array();
  for (const ProductFigures& p : figures.products) {
    products.push_back(Json{{"product", p.product}, {"quota", p.quota}, {"quota_version", p.quota_version},
                            {"actual", p.actual}});
  }
  Json workers = Json::array();
  for (const WorkerFigures& w : figures.workers) {
    workers.push_back(Json{{"worker", w.worker},
                           {"minutes", w.minutes},
                           {"special_minutes", w.special_minutes},
                           {"skill_upgrades", w.skill_upgrades},
                           {"innovations", w.innovations},
                           {"achievement_permille", w.achievement_permille}});
  }
  return Json{{"rule_version", figures.rule_version}, {"products", std::move(products)}, {"workers", std::move(workers)}};
}

Json approval_body(const std::string& unit, const std::string& period, const UnitFigures& figures) {
  Json body = figures_json(figures);
  body["unit"] = unit;
  body["period"] = period;
  return body;
}

Result<UnitFigures> figures_of_approval(const Json& body) {
  SB_RETURN_IF_ERROR(validate_head_office_body(kApproval, body));
  UnitFigures f;
  f.rule_version = body.at("rule_version").get<std::int64_t>();
  for (const Json& p : body.at("products")) {
    f.products.push_back(ProductFigures{p.at("product").get<std::string>(), p.at("quota").get<std::int64_t>(),
                                        p.at("quota_version").get<std::int64_t>(), p.at("actual").get<std::int64_t>()});
  }
  for (const Json& w : body.at("workers")) {
    f.workers.push_back(WorkerFigures{w.at("worker").get<std::string>(), w.at("minutes").get<std::int64_t>(),
                                      w.at("special_minutes").get<std::int64_t>(),
                                      w.at("skill_upgrades").get<std::int64_t>(), w.at("innovations").get<std::int64_t>(),
                                      w.at("achievement_permille").get<std::int64_t>()});
  }
  return f;
}

}  // namespace shiftbook
