// A browser of one for the dashboard's HTTP tests: it keeps the cookies the server sets, signs
// in as an account, and reads forms' tokens out of pages; and the head office's accounts and rules
// the tests sign in with and approve under.
#pragma once

#include <doctest/doctest.h>

#include <httplib.h>

#include <regex>
#include <string>
#include <utility>

#include "integration/terminal_cli.h"
#include "support/server_process.h"
#include "support/shared_expectations.h"

namespace shiftbook::testing {

constexpr const char* kPassword = "correct horse battery";

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The value a Set-Cookie header of `r` gives cookie `name` ("" when none does), and that header.
inline std::pair<std::string, std::string> set_cookie(const httplib::Result& r, const std::string& name) {
  for (const auto& [key, value] : r->headers) {
    if (key == "Set-Cookie" && value.rfind(name + "=", 0) == 0) {
      return {value.substr(name.size() + 1, value.find(';') - name.size() - 1), value};
    }
  }
  return {"", ""};
}

inline std::string form_token(const std::string& html) {
  std::smatch m;
  REQUIRE(std::regex_search(html, m, std::regex("name=\"csrf\" value=\"([0-9a-f]+)\"")));
  return m[1].str();
}

// A browser of one: it keeps the cookies the server sets.
struct Browser {
  explicit Browser(const std::string& url) : http(http_client(url)) {}
  httplib::Client http;
  std::string login_cookie, session_cookie;
  httplib::Headers cookies() const {
    std::string c;
    if (!login_cookie.empty()) c += "sb_login=" + login_cookie;
    if (!session_cookie.empty()) c += (c.empty() ? "" : "; ") + ("sb_session=" + session_cookie);
    return c.empty() ? httplib::Headers{} : httplib::Headers{{"Cookie", c}};
  }
  httplib::Result get(const std::string& path) {
    auto r = http.Get(path, cookies());
    REQUIRE(r);
    return r;
  }
  httplib::Result post(const std::string& path, const httplib::Params& form) {
    auto r = http.Post(path, cookies(), form);
    REQUIRE(r);
    return r;
  }
  // The sign-in form: its token, with the login cookie kept.
  std::string open_login() {
    auto r = get("/dashboard/login");
    CHECK(r->status == 200);
    login_cookie = set_cookie(r, "sb_login").first;
    return form_token(r->body);
  }
  httplib::Result sign_in(const std::string& password, const std::string& name = "anna") {
    const std::string token = open_login();
    auto r = post("/dashboard/login", {{"csrf", token}, {"name", name}, {"password", password}});
    const std::string session = set_cookie(r, "sb_session").first;
    if (!session.empty()) session_cookie = session;
    return r;
  }
};

// The 64 hex digits of `event=` in a done redirect's Location ("" when none).
inline std::string done_event(const httplib::Result& r) {
  std::smatch m;
  const std::string location = r->get_header_value("Location");
  return std::regex_search(location, m, std::regex("event=([0-9a-f]{64})")) ? m[1].str() : std::string();
}

// The words of a page's refusal (its role="alert" paragraph), "" when it has none.
inline std::string alert_of(const std::string& html) {
  std::smatch m;
  return std::regex_search(html, m, std::regex("role=\"alert\">([^<]*)<")) ? m[1].str() : std::string();
}

// Account `name`, its password kPassword.
inline void add_account(const ServerProcess& server, const std::string& name) {
  ok(server.run({"account", "create", "--name", name}, std::string(kPassword) + "\n"), "account create " + name);
}

// Rule set 1 from 2026-11-01: a pool of 75 % of the surplus, special hours weighted 1.5.
inline void add_rules(const ServerProcess& server) {
  ok(server.run({"rules", "set", "--from", "2026-11-01", "--pool-share-permille", "750", "--special-weight-permille",
                 "500", "--skill-points", "100", "--innovation-points", "0"}),
     "rules set");
}

// Signed in as anna.
inline Browser signed_in(const ServerProcess& server, const std::string& name = "anna") {
  Browser b(server.url());
  auto in = b.sign_in(kPassword, name);
  REQUIRE(in->status == 303);
  REQUIRE_FALSE(b.session_cookie.empty());
  return b;
}

}  // namespace shiftbook::testing
