// Sharing out and paying from the command line: `rules set|list` (the versioned rule sets),
// `achievement set|list` (a worker's achievement figure in a period), `approve` and `reopen` (a
// unit's return for a period locked and unlocked, as events in the site's head-office chain) and
// `export payroll` (CSV or JSON for payroll); `shares` is in admin_report.cpp. Each reads or
// writes through the Service (service_payroll.cpp); docs/SERVER.md has each command's output.
#include <sys/stat.h>

#include <algorithm>
#include <iostream>

#include "admin.h"
#include "admin_report.h"
#include "shiftbook/kinds.h"
#include "shiftbook/platform/console.h"
#include "shiftbook/platform/files.h"

namespace shiftbook::server::cli {

using console::print_json;
using console::Table;

namespace {

// ---- rule sets and achievement figures

struct RulesOpts {
  std::int64_t version = 0;  // 0: one more than the highest held
  std::string from;
  std::int64_t pool_share = 0, special_weight = 0, skill_points = 0, innovation_points = 0;
};

std::int64_t version_of(const Json& rules) { return rules.value("version", std::int64_t{0}); }

void add_rules_commands(CLI::App& app, Context& ctx) {
  auto* rules = app.add_subcommand(
      "rules", "Rule sets for sharing out above-quota output (docs/SHAREOUT.md): versioned, never changed; a period "
               "uses the one in force on its first day");
  rules->require_subcommand(1);
  auto* set = rules->add_subcommand("set", "Write a new rule set (every site's chain carries it)");
  auto o = std::make_shared<RulesOpts>();
  set->add_option("--version", o->version, "Its version (default: one more than the highest written)")
      ->check(CLI::PositiveNumber);
  set->add_option("--from", o->from, "In force for periods starting on or after this day, YYYY-MM-DD")->required();
  set->add_option("--pool-share-permille", o->pool_share, "The part of a surplus shared out, in thousandths (0..1000)")
      ->required();
  set->add_option("--special-weight-permille", o->special_weight,
                  "Points per special-environment minute, in thousandths (0..10000)")
      ->required();
  set->add_option("--skill-points", o->skill_points, "Points per skill upgrade (0..1000000)")->required();
  set->add_option("--innovation-points", o->innovation_points, "Points per innovation (0..1000000)")->required();
  add_json_flag(set, ctx);
  on_run(set, ctx, o, [](Context& c, const RulesOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    Json body = {{"from", opts.from},
                 {"pool_share_permille", opts.pool_share},
                 {"special_weight_permille", opts.special_weight},
                 {"skill_points", opts.skill_points},
                 {"innovation_points", opts.innovation_points}};
    if (opts.version != 0) body["version"] = opts.version;
    SB_ASSIGN_OR_RETURN(Json written, service->put_reference("ref_rules", std::move(body)));
    if (c.json) {
      print_json(written);
      return Status::ok();
    }
    std::cout << "wrote rule set version " << version_of(written) << ", in force for periods starting on or after "
              << opts.from << ": pool share " << rate_text(opts.pool_share) << " of the surplus, special minutes at "
              << rate_text(opts.special_weight) << ", " << opts.skill_points << " points per skill upgrade, "
              << opts.innovation_points << " per innovation\n";
    return Status::ok();
  });

  auto* list = rules->add_subcommand("list", "List the rule sets by version");
  add_json_flag(list, ctx);
  on_run(list, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(std::vector<Json> items, service->reference("ref_rules"));
    std::sort(items.begin(), items.end(), [](const Json& a, const Json& b) { return version_of(a) < version_of(b); });
    if (c.json) {
      print_json(Json{{"rules", items}});
      return Status::ok();
    }
    if (items.empty()) {
      std::cout << "no rule sets yet (write one with 'rules set')\n";
      return Status::ok();
    }
    Table t({"VERSION", "FROM", "POOL SHARE", "SPECIAL WEIGHT", "SKILL POINTS", "INNOVATION POINTS"});
    for (const Json& r : items) {
      t.add({std::to_string(version_of(r)), r.value("from", std::string()),
             rate_text(r.value("pool_share_permille", std::int64_t{0})),
             rate_text(r.value("special_weight_permille", std::int64_t{0})),
             std::to_string(r.value("skill_points", std::int64_t{0})),
             std::to_string(r.value("innovation_points", std::int64_t{0}))});
    }
    t.print(std::cout);
    return Status::ok();
  });
}

struct AchievementOpts {
  std::string worker, period, site;
  std::int64_t permille = 0;
};

void add_achievement_commands(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand(
      "achievement", "Workers' achievement figures per period: minutes count at this rate in the points (1000 = "
                     "100 %, the figure when none is set)");
  group->require_subcommand(1);
  auto* set = group->add_subcommand("set", "Set a worker's achievement figure for a period (the latest counts)");
  auto o = std::make_shared<AchievementOpts>();
  set->add_option("--worker", o->worker, "The worker")->required();
  set->add_option("--period", o->period, "The period")->required();
  set->add_option("--permille", o->permille, "The figure in thousandths, 0..10000 (1100 = 110 %)")->required();
  add_json_flag(set, ctx);
  on_run(set, ctx, o, [](Context& c, const AchievementOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(Json written, service->put_reference("ref_achievement", Json{{"worker", opts.worker},
                                                                                     {"period", opts.period},
                                                                                     {"permille", opts.permille}}));
    if (c.json) {
      print_json(written);
      return Status::ok();
    }
    std::cout << "set the achievement figure of worker " << opts.worker << " in period " << opts.period << " to "
              << opts.permille << " (" << rate_text(opts.permille) << ")\n";
    return Status::ok();
  });

  auto* list = group->add_subcommand("list", "List the achievement figures set (workers without one count at 1000)");
  auto lo = std::make_shared<AchievementOpts>();
  list->add_option("--site", lo->site, "Only this site's workers");
  list->add_option("--period", lo->period, "Only this period's");
  add_json_flag(list, ctx);
  on_run(list, ctx, lo, [](Context& c, const AchievementOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    if (!opts.site.empty()) {
      SB_ASSIGN_OR_RETURN(std::vector<std::string> sites, service->sites());
      if (std::find(sites.begin(), sites.end(), opts.site) == sites.end()) {
        return not_found("site '" + opts.site + "' does not exist (see 'site list')");
      }
    }
    if (!opts.period.empty()) {
      SB_ASSIGN_OR_RETURN(std::vector<Json> periods, service->reference("ref_period"));
      if (std::none_of(periods.begin(), periods.end(),
                       [&](const Json& p) { return p.value("id", std::string()) == opts.period; })) {
        return not_found("period '" + opts.period + "' does not exist (see 'period list')");
      }
    }
    SB_ASSIGN_OR_RETURN(std::vector<Json> items, service->reference("ref_achievement", opts.site));
    std::erase_if(items, [&](const Json& a) {
      return !opts.period.empty() && a.value("period", std::string()) != opts.period;
    });
    if (c.json) {
      print_json(Json{{"achievements", items}});
      return Status::ok();
    }
    if (items.empty()) {
      std::cout << "no achievement figures set (every worker counts at 1000; set one with 'achievement set')\n";
      return Status::ok();
    }
    Table t({"WORKER", "PERIOD", "PERMILLE", "RATE"});
    for (const Json& a : items) {
      const std::int64_t permille = a.value("permille", std::int64_t{0});
      t.add({a.value("worker", std::string()), a.value("period", std::string()), std::to_string(permille),
             rate_text(permille)});
    }
    t.print(std::cout);
    return Status::ok();
  });
}

// ---- approval

struct DecideOpts {
  std::string unit, period, reason;
};

// What approve and reopen print: the decision written and the report after it.
Status print_decision(const Context& c, const SiteReport& sr, const ProductAmounts& products) {
  if (c.json) {
    print_json(report_json(sr, products));
    return Status::ok();
  }
  const UnitPeriodReport& r = sr.report;
  if (r.decisions.empty()) return internal_error("the decision just written is not in the report");
  const PeriodDecision& d = r.decisions.back();
  if (d.approve) {
    std::cout << "approved unit " << r.unit << "'s period " << r.period << ": locked with the figures below; later "
              << "events for it are booked into the next open period\n";
  } else {
    std::cout << "reopened unit " << r.unit << "'s period " << r.period << " (" << d.reason
              << "): it reports its live figures again\n";
  }
  std::cout << "written as event " << shown_hash(d.event) << ", seq " << d.signer_seq << " of site " << sr.site
            << "'s head-office chain\n";
  print_report(sr, products, false);
  return Status::ok();
}

void add_decision_commands(CLI::App& app, Context& ctx) {
  auto* approve = app.add_subcommand(
      "approve", "Approve a unit's return for a period, which locks it: the figures computed now are recorded; "
                 "later events for the period are booked into the next open one");
  auto o = std::make_shared<DecideOpts>();
  approve->add_option("--unit", o->unit, "The production unit")->required();
  approve->add_option("--period", o->period, "The period")->required();
  add_json_flag(approve, ctx);
  on_run(approve, ctx, o, [](Context& c, const DecideOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(ProductAmounts products, ProductAmounts::read(*service));
    SB_ASSIGN_OR_RETURN(SiteReport r, service->approve(opts.unit, opts.period));
    return print_decision(c, r, products);
  });

  auto* reopen = app.add_subcommand("reopen", "Unlock an approved period of a unit (the reason is kept with it)");
  auto ro = std::make_shared<DecideOpts>();
  reopen->add_option("--unit", ro->unit, "The production unit")->required();
  reopen->add_option("--period", ro->period, "The period")->required();
  reopen->add_option("--reason", ro->reason, "Why (1 to 500 bytes)")->required();
  add_json_flag(reopen, ctx);
  on_run(reopen, ctx, ro, [](Context& c, const DecideOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(ProductAmounts products, ProductAmounts::read(*service));
    SB_ASSIGN_OR_RETURN(SiteReport r, service->reopen(opts.unit, opts.period, opts.reason));
    return print_decision(c, r, products);
  });
}

// ---- export payroll

struct PayrollOpts {
  std::string period, site, unit, format = "csv", output;
  bool force = false;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

void add_export(CLI::App& app, Context& ctx) {
  auto* group = app.add_subcommand("export", "Exports for other systems");
  group->require_subcommand(1);
  auto* payroll = group->add_subcommand(
      "payroll", "One line per worker, unit, period and product with a quota: minutes, special minutes, points and "
                 "share (approved figures for a locked period); CSV or JSON");
  auto o = std::make_shared<PayrollOpts>();
  payroll->add_option("--period", o->period, "The period")->required();
  payroll->add_option("--site", o->site, "Only this site's units");
  payroll->add_option("--unit", o->unit, "Only this production unit");
  payroll->add_option("--format", o->format, "csv (default) or json")->check(CLI::IsMember({"csv", "json"}));
  payroll->add_option("--output", o->output, "Write to FILE (atomically) instead of standard output")
      ->type_name("FILE");
  payroll->add_flag("--force", o->force, "Replace FILE when it exists");
  on_run(payroll, ctx, o, [](Context& c, const PayrollOpts& opts) -> Status {
    if (!opts.output.empty() && !opts.force && exists(opts.output)) {
      return already_exists(opts.output + " exists; give another --output, or --force to replace it");
    }
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(std::vector<PayrollRow> rows, service->payroll(opts.period, opts.site, opts.unit));
    // Ids are checked UTF-8, so the replace handler never fires; it keeps dump() from throwing.
    const std::string text =
        opts.format == "json"
            ? payroll_json(opts.period, rows).dump(-1, ' ', false, Json::error_handler_t::replace) + "\n"
            : payroll_csv(rows);
    if (opts.output.empty()) {
      std::cout << text;
      std::cout.flush();
      if (!std::cout) return internal_error("cannot write the payroll to standard output");
      return Status::ok();
    }
    SB_RETURN_IF_ERROR(write_file_atomic(opts.output, as_bytes(text), 0600));
    std::cout << "exported " << rows.size() << (rows.size() == 1 ? " line" : " lines") << " of period "
              << opts.period << " to " << opts.output << '\n';
    return Status::ok();
  });
}


}  // namespace

void add_payroll_commands(CLI::App& app, Context& ctx) {
  add_rules_commands(app, ctx);
  add_achievement_commands(app, ctx);
  add_decision_commands(app, ctx);
  add_shares_command(app, ctx);
  add_export(app, ctx);
}

}  // namespace shiftbook::server::cli
