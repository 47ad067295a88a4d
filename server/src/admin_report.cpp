// The text and JSON of a unit's report for a period (admin_report.h), and `shares`, which prints
// every unit's report per period. docs/SERVER.md, "shares", has both forms.
#include "admin_report.h"

#include <algorithm>
#include <iostream>

#include "shiftbook/kinds.h"
#include "shiftbook/platform/console.h"

namespace shiftbook::server::cli {

using console::print_json;
using console::Table;

namespace {

Json decision_json(const PeriodDecision& d) {
  return Json{{"decision", d.approve ? "approval" : "reopen"},
              {"event", to_hex(d.event)},
              {"signer_seq", d.signer_seq},
              {"written_ms", d.written_ms},
              {"reason", d.reason}};
}

Json adjustment_json(const Adjustment& a) {
  Json workers = Json::object();
  for (const auto& [id, w] : a.workers) {
    workers[id] = Json{{"minutes", w.minutes},
                       {"special_minutes", w.special_minutes},
                       {"skill_upgrades", w.skill_upgrades},
                       {"innovations", w.innovations}};
  }
  Json actual = Json::object();
  for (const auto& [id, v] : a.actual) actual[id] = v;
  return Json{{"from_period", a.from_period}, {"actual", actual}, {"workers", workers}};
}

Json sources_json(const std::map<std::string, std::vector<FigureSource>>& sources) {
  Json out = Json::object();
  for (const auto& [id, list] : sources) {
    Json items = Json::array();
    for (const FigureSource& s : list) {
      items.push_back(Json{{"entry", to_hex(s.entry)}, {"current", to_hex(s.current)}, {"kind", s.kind}});
    }
    out[id] = items;
  }
  return out;
}

Json shares_json(const Shareout& s, const ProductAmounts& products) {
  Json points = Json::array();
  for (const WorkerPoints& w : s.points) {
    points.push_back(Json{{"worker", w.worker},
                          {"achievement_permille", w.achievement_permille},
                          {"minutes_milli", w.minutes_milli},
                          {"special_milli", w.special_milli},
                          {"skill_milli", w.skill_milli},
                          {"innovation_milli", w.innovation_milli},
                          {"milli_points", w.milli_points},
                          {"points", format_milli_points(w.milli_points)}});
  }
  Json out_products = Json::array();
  for (const ProductShareout& p : s.products) {
    Json lines = Json::array();
    for (const ShareLine& l : p.lines) {
      lines.push_back(Json{{"worker", l.worker},
                           {"milli_points", l.milli_points},
                           {"floor", l.floor},
                           {"remainder", l.remainder},
                           {"denominator", l.denominator},
                           {"exact_share", format_exact_share(l)},
                           {"rank", l.rank},
                           {"leftover", l.leftover},
                           {"share", l.share},
                           {"share_text", format_quantity(l.share, products.decimals(p.product))}});
    }
    out_products.push_back(Json{{"product", p.product},
                                {"quota", p.quota},
                                {"actual", p.actual},
                                {"surplus", p.surplus},
                                {"pool", p.pool},
                                {"total_milli_points", p.total_milli_points},
                                {"distributed", p.distributed},
                                {"leftover_units", p.leftover_units},
                                {"lines", lines}});
  }
  return Json{{"rule_version", s.rule_version}, {"points", points}, {"products", out_products}};
}

std::string sources_text(const std::vector<FigureSource>& sources) {
  std::vector<std::string> out;
  for (const FigureSource& s : sources) {
    out.push_back(shown_hash(s.entry) + " " + s.kind + (s.current == s.entry ? "" : " (now " + shown_hash(s.current) + ")"));
  }
  return join(out, ", ");
}

}  // namespace

Json report_json(const SiteReport& sr, const ProductAmounts& products) {
  const UnitPeriodReport& r = sr.report;
  Json decisions = Json::array();
  for (const PeriodDecision& d : r.decisions) decisions.push_back(decision_json(d));
  Json adjustments_in = Json::array();
  for (const Adjustment& a : r.adjustments_in) adjustments_in.push_back(adjustment_json(a));
  Json rules = nullptr;
  if (r.rules) {
    rules = Json{{"version", r.rules->rules.version},
                 {"from", format_date(r.rules->from_day)},
                 {"pool_share_permille", r.rules->rules.pool_share_permille},
                 {"special_weight_permille", r.rules->rules.special_weight_permille},
                 {"skill_points", r.rules->rules.skill_points},
                 {"innovation_points", r.rules->rules.innovation_points},
                 {"signer_seq", r.rules->signer_seq},
                 {"event", to_hex(r.rules->event)}};
  }
  return Json{{"site", sr.site},
              {"unit", r.unit},
              {"period", r.period},
              {"start", format_date(r.start_day)},
              {"end", format_date(r.end_day)},
              {"state", r.approval ? "approved" : "open"},
              {"approval", r.approval ? decision_json(*r.approval) : Json(nullptr)},
              {"decisions", decisions},
              {"reported", figures_json(r.reported)},
              {"computed", figures_json(r.computed)},
              {"adjustments_in", adjustments_in},
              {"adjustment_out", r.adjustment_out ? adjustment_json(*r.adjustment_out) : Json(nullptr)},
              {"adjusted_into", r.adjusted_into},
              {"rules", rules},
              {"shares", r.shares ? shares_json(*r.shares, products) : Json(nullptr)},
              {"shares_problem", r.shares_problem},
              {"worker_sources", sources_json(r.worker_sources)},
              {"product_sources", sources_json(r.product_sources)}};
}

void print_report(const SiteReport& sr, const ProductAmounts& products, bool explain) {
  const UnitPeriodReport& r = sr.report;
  std::cout << "unit " << r.unit << ", period " << r.period << " (" << format_date(r.start_day) << " to "
            << format_date(r.end_day) << ", site " << sr.site << "): " << state_text(r) << "; ";
  if (r.rules) std::cout << "rule set version " << r.rules->rules.version << (r.shares ? "" : "; ");
  if (!r.shares) std::cout << "no shares: " << r.shares_problem;
  std::cout << '\n';
  for (const Adjustment& a : r.adjustments_in) {
    std::cout << "  booked in from approved period " << a.from_period << ": " << adjustment_text(a, products) << '\n';
  }
  if (r.adjustment_out) {
    std::cout << "  changed since its approval: " << adjustment_text(*r.adjustment_out, products) << "; booked into "
              << (r.adjusted_into.empty() ? "the next period, once head office adds one" : "period " + r.adjusted_into)
              << '\n';
  }
  std::map<std::string, const ProductShareout*> pools;
  if (r.shares) {
    for (const ProductShareout& p : r.shares->products) pools[p.product] = &p;
  }
  if (!r.reported.products.empty()) {
    Table t({"PRODUCT", "QUOTA", "ACTUAL", "SURPLUS", "POOL"});
    for (const ProductFigures& p : r.reported.products) {
      auto pool = pools.find(p.product);
      const bool quota = p.quota_version != 0;
      std::string pool_text = "-";
      if (pool != pools.end()) {
        pool_text = products.amount(pool->second->pool, p.product) +
                    (pool->second->distributed || pool->second->pool == 0 ? "" : " (undistributed: no points)");
      }
      t.add({p.product, quota ? products.amount(p.quota, p.product) + " (v" + std::to_string(p.quota_version) + ")"
                              : "no quota",
             products.amount(p.actual, p.product),
             pool != pools.end() ? products.amount(pool->second->surplus, p.product) : "-", pool_text});
    }
    t.print(std::cout);
  }
  if (!r.reported.workers.empty()) {
    std::map<std::string, const WorkerPoints*> points;
    if (r.shares) {
      for (const WorkerPoints& w : r.shares->points) points[w.worker] = &w;
    }
    std::vector<std::string> header{"WORKER", "MINUTES", "SPECIAL", "SKILL UPGRADES", "INNOVATIONS", "ACHIEVEMENT",
                                    "POINTS"};
    for (const auto& [id, pool] : pools) {
      header.push_back(id + " EXACT");
      header.push_back(id + " SHARE");
    }
    Table t(header);
    for (const WorkerFigures& w : r.reported.workers) {
      auto p = points.find(w.worker);
      std::vector<std::string> row{w.worker,
                                   std::to_string(w.minutes),
                                   std::to_string(w.special_minutes),
                                   std::to_string(w.skill_upgrades),
                                   std::to_string(w.innovations),
                                   rate_text(w.achievement_permille),
                                   p == points.end() ? "-" : format_milli_points(p->second->milli_points)};
      for (const auto& [id, pool] : pools) {
        auto line = std::find_if(pool->lines.begin(), pool->lines.end(),
                                 [&](const ShareLine& l) { return l.worker == w.worker; });
        row.push_back(line == pool->lines.end() ? "-" : products.exact(*line, id));
        row.push_back(line == pool->lines.end() ? "-" : products.amount(line->share, id));
      }
      t.add(std::move(row));
    }
    t.print(std::cout);
  }
  if (r.reported.products.empty() && r.reported.workers.empty()) std::cout << "  no figures\n";
  if (!explain) return;
  for (const auto& [id, sources] : r.worker_sources) std::cout << "  " << id << ": " << sources_text(sources) << '\n';
  for (const auto& [id, sources] : r.product_sources) std::cout << "  " << id << ": " << sources_text(sources) << '\n';
}

namespace {

struct SharesOpts {
  std::string site, unit, period;
  bool explain = false;
};

}  // namespace

void add_shares_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "shares", "Each unit's report per period: approved or open, the figures, adjustments, points and each "
                "worker's share of every product's pool (docs/SHAREOUT.md)");
  auto o = std::make_shared<SharesOpts>();
  cmd->add_option("--site", o->site, "Only this site's (default: every site)");
  cmd->add_option("--unit", o->unit, "Only this production unit's");
  cmd->add_option("--period", o->period, "Only this period's");
  cmd->add_flag("--explain", o->explain, "Name the entries behind each worker's and product's figures");
  add_json_flag(cmd, ctx);
  on_run(cmd, ctx, o, [](Context& c, const SharesOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(ProductAmounts products, ProductAmounts::read(*service));
    SB_ASSIGN_OR_RETURN(std::vector<SiteReport> reports, service->reports(opts.site, opts.unit, opts.period));
    if (c.json) {
      Json doc = {{"reports", Json::array()}};
      for (const SiteReport& r : reports) doc["reports"].push_back(report_json(r, products));
      print_json(doc);
      return Status::ok();
    }
    if (reports.empty()) {
      std::cout << "no reports: no unit has figures, a quota or a decision here\n";
      return Status::ok();
    }
    for (std::size_t i = 0; i < reports.size(); ++i) {
      if (i > 0) std::cout << '\n';
      print_report(reports[i], products, opts.explain);
    }
    return Status::ok();
  });
}

}  // namespace shiftbook::server::cli
