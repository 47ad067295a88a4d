// Reading: list, show, summary, status, verify, export. The store returns JSON documents
// (docs/READING.md); --json prints them as they are, otherwise cli_render.cpp makes text.
#include <algorithm>
#include <iostream>

#include "cli_commands.h"
#include "cli_io.h"
#include "shiftbook/platform/files.h"
#include "cli_render.h"
#include "shiftbook/kinds.h"

namespace shiftbook::cli {
namespace {

struct ListOpts {
  std::string shift, worker, kind, terminal;
  bool all = false, mine = false;
};
struct ShowOpts {
  std::string entry;
};
struct SummaryOpts {
  std::string shift, unit, period;
};
struct ExportOpts {
  std::string output;
};

void add_list_show(CLI::App& app, Context& ctx) {
  auto* list = app.add_subcommand("list", "List entries (void ones only with --all)");
  auto lo = std::make_shared<ListOpts>();
  list->add_option("--shift", lo->shift, "Only entries of this shift")->type_name("REF");
  list->add_option("--worker", lo->worker, "Only entries of this worker");
  list->add_option("--kind", lo->kind, "Only entries of this kind")
      ->check(CLI::IsMember({"hours", "output", "bonus", "confirm"}));
  auto* mine = list->add_flag("--mine", lo->mine, "Only entries recorded on this terminal");
  list->add_option("--terminal", lo->terminal, "Only entries of the terminal whose device id starts so (as the "
                                               "terminal column shows it)")
      ->type_name("ID")
      ->excludes(mine);
  list->add_flag("--all", lo->all, "Include void entries");
  add_json_flag(list, ctx);
  on_run(list, ctx, lo, [](Context& c, ListOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    client::ListFilter filter;
    if (!o.shift.empty()) {
      SB_ASSIGN_OR_RETURN(filter.shift, store->find_shift(o.shift));
    }
    if (!o.worker.empty()) filter.worker = o.worker;
    if (!o.kind.empty()) filter.kind = o.kind;
    if (o.mine) filter.device = store->device();
    if (!o.terminal.empty()) {
      SB_ASSIGN_OR_RETURN(filter.device, store->find_device(o.terminal));
    }
    filter.include_void = o.all;
    SB_ASSIGN_OR_RETURN(Json doc, store->list_entries(filter));
    if (c.json) {
      print_json(doc);
      return Status::ok();
    }
    render_entries(doc, std::cout);
    if (doc.contains("revoked") && doc["revoked"].is_object()) {
      const Json& r = doc["revoked"];
      std::cout << "head office revoked this terminal on " << utc_time_text(int_of(r, "revoked_ms"))
                << (str_of(r, "reason").empty() ? "" : " (" + str_of(r, "reason") + ")")
                << ": it shows only its own entries\n";
    }
    return Status::ok();
  });

  auto* show = app.add_subcommand("show", "Show an entry with every version of it");
  auto so = std::make_shared<ShowOpts>();
  show->add_option("ENTRY", so->entry, "The entry: its number on this terminal, or 8+ digits of its hash (as list "
                                       "shows another terminal's)")->required();
  add_json_flag(show, ctx);
  on_run(show, ctx, so, [](Context& c, ShowOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(Json doc, store->show_entry(o.entry));
    if (c.json) print_json(doc); else render_show(doc, std::cout);
    return Status::ok();
  });
}

void add_summary_status(CLI::App& app, Context& ctx) {
  auto* summary = app.add_subcommand(
      "summary", "Hours per worker, special-environment hours, bonuses and output against quota, for a shift "
                 "(default: the only open shift) or for a unit and period");
  auto so = std::make_shared<SummaryOpts>();
  auto* shift = summary->add_option("--shift", so->shift, "The shift")->type_name("REF");
  auto* unit = summary->add_option("--unit", so->unit, "The production unit (with --period)");
  auto* period = summary->add_option("--period", so->period, "The period, such as 2026-11 (with --unit)");
  unit->needs(period)->excludes(shift);
  period->needs(unit)->excludes(shift);
  add_json_flag(summary, ctx);
  on_run(summary, ctx, so, [](Context& c, SummaryOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(Json doc, o.unit.empty() ? store->summary_shift(o.shift)
                                                 : store->summary_period(o.unit, o.period));
    if (c.json) print_json(doc); else render_summary(doc, std::cout);
    return Status::ok();
  });

  auto* status = app.add_subcommand("status", "This terminal: device, login, open shifts, events, reference data, "
                                              "and how syncing with head office goes");
  add_json_flag(status, ctx);
  on_run(status, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(Json doc, store->status());
    if (c.json) print_json(doc); else render_status(doc, std::cout);
    return Status::ok();
  });
}

void add_verify_export(CLI::App& app, Context& ctx) {
  auto* verify = app.add_subcommand(
      "verify", "Re-check every event's hash, the chain and the signed head, and that what list and summary show "
                "is what the events say; exit 9 naming the first bad event or entry");
  add_json_flag(verify, ctx);
  on_run(verify, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(client::VerifyReport report, store->verify());
    const bool ok = report.problem.is_ok();
    if (c.json) {
      Json doc{{"ok", ok}, {"events", report.events}, {"devices", report.devices},
               {"heads_checked", report.heads_checked}, {"log_ok", report.log_ok}};
      if (!ok) doc["problem"] = report.problem.message();
      print_json(doc);
    } else if (ok) {
      std::cout << "verified " << report.events << (report.events == 1 ? " event" : " events") << " of "
                << report.devices << (report.devices == 1 ? " device" : " devices") << " and "
                << report.heads_checked << " signed chain " << (report.heads_checked == 1 ? "head" : "heads")
                << "; what the terminal shows matches them: all good\n";
    }
    if (ok) return Status::ok();
    return data_loss("verify failed: " + report.problem.message());
  });

