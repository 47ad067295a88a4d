// The reports row (bench_ledger.h).
#include "bench_ledger.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <tuple>

#include "bench_common.h"
#include "shiftbook/clock.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"
#include "shiftbook/ledger.h"

namespace shiftbook::bench {
namespace {

constexpr std::int64_t kBaseMs = 1'763'600'000'000;
constexpr int kUnits = 20;
constexpr int kWorkersPerUnit = 40;
constexpr int kHoursPerShift = 8;
constexpr int kCorrectionPercent = 3;


PublicKey key(std::uint32_t n) {
  PublicKey k{};
  for (int i = 0; i < 4; ++i) k[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  k[31] = 0xaa;
  return k;
}

class Chain {
 public:
  explicit Chain(PublicKey device) : device_(device) {}
  const PublicKey& device() const { return device_; }
  Result<SealedEvent> add(const char* kind, Json body) {
    Event e;
    e.device = device_;
    e.seq = ++seq_;
    e.hlc = static_cast<std::uint64_t>(kBaseMs + static_cast<std::int64_t>(seq_) * 1000) << 16;
    e.prev = last_;
    e.author = "L1";
    e.kind = kind;
    e.body = std::move(body);
    SB_ASSIGN_OR_RETURN(SealedEvent sealed, seal_event(std::move(e)));
    last_ = sealed.event.hash;
    return sealed;
  }

 private:
  PublicKey device_;
  std::uint64_t seq_ = 0;
  Hash last_{};
};

// About `count` events of one site, each as its canonical bytes (what the store holds; a tenth of
// the memory of an Event): the signer's plan (periods 2026-10 to 2026-12, a quota per unit and
// month, a rule set), then one terminal per unit recording shifts in round robin.
class Events {
 public:
  void reserve(std::size_t n) { bytes_.reserve(n); }
  std::size_t size() const { return bytes_.size(); }
  void push_back(SealedEvent sealed) {
    sealed.bytes.shrink_to_fit();
    bytes_.push_back(std::move(sealed.bytes));
  }
  const std::vector<Bytes>& bytes() const { return bytes_; }
  std::vector<Bytes>& bytes() { return bytes_; }

 private:
  std::vector<Bytes> bytes_;
};

Result<Events> site_events(std::uint64_t count, std::uint32_t seed, Chain& signer) {
  Events out;
  out.reserve(count + 100);
  for (const auto& [id, start, end] : {std::tuple{"2026-10", "2026-10-01", "2026-10-31"},
                                       std::tuple{"2026-11", "2026-11-01", "2026-11-30"},
                                       std::tuple{"2026-12", "2026-12-01", "2026-12-31"}}) {
    SB_ASSIGN_OR_RETURN(SealedEvent e, signer.add("ref_period", {{"id", id}, {"start", start}, {"end", end}}));
    out.push_back(std::move(e));
    for (int u = 0; u < kUnits; ++u) {
      SB_ASSIGN_OR_RETURN(SealedEvent q, signer.add("ref_quota", {{"unit", "U" + std::to_string(u)}, {"period", id},
                                                            {"product", "P1"}, {"quantity", 20'000}, {"version", 1}}));
      out.push_back(std::move(q));
    }
  }
  SB_ASSIGN_OR_RETURN(SealedEvent rules, signer.add("ref_rules", {{"version", 1}, {"from", "2026-01-01"},
                                                            {"pool_share_permille", 750}, {"special_weight_permille", 500},
                                                            {"skill_points", 100}, {"innovation_points", 50}}));
  out.push_back(std::move(rules));
  std::mt19937 rng(seed);
  std::vector<Chain> terminals;
  for (int u = 0; u < kUnits; ++u) terminals.emplace_back(key(static_cast<std::uint32_t>(u + 1)));
  std::uint64_t shift_no = 0;
  while (out.size() < count) {
    const int u = static_cast<int>(shift_no % kUnits);
    const int day = static_cast<int>((shift_no / kUnits) % 92);  // 2026-10-01 .. 2026-12-31
    ++shift_no;
    Chain& t = terminals[static_cast<std::size_t>(u)];
    SB_ASSIGN_OR_RETURN(SealedEvent shift, t.add("shift_open", {{"unit", "U" + std::to_string(u)},
                                                          {"date", format_date(*parse_date("2026-10-01") + day)}}));
    const std::string ref = hash_ref(shift.event.hash);
    out.push_back(std::move(shift));
    for (int h = 0; h < kHoursPerShift; ++h) {
      const std::string worker = "W" + std::to_string(u * kWorkersPerUnit + static_cast<int>(rng() % kWorkersPerUnit));
      Json body{{"shift", ref}, {"worker", worker}, {"start", 360}, {"end", 840}, {"special", rng() % 10 == 0}};
      SB_ASSIGN_OR_RETURN(SealedEvent hours, t.add("hours", body));
      const Hash target = hours.event.hash;
      out.push_back(std::move(hours));
      if (static_cast<int>(rng() % 100) < kCorrectionPercent) {
        body["end"] = 780;
        SB_ASSIGN_OR_RETURN(SealedEvent c, t.add("correction", {{"target", hash_ref(target)}, {"reason", "left early"},
                                                          {"entry", body}}));
        out.push_back(std::move(c));
      }
    }
    SB_ASSIGN_OR_RETURN(SealedEvent output, t.add("output", {{"shift", ref}, {"product", "P1"},
                                                       {"quantity", 200 + static_cast<int>(rng() % 200)}}));
    out.push_back(std::move(output));
    if (rng() % 20 == 0) {
      const std::string worker = "W" + std::to_string(u * kWorkersPerUnit + static_cast<int>(rng() % kWorkersPerUnit));
      SB_ASSIGN_OR_RETURN(SealedEvent bonus, t.add("bonus", {{"shift", ref}, {"worker", worker}, {"type", "skill_upgrade"}}));
      out.push_back(std::move(bonus));
    }
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
  Chain signer(key(0xffff));
  auto t0 = Steady::now();
  SB_ASSIGN_OR_RETURN(Events made, site_events(events + batch, 7, signer));
  m.make_s = seconds_since(t0);
  m.made_peak_mib = peak_rss_mib();
  std::vector<Bytes>& all = made.bytes();
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
