// The reports row (bench_ledger.h).
#include "bench_ledger.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <tuple>

#include "bench_common.h"
#include "bench_site.h"
#include "shiftbook/clock.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"
#include "shiftbook/ledger.h"

namespace shiftbook::bench {
namespace {

constexpr std::int64_t kBaseMs = 1'763'600'000'000;
constexpr int kUnits = 20;

PublicKey key(std::uint32_t n) {
  PublicKey k{};
  for (int i = 0; i < 4; ++i) k[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  k[31] = 0xaa;
  return k;
}

// About `count` events of one site, each as its canonical bytes (what the store holds; a tenth of
// the memory of an Event): the signer's plan (periods 2026-10 to 2026-12, a quota per unit and
// month, a rule set), then one terminal per unit recording shifts in round robin (bench_site.h).
Result<std::vector<Bytes>> site_events(std::uint64_t count, std::uint32_t seed, EventChain& signer) {
  std::vector<Bytes> out;
  out.reserve(count + 100);
  auto keep = [&out](ChainLink link) { out.push_back(std::move(link.bytes)); };
  SiteShape shape;
  for (int u = 0; u < kUnits; ++u) {
    shape.units.push_back("U" + std::to_string(u));
    shape.terminals.push_back(key(static_cast<std::uint32_t>(u + 1)));
  }
  for (const auto& [id, start, end] : {std::tuple{"2026-10", "2026-10-01", "2026-10-31"},
                                       std::tuple{"2026-11", "2026-11-01", "2026-11-30"},
                                       std::tuple{"2026-12", "2026-12-01", "2026-12-31"}}) {
    SB_ASSIGN_OR_RETURN(ChainLink e, signer.add("ref_period", {{"id", id}, {"start", start}, {"end", end}}));
    keep(std::move(e));
    for (const std::string& unit : shape.units) {
      SB_ASSIGN_OR_RETURN(ChainLink q, signer.add("ref_quota", {{"unit", unit}, {"period", id}, {"product", "P1"},
                                                                {"quantity", 20'000}, {"version", 1}}));
      keep(std::move(q));
    }
  }
  SB_ASSIGN_OR_RETURN(ChainLink rules, signer.add("ref_rules", {{"version", 1}, {"from", "2026-01-01"},
                                                            {"pool_share_permille", 750}, {"special_weight_permille", 500},
                                                            {"skill_points", 100}, {"innovation_points", 50}}));
  keep(std::move(rules));
  SB_ASSIGN_OR_RETURN(shape.first_day, parse_date("2026-10-01"));
  shape.days = 92;  // 2026-10-01 .. 2026-12-31
  shape.base_ms = kBaseMs;
  ShiftMaker maker(std::move(shape), seed);
  std::vector<ChainLink> shift;
  for (std::uint64_t n = 0; out.size() < count; ++n) {
    shift.clear();
    SB_RETURN_IF_ERROR(maker.next_shift(n % maker.terminals(), shift));
    for (ChainLink& link : shift) keep(std::move(link));
  }
  return out;
}

}  // namespace

long peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

Result<ReportMeasure> measure_reports(std::uint64_t events, std::uint64_t batch, int runs) {
  ReportMeasure m;
  m.batch = batch;
  EventChain signer(key(0xffff), kBaseMs);
  auto t0 = Steady::now();
  SB_ASSIGN_OR_RETURN(std::vector<Bytes> all, site_events(events + batch, 7, signer));
  m.make_s = seconds_since(t0);
  m.made_peak_mib = peak_rss_mib();
  std::vector<Bytes> later(all.end() - static_cast<std::ptrdiff_t>(batch), all.end());
  all.resize(all.size() - batch);
  m.events = all.size();
  std::fprintf(stderr, "reports: %zu events (%d units, one terminal each) made and sealed in %.1f s; %ld MiB\n",
               all.size(), kUnits, m.make_s, m.made_peak_mib);
  // Each event is decoded (its rules checked, its hash computed) as the Ledger takes it, and a
  // terminal's is acknowledged half a second after its stamp, as a server reading its store does.
  auto add_all = [&signer](Ledger& ledger, const std::vector<Bytes>& list) -> Status {
    for (const Bytes& b : list) {
      SB_ASSIGN_OR_RETURN(Event e, decode_event(b));
      SB_RETURN_IF_ERROR(ledger.add(e));
      if (e.device != signer.device()) ledger.set_acknowledged(e.hash, static_cast<std::int64_t>(hlc_ms(e.hlc)) + 500);
    }
    return Status::ok();
  };
  for (int r = 0; r < runs; ++r) {
    ReportRun run;
    // The baseline: decoding every event (its rules and its hash), which any recompute from the
    // stored bytes pays before it does anything else.
    t0 = Steady::now();
    std::uint64_t seqs = 0;
    for (const Bytes& b : all) {
      SB_ASSIGN_OR_RETURN(Event e, decode_event(b));
      seqs += e.seq;
    }
    run.decode_s = seconds_since(t0);
    if (seqs == 0) return internal_error("no event decoded");

    t0 = Steady::now();
    Ledger ledger(key(0xffff));
    SB_RETURN_IF_ERROR(add_all(ledger, all));
    std::vector<UnitPeriodReport> every = ledger.reports();
    run.full_s = seconds_since(t0);
    m.reports = every.size();

    t0 = Steady::now();
    std::size_t held = 0;
    for (const UnitPeriodReport& rep : ledger.period_reports("2026-11", false)) held += rep.shares ? 1 : 0;
    run.read_s = seconds_since(t0);
    if (held == 0) return internal_error("no report of 2026-11");

    t0 = Steady::now();
    SB_RETURN_IF_ERROR(add_all(ledger, later));
    (void)ledger.period_reports("2026-11", false);
    run.update_s = seconds_since(t0);
    std::fprintf(stderr, "reports run %d: decode %.2f s, full recompute %.2f s, read %.4f s, up to date %.4f s\n",
                 r + 1, run.decode_s, run.full_s, run.read_s, run.update_s);
    m.runs.push_back(run);
  }
  m.peak_mib = peak_rss_mib();
  return m;
}

}  // namespace shiftbook::bench
