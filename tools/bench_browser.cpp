// The dashboard's browser of one (bench_browser.h). With bench_terminal.cpp, one of the two files
// of the benchmark that include httplib.h: its exceptions end here.
#include "bench_browser.h"

#include <httplib.h>

#include <exception>
#include <regex>

namespace shiftbook::bench {

struct Browser::Http {
  Http(const std::string& host, int port, int read_timeout_s) : client(host, port) {
    client.set_keep_alive(true);
    client.set_connection_timeout(30, 0);
    client.set_read_timeout(read_timeout_s, 0);
  }
  httplib::Client client;
};

Browser::Browser(const std::string& host, int port, int read_timeout_s)
    : http_(std::make_unique<Http>(host, port, read_timeout_s)) {}
Browser::~Browser() = default;

namespace {

// Keeps each Set-Cookie of `res` ("name=value; attributes"); an empty value removes the cookie.
void keep_cookies(const httplib::Response& res, std::map<std::string, std::string>& cookies) {
  for (const auto& [key, value] : res.headers) {
    if (key != "Set-Cookie") continue;
    const std::size_t eq = value.find('='), end = value.find(';');
    if (eq == std::string::npos) continue;
    const std::string name = value.substr(0, eq), v = value.substr(eq + 1, end == std::string::npos ? end : end - eq - 1);
    if (v.empty()) {
      cookies.erase(name);
    } else {
      cookies[name] = v;
    }
  }
}

httplib::Headers cookie_header(const std::map<std::string, std::string>& cookies) {
  std::string text;
  for (const auto& [name, value] : cookies) text += (text.empty() ? "" : "; ") + name + "=" + value;
  return text.empty() ? httplib::Headers{} : httplib::Headers{{"Cookie", text}};
}

}  // namespace

Result<Page> Browser::get(const std::string& path) {
  try {
    httplib::Result res = http_->client.Get(path, cookie_header(cookies_));
    if (!res) return unavailable("GET " + path + " failed: " + httplib::to_string(res.error()));
    keep_cookies(*res, cookies_);
    return Page{res->status, std::move(res->body)};
  } catch (const std::exception& e) {
    return unavailable("GET " + path + " failed: " + e.what());
  }
}

Result<Page> Browser::post(const std::string& path, const std::vector<std::pair<std::string, std::string>>& form) {
  try {
    httplib::Params params(form.begin(), form.end());
    httplib::Result res = http_->client.Post(path, cookie_header(cookies_), params);
    if (!res) return unavailable("POST " + path + " failed: " + httplib::to_string(res.error()));
    keep_cookies(*res, cookies_);
    return Page{res->status, std::move(res->body)};
  } catch (const std::exception& e) {
    return unavailable("POST " + path + " failed: " + e.what());
  }
}

Status Browser::sign_in(const std::string& name, const std::string& password) {
  SB_ASSIGN_OR_RETURN(Page form, get("/dashboard/login"));
  static const std::regex kToken("name=\"csrf\" value=\"([0-9a-f]+)\"");
  std::smatch m;
  if (form.status != 200 || !std::regex_search(form.body, m, kToken)) {
    return unauthenticated("GET /dashboard/login answered " + std::to_string(form.status) + " without a sign-in form");
  }
  SB_ASSIGN_OR_RETURN(Page signed_in, post("/dashboard/login", {{"csrf", m[1].str()}, {"name", name}, {"password", password}}));
  if (signed_in.status != 303 || cookies_.count("sb_session") == 0) {
    return unauthenticated("signing in as " + name + " answered " + std::to_string(signed_in.status) +
                           " without a session");
  }
  return Status::ok();
}

}  // namespace shiftbook::bench
