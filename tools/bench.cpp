// shiftbook-bench: every row of the design's performance table in one run (docs/BENCHMARK.md),
// each figure against its target and as a fraction of a ceiling measured in the same run from the
// building blocks (plain SQLite, BLAKE2b, Ed25519, the canonical encoding, XChaCha20-Poly1305).
// Figures to report, never a test: they drift with the machine and its load, which is printed.
// The programs measured are the ones built beside it; build it in a Release tree.
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include "bench_ceilings.h"
#include "bench_common.h"
#include "bench_pg.h"
#include "bench_report.h"
#include "bench_rows.h"
#include "bench_terminal.h"
#include "shiftbook/clock.h"
#include "shiftbook/platform/command.h"

namespace {

using namespace shiftbook;
using namespace shiftbook::bench;

// A terminal's chain to measure the ceilings on, the shape and size of every row's events.
Result<std::vector<Bytes>> sample_events(long n) {
  SB_ASSIGN_OR_RETURN(DeviceKey key, seeded_key("shiftbook bench sample", 0));
  SystemClock clock;
  ChainMaker maker(key, "U1", clock.now_ms() / 86'400'000, clock.now_ms());
  std::vector<Bytes> out;
  out.reserve(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) {
    SB_ASSIGN_OR_RETURN(Bytes e, maker.next());
    out.push_back(std::move(e));
  }
  return out;
}

void print_ceilings(const Ceilings& c) {
  std::printf("ceilings, one core, median of the runs, on %zu events of %.0f bytes on average:\n", c.events,
              c.event_bytes);
  std::printf("  %-58s %14s events/s\n", "plain SQLite insert (seq, hash, raw), one transaction", with_commas(c.insert_per_s).c_str());
  if (c.pg_insert_per_s > 0) {
    std::printf("  %-58s %14s events/s\n", "plain PostgreSQL insert, COPY binary, one transaction",
                with_commas(c.pg_insert_per_s).c_str());
  }
  std::printf("  %-58s %14s events/s\n", "BLAKE2b-256 of an event", with_commas(c.blake2b_per_s).c_str());
  std::printf("  %-58s %14s /s\n", "Ed25519 verification of a signed head", with_commas(c.verify_per_s).c_str());
  std::printf("  %-58s %14s events/s\n", "canonical encoding of an event", with_commas(c.encode_per_s).c_str());
  std::printf("  %-58s %14s events/s\n", "canonical decoding of an event (with its hash)", with_commas(c.decode_per_s).c_str());
  std::printf("  %-58s %14s MB/s\n", "XChaCha20-Poly1305, 1 MiB messages", with_commas(c.xchacha_mb_s).c_str());
  std::printf("  %-58s %14s events/s\n", "sync floor: decode+hash, seal+open, plain insert", with_commas(c.sync_floor_per_s()).c_str());
  if (c.pg_insert_per_s > 0) {
    std::printf("  %-58s %14s events/s\n", "sync floor with the plain PostgreSQL insert",
                with_commas(c.sync_floor_per_s(true)).c_str());
  }
  std::printf("\n");
}

Json ceilings_json(const Ceilings& c) {
  return {{"events", c.events},           {"event_bytes", c.event_bytes},     {"insert_per_s", c.insert_per_s},
          {"blake2b_per_s", c.blake2b_per_s}, {"verify_per_s", c.verify_per_s}, {"encode_per_s", c.encode_per_s},
          {"decode_per_s", c.decode_per_s}, {"xchacha_mb_s", c.xchacha_mb_s}, {"sync_floor_per_s", c.sync_floor_per_s()},
          {"pg_insert_per_s", c.pg_insert_per_s}, {"pg_sync_floor_per_s", c.sync_floor_per_s(true)}};
}

// Why the stores given cannot be measured as asked, if they cannot: each kind once, and the rows that
// do not run on PostgreSQL yet (pull and dashboard set up servers of their own kind) never asked
// of it rather than run on SQLite in its place.
std::optional<std::string> refuse_stores(const BenchOptions& o) {
  int postgres = 0, sqlite = 0;
  for (const std::string& s : o.stores) ++(is_postgres_store(s) ? postgres : sqlite);
  if (postgres > 1 || sqlite > 1) return std::string("--store: give each kind at most once (sqlite: and one postgresql:// URL)");
  if (postgres == 0) return std::nullopt;
  std::string rows;
  for (const char* row : {"pull", "dashboard"}) {
    if (o.wants(row)) rows += std::string(rows.empty() ? "" : " and ") + row;
  }
  if (rows.empty()) return std::nullopt;
  return "--store postgresql://...: the " + rows + " row" + (rows.find(' ') == std::string::npos ? "" : "s") +
         " cannot run on PostgreSQL yet (push and terminals can; entry and report use no server store); "
         "choose the rows with --only, e.g. --only push,terminals";
}

Status run_bench(Launcher& launcher, const BenchOptions& o) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string load_before = load_average();
  std::string stores;
  for (const std::string& s : o.stores) stores += (stores.empty() ? "" : ", ") + store_name(s);
  std::printf("shiftbook-bench%s: %d run%s per row, median; %ld cores online; load average %s before; the "
              "server's store: %s\n",
              o.quick ? " --quick" : "", o.runs, o.runs == 1 ? "" : "s", ::sysconf(_SC_NPROCESSORS_ONLN),
              load_before.c_str(), stores.c_str());
  std::fprintf(stderr, "ceilings: measuring on %ld sample events\n", o.sample_events);
  SB_ASSIGN_OR_RETURN(std::vector<Bytes> sample, sample_events(o.sample_events));
  SB_ASSIGN_OR_RETURN(ScratchDir ceiling_dir, ScratchDir::make(o.parent, "shiftbook-bench-ceilings", o.keep));
  SB_ASSIGN_OR_RETURN(Ceilings ceilings, measure_ceilings(sample, ceiling_dir.path(), o.runs, o.postgres_url()));
  print_ceilings(ceilings);

