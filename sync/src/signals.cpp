// The integrity signals of docs/SIGNALS.md. As in anomalies.cpp, every function groups its facts
// by subject in ordered containers and sorts what it returns, so no input order shows through.
#include "shiftbook/signals.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "anomaly_text.h"
#include "shiftbook/kinds.h"

namespace shiftbook {
namespace {

using anomaly_text::duration_text;
using anomaly_text::make;
using anomaly_text::minutes_text;

std::string device_text(const PublicKey& device) { return "terminal " + to_hex(device).substr(0, 8); }

void append(std::vector<Anomaly>& out, std::vector<Anomaly> more) {
  out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
}

}  // namespace

std::vector<Anomaly> find_exact_quotas(const std::vector<ReturnFact>& returns, int run) {
  // (unit, product) -> its periods in order of their first day; a period given twice counts once.
  std::map<std::pair<std::string, std::string>, std::map<std::pair<std::int64_t, std::string>, const ReturnFact*>> lines;
  for (const ReturnFact& r : returns) lines[{r.unit, r.product}].emplace(std::make_pair(r.start_day, r.period), &r);
  std::vector<Anomaly> out;
  for (const auto& [key, periods] : lines) {
    const auto& [unit, product] = key;
    std::vector<const ReturnFact*> streak;
    auto flush = [&, &unit = unit, &product = product] {
      if (streak.size() >= static_cast<std::size_t>(std::max(run, 1))) {
        std::set<Hash> events;
        std::string figures;
        for (const ReturnFact* r : streak) {
          events.insert(r->outputs.begin(), r->outputs.end());
          figures += (figures.empty() ? "" : ", ") + r->period + " " + std::to_string(r->actual);
        }
        out.push_back(make(signal::kExactQuota, unit + "/" + product, {events.begin(), events.end()},
                           "unit " + unit + " reported exactly its quota of " + product + " in " +
                               std::to_string(streak.size()) + " periods in a row (" + figures + ")"));
      }
      streak.clear();
    };
    for (const auto& [order, r] : periods) {
      if (r->quota > 0 && r->actual == r->quota) {
        streak.push_back(r);
      } else {
        flush();
      }
    }
    flush();
  }
  return out;
}

std::vector<Anomaly> find_over_capacity(const std::vector<UnitHoursFact>& hours, std::int64_t shift_minutes) {
  struct Day {
    std::map<Hash, const UnitHoursFact*> versions;  // a version given twice counts once
  };
  std::map<std::pair<std::string, std::int64_t>, Day> days;
  for (const UnitHoursFact& h : hours) days[{h.unit, h.day}].versions.emplace(h.version, &h);
  std::vector<Anomaly> out;
  for (const auto& [key, d] : days) {
    const auto& [unit, day] = key;
    std::set<std::string> workers;
    std::int64_t total = 0;
    std::vector<Hash> events;
    for (const auto& [version, h] : d.versions) {
      workers.insert(h->worker);
      total += h->minutes;
      events.push_back(version);
    }
    const std::int64_t capacity = static_cast<std::int64_t>(workers.size()) * shift_minutes;
    if (total <= capacity) continue;
    out.push_back(make(signal::kOverCapacity, unit + " " + format_date(day), std::move(events),
                       "unit " + unit + " on " + format_date(day) + ": " + minutes_text(total) + " logged for " +
                           std::to_string(workers.size()) + (workers.size() == 1 ? " worker" : " workers") +
                           ", more than " + std::to_string(workers.size()) + " × " + minutes_text(shift_minutes)));
  }
  return out;
}

std::vector<Anomaly> find_after_approval(const std::vector<ApprovalFact>& approvals, int at_least) {
  // (unit, period) -> the approval in force; given twice, the facts are the same.
  std::map<std::pair<std::string, std::string>, const ApprovalFact*> by_period;
  for (const ApprovalFact& a : approvals) by_period.emplace(std::make_pair(a.unit, a.period), &a);
  std::vector<Anomaly> out;
  for (const auto& [key, a] : by_period) {
    const std::set<Hash> changes(a->changes.begin(), a->changes.end());
    if (changes.size() < static_cast<std::size_t>(std::max(at_least, 1))) continue;
    std::vector<Hash> events{a->approval};
    events.insert(events.end(), changes.begin(), changes.end());
    out.push_back(make(signal::kAfterApproval, a->unit + "/" + a->period, std::move(events),
                       "unit " + a->unit + ", period " + a->period + ": " + std::to_string(changes.size()) +
                           " entry versions arrived after head office approved it (" +
                           std::to_string(at_least) + " or more are flagged)"));
  }
  return out;
}

std::vector<Anomaly> find_late_bursts(const std::vector<EntryRecordFact>& records, std::int64_t late_ms, int burst,
                                      std::int64_t gap_ms) {
  // device -> its late entries by (recorded time, seq); an event given twice counts once.
  std::map<PublicKey, std::set<std::tuple<std::int64_t, std::uint64_t, Hash, std::int64_t>>> late;
  for (const EntryRecordFact& r : records) {
    const std::int64_t day_end_ms = (r.day + 1) * 86'400'000LL;
    if (r.recorded_ms - day_end_ms > late_ms) late[r.device].emplace(r.recorded_ms, r.seq, r.event, r.recorded_ms - day_end_ms);
  }
  std::vector<Anomaly> out;
  for (const auto& [device, list] : late) {
    std::vector<Hash> group;
    std::int64_t first_ms = 0, last_ms = 0, most_late = 0;
    auto flush = [&, &device = device] {
      if (group.size() >= static_cast<std::size_t>(std::max(burst, 1))) {
        out.push_back(make(signal::kLateBurst, to_hex(device), group,
                           device_text(device) + " recorded " + std::to_string(group.size()) +
                               " entries within " + duration_text(last_ms - first_ms) +
                               ", each more than " + duration_text(late_ms) +
                               " after the end of its shift date (up to " + duration_text(most_late) + ")"));
      }
      group.clear();
      most_late = 0;
    };
    for (const auto& [recorded_ms, seq, event, how_late] : list) {
      if (!group.empty() && recorded_ms - last_ms > gap_ms) flush();
      if (group.empty()) first_ms = recorded_ms;
      group.push_back(event);
      last_ms = recorded_ms;
      most_late = std::max(most_late, how_late);
    }
    flush();
  }
  return out;
}

std::vector<Anomaly> find_equivocations(const std::vector<DeviceFlagFact>& flags) {
  std::map<PublicKey, const DeviceFlagFact*> devices;  // the earliest flag of each device
  for (const DeviceFlagFact& f : flags) {
    auto [it, fresh] = devices.emplace(f.device, &f);
    if (!fresh && std::tie(f.flagged_ms, f.reason) < std::tie(it->second->flagged_ms, it->second->reason)) it->second = &f;
  }
  std::vector<Anomaly> out;
  for (const auto& [device, f] : devices) {
    out.push_back(make(signal::kEquivocation, to_hex(device), {},
                       device_text(device) + " signed two different histories: " + f->reason));
  }
  return out;
}

std::vector<Anomaly> find_signals(const SignalFacts& facts, const SignalThresholds& t) {
  std::vector<Anomaly> out;
  append(out, find_exact_quotas(facts.returns, t.exact_quota_run));
  append(out, find_over_capacity(facts.hours, t.shift_minutes));
  append(out, find_after_approval(facts.approvals, t.changes_after_approval));
  append(out, find_late_bursts(facts.records, t.late_ms, t.late_burst, t.late_gap_ms));
  append(out, find_clock_skews(facts.clocks, facts.claims, t.clock_skew_ms));
  append(out, find_equivocations(facts.flags));
  std::sort(out.begin(), out.end(), [](const Anomaly& a, const Anomaly& b) { return std::tie(a.kind, a.id) < std::tie(b.kind, b.id); });
  return out;
}

}  // namespace shiftbook
