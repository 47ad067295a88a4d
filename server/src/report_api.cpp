// The report endpoints' logic (report_api.h): the token, the query parameters, the Service
// call, and each refusal as a JSON error with one log line ("report payroll peer 10.0.0.7
// refused: unauthenticated: ...", as the sync log's lines).
#include "report_api.h"

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <utility>
#include <vector>

#include "service_impl.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
namespace {

constexpr std::size_t kMaxParamBytes = 100;
const std::string kPayrollUsage = "give period=P, and optionally site=S, unit=U and format=csv or format=json";
const std::string kReturnsUsage = "give any of site=S, unit=U and period=P, or none for every site";

Reply refused(const std::string& prefix, const Status& s, const ReportRequest& request) {
  const HttpAnswer a = http_answer(s.code());
  const std::string message = shown_message(s);
  Reply r = detail::json_error(a.http_status, a.code, message, prefix + " refused: " + a.code + ": " + s.message());
  if (a.http_status == 401) {
    // RFC 6750: a request without credentials gets the bare challenge; one with a token that
    // does not pass is told so.
    r.headers.emplace_back("WWW-Authenticate", request.authorization.empty()
                                                   ? "Bearer realm=\"shiftbook\""
                                                   : "Bearer realm=\"shiftbook\", error=\"invalid_token\"");
  }
  if (a.http_status == 503) r.retry_after_seconds = 1;
  return r;
}

using Params = std::map<std::string, std::string>;

// The query parameters: only those named in `allowed`, each at most once and not empty, each
// UTF-8 text without control characters of at most kMaxParamBytes.
Result<Params> read_params(const std::multimap<std::string, std::string>& query,
                           std::initializer_list<std::string_view> allowed, const std::string& usage) {
  Params out;
  for (const auto& [name, value] : query) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      SB_RETURN_IF_ERROR(check_text("a parameter's name", name, kMaxParamBytes));
      return invalid_argument("unknown parameter '" + name + "' (" + usage + ")");
    }
    if (out.count(name) != 0) return invalid_argument("parameter '" + name + "' is given twice; give it once");
    if (value.empty()) return invalid_argument("parameter '" + name + "' is empty (" + usage + ")");
    SB_RETURN_IF_ERROR(check_text("parameter '" + name + "'", value, kMaxParamBytes));
    out.emplace(name, value);
  }
  return out;
}

std::string param(const Params& params, const std::string& name, const std::string& fallback = {}) {
  auto it = params.find(name);
  return it == params.end() ? fallback : it->second;
}

Status exists(Storage& st, const char* kind, const char* what, const std::string& id) {
  SB_ASSIGN_OR_RETURN(std::optional<Json> item, st.reference_item(kind, id));
  if (!item) return not_found(std::string(what) + " '" + id + "' does not exist");
  return Status::ok();
}

// The sites whose returns are read: `site`, the site of `unit`, or every site; checking that
// each one named exists and that the unit belongs to the site given.
Result<std::vector<std::string>> sites_to_read(Service& service, const std::string& site, const std::string& unit) {
  Storage& st = service.storage();
  if (!site.empty()) SB_RETURN_IF_ERROR(exists(st, "ref_site", "site", site));
  if (unit.empty()) {
    if (!site.empty()) return std::vector<std::string>{site};
    return service.sites();
  }
  SB_ASSIGN_OR_RETURN(std::optional<Json> item, st.reference_item("ref_unit", unit));
  if (!item) return not_found("unit '" + unit + "' does not exist");
  const std::string unit_site = item->value("site", std::string());
  if (!site.empty() && site != unit_site) {
    return invalid_argument("unit " + unit + " belongs to site " + unit_site + ", not to site " + site);
  }
  return std::vector<std::string>{unit_site};
}

Result<Json> returns_doc(Service& service, const Params& params) {
  const std::string site = param(params, "site");
  const std::string unit = param(params, "unit");
  const std::string period = param(params, "period");
  SB_ASSIGN_OR_RETURN(std::vector<std::string> sites, sites_to_read(service, site, unit));
  if (!period.empty()) SB_RETURN_IF_ERROR(exists(service.storage(), "ref_period", "period", period));
  Json doc = {{"returns", Json::array()}};
  for (const std::string& s : sites) {
    SB_RETURN_IF_ERROR(service.with_ledger(s, [&](SiteLedger& l) {
      const std::vector<PeriodReturn> returns = l.ledger.returns();
      for (const PeriodReturn& r : returns) {
        if ((!unit.empty() && r.key.unit != unit) || (!period.empty() && r.key.period != period)) continue;
        doc["returns"].push_back(return_json(s, r));
      }
      return Status::ok();
    }));
  }
  return doc;
}

