// The dashboard's pages about the period returns (docs/DASHBOARD.md, step 3): each unit's return
// with its share-out and the approve and reopen actions, the explanation of one worker's share
// down to the signed events and the rule set, one event as stored, and the exports (payroll CSV
// and JSON, the audit). Figures are Service::reports, as `shares` prints them.
#include <algorithm>

#include "dashboard_impl.h"
#include "report_api.h"
#include "service_impl.h"
#include "shiftbook/audit.h"
#include "shiftbook/kinds.h"
#include "shiftbook/shareout.h"

namespace shiftbook::server::dash {
namespace {

std::string returns_link(const std::string& period) { return "/dashboard/returns?period=" + url_encode(period); }

// The address of a share's explanation (not escaped for HTML yet).
std::string share_href(const UnitPeriodReport& r, const std::string& worker) {
  return "/dashboard/share?unit=" + url_encode(r.unit) + "&period=" + url_encode(r.period) +
         "&worker=" + url_encode(worker);
}

// Who wrote an event: its author, as stored; "" when it is not held.
std::string author_of(Service& service, const Hash& h) {
  auto e = stored_event(service, h);
  return e.is_ok() && *e ? (*e)->author : std::string();
}

std::string products_table(const UnitPeriodReport& r, const ProductAmounts& products) {
  if (r.reported.products.empty()) return {};
  std::string out = "<table class=\"products\"><tr><th>Product</th><th>Quota</th><th>Actual</th><th>Surplus</th>"
                    "<th>Pool</th></tr>\n";
  for (const ProductFigures& p : r.reported.products) {
    const ProductShareout* pool = nullptr;
    if (r.shares) {
      for (const ProductShareout& s : r.shares->products) {
        if (s.product == p.product) pool = &s;
      }
    }
    const bool quota = p.quota_version != 0;
    out += "<tr><td>" + html_escape(p.product) + "</td><td class=\"n\">" +
           (quota ? html_escape(products.amount(p.quota, p.product)) + " (v" + std::to_string(p.quota_version) + ")"
                  : std::string("no quota")) +
           "</td><td class=\"n\">" + html_escape(products.amount(p.actual, p.product)) + "</td><td class=\"n\">" +
           (pool ? html_escape(products.amount(pool->surplus, p.product)) : std::string("-")) + "</td><td class=\"n\">" +
           (pool ? html_escape(products.amount(pool->pool, p.product)) +
                       (pool->distributed || pool->pool == 0 ? "" : " (undistributed: no points)")
                 : std::string("-")) +
           "</td></tr>\n";
  }
  return out + "</table>\n";
}

// "W1 (Anna)": a worker as the tables show them, escaped.
std::string worker_text(const std::string& id, const std::map<std::string, std::string>& names) {
  auto it = names.find(id);
  return html_escape(it == names.end() || it->second.empty() ? id : id + " (" + it->second + ")");
}

std::string shares_table(const UnitPeriodReport& r, const ProductAmounts& products,
                         const std::map<std::string, std::string>& names) {
  if (r.reported.workers.empty()) return {};
  std::vector<const ProductShareout*> pools;
  if (r.shares) {
    for (const ProductShareout& p : r.shares->products) pools.push_back(&p);
  }
  std::string out = "<table class=\"shares\"><tr><th>Worker</th><th>Minutes</th><th>Special</th><th>Skill upgrades</th>"
                    "<th>Innovations</th><th>Achievement</th><th>Points</th>";
  for (const ProductShareout* p : pools) out += "<th>" + html_escape(p->product) + " share</th>";
  out += "</tr>\n";
  for (const WorkerFigures& w : r.reported.workers) {
    std::string points = "-";
    if (r.shares) {
      for (const WorkerPoints& p : r.shares->points) {
        if (p.worker == w.worker) points = format_milli_points(p.milli_points);
      }
    }
    out += "<tr><td>" + worker_text(w.worker, names) + "</td><td class=\"n\">" + std::to_string(w.minutes) +
           "</td><td class=\"n\">" + std::to_string(w.special_minutes) + "</td><td class=\"n\">" +
           std::to_string(w.skill_upgrades) + "</td><td class=\"n\">" + std::to_string(w.innovations) +
           "</td><td class=\"n\">" + rate_text(w.achievement_permille) + "</td><td class=\"n\">" + points + "</td>";
    for (const ProductShareout* p : pools) {
      auto line = std::find_if(p->lines.begin(), p->lines.end(), [&](const ShareLine& l) { return l.worker == w.worker; });
      out += "<td class=\"n\">" +
             (line == p->lines.end()
                  ? std::string("-")
                  : "<a href=\"" + html_escape(share_href(r, w.worker)) + "\">" +
                        html_escape(products.amount(line->share, p->product)) + "</a>") +
             "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string return_section(Service& service, const SessionInfo& session, const SiteReport& sr,
                           const ProductAmounts& products, const std::map<std::string, std::string>& names) {
  const UnitPeriodReport& r = sr.report;
  std::string state = html_escape(state_text(r));
  if (r.approval) {
    const std::string by = author_of(service, r.approval->event);
    if (!by.empty()) state += " by " + html_escape(by);
    state += ", event " + event_link(r.approval->event);
  }
  std::string out = "<section class=\"return\" id=\"return-" + html_escape(r.unit) + "\"><h3>Unit " +
                    html_escape(r.unit) + ", period " + html_escape(r.period) + " (" + format_date(r.start_day) +
                    " to " + format_date(r.end_day) + ", site " + html_escape(sr.site) +
                    "): <span class=\"state\">" + state + "</span></h3>\n";
  if (r.rules) {
    out += "<p>Rule set version " + std::to_string(r.rules->rules.version) + " (" + event_link(r.rules->event) + ").</p>\n";
  } else {
    out += "<p>No shares: " + html_escape(r.shares_problem) + "</p>\n";
  }
  for (const Adjustment& a : r.adjustments_in) {
    out += "<p class=\"adjustment\">Booked in from approved period " + html_escape(a.from_period) + ": " +
           html_escape(adjustment_text(a, products)) + "</p>\n";
  }
  if (r.adjustment_out) {
    out += "<p class=\"adjustment\">Changed since its approval: " + html_escape(adjustment_text(*r.adjustment_out, products)) +
           "; booked into " +
           (r.adjusted_into.empty() ? std::string("the next period, once head office adds one")
                                    : "period " + html_escape(r.adjusted_into)) +
           ".</p>\n";
  }
  out += products_table(r, products) + shares_table(r, products, names);
  if (r.reported.products.empty() && r.reported.workers.empty()) out += "<p>No figures.</p>\n";
  if (r.approval) {
    out += form_start("/dashboard/returns/reopen", session, "reopen") + hidden("unit", r.unit) +
           hidden("period", r.period) +
           "<p><label>Reason to reopen <input name=\"reason\" required maxlength=\"500\" size=\"50\"></label> "
           "<button type=\"submit\">Reopen</button></p></form>\n";
  } else {
    out += form_start("/dashboard/returns/approve", session, "approve") + hidden("unit", r.unit) +
           hidden("period", r.period) + "<p><button type=\"submit\">Approve</button></p></form>\n";
  }
  return out + "</section>\n";
}

Result<std::string> returns_html(Service& service, const SessionInfo& session, const std::string& wanted) {
  SB_ASSIGN_OR_RETURN(std::optional<Json> period, period_to_show(service, wanted));
  if (!period) return std::string("<p>No period holds today: choose one.</p>") + "";
  const std::string period_id = period->value("id", std::string());
  SB_ASSIGN_OR_RETURN(std::string select, period_select(service, "/dashboard/returns", period_id));
  SB_ASSIGN_OR_RETURN(std::vector<SiteReport> reports, service.reports("", "", period_id));
  SB_ASSIGN_OR_RETURN(ProductAmounts products, ProductAmounts::read(service));
  std::string body = select + "<h2>Period returns, " + html_escape(period_id) + "</h2>\n";
  if (reports.empty()) body += "<p>No unit has figures, a quota or a decision in this period.</p>\n";
  SB_ASSIGN_OR_RETURN(auto names, names_of(service, "ref_worker"));
  for (const SiteReport& sr : reports) body += return_section(service, session, sr, products, names);
  return body;
}

PageBody returns_redraw(Service& service, const DashboardRequest& request) {
  return [&service, &request](const SessionInfo& s) { return returns_html(service, s, param(request, "period")); };
}

// The report of a unit in a period that a share explanation reads.
Result<SiteReport> one_report(Service& service, const std::string& unit, const std::string& period) {
  if (unit.empty() || period.empty()) return invalid_argument("give unit=U and period=P (and worker=W)");
  SB_ASSIGN_OR_RETURN(std::vector<SiteReport> reports, service.reports("", unit, period));
  if (reports.empty()) return not_found("unit " + unit + " has no report for period " + period);
  return std::move(reports.front());
}

std::string sources_list(const std::vector<FigureSource>& sources) {
  if (sources.empty()) return "<p>No entries.</p>\n";
  std::string out = "<ul class=\"sources\">";
  for (const FigureSource& s : sources) {
    out += "<li>" + html_escape(s.kind) + " " + event_link(s.entry) +
           (s.current == s.entry ? std::string() : ", corrected: now " + event_link(s.current)) + "</li>";
  }
  return out + "</ul>\n";
}

Result<std::string> share_html(Service& service, const DashboardRequest& request) {
  const std::string worker = param(request, "worker");
  SB_ASSIGN_OR_RETURN(SiteReport sr, one_report(service, param(request, "unit"), param(request, "period")));
  SB_ASSIGN_OR_RETURN(ProductAmounts products, ProductAmounts::read(service));
  const UnitPeriodReport& r = sr.report;
  auto figures = std::find_if(r.reported.workers.begin(), r.reported.workers.end(),
                              [&](const WorkerFigures& w) { return w.worker == worker; });
  if (figures == r.reported.workers.end()) {
    return not_found("worker '" + worker + "' has no figures in unit " + r.unit + "'s period " + r.period);
  }
  SB_ASSIGN_OR_RETURN(auto names, names_of(service, "ref_worker"));
  std::string body = "<h2>Share of worker " + worker_text(worker, names) + ", unit " + html_escape(r.unit) + ", period " +
                     html_escape(r.period) + "</h2>\n<p>The return is " + html_escape(state_text(r)) +
                     (r.approval ? "; these are the approved figures" : "; these are the live figures") +
                     ". <a href=\"" + html_escape(returns_link(r.period)) + "\">Back to the returns</a></p>\n";
  if (!r.rules || !r.shares) return body + "<p>No shares: " + html_escape(r.shares_problem) + "</p>\n";
  const RuleSet& rules = r.rules->rules;
  const WorkerPoints* points = nullptr;
  for (const WorkerPoints& p : r.shares->points) {
    if (p.worker == worker) points = &p;
  }
  body += "<h3>1. The rule set</h3>\n<p>Version " + std::to_string(rules.version) + ", in force from " +
          format_date(r.rules->from_day) + ", set by event " + event_link(r.rules->event) + " (seq " +
          std::to_string(r.rules->signer_seq) + " of the site's head-office chain): pool share " +
          rate_text(rules.pool_share_permille) + " of the surplus, " +
          format_milli_points(rules.special_weight_permille) + " points more a minute in a special environment, " + std::to_string(rules.skill_points) +
          " points a skill upgrade, " + std::to_string(rules.innovation_points) + " points an innovation.</p>\n";
  body += "<h3>2. The worker's figures</h3>\n<table class=\"figures\"><tr><th>Minutes</th><th>Special minutes</th>"
          "<th>Skill upgrades</th><th>Innovations</th><th>Achievement</th></tr><tr><td class=\"n\">" +
          std::to_string(figures->minutes) + "</td><td class=\"n\">" + std::to_string(figures->special_minutes) +
          "</td><td class=\"n\">" + std::to_string(figures->skill_upgrades) + "</td><td class=\"n\">" +
          std::to_string(figures->innovations) + "</td><td class=\"n\">" + rate_text(figures->achievement_permille) +
          "</td></tr></table>\n";
  if (points) {
    body += "<h3>3. Points (thousandths)</h3>\n<p class=\"formula\">minutes × achievement = " +
            std::to_string(figures->minutes) + " × " + std::to_string(figures->achievement_permille) + " = " +
            std::to_string(points->minutes_milli) + "<br>+ special minutes × weight = " +
            std::to_string(figures->special_minutes) + " × " + std::to_string(rules.special_weight_permille) + " = " +
            std::to_string(points->special_milli) + "<br>+ 1000 × skill upgrades × points = 1000 × " +
            std::to_string(figures->skill_upgrades) + " × " + std::to_string(rules.skill_points) + " = " +
            std::to_string(points->skill_milli) + "<br>+ 1000 × innovations × points = 1000 × " +
            std::to_string(figures->innovations) + " × " + std::to_string(rules.innovation_points) + " = " +
            std::to_string(points->innovation_milli) + "<br>= <b>" + std::to_string(points->milli_points) +
            "</b> thousandths, " + format_milli_points(points->milli_points) + " points</p>\n";
  }
  body += "<h3>4. Each product's pool and the worker's share</h3>\n";
  for (const ProductShareout& p : r.shares->products) {
    auto line = std::find_if(p.lines.begin(), p.lines.end(), [&](const ShareLine& l) { return l.worker == worker; });
    const std::string& id = p.product;
    body += "<section class=\"product\"><h4>" + html_escape(id) + "</h4>\n<p>surplus = max(0, actual − quota) = max(0, " +
            html_escape(products.amount(p.actual, id)) + " − " + html_escape(products.amount(p.quota, id)) + ") = " +
            html_escape(products.amount(p.surplus, id)) + "<br>pool = surplus × " + rate_text(rules.pool_share_permille) +
            ", rounded down = " + html_escape(products.amount(p.pool, id)) + "</p>\n";
    if (line == p.lines.end() || !p.distributed) {
      body += "<p>" + std::string(p.distributed ? "The worker has no line in this pool." : "Nobody has points: the pool stays with the unit.") + "</p>\n";
    } else {
      body += "<p>exact share = pool × worker's points ÷ everyone's points = " + std::to_string(p.pool) + " × " +
              std::to_string(line->milli_points) + " ÷ " + std::to_string(p.total_milli_points) + " = " +
              html_escape(products.exact(*line, id)) + "<br>rounded down: " + std::to_string(line->floor) +
              " base units, remainder " + std::to_string(line->remainder) + " of " + std::to_string(line->denominator) +
              "<br>" + std::to_string(p.leftover_units) +
              (p.leftover_units == 1 ? " unit was" : " units were") + " left after rounding down; they go one each to the largest remainders. This remainder ranks " +
              std::to_string(line->rank) + (line->leftover ? ", so it gets one" : ", so it gets none") +
              "<br>share paid = <b class=\"share\">" + html_escape(products.amount(line->share, id)) + "</b></p>\n";
    }
    auto sources = r.product_sources.find(id);
    body += "<p>The output behind the actual:</p>\n" +
            sources_list(sources == r.product_sources.end() ? std::vector<FigureSource>{} : sources->second) +
            "</section>\n";
  }
  auto sources = r.worker_sources.find(worker);
  body += "<h3>5. The entries behind the worker's figures</h3>\n" +
          sources_list(sources == r.worker_sources.end() ? std::vector<FigureSource>{} : sources->second);
  return body;
}

Result<std::string> event_html(Service& service, const DashboardRequest& request) {
  const std::string text = param(request, "hash");
  auto hash = array_from_hex<32>(text);
  if (text.size() != 64 || !hash.is_ok()) return invalid_argument("give hash=H: the event's 64 hex digits");
  SB_ASSIGN_OR_RETURN(std::optional<Event> stored, stored_event(service, *hash));
  if (!stored) return not_found("the server holds no event " + text);
  const Event& e = *stored;
  const bool same = e.hash == *hash;
  std::string body = "<h2>Event " + shown_hash(e.hash) + "</h2>\n<table class=\"event\">"
                     "<tr><th>hash</th><td><code>" + to_hex(e.hash) + "</code> (" +
                     (same ? "recomputed from the stored bytes: it matches" : "recomputed: IT DOES NOT MATCH") +
                     ")</td></tr><tr><th>device</th><td><code>" + to_hex(e.device) + "</code></td></tr><tr><th>seq</th><td>" +
                     std::to_string(e.seq) + "</td></tr><tr><th>prev</th><td>" +
                     (e.seq > 1 ? event_link(e.prev) : std::string("none (the chain's first)")) +
                     "</td></tr><tr><th>author</th><td>" + html_escape(e.author) + "</td></tr><tr><th>kind</th><td>" +
                     html_escape(e.kind) + "</td></tr><tr><th>HLC</th><td>" + std::to_string(e.hlc) + " (" +
                     utc_or_never(static_cast<std::int64_t>(e.hlc >> 16)) + " by its writer's clock)</td></tr></table>\n";
  body += "<h3>Body</h3>\n<pre>" + html_escape(e.body.dump(2, ' ', false, Json::error_handler_t::replace)) + "</pre>\n";
  SB_ASSIGN_OR_RETURN(std::optional<DeviceRecord> device, service.storage().device(e.device));
  if (device) {
    SB_ASSIGN_OR_RETURN(std::vector<BracketedEvent> bracket, service.events(e.device, e.seq, 1));
    if (!bracket.empty() && bracket.front().before) {
      const Receipt& receipt = *bracket.front().before;
      body += "<p class=\"receipt\">Recorded by terminal <code>" + short_device(e.device) + "</code> (site " +
              html_escape(device->site) + "). The server acknowledged it with a receipt signed at " +
              utc_or_never(receipt.server_ms) + " covering its chain to seq " + std::to_string(receipt.seq) +
              "; the receipt verifies with the server's key (checked now), and the terminal's signed head covers "
              "this event through the chain of hashes.</p>\n";
    }
  } else {
    body += "<p class=\"receipt\">Written by head office: an event of a site's head-office chain, signed by the site's "
            "signer, whose key the server's own key delegates (AUDIT.md).</p>\n";
  }
  return body;
}

Result<std::string> exports_html(Service& service, const DashboardRequest& request) {
  SB_ASSIGN_OR_RETURN(std::optional<Json> period, period_to_show(service, param(request, "period")));
  std::string body = "<h2>Exports</h2>\n";
  if (period) {
    const std::string id = period->value("id", std::string());
    SB_ASSIGN_OR_RETURN(std::string select, period_select(service, "/dashboard/exports", id));
    body += select + "<ul><li><a href=\"/dashboard/export/payroll.csv?period=" + html_escape(url_encode(id)) +
            "\" download>Payroll of period " + html_escape(id) +
            ", CSV</a> (as 'shiftbook-server export payroll --format csv')</li><li><a "
            "href=\"/dashboard/export/payroll.json?period=" +
            html_escape(url_encode(id)) + "\">Payroll of period " + html_escape(id) + ", JSON</a></li></ul>\n";
  } else {
    body += "<p>No period holds today: choose one.</p>\n";
  }
  body += "<p><a href=\"/dashboard/audit\">Run the audit</a>: every chain, signed head, receipt and approval checked, "
          "and every report computed again from the raw events.</p>\n";
  return body;
}

Reply payroll_download(Service& service, const DashboardRequest& request, bool csv) {
  return show_file(service, request, "Exports", [&]() -> Result<Reply> {
    const std::string period = param(request, "period");
    SB_ASSIGN_OR_RETURN(std::vector<PayrollRow> rows, service.payroll(period, "", ""));
    Reply r = payroll_file(period, rows, csv);
    r.log_line = "payroll of period " + period + (csv ? " as CSV: " : " as JSON: ") + std::to_string(rows.size()) + " lines";
    return r;
  });
}

Result<std::string> audit_html(Service& service) {
  SB_ASSIGN_OR_RETURN(AuditResult a, service.audit());
  std::string body = "<h2>Audit</h2>\n<p class=\"" + std::string(a.ok() ? "ok" : "err") + "\" role=\"status\">" +
                     (a.ok() ? "The audit passed" : "The audit found " + std::to_string(a.problem_count) + " problems") +
                     ": " + std::to_string(a.events) + " events in " + std::to_string(a.chains) + " chains, " +
                     std::to_string(a.pushes) + " pushes, " + std::to_string(a.receipts) + " receipts, " +
                     std::to_string(a.approvals.size()) + " approvals checked.</p>\n";
  if (!a.problems.empty()) body += "<ul class=\"problems\"><li>" + escaped_list(a.problems, "</li><li>") + "</li></ul>\n";
  return body;
}

}  // namespace

Reply returns_page(Service& service, const DashboardRequest& request) {
  return show_page(service, request, "Returns", returns_redraw(service, request));
}

Reply approve_action(Service& service, const DashboardRequest& request) {
  return run_action(service, request, "Returns", returns_redraw(service, request),
                    [&](const SessionInfo& s) -> Result<Reply> {
                      const std::string unit = param(request, "unit"), period = param(request, "period");
                      SB_ASSIGN_OR_RETURN(SiteReport r, service.approve(unit, period, s.account));
                      return done_redirect(returns_link(period), "approved",
                                           r.report.approval ? std::optional<Hash>(r.report.approval->event) : std::nullopt,
                                           "approved unit " + unit + "'s period " + period);
                    });
}

Reply reopen_action(Service& service, const DashboardRequest& request) {
  return run_action(service, request, "Returns", returns_redraw(service, request),
                    [&](const SessionInfo& s) -> Result<Reply> {
                      const std::string unit = param(request, "unit"), period = param(request, "period");
                      SB_ASSIGN_OR_RETURN(SiteReport r,
                                          service.reopen(unit, period, param(request, "reason"), s.account));
                      std::optional<Hash> event;
                      if (!r.report.decisions.empty()) event = r.report.decisions.back().event;
                      return done_redirect(returns_link(period), "reopened", event,
                                           "reopened unit " + unit + "'s period " + period);
                    });
}

Reply share_page(Service& service, const DashboardRequest& request) {
  return show_page(service, request, "Returns", [&](const SessionInfo&) { return share_html(service, request); });
}

Reply event_page(Service& service, const DashboardRequest& request) {
  return show_page(service, request, "Event", [&](const SessionInfo&) { return event_html(service, request); });
}

Reply exports_page(Service& service, const DashboardRequest& request) {
  return show_page(service, request, "Exports", [&](const SessionInfo&) { return exports_html(service, request); });
}

Reply payroll_csv_download(Service& service, const DashboardRequest& request) {
  return payroll_download(service, request, true);
}

Reply payroll_json_download(Service& service, const DashboardRequest& request) {
  return payroll_download(service, request, false);
}

Reply audit_page(Service& service, const DashboardRequest& request) {
  return show_page(service, request, "Exports", [&](const SessionInfo&) { return audit_html(service); });
}

}  // namespace shiftbook::server::dash
