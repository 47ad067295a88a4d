// The anomaly rules of docs/ANOMALIES.md. Every function groups its facts by subject in ordered
// containers and sorts what it returns, so no input order shows through.
#include "shiftbook/anomalies.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "anomaly_text.h"
#include "shiftbook/bytes.h"
#include "shiftbook/kinds.h"

namespace shiftbook {
namespace {

using anomaly_text::duration_text;
using anomaly_text::make;
using anomaly_text::minutes_text;
using anomaly_text::sorted;

void put_text(Bytes& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

// "14:30" for a minute of the day; a minute past the day's end counts on ("30:00").
std::string clock_text(std::int64_t minute_of_day) {
  const std::int64_t h = minute_of_day / 60, m = minute_of_day % 60;
  return (h < 10 ? "0" : "") + std::to_string(h) + (m < 10 ? ":0" : ":") + std::to_string(m);
}

// "2026-11-05 06:00-14:00" for an hours interval, read on its shift date.
std::string interval_text(const HoursFact& h) {
  const std::int64_t base = h.day * kMinutesPerDay;
  return format_date(h.day) + " " + clock_text(h.start_abs - base) + "-" + clock_text(h.end_abs - base);
}

// The facts of one worker, in a fixed order (start, then end, then version).
std::map<std::string, std::vector<const HoursFact*>> by_worker(const std::vector<HoursFact>& hours) {
  std::map<std::string, std::vector<const HoursFact*>> out;
  for (const HoursFact& h : hours) out[h.worker].push_back(&h);
  for (auto& [worker, list] : out) {
    std::sort(list.begin(), list.end(), [](const HoursFact* a, const HoursFact* b) {
      return std::tie(a->start_abs, a->end_abs, a->version) < std::tie(b->start_abs, b->end_abs, b->version);
    });
  }
  return out;
}

// How far a claimed time lies outside its bracket, 0 when inside (or the bracket is open there).
std::int64_t outside_by(const EventClockFact& c) {
  if (c.after_ms && c.claimed_ms < *c.after_ms) return *c.after_ms - c.claimed_ms;
  if (c.before_ms && c.claimed_ms > *c.before_ms) return c.claimed_ms - *c.before_ms;
  return 0;
}

}  // namespace

namespace anomaly_text {

Anomaly make(std::string_view kind, std::string subject, std::vector<Hash> events, std::string detail) {
  Anomaly a;
  a.kind = std::string(kind);
  a.id = anomaly_id(kind, subject, events);
  a.subject = std::move(subject);
  a.events = std::move(events);
  a.detail = std::move(detail);
  return a;
}

std::vector<Hash> sorted(std::vector<Hash> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::string minutes_text(std::int64_t minutes) {
  return std::to_string(minutes / 60) + " h " + std::to_string(minutes % 60) + " min";
}

std::string duration_text(std::int64_t ms) {
  const std::int64_t abs_ms = ms < 0 ? -ms : ms;
  const std::int64_t minutes = abs_ms / 60'000;
  if (minutes >= kMinutesPerDay) return std::to_string(minutes / kMinutesPerDay) + " d " + minutes_text(minutes % kMinutesPerDay);
  return minutes_text(minutes);
}

}  // namespace anomaly_text

std::string anomaly_id(std::string_view kind, std::string_view subject, std::vector<Hash> events) {
  events = sorted(std::move(events));
  Bytes in;
  in.reserve(13 + kind.size() + subject.size() + 32 * events.size());
  in.insert(in.end(), {'S', 'B', 'A', 'N', 0x01});
  put_text(in, kind);
  put_text(in, subject);
  put_u32(in, static_cast<std::uint32_t>(events.size()));
  for (const Hash& h : events) in.insert(in.end(), h.begin(), h.end());
  const Hash digest = blake2b_256(in);
  return std::string(kind) + ":" + to_hex(ByteView(digest.data(), 16));
}

std::vector<Anomaly> find_overlaps(const std::vector<HoursFact>& hours) {
  std::vector<Anomaly> out;
  std::set<std::pair<Hash, Hash>> pairs;  // a version given twice makes its pairs once
  for (const auto& [worker, list] : by_worker(hours)) {
    // Sorted by start: an entry overlaps the later ones that start before it ends, and no other
    // later one. The inner loop stops at the first that starts at or after its end.
    for (std::size_t i = 0; i < list.size(); ++i) {
      const HoursFact& a = *list[i];
      for (std::size_t j = i + 1; j < list.size() && list[j]->start_abs < a.end_abs; ++j) {
        const HoursFact& b = *list[j];
        if (a.version == b.version) continue;  // the same version given twice is one entry
        if (!pairs.insert(std::minmax(a.version, b.version)).second) continue;
        out.push_back(make(anomaly::kOverlap, worker, sorted({a.version, b.version}),
                           "worker " + worker + " is logged twice at once: " + interval_text(a) + " and " +
                               interval_text(b)));
      }
    }
  }
  return out;
}

std::vector<Anomaly> find_over_24h(const std::vector<HoursFact>& hours) {
  std::map<std::pair<std::string, std::int64_t>, std::set<Hash>> days;
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> minutes;
  for (const HoursFact& h : hours) {
    // A version given twice counts once.
    if (days[{h.worker, h.day}].insert(h.version).second) minutes[{h.worker, h.day}] += h.end_abs - h.start_abs;
  }
  std::vector<Anomaly> out;
  for (const auto& [key, total] : minutes) {
    if (total <= kMinutesPerDay) continue;
    const auto& [worker, day] = key;
    const std::set<Hash>& versions = days[key];
    out.push_back(make(anomaly::kOverDay, worker + " " + format_date(day), {versions.begin(), versions.end()},
                       "worker " + worker + " has " + minutes_text(total) + " logged on shift date " +
                           format_date(day) + " in " + std::to_string(versions.size()) +
                           " entries; a day has 24 h"));
  }
  return out;
}

std::vector<Anomaly> find_stale_quotas(const std::vector<OutputFact>& outputs, const std::vector<PeriodFact>& periods,
                                       const std::vector<QuotaFact>& quotas) {
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> in_force;
  for (const QuotaFact& q : quotas) in_force[{q.unit, q.period, q.product}] = q.version;
  std::vector<PeriodFact> by_start = periods;
  std::sort(by_start.begin(), by_start.end(),
            [](const PeriodFact& a, const PeriodFact& b) { return std::tie(a.start_day, a.id) < std::tie(b.start_day, b.id); });
  std::vector<Anomaly> out;
  std::set<Hash> seen;
  for (const OutputFact& o : outputs) {
    if (!o.quota_version || !seen.insert(o.version).second) continue;
    // Periods do not overlap (the server refuses one that would): the last starting on or before
    // the day is the only one that can hold it.
    auto after = std::upper_bound(by_start.begin(), by_start.end(), o.day,
                                  [](std::int64_t day, const PeriodFact& p) { return day < p.start_day; });
    if (after == by_start.begin()) continue;
    const PeriodFact& period = *std::prev(after);
    if (o.day > period.end_day) continue;
    auto q = in_force.find({o.unit, period.id, o.product});
    if (q == in_force.end() || q->second == *o.quota_version) continue;
    out.push_back(make(anomaly::kStaleQuota, o.unit + "/" + period.id + "/" + o.product, {o.version},
                       "output of " + o.product + " in unit " + o.unit + " on " + format_date(o.day) +
                           " was logged against quota version " + std::to_string(*o.quota_version) +
                           "; head office's quota for period " + period.id + " is now version " +
                           std::to_string(q->second)));
  }
  return out;
}

std::vector<Anomaly> find_clock_skews(const std::vector<DeviceClockFact>& clocks,
                                      const std::vector<EventClockFact>& claims, std::int64_t threshold_ms) {
  struct Device {
    std::optional<std::int64_t> skew_ms;
    std::map<std::uint64_t, std::pair<Hash, std::int64_t>> outside;  // seq -> (event, how far)
  };
  std::map<PublicKey, Device> devices;
  for (const DeviceClockFact& c : clocks) devices[c.device].skew_ms = c.skew_ms;
  for (const EventClockFact& c : claims) {
    const std::int64_t off = outside_by(c);
    if (off > threshold_ms) devices[c.device].outside[c.seq] = {c.event, off};
  }
  std::vector<Anomaly> out;
  for (const auto& [device, d] : devices) {
    const bool skewed = d.skew_ms && (*d.skew_ms > threshold_ms || *d.skew_ms < -threshold_ms);
    if (!skewed && d.outside.empty()) continue;
    std::vector<Hash> events;
    std::int64_t worst = 0;
    for (const auto& [seq, flagged] : d.outside) {
      events.push_back(flagged.first);
      worst = std::max(worst, flagged.second);
    }
    std::string detail = "terminal " + to_hex(device).substr(0, 8) + "'s clock";
    if (skewed) {
      detail += std::string(" was ") + duration_text(*d.skew_ms) + (*d.skew_ms > 0 ? " behind" : " ahead of") +
                " the server's at its latest sync";
    }
    if (!d.outside.empty()) {
      detail += std::string(skewed ? ";" : "") + " " + std::to_string(events.size()) +
                (events.size() == 1 ? " event claims" : " events claim") +
                " a time outside what the server's receipts allow, by up to " + duration_text(worst);
    }
    Anomaly a = make(anomaly::kClockSkew, to_hex(device), events, std::move(detail));
    a.events = std::move(events);  // in seq order, as the chain has them
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<Anomaly> find_anomalies(const AnomalyFacts& facts, std::int64_t threshold_ms) {
  std::vector<Anomaly> out;
  auto append = [&out](std::vector<Anomaly> more) {
    out.insert(out.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  };
  append(find_overlaps(facts.hours));
  append(find_over_24h(facts.hours));
  append(find_stale_quotas(facts.outputs, facts.periods, facts.quotas));
  append(find_clock_skews(facts.clocks, facts.claims, threshold_ms));
  std::sort(out.begin(), out.end(), [](const Anomaly& a, const Anomaly& b) { return std::tie(a.kind, a.id) < std::tie(b.kind, b.id); });
  return out;
}

}  // namespace shiftbook
