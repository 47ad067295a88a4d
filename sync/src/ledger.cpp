// The state of one site's log (ledger.h). The merge decides every entry's state; this file only
// places entries (unit, date, worker, period) and adds them up, from ordered containers, so no
// arrival order shows through.
#include "shiftbook/ledger.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "shiftbook/clock.h"
#include "shiftbook/kinds.h"

namespace shiftbook {
namespace {

constexpr std::string_view kRefPeriod = "ref_period";
constexpr std::string_view kAnomalyNote = "anomaly_note";
constexpr std::string_view kRefQuota = "ref_quota";

std::string text_field(const Json& body, const char* name) {
  auto it = body.find(name);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::int64_t> int_field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
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

Status Ledger::add(const Event& e) {
  if (events_.contains(e.hash)) return Status::ok();
  const bool from_signer = e.device == signer_;
  if (from_signer && (e.kind == kRefPeriod || e.kind == kRefQuota)) {
    SB_RETURN_IF_ERROR(read_reference(e));
  }
  if (from_signer && e.kind == kAnomalyNote) {
    SB_RETURN_IF_ERROR(validate_head_office_body(kAnomalyNote, e.body).with_context(event_name(e.device, e.seq) + ": "));
    AnomalyNote note{e.body.at("anomaly").get<std::string>(), e.body.at("reason").get<std::string>(), e.seq, e.hash,
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
  if (opened) {
    shifts_.emplace(e.hash, *opened);
    // The merge read the receipt already, so it is well formed.
    auto receipt = shift_open_receipt(e.body, e.device);
    ShiftOpenMark mark{e.seq, std::nullopt};
    if (receipt.is_ok() && *receipt) mark.receipt_server_ms = (*receipt)->server_ms;
    shift_opens_[e.device].push_back(mark);
  }
  events_.emplace(e.hash, Seen{EventSource{e.device, e.seq, e.kind}, e.hlc});
  return Status::ok();
}

void Ledger::set_acknowledged(const Hash& event, std::int64_t server_ms) { acknowledged_[event] = server_ms; }

std::optional<Ledger::Shift> Ledger::shift_of(const Json& body) const {
  auto ref = parse_hash_ref(text_field(body, "shift"));
  if (!ref.is_ok()) return std::nullopt;
  auto shift = shifts_.find(*ref);
  if (shift == shifts_.end()) return std::nullopt;
  return shift->second;
}

std::map<Hash, LedgerEntry> Ledger::entries() {
  std::map<Hash, LedgerEntry> out;
  for (auto& [root, state] : merge_.states()) {
    LedgerEntry entry;
    entry.kind = state.kind;
    entry.worker = text_field(state.body, "worker");
    // A correction keeps the shift, so the current body names the root's.
    if (std::optional<Shift> shift = shift_of(state.body)) {
      entry.unit = shift->unit;
      entry.day = shift->day;
    }
    entry.state = std::move(state);
    out.emplace(root, std::move(entry));
  }
  // A confirm belongs where the hours it confirms belong.
  for (auto& [root, entry] : out) {
    if (entry.kind != kind::kConfirm) continue;
    auto confirmed = parse_hash_ref(text_field(entry.state.body, "entry"));
    if (!confirmed.is_ok()) continue;
    std::optional<Hash> hours_root = merge_.root_of(*confirmed);
    if (!hours_root) continue;
    auto hours = out.find(*hours_root);
    if (hours == out.end()) continue;
    entry.unit = hours->second.unit;
    entry.day = hours->second.day;
  }
  return out;
}

std::vector<LedgerConflict> Ledger::conflicts() {
  std::vector<LedgerConflict> out;
  for (auto& [root, entry] : entries()) {
    for (Conflict& c : entry.state.conflicts) out.push_back(LedgerConflict{root, entry.unit, std::move(c)});
  }
  return out;
}

std::optional<EventSource> Ledger::source(const Hash& event) const {
  auto it = events_.find(event);
  if (it == events_.end()) return std::nullopt;
  return it->second.source;
}

std::vector<Hash> Ledger::event_hashes() const {
  std::vector<Hash> out;
  out.reserve(events_.size());
  for (const auto& [hash, seen] : events_) out.push_back(hash);
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
  for (const auto& [root, entry] : entries()) {
    const EntryState& s = entry.state;
    if (s.is_void || !entry.day) continue;
    const std::int64_t base = *entry.day * kMinutesPerDay;
    if (entry.kind == kind::kHours) {
      f.hours.push_back(HoursFact{s.current, entry.worker, *entry.day,
                                  base + int_field(s.body, "start").value_or(0),
                                  base + int_field(s.body, "end").value_or(0)});
    } else if (entry.kind == kind::kOutput) {
      f.outputs.push_back(OutputFact{s.current, entry.unit, text_field(s.body, "product"), *entry.day,
                                     int_field(s.body, "quota_version")});
    }
  }
  for (const auto& [id, p] : periods_) f.periods.push_back(PeriodFact{id, p.start_day, p.end_day});
  for (const auto& [key, q] : quotas_) f.quotas.push_back(QuotaFact{key.unit, key.period, key.product, q.version});
  f.clocks = std::move(clocks);
  for (const auto& [hash, seen] : events_) {
    if (seen.source.device == signer_) continue;
    EventClockFact c;
    c.event = hash;
    c.device = seen.source.device;
    c.seq = seen.source.seq;
    c.claimed_ms = static_cast<std::int64_t>(hlc_ms(seen.hlc));
    auto marks = shift_opens_.find(c.device);
    if (marks != shift_opens_.end()) c.after_ms = trusted_after(marks->second, c.seq);
    auto ack = acknowledged_.find(hash);
    if (ack != acknowledged_.end()) c.before_ms = ack->second;
    f.claims.push_back(c);
  }
  return f;
}

Totals Ledger::totals() {
  Totals t;
  for (const auto& [root, entry] : entries()) {
    const EntryState& s = entry.state;
    if (s.is_void || !entry.day) continue;
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
  }
  return t;
}

std::vector<PeriodReturn> Ledger::returns() {
  std::map<OutputKey, PeriodReturn> lines;
  for (const auto& [key, actual] : totals().outputs) {
    lines[key].actual = actual;
  }
  for (const auto& [key, q] : quotas_) {
    PeriodReturn& r = lines[key];
    r.quota = q.quantity;
    r.quota_version = q.version;
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

}  // namespace shiftbook