  std::vector<Figure> figures;
  auto add = [&](Result<std::vector<Figure>> got) -> Status {
    SB_RETURN_IF_ERROR(got.status());
    figures.insert(figures.end(), got->begin(), got->end());
    return Status::ok();
  };
  // The server rows that run on every store, one store after the other.
  for (const std::string& store : o.stores) {
    if (o.wants("push")) SB_RETURN_IF_ERROR(add(push_figures(launcher, o, ceilings, store)));
  }
  if (o.wants("pull")) SB_RETURN_IF_ERROR(add(pull_figures(launcher, o, ceilings)));
  if (o.wants("entry")) SB_RETURN_IF_ERROR(add(entry_figures(o)));
  for (const std::string& store : o.stores) {
    if (o.wants("terminals")) SB_RETURN_IF_ERROR(add(terminal_figures(launcher, o, sample, store)));
  }
  if (o.wants("report")) SB_RETURN_IF_ERROR(add(report_figures(o)));
  if (o.wants("dashboard")) SB_RETURN_IF_ERROR(add(dashboard_figures(launcher, o)));

  const std::string load_after = load_average();
  std::printf("\nload average %s before, %s after%s\n\n", load_before.c_str(), load_after.c_str(),
              o.quick ? "; --quick: rows scaled down, 'met' compares them with the full-size bar" : "");
  print_table(std::cout, figures);
  std::cout.flush();
  if (!o.json_path.empty()) {
    Json doc = {{"quick", o.quick},
                {"runs", o.runs},
                {"cores", ::sysconf(_SC_NPROCESSORS_ONLN)},
                {"load_average_before", load_before},
                {"load_average_after", load_after},
                {"ceilings", ceilings_json(ceilings)},
                {"figures", figures_json(figures)}};
    std::ofstream out(o.json_path);
    out << doc.dump(2) << '\n';
    out.close();
    if (!out) return unavailable("cannot write " + o.json_path);
  }
  return Status::ok();
}

}  // namespace

