// The head-office dashboard over HTTP (docs/DASHBOARD.md), apart from HTTP itself: each page takes
// what the request brought and comes to a Reply of server-drawn HTML. Every page but the sign-in
// form needs a session (the cookie sb_session), every action a form carrying the session's CSRF
// token, and every text that came from head office or a terminal is escaped. http.cpp routes to
// these (dashboard_routes); thread-safe as the Service is.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "service.h"

namespace shiftbook::server {

// What a dashboard request brings, as HTTP gave it.
struct DashboardRequest {
  std::string cookie_header;                       // the Cookie header; empty when absent
  std::multimap<std::string, std::string> params;  // query parameters and an urlencoded form, decoded
  std::string peer;                                // the remote address, for the log
  // The browser reached the server over HTTPS, as a trusted proxy says (X-Forwarded-Proto: https,
  // HttpOptions::trusted_proxies): the cookies set are marked Secure.
  bool https = false;
};

using DashboardHandler = Reply (*)(Service&, const DashboardRequest&);

// One page or action: GET (post = false) or POST of `path`.
struct DashboardRoute {
  bool post;
  const char* path;
  DashboardHandler handle;
};

// Every page and action of the dashboard (docs/DASHBOARD.md, steps 2 and 3).
const std::vector<DashboardRoute>& dashboard_routes();

// GET /dashboard/login: the sign-in form (or, when signed in, 303 to the overview).
Reply dashboard_login_form(Service& service, const DashboardRequest& request);
// POST /dashboard/login (name, password, csrf): 303 to the overview with the session's cookie; the
// form again with what was wrong (401 wrong credentials, 403 locked, disabled or a bad form token).
Reply dashboard_login(Service& service, const DashboardRequest& request);
// POST /dashboard/logout (csrf): ends the session, 303 to the sign-in form.
Reply dashboard_logout(Service& service, const DashboardRequest& request);
// GET /dashboard/: plan against actual of the current period, per site and unit, and the
// terminals whose silence leaves figures missing.
Reply dashboard_overview(Service& service, const DashboardRequest& request);

// `text` for HTML text and attribute values: & < > " ' as character references.
std::string html_escape(std::string_view text);
// The value of cookie `name` in a Cookie header ("a=1; b=2"); empty when absent.
std::string cookie_value(std::string_view header, std::string_view name);

}  // namespace shiftbook::server