// "payroll-2026-11.csv": a period id may hold any text, so what is not a letter, a digit, '.', '-'
// or '_' becomes '_' (a quote would end the header's quoted string).
std::string payroll_filename(const std::string& period) {
  std::string out = "payroll-";
  for (char c : period) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '-' || c == '_';
    out += safe ? c : '_';
  }
  return out + ".csv";
}

std::string dump(const Json& doc) { return doc.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n"; }

}  // namespace

Json return_json(const std::string& site, const PeriodReturn& r) {
  auto opt = [](const std::optional<std::int64_t>& v) { return v ? Json(*v) : Json(nullptr); };
  return Json{{"site", site},
              {"unit", r.key.unit},
              {"period", r.key.period},
              {"product", r.key.product},
              {"quota", opt(r.quota)},
              {"quota_version", opt(r.quota_version)},
              {"actual", r.actual},
              {"fulfilment_permille", opt(r.fulfilment_permille)},
              {"surplus", opt(r.surplus)},
              {"approved", r.approved},
              {"adjustment", r.adjustment},
              {"pending", r.pending},
              {"adjusted_into", r.adjusted_into}};
}

HttpAnswer http_answer(Code code) {
  switch (code) {
    case Code::kInvalidArgument: return {400, "bad_request"};
    case Code::kNotFound: return {404, "not_found"};
    case Code::kFailedPrecondition: return {409, "not_ready"};
    case Code::kUnauthenticated: return {401, "unauthenticated"};
    case Code::kPermissionDenied: return {403, "revoked"};
    case Code::kUnavailable:
    case Code::kAborted: return {503, "busy"};
    default: return {500, "internal"};
  }
}

std::string shown_message(const Status& s) {
  switch (http_answer(s.code()).http_status) {
    case 500: return "the server failed to answer; try again later";
    case 503: return s.code() == Code::kAborted ? s.message() : "the server is busy; try again in a moment";
    default: return s.message();
  }
}

Reply payroll_file(const std::string& period, const std::vector<PayrollRow>& rows, bool csv) {
  Reply r;
  if (csv) {
    r.content_type = "text/csv; charset=utf-8";
    r.body = payroll_csv(rows);
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + payroll_filename(period) + "\"");
  } else {
    r.content_type = "application/json";
    r.body = dump(payroll_json(period, rows));
  }
  return r;
}

Reply payroll_report(Service& service, const ReportRequest& request) {
  std::string prefix = "report payroll peer " + request.peer;
  Result<TokenRecord> token = service.check_token(request.authorization);
  if (!token.is_ok()) return refused(prefix, token.status(), request);
  prefix += " token " + token->id;
  Result<Params> params = read_params(request.params, {"period", "site", "unit", "format"}, kPayrollUsage);
  if (!params.is_ok()) return refused(prefix, params.status(), request);
  const std::string period = param(*params, "period");
  const std::string format = param(*params, "format", "json");
  if (period.empty()) {
    return refused(prefix, invalid_argument("no period: the payroll is exported for one period (" + kPayrollUsage + ")"),
                   request);
  }
  if (format != "csv" && format != "json") {
    return refused(prefix, invalid_argument("format '" + format + "' is not served: give format=csv or format=json"),
                   request);
  }
  Result<std::vector<PayrollRow>> rows = service.payroll(period, param(*params, "site"), param(*params, "unit"));
  if (!rows.is_ok()) return refused(prefix, rows.status(), request);
  Reply r = payroll_file(period, *rows, format == "csv");
  r.log_line = prefix + " period " + period + " " + format + ": " + std::to_string(rows->size()) +
               (rows->size() == 1 ? " line" : " lines");
  return r;
}

Reply returns_report(Service& service, const ReportRequest& request) {
  std::string prefix = "report returns peer " + request.peer;
  Result<TokenRecord> token = service.check_token(request.authorization);
  if (!token.is_ok()) return refused(prefix, token.status(), request);
  prefix += " token " + token->id;
  Result<Params> params = read_params(request.params, {"site", "unit", "period"}, kReturnsUsage);
  if (!params.is_ok()) return refused(prefix, params.status(), request);
  Result<Json> doc = returns_doc(service, *params);
  if (!doc.is_ok()) return refused(prefix, doc.status(), request);
  Reply r;
  r.content_type = "application/json";
  r.body = dump(*doc);
  r.log_line = prefix + ": " + std::to_string((*doc)["returns"].size()) + " returns";
  return r;
}

}  // namespace shiftbook::server
