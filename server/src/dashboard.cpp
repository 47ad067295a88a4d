// The head-office dashboard (dashboard.h, docs/DASHBOARD.md): what every page shares (the frame,
// sessions, the rule every action follows), the sign-in form, signing out, the overview and the
// table of routes. Server-drawn HTML with no script, every outside text escaped, every form with
// its token.
#include "dashboard.h"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <vector>

#include "dashboard_impl.h"
#include "report_api.h"
#include "service_impl.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
namespace dash {
namespace {

constexpr std::string_view kSessionCookie = "sb_session";
constexpr std::string_view kLoginCookie = "sb_login";
constexpr std::int64_t kSilentMs = kDayMs;  // a terminal not heard from for this long is named as missing

// Every page: no script may run, nothing may frame it, nothing is cached.
void html_headers(Reply& r) {
  r.content_type = "text/html; charset=utf-8";
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

// A cookie of the dashboard's; Secure when the request came over HTTPS (a browser then never sends
// it over plain HTTP).
std::string set_cookie(const DashboardRequest& request, std::string_view name, const std::string& value,
                       bool clear = false) {
  return std::string(name) + "=" + value + "; Path=/dashboard; HttpOnly; SameSite=Strict" +
         (request.https ? "; Secure" : "") + (clear ? "; Max-Age=0" : "");
}

bool same_token(const std::string& a, const std::string& b) {
  return !a.empty() && a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The sign-in form with a fresh form token (also set as the sb_login cookie: the POST must bring
// both, the same), and `error` above it when there is one.
Reply login_page(const DashboardRequest& request, int status, const std::string& error, std::string log_line) {
  std::array<std::uint8_t, 16> nonce{};
  random_bytes(nonce);
  const std::string token = to_hex(nonce);
  std::string body = "<h1>Shiftbook head office</h1>\n";
  if (!error.empty()) body += "<p class=\"err\" role=\"alert\">" + html_escape(error) + "</p>\n";
  body += "<form method=\"post\" action=\"/dashboard/login\">" + hidden_token(token) +
          "<p><label>Name <input name=\"name\" autocomplete=\"username\" required></label></p>"
          "<p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" "
          "required></label></p><p><button type=\"submit\">Sign in</button></p></form>";
  Reply r = bare_page(status, "Sign in", body, std::move(log_line));
  r.headers.emplace_back("Set-Cookie", set_cookie(request, kLoginCookie, token));
  return r;
}

// The session of the request; nullopt when there is none (the caller sends to the sign-in form).
std::optional<SessionInfo> session_of(Service& service, const DashboardRequest& request) {
  const std::string cookie = cookie_value(request.cookie_header, kSessionCookie);
  if (cookie.empty()) return std::nullopt;
  auto s = service.check_session(cookie);
  if (!s.is_ok()) return std::nullopt;
  return std::move(s).value();
}

// "Overview" -> "overview", for the log.
std::string log_name(std::string title) {
  for (char& c : title) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return title;
}

std::string alert(const std::string& words) { return "<p class=\"err\" role=\"alert\">" + html_escape(words) + "</p>\n"; }

// A refusal drawn into the frame: the page's own body when it can still be drawn, else only the words.
Reply refusal_page(const SessionInfo& session, const std::string& title, const PageBody& redraw, const Status& s,
                   const std::string& prefix) {
  const int status = http_answer(s.code()).http_status;
  std::string body = alert(status == 500 ? "the server failed to do this; try again later" : shown_message(s));
  if (redraw) {
    auto again = redraw(session);
    if (again.is_ok()) body += *again;
  }
  return framed_page(status, session, title, body, prefix + " refused: " + s.to_string());
}

const char* const kNav[][2] = {{"/dashboard/", "Overview"},
                               {"/dashboard/terminals", "Terminals"},
                               {"/dashboard/conflicts", "Conflicts"},
                               {"/dashboard/returns", "Returns"},
                               {"/dashboard/exports", "Exports"}};

std::string frame_header(const SessionInfo& session, const std::string& title) {
  std::string nav = "<nav>";
  for (const auto& [href, name] : kNav) {
    nav += std::string("<a href=\"") + href + "\"" + (title == name ? " aria-current=\"page\"" : "") + ">" + name + "</a> ";
  }
  nav += "</nav>";
  return "<header><h1>Shiftbook head office</h1>" + nav + "<form method=\"post\" action=\"/dashboard/logout\">" +
         hidden_token(session.csrf) + "Signed in as <b>" + html_escape(session.account) +
         "</b> <button type=\"submit\">Sign out</button></form></header>\n";
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

// The site's terminals (not revoked) not heard from for kSilentMs: what they recorded since is
// missing from the figures above.
std::string missing_terminals(const std::vector<DeviceRecord>& devices, const std::string& site, std::int64_t now) {
  std::vector<std::string> items;
  for (const DeviceRecord& d : devices) {
    if (d.site != site || d.revoked_ms != 0 || (d.last_sync_ms != 0 && now - d.last_sync_ms < kSilentMs)) continue;
    items.push_back("<li>Terminal <code title=\"" + to_hex(d.key) + "\">" + short_device(d.key) + "</code> (units " +
                    escaped_list(d.units, ", ") + "): " +
                    (d.last_sync_ms == 0 ? std::string("never synced")
                                         : "last contact " + utc_or_never(d.last_sync_ms) + ", " +
                                               std::to_string((now - d.last_sync_ms) / kDayMs) + " days ago") +
                    "</li>");
  }
  if (items.empty()) return "<p class=\"missing\">Every terminal of this site synced in the last 24 hours.</p>\n";
  std::string out = "<div class=\"missing\"><p>Not synced for 24 hours or more: what they recorded since is missing "
                    "from these figures.</p><ul>";
  for (const std::string& item : items) out += item;
  return out + "</ul></div>\n";
}

Result<std::string> overview_body(Service& service, const DashboardRequest& request) {
  const std::int64_t now = service.clock().now_ms();
  SB_ASSIGN_OR_RETURN(std::optional<Json> period, period_to_show(service, param(request, "period")));
  if (!period) {
    return "<p>No period holds today (" + format_date(now / kDayMs) +
           "): define one with 'shiftbook-server period add'.</p>";
  }
  const std::string period_id = period->value("id", std::string());
  SB_ASSIGN_OR_RETURN(std::string select, period_select(service, "/dashboard/", period_id));
  std::string body = select + "<h2>Plan against actual, period " + html_escape(period_id) + " (" +
                     html_escape(period->value("start", std::string())) + " to " +
                     html_escape(period->value("end", std::string())) + ")</h2>\n";
  SB_ASSIGN_OR_RETURN(ProductAmounts products, ProductAmounts::read(service));
  SB_ASSIGN_OR_RETURN(auto product_names, names_of(service, "ref_product"));
  SB_ASSIGN_OR_RETURN(std::vector<DeviceRecord> devices, service.devices());
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
    } else {
      body += "<table class=\"plan\"><tr><th>Unit</th><th>Product</th><th>Quota</th><th>Actual</th><th>Fulfilment</th>"
              "<th>Above quota</th><th>Plan against actual</th></tr>\n";
      for (const PeriodReturn& r : lines) {
        const auto unit = units.find(r.key.unit);
        const auto product = product_names.find(r.key.product);
        const std::string unit_name = unit == units.end() ? r.key.unit : unit->second + " (" + r.key.unit + ")";
        const std::string product_name =
            product == product_names.end() ? r.key.product : product->second + " (" + r.key.product + ")";
        body += "<tr><td>" + html_escape(unit_name) + "</td><td>" + html_escape(product_name) + "</td><td class=\"n\">" +
                (r.quota ? html_escape(products.amount(*r.quota, r.key.product)) : std::string("none")) +
                "</td><td class=\"n\">" + html_escape(products.amount(r.actual, r.key.product)) +
                "</td><td class=\"n\">" + (r.fulfilment_permille ? rate_text(*r.fulfilment_permille) : std::string("-")) +
                "</td><td class=\"n\">" +
                (r.surplus ? html_escape(products.amount(*r.surplus, r.key.product)) : std::string("-")) + "</td><td>" +
                (r.quota ? plan_bar(r.actual, *r.quota) : std::string("no quota")) + "</td></tr>\n";
      }
      body += "</table>\n";
    }
    body += missing_terminals(devices, site, now);
  }
  return body;
}

}  // namespace

std::string param(const DashboardRequest& request, const std::string& name) {
  auto it = request.params.find(name);
  return it == request.params.end() ? std::string() : it->second;
}

Reply bare_page(int status, const std::string& title, const std::string& body, std::string log_line) {
  Reply r;
  r.http_status = status;
  html_headers(r);
  r.body = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html_escape(title) +
           " · Shiftbook</title><style>"
           "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
           "th,td{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}td.n{text-align:right}"
           ".err{color:#a00}.ok{color:#060}header{display:flex;justify-content:space-between;align-items:center;"
           "flex-wrap:wrap;gap:1em}nav a{margin-right:1em}nav a[aria-current]{font-weight:bold}"
           "section{border:1px solid #ccc;border-radius:4px;padding:0 1em;margin:1em 0;overflow-x:auto}th.win{background:#dfd}"
           "code{font-size:.9em}pre{white-space:pre-wrap;background:#f6f6f6;padding:.5em}"
           "</style></head><body>\n" +
           body + "\n</body></html>\n";
  r.log_line = std::move(log_line);
  return r;
}

Reply framed_page(int status, const SessionInfo& session, const std::string& title, const std::string& body,
                  std::string log_line) {
  return bare_page(status, title, frame_header(session, title) + "<main>\n" + body + "</main>", std::move(log_line));
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

std::string hidden_token(const std::string& token) { return hidden("csrf", token); }

std::string hidden(const std::string& name, const std::string& value) {
  return "<input type=\"hidden\" name=\"" + html_escape(name) + "\" value=\"" + html_escape(value) + "\">";
}

std::string form_start(const std::string& action, const SessionInfo& session, const std::string& cls) {
  return "<form method=\"post\" action=\"" + html_escape(action) + "\"" +
         (cls.empty() ? std::string() : " class=\"" + html_escape(cls) + "\"") + ">" + hidden_token(session.csrf);
}

Reply show_page(Service& service, const DashboardRequest& request, const std::string& title, const PageBody& body) {
  std::optional<SessionInfo> session = session_of(service, request);
  if (!session) return redirect("/dashboard/login", "");
  const std::string prefix = "dashboard " + log_name(title) + " peer " + request.peer + " account " + session->account;
  auto drawn = body(*session);
  if (!drawn.is_ok()) return refusal_page(*session, title, nullptr, drawn.status(), prefix);
  return framed_page(200, *session, title, done_note(request) + *drawn, prefix);
}

Reply show_file(Service& service, const DashboardRequest& request, const std::string& title,
                const std::function<Result<Reply>()>& file) {
  std::optional<SessionInfo> session = session_of(service, request);
  if (!session) return redirect("/dashboard/login", "");
  const std::string prefix = "dashboard " + log_name(title) + " peer " + request.peer + " account " + session->account;
  auto made = file();
  if (!made.is_ok()) return refusal_page(*session, title, nullptr, made.status(), prefix);
  made->log_line = prefix + ": " + made->log_line;
  return std::move(made).value();
}

Reply run_action(Service& service, const DashboardRequest& request, const std::string& title, const PageBody& redraw,
                 const std::function<Result<Reply>(const SessionInfo&)>& act) {
  std::optional<SessionInfo> session = session_of(service, request);
  if (!session) return redirect("/dashboard/login", "");
  const std::string prefix = "dashboard " + log_name(title) + " action peer " + request.peer + " account " + session->account;
  if (Status csrf = service.check_csrf(*session, param(request, "csrf")); !csrf.is_ok()) {
    return framed_page(403, *session, title, alert(csrf.message()), prefix + " refused: the form's token");
  }
  auto done = act(*session);
  if (!done.is_ok()) return refusal_page(*session, title, redraw, done.status(), prefix);
  if (!done->log_line.empty()) done->log_line = prefix + ": " + done->log_line;
  return std::move(done).value();
}

Reply done_redirect(const std::string& page, const std::string& what, const std::optional<Hash>& event,
                    std::string log_line) {
  std::string to = page + (page.find('?') == std::string::npos ? "?" : "&") + "done=" + what;
  if (event) to += "&event=" + to_hex(*event);
  return redirect(to, std::move(log_line));
}

std::string done_note(const DashboardRequest& request) {
  static const std::map<std::string, std::string> kDone = {
      {"resolved", "Conflict resolved"},
      {"noted", "Decision noted"},
      {"approved", "Return approved and locked; what arrives for it later is booked into the next open period"},
      {"reopened", "Return reopened"},
      {"revoked", "Terminal revoked: its syncs are refused from now on and what it pushes is kept in quarantine"}};
  auto it = kDone.find(param(request, "done"));
  if (it == kDone.end()) return {};
  std::string note = it->second;
  const std::string event = param(request, "event");
  if (auto h = array_from_hex<32>(event); event.size() == 64 && h.is_ok()) {
    note += ": written as event " + shown_hash(*h) +
            " of the site's head-office chain; the site's terminals receive it at their next sync";
  }
  return "<p class=\"ok\" role=\"status\">" + note + ".</p>\n";
}

Result<std::optional<Json>> period_to_show(Service& service, const std::string& wanted) {
  const std::int64_t today = service.clock().now_ms() / kDayMs;
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

Result<std::string> period_select(Service& service, const std::string& action, const std::string& current) {
  SB_ASSIGN_OR_RETURN(std::vector<Json> periods, service.reference("ref_period"));
  std::string out = "<form method=\"get\" action=\"" + html_escape(action) + "\"><label>Period <select name=\"period\">";
  for (const Json& p : periods) {
    const std::string id = p.value("id", std::string());
    out += "<option value=\"" + html_escape(id) + "\"" + (id == current ? " selected" : "") + ">" + html_escape(id) +
           "</option>";
  }
  return out + "</select></label> <button type=\"submit\">Show</button></form>\n";
}

// id -> name of the reference items of `kind`.
Result<std::map<std::string, std::string>> names_of(Service& service, const std::string& kind,
                                                    const std::string& site) {
  SB_ASSIGN_OR_RETURN(std::vector<Json> items, service.reference(kind, site));
  std::map<std::string, std::string> out;
  for (const Json& item : items) out[item.value("id", std::string())] = item.value("name", std::string());
  return out;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (std::isalnum(b) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

Result<std::optional<Event>> stored_event(Service& service, const Hash& h) {
  SB_ASSIGN_OR_RETURN(std::optional<Bytes> raw, service.storage().event_raw(h));
  if (!raw) return std::optional<Event>();
  SB_ASSIGN_OR_RETURN(Event e, decode_event(*raw));
  return std::optional<Event>(std::move(e));
}

std::string event_link(const Hash& h) {
  return "<a href=\"/dashboard/event?hash=" + to_hex(h) + "\"><code>" + shown_hash(h) + "</code></a>";
}



std::string escaped_list(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : sep) + html_escape(item);
  return out;
}

}  // namespace dash

using namespace dash;

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
  return login_page(request, 200, "", "");
}

Reply dashboard_login(Service& service, const DashboardRequest& request) {
  const std::string prefix = "dashboard login peer " + request.peer;
  if (!same_token(param(request, "csrf"), cookie_value(request.cookie_header, kLoginCookie))) {
    return login_page(request, 403, "The form had expired or did not come from this page; sign in again.",
                      prefix + " refused: the form's token");
  }
  const std::string name = param(request, "name");
  std::string password = param(request, "password");
  auto started = service.start_session(name, password);
  sodium_memzero(password.data(), password.size());
  if (!started.is_ok()) {
    return login_page(request, http_answer(started.status().code()).http_status, shown_message(started.status()),
                      prefix + " refused: " + started.status().message());
  }
  Reply r = redirect("/dashboard/", prefix + " account " + started->account.name + " signed in");
  r.headers.emplace_back("Set-Cookie", set_cookie(request, kSessionCookie, started->cookie));
  r.headers.emplace_back("Set-Cookie", set_cookie(request, kLoginCookie, "", true));
  return r;
}

Reply dashboard_logout(Service& service, const DashboardRequest& request) {
  const std::string prefix = "dashboard logout peer " + request.peer;
  std::optional<SessionInfo> session = session_of(service, request);
  if (!session) return redirect("/dashboard/login", prefix + ": not signed in");
  Status csrf = service.check_csrf(*session, param(request, "csrf"));
  if (!csrf.is_ok()) return framed_page(403, *session, "Refused", alert(csrf.message()), prefix + " refused: the form's token");
  Status ended = service.end_session(cookie_value(request.cookie_header, kSessionCookie));
  if (!ended.is_ok()) return bare_page(500, "Error", alert("the server failed to do this; try again later"), prefix + ": " + ended.to_string());
  Reply r = redirect("/dashboard/login", prefix + " account " + session->account + " signed out");
  r.headers.emplace_back("Set-Cookie", set_cookie(request, kSessionCookie, "", true));
  return r;
}

Reply dashboard_overview(Service& service, const DashboardRequest& request) {
  return show_page(service, request, "Overview", [&](const SessionInfo&) { return overview_body(service, request); });
}

const std::vector<DashboardRoute>& dashboard_routes() {
  static const std::vector<DashboardRoute> kRoutes = {
      {false, "/dashboard/", &dashboard_overview},
      {false, "/dashboard/login", &dashboard_login_form},
      {true, "/dashboard/login", &dashboard_login},
      {true, "/dashboard/logout", &dashboard_logout},
      {false, "/dashboard/terminals", &terminals_page},
      {true, "/dashboard/terminals/revoke", &revoke_action},
      {true, "/dashboard/codes", &code_action},
      {false, "/dashboard/conflicts", &conflicts_page},
      {true, "/dashboard/conflicts/resolve", &resolve_action},
      {true, "/dashboard/anomalies/note", &note_action},
      {false, "/dashboard/returns", &returns_page},
      {true, "/dashboard/returns/approve", &approve_action},
      {true, "/dashboard/returns/reopen", &reopen_action},
      {false, "/dashboard/share", &share_page},
      {false, "/dashboard/event", &event_page},
      {false, "/dashboard/exports", &exports_page},
      {false, "/dashboard/export/payroll.csv", &payroll_csv_download},
      {false, "/dashboard/export/payroll.json", &payroll_json_download},
      {false, "/dashboard/audit", &audit_page},
  };
  return kRoutes;
}

}  // namespace shiftbook::server