  auto* exp = app.add_subcommand("export", "Write the log as JSON lines: every event, then each device's signed head");
  auto eo = std::make_shared<ExportOpts>();
  exp->add_option("--output", eo->output, "Write to FILE (atomically) instead of standard output")->type_name("FILE");
  on_run(exp, ctx, eo, [](Context& c, ExportOpts& o) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    if (o.output.empty()) {
      Status s = store->export_log(std::cout);
      std::cout.flush();
      if (s.is_ok() && !std::cout) return internal_error("cannot write the export to standard output");
      return s;
    }
    SB_RETURN_IF_ERROR(write_file_atomic(o.output, 0644, [&](std::ostream& out) { return store->export_log(out); }));
    std::cout << "exported the log to " << o.output << '\n';
    return Status::ok();
  });
}

void add_conflicts_anomalies(CLI::App& app, Context& ctx) {
  auto* conflicts = app.add_subcommand("conflicts", "Entries of this terminal's units that several terminals changed "
                                                    "without seeing each other (open ones; --all: resolved too)");
  auto all = std::make_shared<bool>(false);
  conflicts->add_flag("--all", *all, "Include conflicts head office has resolved");
  add_json_flag(conflicts, ctx);
  on_run(conflicts, ctx, [all](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(Json doc, store->conflicts(*all));
    if (c.json) print_json(doc); else render_conflicts(doc, std::cout);
    return Status::ok();
  });
  auto* anomalies = app.add_subcommand("anomalies", "Numbers of this terminal's units that cannot all be true "
                                                    "(overlapping hours, more than 24 hours, output against an old quota)");
  add_json_flag(anomalies, ctx);
  on_run(anomalies, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(Json doc, store->anomalies());
    if (c.json) print_json(doc); else render_anomalies(doc, std::cout);
    return Status::ok();
  });
}

}  // namespace

void add_read_commands(CLI::App& app, Context& ctx) {
  add_list_show(app, ctx);
  add_conflicts_anomalies(app, ctx);
  add_summary_status(app, ctx);
  add_verify_export(app, ctx);
}

}  // namespace shiftbook::cli