int main(int argc, char** argv) {
  Launcher launcher;  // first, while this process is small (bench_common.h)
  BenchOptions o;
  const char* tmp = std::getenv("TMPDIR");
  o.parent = tmp && *tmp ? tmp : "/tmp";
  CLI::App app{"Runs every row of the design's performance table against the programs built beside it, with the "
               "ceilings of the building blocks measured in the same run (docs/BENCHMARK.md). Exit status: 0 when "
               "every row ran (met or not), 1 when a row failed, 2 for a usage error.",
               "shiftbook-bench"};
  app.add_flag("--quick", o.quick, "Scale every row down to finish in about a minute");
  app.add_option("--runs", o.runs, "Runs per row; the median is reported")->check(CLI::Range(1, 100));
  app.add_option("--only", o.only, "Only this row (repeat for more): push, pull, entry, terminals, report, dashboard")
      ->check(CLI::IsMember({"push", "pull", "entry", "terminals", "report", "dashboard"}))
      ->delimiter(',');
  app.add_option("--json", o.json_path, "Also write the figures to this file as JSON")->type_name("FILE");
  app.add_option("--dir", o.parent, "Where the scratch folders go (default $TMPDIR or /tmp)")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--keep", o.keep, "Keep the scratch folders (with the servers' logs)");
  app.add_option("--push-events", o.push_events, "Outputs terminal A pushes (default 100,000; --quick 20,000)")
      ->check(CLI::Range(1L, 10'000'000L));
  app.add_option("--pull-events", o.pull_events, "Events the new terminal pulls (default 1,000,000; --quick 50,000)")
      ->check(CLI::Range(1L, 10'000'000L));
  app.add_option("--entries", o.entries, "Entries per run of the entry row (default 1,000; --quick 200)")
      ->check(CLI::Range(4, 1'000'000));
  app.add_option("--terminals", o.terminals, "Terminals syncing at once (default 200; --quick 20)")
      ->check(CLI::Range(2, 2000));
  app.add_option("--per-unit", o.per_unit, "Terminals per production unit (default 10)")->check(CLI::Range(2, 1000));
  app.add_option("--terminal-events", o.terminal_events, "Events each of those terminals pushes in one round trip "
                                                         "(default 1,000; --quick 200)")
      ->check(CLI::Range(1, 10'000));  // 10,000 events are about 2.5 MB, under the 4 MiB push limit
  app.add_option("--report-events", o.report_events,
                 "Events of the site whose period report is read (default 10,000,000, about 10 GiB of memory; "
                 "--quick 100,000)")
      ->check(CLI::Range(1'000L, 100'000'000L));
  app.add_option("--dashboard-events", o.dashboard_events,
                 "Events the dashboard row's terminals push, whose overview is read (default 10,000,000, about "
                 "8 GiB of the server's memory; --quick 100,000)")
      ->check(CLI::Range(1'000L, 100'000'000L));
  app.add_option("--dashboard-terminals", o.dashboard_terminals,
                 "Terminals of the dashboard row, 10 per unit (default 200; --quick 20)")
      ->check(CLI::Range(1, 2000));
  app.add_option("--store", o.stores,
                 "The server's store for the push and terminals rows: sqlite: (the default) or a postgresql:// URL "
                 "of a server the benchmark may make schemas in (each run gets a fresh one, dropped after it); "
                 "repeat to measure both in one run, side by side")
      ->type_name("URL")
      ->check(CLI::Validator(
          [](std::string& url) -> std::string {
            // Never echoed: a mistyped URL may hold a password.
            return url == "sqlite:" || is_postgres_store(url) ? std::string()
                                                              : "must be sqlite: or a postgresql:// (postgres://) URL";
          },
          "sqlite:|postgresql://..."));
  app.add_option("--server-threads", o.server_threads,
                 "The server's pool in the terminals row (default: the server's own, 32)")
      ->check(CLI::Range(1, 1024));
  if (auto exit = command::parse(app, argc, argv)) return *exit;
  if (o.stores.empty()) o.stores.push_back("sqlite:");
  if (auto refused = refuse_stores(o)) {
    std::fprintf(stderr, "shiftbook-bench: %s\n", refused->c_str());
    return 2;
  }
  if (o.quick) {
    std::vector<std::string> given;
    for (const CLI::Option* opt : app.get_options()) {
      if (opt->count() > 0) given.push_back(opt->get_name());
    }
    o.scale_down(given);
  }
  return command::run("shiftbook-bench", [&] { return run_bench(launcher, o); });
}
