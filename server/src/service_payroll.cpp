// Head office's logic (service.h): sharing out, approval and payroll. A unit's report for a period
// (Ledger::report: figures, decisions, adjustments, shares) is read from the site's Ledger, built
// on demand from storage. Approving writes a `period_approval` holding the figures computed now,
// reopening a `period_reopen` with its reason, each into the chain of the unit's site signer under
// admin_mu (append_to_chain), so the decision and the figures it locked are events like any other
// (docs/RETURNS.md, "Approval"). The payroll lines and their CSV and JSON forms are pure
// functions of the reports, for the command line and any later HTTP endpoint alike.
#include <algorithm>
#include <tuple>
#include <utility>

#include "service_impl.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
using namespace detail;

namespace {

constexpr const char* kApproval = "period_approval";
constexpr const char* kReopen = "period_reopen";
constexpr int kApproveAttempts = 5;
constexpr const char* kPayrollFormat = "shiftbook-payroll/1";
constexpr const char* kCsvHeader = "worker,unit,period,product,minutes,special_minutes,points,share";

// "unit U1's period 2026-11"
std::string unit_period(const std::string& unit, const std::string& period) {
  return "unit " + unit + "'s period " + period;
}

// The reference item of `kind` with this id; not_found naming `what` and where to look.
Result<Json> existing(Storage& st, const char* kind, const char* what, const std::string& id, const char* list) {
  SB_ASSIGN_OR_RETURN(std::optional<Json> found, st.reference_item(kind, id));
  if (!found) return not_found(std::string(what) + " '" + id + "' does not exist (see '" + list + "')");
  return *found;
}

// The site of a unit that exists.
Result<std::string> site_of_unit(Storage& st, const std::string& unit) {
  SB_ASSIGN_OR_RETURN(Json found, existing(st, "ref_unit", "unit", unit, "unit list"));
  return found.value("site", std::string());
}

// "approved at 2026-12-01 09:00 UTC (signer seq 14)"
std::string decided_at(const PeriodDecision& d) {
  return std::string(d.approve ? "approved" : "reopened") + " at " + format_utc(d.written_ms) + " (signer seq " +
         std::to_string(d.signer_seq) + ")";
}

Status check_limit(const std::string& name, std::size_t count, std::size_t max, const char* what) {
  if (count <= max) return Status::ok();
  return failed_precondition(name + " has " + std::to_string(count) + " " + what + "; an approval holds at most " +
                             std::to_string(max) + ", so it cannot be approved as one return");
}

// Spreadsheet-safe and RFC 4180 quoted: a text cell a spreadsheet would run as a formula gets a
// leading single quote; a cell holding a comma, quote, CR or LF is quoted, its quotes doubled.
std::string csv_text(const std::string& text) {
  std::string cell = text;
  if (!cell.empty() && std::string_view("=+-@\t\r").find(cell.front()) != std::string_view::npos) {
    cell.insert(cell.begin(), '\'');
  }
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

Result<SiteReport> Service::Impl::unit_report(const std::string& unit, const std::string& period) {
  SB_ASSIGN_OR_RETURN(std::string site, site_of_unit(*storage, unit));
  SB_RETURN_IF_ERROR(existing(*storage, "ref_period", "period", period, "period list").status());
  SB_ASSIGN_OR_RETURN(SiteLedger l, build_ledger(*storage, site, signer(site)->key.public_key()));
  std::optional<UnitPeriodReport> report = l.ledger.report(unit, period);
  if (!report) return not_found("period '" + period + "' is not in site " + site + "'s head-office chain");
  return SiteReport{site, std::move(*report), std::move(l.read), l.signer_end};
}

Result<std::vector<PayrollRow>> payroll_rows(const std::vector<SiteReport>& reports,
                                             const std::map<std::string, int>& decimals) {
  std::vector<PayrollRow> rows;
  for (const SiteReport& sr : reports) {
    const UnitPeriodReport& r = sr.report;
    std::map<std::string, const ProductFigures*> quota_products;
    for (const ProductFigures& p : r.reported.products) {
      if (p.quota_version != 0) quota_products[p.product] = &p;
    }
    if (quota_products.empty()) continue;
    if (!r.shares) {
      return failed_precondition(unit_period(r.unit, r.period) + " has no shares to pay: " + r.shares_problem);
    }
    std::map<std::string, const WorkerFigures*> workers;
    for (const WorkerFigures& w : r.reported.workers) workers[w.worker] = &w;
    for (const ProductShareout& p : r.shares->products) {
      if (!quota_products.contains(p.product)) continue;
      auto d = decimals.find(p.product);
      for (const ShareLine& line : p.lines) {
        PayrollRow row{line.worker, r.unit, r.period, p.product};
        if (auto w = workers.find(line.worker); w != workers.end()) {
          row.minutes = w->second->minutes;
          row.special_minutes = w->second->special_minutes;
        }
        row.milli_points = line.milli_points;
        row.share = line.share;
        row.decimals = d == decimals.end() ? 0 : d->second;
        rows.push_back(std::move(row));
      }
    }
  }
  std::sort(rows.begin(), rows.end(), [](const PayrollRow& a, const PayrollRow& b) {
    return std::tie(a.worker, a.unit, a.period, a.product) < std::tie(b.worker, b.unit, b.period, b.product);
  });
  return rows;
}

std::string payroll_csv(const std::vector<PayrollRow>& rows) {
  std::string out = std::string(kCsvHeader) + "\r\n";
  for (const PayrollRow& r : rows) {
    out += csv_text(r.worker) + "," + csv_text(r.unit) + "," + csv_text(r.period) + "," + csv_text(r.product) + "," +
           std::to_string(r.minutes) + "," + std::to_string(r.special_minutes) + "," +
           format_milli_points(r.milli_points) + "," + format_quantity(r.share, r.decimals) + "\r\n";
  }
  return out;
}

Json payroll_json(const std::string& period, const std::vector<PayrollRow>& rows) {
  Json out = {{"format", kPayrollFormat}, {"period", period}, {"rows", Json::array()}};
  for (const PayrollRow& r : rows) {
    out["rows"].push_back(Json{{"worker", r.worker},
                               {"unit", r.unit},
                               {"period", r.period},
                               {"product", r.product},
                               {"minutes", r.minutes},
                               {"special_minutes", r.special_minutes},
                               {"points", format_milli_points(r.milli_points)},
                               {"share", format_quantity(r.share, r.decimals)}});
  }
  return out;
}

Result<std::vector<SiteReport>> Service::reports(const std::string& site, const std::string& unit,
                                                 const std::string& period) {
  Storage& st = *impl_->storage;
  std::vector<std::string> names;
  if (!unit.empty()) {
    SB_ASSIGN_OR_RETURN(std::string unit_site, site_of_unit(st, unit));
    if (!site.empty() && site != unit_site) {
      SB_RETURN_IF_ERROR(known_site(st, site));
      return invalid_argument("unit " + unit + " belongs to site " + unit_site + ", not to site " + site);
    }
    names.push_back(unit_site);
  } else if (!site.empty()) {
    SB_RETURN_IF_ERROR(known_site(st, site));
    names.push_back(site);
  } else {
    SB_ASSIGN_OR_RETURN(names, sites());
  }
  if (!period.empty()) SB_RETURN_IF_ERROR(existing(st, "ref_period", "period", period, "period list").status());
  std::vector<SiteReport> out;
  for (const std::string& s : names) {
    SB_RETURN_IF_ERROR(with_ledger(s, [&](SiteLedger& l) {
      if (!unit.empty() && !period.empty()) {
        if (std::optional<UnitPeriodReport> r = l.ledger.report(unit, period)) {
          out.push_back(SiteReport{s, std::move(*r), {}, 0});
        }
        return Status::ok();
      }
      for (UnitPeriodReport& r : l.ledger.reports()) {
        if ((!unit.empty() && r.unit != unit) || (!period.empty() && r.period != period)) continue;
        out.push_back(SiteReport{s, std::move(r), {}, 0});
      }
      return Status::ok();
    }));
  }
  return out;
}

// The figures an approval records are those of the events it was computed from: it is written only
// while the site's terminals' chains still end where the computation read them, and the signer's
// chain where it was (so a second approval computed at the same time finds the first and refuses).
// Otherwise it is computed again, a bounded number of times.
Result<SiteReport> Service::approve(const std::string& unit, const std::string& period, const std::string& author) {
  Impl& m = *impl_;
  std::lock_guard lock(m.admin_mu);
  const std::string name = unit_period(unit, period);
  for (int attempt = 0; attempt < kApproveAttempts; ++attempt) {
    SB_ASSIGN_OR_RETURN(SiteReport now, m.unit_report(unit, period));
    const UnitPeriodReport& r = now.report;
    if (r.approval) {
      return failed_precondition(name + " was " + decided_at(*r.approval) + "; reopen it first ('reopen --unit " +
                                 unit + " --period " + period + " --reason ...')");
    }
    SB_RETURN_IF_ERROR(check_limit(name, r.computed.workers.size(), kMaxApprovalWorkers, "workers"));
    SB_RETURN_IF_ERROR(check_limit(name, r.computed.products.size(), kMaxApprovalProducts, "products"));
    const Json body = approval_body(unit, period, r.computed);
    if (Status valid = validate_head_office_body(kApproval, body); !valid.is_ok()) {
      return failed_precondition(name + " cannot be approved as it stands: " + valid.message());
    }
    if (m.options.before_decision) m.options.before_decision();
    Status appended =
        m.append_to_chain(now.site, {ChainItem{kApproval, body, std::string(), std::nullopt, author}}, now.read, now.signer_end);
    if (appended.code() == Code::kAborted) continue;  // events arrived while it was computed
    SB_RETURN_IF_ERROR(appended.with_context("site " + now.site + ": "));
    return m.unit_report(unit, period);
  }
  return aborted(name + ": the site's terminals kept storing events while its figures were computed (" +
                 std::to_string(kApproveAttempts) + " tries); approve again");
}

Result<SiteReport> Service::reopen(const std::string& unit, const std::string& period, const std::string& reason,
                                   const std::string& author) {
  Impl& m = *impl_;
  SB_RETURN_IF_ERROR(check_text("the reason", reason));
  std::lock_guard lock(m.admin_mu);
  SB_ASSIGN_OR_RETURN(SiteReport now, m.unit_report(unit, period));
  const UnitPeriodReport& r = now.report;
  const std::string name = unit_period(unit, period);
  if (!r.approval) {
    const std::string state = r.decisions.empty() ? "was never approved" : "was " + decided_at(r.decisions.back());
    return failed_precondition(name + " is open (it " + state + "); only an approved period can be reopened");
  }
  const Json body = {{"unit", unit}, {"period", period}, {"reason", reason}};
  SB_RETURN_IF_ERROR(validate_head_office_body(kReopen, body));
  SB_RETURN_IF_ERROR(
      m.append_to_chain(now.site, {ChainItem{kReopen, body, std::string(), std::nullopt, author}}).with_context("site " + now.site + ": "));
  return m.unit_report(unit, period);
}

Result<std::vector<PayrollRow>> Service::payroll(const std::string& period, const std::string& site,
                                                 const std::string& unit) {
  if (period.empty()) return invalid_argument("the payroll is exported for one period: give --period");
  SB_ASSIGN_OR_RETURN(std::vector<SiteReport> all, reports(site, unit, period));
  SB_ASSIGN_OR_RETURN(std::vector<Json> products, impl_->storage->reference("ref_product", ""));
  std::map<std::string, int> decimals;
  for (const Json& p : products) decimals[p.value("id", std::string())] = p.value("decimals", 0);
  return payroll_rows(all, decimals);
}

}  // namespace shiftbook::server
