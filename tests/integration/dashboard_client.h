// A browser of one for the dashboard's HTTP tests: it keeps the cookies the server sets, signs
// in as an account, and reads forms' tokens out of pages.
#pragma once

#include <doctest/doctest.h>

#include <httplib.h>

#include <regex>
#include <string>
#include <utility>

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

}  // namespace shiftbook::testing
