// The rows as figures (bench_rows.h).
#include "bench_rows.h"

#include <algorithm>
#include <cstdio>

#include "bench_dashboard.h"
#include "bench_entry_row.h"
#include "bench_ledger.h"
#include "bench_load.h"
#include "bench_pg.h"
#include "bench_sync_rows.h"
#include "shiftbook/clock.h"

namespace shiftbook::bench {

bool BenchOptions::wants(const std::string& row) const {
  return only.empty() || std::find(only.begin(), only.end(), row) != only.end();
}

std::string BenchOptions::postgres_url() const {
  for (const std::string& s : stores) {
    if (is_postgres_store(s)) return s;
  }
  return std::string();
}

std::string BenchOptions::store_label(const std::string& store) const {
  return stores.size() > 1 || is_postgres_store(store) ? " (" + store_name(store) + ")" : std::string();
}

void BenchOptions::scale_down(const std::vector<std::string>& given) {
  auto unless_given = [&](const char* option, auto& field, auto value) {
    if (std::find(given.begin(), given.end(), option) == given.end()) field = value;
  };
  unless_given("--push-events", push_events, 20'000L);
  unless_given("--pull-events", pull_events, 50'000L);
  unless_given("--entries", entries, 200);
  unless_given("--terminals", terminals, 20);
  unless_given("--terminal-events", terminal_events, 200);
  unless_given("--report-events", report_events, 100'000L);
  unless_given("--dashboard-events", dashboard_events, 100'000L);
  unless_given("--dashboard-terminals", dashboard_terminals, 20);
  sample_events = 20'000;
}

namespace {

std::string rate_text(double per_s) { return with_commas(per_s) + " events/s"; }

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A figure the design sets no bar for, read against a ceiling where lower is better (`floor`).
Figure unbarred(std::string row, std::string what, double value, std::string unit, std::string shown,
                std::string ceiling, double floor) {
  Figure f;
  f.row = std::move(row);
  f.what = std::move(what);
  f.value = value;
  f.unit = std::move(unit);
  f.shown = std::move(shown);
  f.target = "measured (no bar)";
  f.ceiling = std::move(ceiling);
  f.ratio = ratio_down(value, floor);
  return f;
}

std::string sync_floor_text(const Ceilings& c, bool postgres = false) {
  return rate_text(c.sync_floor_per_s(postgres)) + ": decode+hash, seal+open, plain " +
         (postgres ? "PostgreSQL" : "SQLite") + " insert of each event";
}

}  // namespace

// ---- push and pull -------------------------------------------------------------------------------

Result<std::vector<Figure>> push_figures(Launcher& launcher, const BenchOptions& o, const Ceilings& c,
                                         const std::string& store) {
  const std::string label = o.store_label(store);
  const bool postgres = is_postgres_store(store);
  std::fprintf(stderr, "push%s: setting up terminal A with %ld outputs\n", label.c_str(), o.push_events);
  SB_ASSIGN_OR_RETURN(auto row, PushRow::set_up(launcher, o.parent, o.keep, o.push_events, store));
  const auto events = static_cast<double>(row->events());
  std::vector<double> rates;
  Json runs = Json::array();
  for (int run = 1; run <= o.runs; ++run) {
    SB_ASSIGN_OR_RETURN(SyncRun r, row->run_once());
    rates.push_back(events / r.seconds);
    double server_ms = 0;
    for (double ms : r.server_ms) server_ms += ms;
    runs.push_back({{"seconds", r.seconds}, {"events_per_s", rates.back()}, {"peak_rss_mib", r.peak_rss_mib},
                    {"server_s", server_ms / 1000}, {"server_syncs", r.server_ms.size()}});
    std::printf("push run %d%s: %.0f events in %.2f s, %s, pushing terminal's peak RSS %.1f MiB; the server's own "
                "time %.2f s over %zu requests\n",
                run, label.c_str(), events, r.seconds, rate_text(rates.back()).c_str(), r.peak_rss_mib,
                server_ms / 1000, r.server_ms.size());
  }
  Figure f;
  f.row = "push";
  f.store = store_name(store);
  f.what = "push, client to server (" + with_commas(events) + " events)" + label;
  f.value = median(rates);
  f.unit = "events/s";
  f.shown = rate_text(*f.value);
  f.target = "150,000 events/s or more";
  f.met = *f.value >= 150'000;
  f.ceiling = sync_floor_text(c, postgres);
  f.ratio = ratio_up(*f.value, c.sync_floor_per_s(postgres));
  f.detail = {{"events", events}, {"mean_event_bytes", row->mean_event_bytes()}, {"runs", runs},
              {"ratio_to_plain_insert", *f.value / (postgres ? c.pg_insert_per_s : c.insert_per_s)}};
  return std::vector<Figure>{f};
}

Result<std::vector<Figure>> pull_figures(Launcher& launcher, const BenchOptions& o, const Ceilings& c) {
  std::fprintf(stderr, "pull: setting up a server holding %ld events of one terminal\n", o.pull_events);
  SB_ASSIGN_OR_RETURN(auto row, PullRow::set_up(launcher, o.parent, o.keep, static_cast<std::uint64_t>(o.pull_events),
                                                o.runs));
  SB_ASSIGN_OR_RETURN(double floor_mib, row->floor_rss_mib());
  const auto events = static_cast<double>(row->events());
  std::vector<double> seconds, rss;
  Json runs = Json::array();
  for (int run = 1; run <= o.runs; ++run) {
    SB_ASSIGN_OR_RETURN(SyncRun r, row->run_once());
    seconds.push_back(r.seconds);
    rss.push_back(r.peak_rss_mib);
    runs.push_back({{"seconds", r.seconds}, {"events_per_s", events / r.seconds}, {"peak_rss_mib", r.peak_rss_mib}});
    std::printf("pull run %d: %.0f events in %.2f s, %s, pulling terminal's peak RSS %.1f MiB\n", run, events,
                r.seconds, rate_text(events / r.seconds).c_str(), r.peak_rss_mib);
  }
  const std::string scale = o.pull_events == 1'000'000 ? "" : " (the bar is for 1,000,000)";
  Figure time;
  time.row = "pull";
  time.store = "SQLite";
  time.what = "initial pull of " + with_commas(events) + " events";
  time.value = events / median(seconds);
  time.unit = "events/s";
  time.shown = fixed(median(seconds), 2) + " s, " + rate_text(*time.value);
  time.target = "1,000,000 in 10 s or less: 100,000 events/s" + scale;
  time.met = *time.value >= 100'000;
  time.ceiling = sync_floor_text(c);
  time.ratio = ratio_up(*time.value, c.sync_floor_per_s());
  time.detail = {{"events", events}, {"runs", runs}, {"ratio_to_plain_insert", *time.value / c.insert_per_s}};
  Figure memory;
  memory.row = "pull";
  memory.store = "SQLite";
  memory.what = "  client peak memory during that pull";
  memory.value = median(rss);
  memory.unit = "MiB";
  memory.shown = fixed(*memory.value, 1) + " MiB";
  memory.target = "64 MiB or less" + scale;
  memory.met = *memory.value <= 64;
  memory.ceiling = fixed(floor_mib, 1) + " MiB: `shiftbook --help` (the program, no store)";
  memory.ratio = ratio_down(*memory.value, floor_mib);
  memory.detail = {{"floor_mib", floor_mib}};
  return std::vector<Figure>{time, memory};
}

// ---- one durable entry -----------------------------------------------------------------------------

Result<std::vector<Figure>> entry_figures(const BenchOptions& o) {
  SB_ASSIGN_OR_RETURN(ScratchDir root, ScratchDir::make(o.parent, "shiftbook-bench-entry", o.keep));
  SystemClock clock;
  const std::int64_t today = clock.now_ms() / 86'400'000;
  SB_ASSIGN_OR_RETURN(auto store, entry_store(root.path() + "/store", clock, today, false));
  SB_ASSIGN_OR_RETURN(auto commits, CommitFloor::open(root.path() + "/floor.db"));
  std::vector<double> medians, floors;
  Json runs = Json::array();
  for (int run = 0; run < o.runs; ++run) {
    SB_ASSIGN_OR_RETURN(double commit, commits->median_commit_ms(std::max(o.entries / 4, 20)));
    SB_ASSIGN_OR_RETURN(EntryRun r, timed_entries(*store, today + run, o.entries, run > 0, commit));
    medians.push_back(r.median_ms);
    floors.push_back(r.commit_ms);
    runs.push_back({{"median_ms", r.median_ms}, {"mean_ms", r.mean_ms}, {"p99_ms", r.p99_ms}, {"max_ms", r.max_ms},
                    {"commit_ms", r.commit_ms}});
    std::printf("entry run %d: %d entries, median %.3f ms, p99 %.3f ms, max %.3f ms; one-row commit %.3f ms\n",
                run + 1, o.entries, r.median_ms, r.p99_ms, r.max_ms, r.commit_ms);
  }
  Figure f;
  f.row = "entry";
  f.what = "one entry recorded durably (median)";
  f.value = median(medians);
  f.unit = "ms";
  f.shown = fixed(*f.value, 3) + " ms";
  f.target = "1 ms or less";
  f.met = *f.value <= 1.0;
  const double floor_ms = median(floors);
  f.ceiling = fixed(floor_ms, 3) + " ms: one-row SQLite commit, WAL, FULL (one fsync)";
  f.ratio = ratio_down(*f.value, floor_ms);
  f.detail = {{"entries_per_run", o.entries}, {"runs", runs}};
  return std::vector<Figure>{f};
}

// ---- many terminals at once ------------------------------------------------------------------------

Result<std::vector<Figure>> terminal_figures(Launcher& launcher, const BenchOptions& o,
                                             const std::vector<Bytes>& sample, const std::string& store) {
  const std::string label = o.store_label(store);
  LoadOptions lo;
  lo.store = store;
  lo.terminals = o.terminals;
  lo.per_unit = o.per_unit;
  lo.events = o.terminal_events;
  lo.server_threads = o.server_threads;
  std::fprintf(stderr, "terminals%s: setting up %d terminals of %d events, %d per unit\n", label.c_str(),
               lo.terminals, lo.events, lo.per_unit);
  SB_ASSIGN_OR_RETURN(auto row, LoadRow::set_up(launcher, o.parent, o.keep, lo));
  std::vector<double> p99s, p50s;
  int acknowledged = lo.terminals, complete = lo.terminals;
  std::string problem;
  Json runs = Json::array();
  for (int run = 1; run <= o.runs; ++run) {
    SB_ASSIGN_OR_RETURN(LoadRun r, row->run_once());
    const double p50 = quantile(r.round_trip_ms, 0.5), p99 = quantile(r.round_trip_ms, 0.99);
    p99s.push_back(p99);
    p50s.push_back(p50);
    acknowledged = std::min(acknowledged, r.acknowledged);
    complete = std::min(complete, r.complete);
    if (problem.empty()) problem = r.sync_failure.empty() ? r.problem : r.sync_failure;
    const double moved = static_cast<double>(lo.terminals) * lo.events + static_cast<double>(r.events_pulled);
    runs.push_back({{"acknowledged", r.acknowledged},
                    {"complete", r.complete},
                    {"failed_syncs", r.failed_syncs},
                    {"sync_failure", r.sync_failure},
                    {"problem", r.problem},
                    {"round_trips", r.round_trip_ms.size()},
                    {"p50_ms", p50},
                    {"p99_ms", p99},
                    {"max_ms", quantile(r.round_trip_ms, 1.0)},
                    {"push_p50_ms", quantile(r.push_ms, 0.5)},
                    {"push_p99_ms", quantile(r.push_ms, 0.99)},
                    {"server_p50_ms", quantile(r.server_ms, 0.5)},
                    {"server_p99_ms", quantile(r.server_ms, 0.99)},
                    {"push_phase_s", r.push_phase_s},
                    {"total_s", r.total_s},
                    {"events_pulled", r.events_pulled},
                    {"server_cpu_s", r.server_cpu_s},
                    {"generator_cpu_s", r.generator_cpu_s},
                    {"events_moved_per_s", moved / r.total_s}});
    std::printf("terminals run %d%s: %d of %d acknowledged, %d complete; %zu round trips: p50 %.1f ms, p99 %.1f ms, "
                "max %.1f ms; pushes p50 %.1f ms, p99 %.1f ms; server's own time p50 %.1f ms, p99 %.1f ms; "
                "first syncs done in %.2f s, both in %.2f s; %s moved; processor time used: server %.2f s, "
                "load generator %.2f s\n",
                run, label.c_str(), r.acknowledged, lo.terminals, r.complete, r.round_trip_ms.size(), p50, p99,
                quantile(r.round_trip_ms, 1.0), quantile(r.push_ms, 0.5), quantile(r.push_ms, 0.99),
                quantile(r.server_ms, 0.5), quantile(r.server_ms, 0.99), r.push_phase_s, r.total_s,
                rate_text(moved / r.total_s).c_str(), r.server_cpu_s, r.generator_cpu_s);
    if (r.failed_syncs > 0) {
      std::printf("  %d syncs stopped with an error; the first: %s\n", r.failed_syncs, r.sync_failure.c_str());
    }
    if (!r.problem.empty()) std::printf("  first problem found by the checks: %s\n", r.problem.c_str());
  }
  SB_ASSIGN_OR_RETURN(ScratchDir floor_dir, ScratchDir::make(o.parent, "shiftbook-bench-writer", o.keep));
  SB_ASSIGN_OR_RETURN(double floor_ms,
                      single_writer_floor_ms(sample, floor_dir.path(), store, lo.terminals, lo.events, 0.99, o.runs));
  const std::string scale = lo.terminals == 200 && lo.events == 1000 ? "" : " (the bar is for 200 x 1,000)";
  Figure all;
  all.row = "terminals";
  all.store = store_name(store);
  all.what = std::to_string(lo.terminals) + " terminals syncing at once, " + std::to_string(lo.events) +
             " events each" + label;
  all.value = acknowledged;
  all.unit = "terminals";
  all.shown = std::to_string(acknowledged) + " of " + std::to_string(lo.terminals) + " acknowledged, " +
              std::to_string(complete) + " pulled their unit's";
  all.target = "all acknowledged";
  all.met = acknowledged == lo.terminals && complete == lo.terminals;
  all.detail = {{"problem", problem}, {"runs", runs}, {"server_threads", lo.server_threads}};
  Figure p99;
  p99.row = "terminals";
  p99.store = all.store;
  p99.what = "  p99 round trip" + label;
  p99.value = median(p99s);
  p99.unit = "ms";
  p99.shown = fixed(*p99.value, 1) + " ms (p50 " + fixed(median(p50s), 1) + " ms)";
  p99.target = "250 ms or less" + scale;
  p99.met = *p99.value <= 250;
  p99.ceiling = fixed(floor_ms, 1) + " ms: 99% of the pushes as plain " + store_name(store) + " commits, one writer";
  p99.ratio = ratio_down(*p99.value, floor_ms);
  p99.detail = {{"single_writer_floor_ms", floor_ms}};
  return std::vector<Figure>{all, p99};
}

// ---- the period report -------------------------------------------------------------------------------

Result<std::vector<Figure>> report_figures(const BenchOptions& o) {
  constexpr std::uint64_t kBatch = 1'000;
  SB_ASSIGN_OR_RETURN(ReportMeasure m,
                      measure_reports(static_cast<std::uint64_t>(o.report_events), kBatch, o.runs));
  std::vector<double> decode, full, read, update;
  for (const ReportRun& r : m.runs) {
    decode.push_back(r.decode_s);
    full.push_back(r.full_s);
    read.push_back(r.read_s);
    update.push_back(r.update_s);
    std::printf("report run %zu: read %.4f s, up to date %.4f s, recompute %.2f s (decode %.2f s)\n", decode.size(),
                r.read_s, r.update_s, r.full_s, r.decode_s);
  }
  const std::string scale = o.report_events == 10'000'000 ? "" : " (at 10,000,000 events)";
  const double baseline = median(decode);
  const std::string ceiling = fixed(baseline, 2) + " s: decoding every event (rules and hash)";
  Json runs = Json::array();
  for (const ReportRun& r : m.runs) {
    runs.push_back({{"decode_s", r.decode_s}, {"full_s", r.full_s}, {"read_s", r.read_s}, {"update_s", r.update_s}});
  }
  auto line = [](std::string what, double value, std::string unit, std::string shown, std::string target) {
    Figure f;
    f.row = "report";
    f.what = std::move(what);
    f.value = value;
    f.unit = std::move(unit);
    f.shown = std::move(shown);
    f.target = std::move(target);
    return f;
  };
  const double read_s = median(read), update_ms = median(update) * 1000, full_s = median(full);
  Figure rd = line("period report over " + with_commas(static_cast<double>(m.events)) + " events: read", read_s, "s",
                   fixed(read_s, 4) + " s", "2 s or less, from kept aggregates" + scale);
  rd.met = read_s <= 2;
  rd.detail = {{"events", m.events}, {"runs", runs}};
  Figure up = line("  brought up to date after 1,000 events", update_ms, "ms", fixed(update_ms, 1) + " ms",
                   "50 ms or less" + scale);
  up.met = update_ms <= 50;
  Figure fr = line("  recomputed from scratch", full_s, "s", fixed(full_s, 2) + " s", "measured (no bar)");
  fr.ceiling = ceiling;
  fr.ratio = ratio_down(full_s, baseline);
  const double peak = static_cast<double>(m.peak_mib);
  Figure mem = line("  peak memory of the benchmark", peak, "MiB",
                    with_commas(peak) + " MiB (the events made: " + with_commas(static_cast<double>(m.made_peak_mib)) +
                        " MiB)",
                    "measured (no bar)");
  return std::vector<Figure>{rd, up, fr, mem};
}

// ---- the dashboard's overview ----------------------------------------------------------------------

Result<std::vector<Figure>> dashboard_figures(Launcher& launcher, const BenchOptions& o) {
  DashboardOptions d;
  d.terminals = o.dashboard_terminals;
  d.events = static_cast<std::uint64_t>(o.dashboard_events);
  std::fprintf(stderr, "dashboard: setting up %d terminals pushing %ld events\n", d.terminals, o.dashboard_events);
  SB_ASSIGN_OR_RETURN(auto row, DashboardRow::set_up(launcher, o.parent, o.keep, d));
  const auto events = static_cast<double>(row->events());
  std::printf("dashboard: %s events of %d terminals in %d units pushed in %.1f s; the server's folder %s MiB\n",
              with_commas(events).c_str(), d.terminals, row->units(), row->build_s(),
              with_commas(row->store_mib()).c_str());
  std::fprintf(stderr, "dashboard: timing shiftbook-server returns on the same store\n");
  SB_ASSIGN_OR_RETURN(ReturnsRun returns, row->returns_once());
  std::printf("dashboard: shiftbook-server returns --period bench took %.2f s, peak memory %.0f MiB\n",
              returns.seconds, returns.peak_mib);
  std::vector<double> first, later, hello, peak;
  Json runs = Json::array();
  for (int run = 1; run <= o.runs; ++run) {
    SB_ASSIGN_OR_RETURN(DashboardRun r, row->run_once());
    first.push_back(r.first_s);
    later.push_back(median(r.later_ms));
    hello.push_back(median(r.hello_ms));
    peak.push_back(r.server_peak_mib);
    runs.push_back({{"first_s", r.first_s}, {"later_ms", r.later_ms}, {"hello_ms", r.hello_ms},
                    {"server_peak_mib", r.server_peak_mib}, {"stop_s", r.stop_s}});
    std::printf("dashboard run %d: first overview %.2f s; %zu later: median %.1f ms, max %.1f ms; GET /v1/hello "
                "median %.2f ms; server peak memory %.0f MiB; the server took %.1f s to stop\n",
                run, r.first_s, r.later_ms.size(), later.back(), quantile(r.later_ms, 1.0), hello.back(),
                r.server_peak_mib, r.stop_s);
  }
  const std::string size = with_commas(events) + " events, " + std::to_string(d.terminals) + " terminals";
  const double first_s = median(first), later_ms = median(later), hello_ms = median(hello), peak_mib = median(peak);
  Figure cold = unbarred("dashboard", "dashboard overview, " + size + ": first request", first_s, "s",
                         fixed(first_s, 2) + " s (the site's ledger built)",
                         fixed(returns.seconds, 2) + " s: `shiftbook-server returns`, the same ledger in its own process",
                         returns.seconds);
  cold.detail = {{"events", events},        {"terminals", d.terminals},   {"units", row->units()},
                 {"build_s", row->build_s()}, {"store_mib", row->store_mib()}, {"returns_s", returns.seconds},
                 {"returns_peak_mib", returns.peak_mib}, {"runs", runs}};
  Figure warm = unbarred("dashboard", "  later requests (ledger kept), median", later_ms, "ms", fixed(later_ms, 1) + " ms",
                         fixed(hello_ms, 2) + " ms: GET /v1/hello on the same connection", hello_ms);
  Figure memory = unbarred("dashboard", "  server's peak memory", peak_mib, "MiB", with_commas(peak_mib) + " MiB",
                           with_commas(returns.peak_mib) + " MiB: `shiftbook-server returns`", returns.peak_mib);
  for (Figure* f : {&cold, &warm, &memory}) f->store = "SQLite";
  return std::vector<Figure>{cold, warm, memory};
}

}  // namespace shiftbook::bench
