// The head-office dashboard's pages (dashboard.h, docs/DASHBOARD.md "Step 2"): server-drawn HTML
// with no script, every outside text escaped, every form with its token.
#include "dashboard.h"

#include <sodium.h>

#include <array>
#include <map>
#include <optional>
#include <vector>

#include "shiftbook/kinds.h"

namespace shiftbook::server {
namespace {

constexpr std::string_view kSessionCookie = "sb_session";
constexpr std::string_view kLoginCookie = "sb_login";
constexpr std::int64_t kDayMs = 86'400'000;

// Every page: no script may run, nothing may frame it, nothing is cached.
void html_headers(Reply& r) {
  r.content_type = "text/html; charset=utf-8";
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

std::string set_cookie(std::string_view name, const std::string& value, bool clear = false) {
  return std::string(name) + "=" + value + "; Path=/dashboard; HttpOnly; SameSite=Strict" + (clear ? "; Max-Age=0" : "");
}

Reply page(int status, const std::string& title, const std::string& body, std::string log_line) {
  Reply r;
  r.http_status = status;
  html_headers(r);
  r.body = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
           " · Shiftbook</title><style>"
           "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
           "th,td{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}td.n{text-align:right}"
           ".err{color:#a00}header{display:flex;justify-content:space-between;align-items:center}"
           "</style></head><body>\n" +
           body + "\n</body></html>\n";
  r.log_line = std::move(log_line);
  return r;
}

Reply redirect(const std::string& to, std::string log_line) {
  Reply r;
  r.http_status = 303;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Location", to);
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = "see " + to + "\n";
  r.log_line = std::move(log_line);
  return r;
}

std::string param(const DashboardRequest& request, const std::string& name) {
  auto it = request.params.find(name);
  return it == request.params.end() ? std::string() : it->second;
}

bool same_token(const std::string& a, const std::string& b) {
  return !a.empty() && a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hidden_token(const std::string& token) {
  return "<input type=\"hidden\" name=\"csrf\" value=\"" + html_escape(token) + "\">";
}

// The sign-in form with a fresh form token (also set as the sb_login cookie: the POST must bring
// both, the same), and `error` above it when there is one.
Reply login_page(int status, const std::string& error, std::string log_line) {
  std::array<std::uint8_t, 16> nonce{};
  random_bytes(nonce);
  const std::string token = to_hex(nonce);
  std::string body = "<h1>Shiftbook head office</h1>\n";
  if (!error.empty()) body += "<p class=\"err\" role=\"alert\">" + html_escape(error) + "</p>\n";
  body += "<form method=\"post\" action=\"/dashboard/login\">" + hidden_token(token) +
          "<p><label>Name <input name=\"name\" autocomplete=\"username\" required></label></p>"
          "<p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" "
          "required></label></p><p><button type=\"submit\">Sign in</button></p></form>";
  Reply r = page(status, "Sign in", body, std::move(log_line));
  r.headers.emplace_back("Set-Cookie", set_cookie(kLoginCookie, token));
  return r;
}

int status_of(const Status& s) {
  switch (s.code()) {
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kInvalidArgument: return 400;
    case Code::kNotFound: return 404;
    default: return 500;
  }
}

// The session of the request; nullopt when there is none (the caller sends to the sign-in form).
std::optional<SessionInfo> session_of(Service& service, const DashboardRequest& request) {
  const std::string cookie = cookie_value(request.cookie_header, kSessionCookie);
  if (cookie.empty()) return std::nullopt;
  auto s = service.check_session(cookie);
  if (!s.is_ok()) return std::nullopt;
  return std::move(s).value();
}

// A quantity in base units as the product shows it: 0 or 3 decimals.
std::string quantity_text(std::int64_t base, int decimals) {
  if (decimals <= 0) return std::to_string(base);
  const bool negative = base < 0;
  const std::uint64_t v = negative ? 0 - static_cast<std::uint64_t>(base) : static_cast<std::uint64_t>(base);
  std::string frac = std::to_string(v % 1000);
  frac.insert(0, 3 - frac.size(), '0');
  return (negative ? "-" : "") + std::to_string(v / 1000) + "." + frac;
}

// Actual against quota as a bar: the quota at three quarters of the width, so that up to a third
// over the quota shows; a longer bar is cut at the edge.
std::string plan_bar(std::int64_t actual, std::int64_t quota) {
  constexpr int kWidth = 200, kQuotaAt = 150, kHeight = 14;
  const double share = quota > 0 ? static_cast<double>(actual) / static_cast<double>(quota) : 0.0;
  const int bar = std::min(kWidth, std::max(0, static_cast<int>(share * kQuotaAt + 0.5)));
  return "<svg width=\"" + std::to_string(kWidth) + "\" height=\"" + std::to_string(kHeight) +
         "\" role=\"img\" aria-label=\"" + std::to_string(share > 0 ? static_cast<int>(share * 100) : 0) +
         "% of the quota\"><rect width=\"" + std::to_string(kWidth) + "\" height=\"" + std::to_string(kHeight) +
         "\" fill=\"#eee\"/><rect width=\"" + std::to_string(bar) + "\" height=\"" + std::to_string(kHeight) +
         "\" fill=\"" + (actual >= quota ? "#2a7" : "#49c") + "\"/><line x1=\"" + std::to_string(kQuotaAt) + "\" x2=\"" +
         std::to_string(kQuotaAt) + "\" y1=\"0\" y2=\"" + std::to_string(kHeight) + "\" stroke=\"#222\"/></svg>";
}

// id -> (name, decimals) of the reference items of `kind`.
Result<std::map<std::string, std::pair<std::string, int>>> names_of(Service& service, const std::string& kind,
                                                                     const std::string& site = {}) {
  SB_ASSIGN_OR_RETURN(std::vector<Json> items, service.reference(kind, site));
  std::map<std::string, std::pair<std::string, int>> out;
  for (const Json& item : items) {
    const int decimals = item.contains("decimals") && item["decimals"].is_number_integer() ? item["decimals"].get<int>() : 0;
    out[item.value("id", std::string())] = {item.value("name", std::string()), decimals};
  }
  return out;
}

// The period to show: `wanted` when given, else the one holding `today`; nullopt when none does.
Result<std::optional<Json>> period_to_show(Service& service, const std::string& wanted, std::int64_t today) {
  SB_ASSIGN_OR_RETURN(std::vector<Json> periods, service.reference("ref_period"));
  for (const Json& p : periods) {
    const std::string id = p.value("id", std::string());
    if (!wanted.empty()) {
      if (id == wanted) return std::optional<Json>(p);
      continue;
    }
    auto start = parse_date(p.value("start", std::string()));
    auto end = parse_date(p.value("end", std::string()));
    if (start.is_ok() && end.is_ok() && *start <= today && today <= *end) return std::optional<Json>(p);
  }
  if (!wanted.empty()) return not_found("no period '" + wanted + "'");
  return std::optional<Json>();
}

Result<std::string> overview_body(Service& service, const SessionInfo& session, const std::string& wanted) {
  const std::int64_t today = service.clock().now_ms() / kDayMs;
  std::string body = "<header><h1>Shiftbook head office</h1><form method=\"post\" action=\"/dashboard/logout\">" +
                     hidden_token(session.csrf) + "Signed in as <b>" + html_escape(session.account) +
                     "</b> <button type=\"submit\">Sign out</button></form></header>\n";
  SB_ASSIGN_OR_RETURN(std::optional<Json> period, period_to_show(service, wanted, today));
  if (!period) {
    body += "<p>No period holds today (" + format_date(today) + "): define one with 'shiftbook-server period add'.</p>";
    return body;
  }
  const std::string period_id = period->value("id", std::string());
  body += "<h2>Plan against actual, period " + html_escape(period_id) + " (" +
          html_escape(period->value("start", std::string())) + " to " + html_escape(period->value("end", std::string())) +
          ")</h2>\n";
  SB_ASSIGN_OR_RETURN(auto products, names_of(service, "ref_product"));
  SB_ASSIGN_OR_RETURN(std::vector<std::string> sites, service.sites());
  for (const std::string& site : sites) {
    SB_ASSIGN_OR_RETURN(auto units, names_of(service, "ref_unit", site));
    std::vector<PeriodReturn> lines;
    SB_RETURN_IF_ERROR(service.with_ledger(site, [&](SiteLedger& l) {
      for (const PeriodReturn& r : l.ledger.returns()) {
        if (r.key.period == period_id) lines.push_back(r);
      }
      return Status::ok();
    }));
    body += "<h3>Site " + html_escape(site) + "</h3>\n";
    if (lines.empty()) {
      body += "<p>No output recorded in this period yet.</p>\n";
      continue;
    }
    body += "<table><tr><th>Unit</th><th>Product</th><th>Quota</th><th>Actual</th><th>Fulfilment</th>"
            "<th>Above quota</th><th>Plan against actual</th></tr>\n";
    for (const PeriodReturn& r : lines) {
      const auto unit = units.find(r.key.unit);
      const auto product = products.find(r.key.product);
      const int decimals = product == products.end() ? 0 : product->second.second;
      const std::string unit_name = unit == units.end() ? r.key.unit : unit->second.first + " (" + r.key.unit + ")";
      const std::string product_name =
          product == products.end() ? r.key.product : product->second.first + " (" + r.key.product + ")";
      body += "<tr><td>" + html_escape(unit_name) + "</td><td>" + html_escape(product_name) + "</td><td class=\"n\">" +
              (r.quota ? quantity_text(*r.quota, decimals) : std::string("none")) + "</td><td class=\"n\">" +
              quantity_text(r.actual, decimals) + "</td><td class=\"n\">" +
              (r.fulfilment_permille ? std::to_string(*r.fulfilment_permille / 10) + "." +
                                           std::to_string(*r.fulfilment_permille % 10) + " %"
                                     : std::string("-")) +
              "</td><td class=\"n\">" + (r.surplus ? quantity_text(*r.surplus, decimals) : std::string("-")) +
              "</td><td>" + (r.quota ? plan_bar(r.actual, *r.quota) : std::string("no quota")) + "</td></tr>\n";
    }
    body += "</table>\n";
  }
  return body;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const std::size_t end = header.find(';');
    std::string_view pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
  }
  return {};
}

Reply dashboard_login_form(Service& service, const DashboardRequest& request) {
  if (session_of(service, request)) return redirect("/dashboard/", "");
  return login_page(200, "", "");
}

Reply dashboard_login(Service& service, const DashboardRequest& request) {
  const std::string prefix = "dashboard login peer " + request.peer;
  if (!same_token(param(request, "csrf"), cookie_value(request.cookie_header, kLoginCookie))) {
    return login_page(403, "The form had expired or did not come from this page; sign in again.",
                      prefix + " refused: the form's token");
  }
  const std::string name = param(request, "name");
  std::string password = param(request, "password");
  auto started = service.start_session(name, password);
  sodium_memzero(password.data(), password.size());
  if (!started.is_ok()) {
    return login_page(status_of(started.status()), started.status().message(),
                      prefix + " refused: " + started.status().message());
  }
  Reply r = redirect("/dashboard/", prefix + " account " + started->account.name + " signed in");
  r.headers.emplace_back("Set-Cookie", set_cookie(kSessionCookie, started->cookie));
  r.headers.emplace_back("Set-Cookie", set_cookie(kLoginCookie, "", true));
  return r;
}

Reply dashboard_logout(Service& service, const DashboardRequest& request) {
  const std::string prefix = "dashboard logout peer " + request.peer;
  std::optional<SessionInfo> session = session_of(service, request);
  if (!session) return redirect("/dashboard/login", prefix + ": not signed in");
  Status csrf = service.check_csrf(*session, param(request, "csrf"));
  if (!csrf.is_ok()) return page(403, "Refused", "<p class=\"err\">" + html_escape(csrf.message()) + "</p>",
                                 prefix + " refused: the form's token");
  Status ended = service.end_session(cookie_value(request.cookie_header, kSessionCookie));
  if (!ended.is_ok()) return page(500, "Error", "<p class=\"err\">" + html_escape(ended.message()) + "</p>", prefix);
  Reply r = redirect("/dashboard/login", prefix + " account " + session->account + " signed out");
  r.headers.emplace_back("Set-Cookie", set_cookie(kSessionCookie, "", true));
  return r;
}

Reply dashboard_overview(Service& service, const DashboardRequest& request) {
  std::optional<SessionInfo> session = session_of(service, request);
  if (!session) return redirect("/dashboard/login", "");
  const std::string prefix = "dashboard overview peer " + request.peer + " account " + session->account;
  auto body = overview_body(service, *session, param(request, "period"));
  if (!body.is_ok()) {
    return page(status_of(body.status()), "Overview", "<p class=\"err\">" + html_escape(body.status().message()) + "</p>",
                prefix + " refused: " + body.status().message());
  }
  return page(200, "Overview", *body, prefix);
}

}  // namespace shiftbook::server
