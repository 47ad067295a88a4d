// The head-office dashboard over HTTP (dashboard.cpp, docs/DASHBOARD.md) against a real server
// process: pages need a session; signing in takes the form's token and the right password and
// sets an HttpOnly, SameSite=Strict cookie; a wrong password, a missing token, another login's
// token are refused; the overview shows plan against actual with every name escaped; signing out
// ends the session. (The end-to-end tests in a real browser are not built yet.)
#include <doctest/doctest.h>

#include <httplib.h>

#include <string>

#include "integration/dashboard_client.h"
#include "integration/terminal_cli.h"
#include "support/fixture.h"
#include "support/server_process.h"
#include "support/shared_expectations.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

// Head office with the standard reference data, a unit whose name is a script, the account anna,
// serving; terminal T of U1 logged 620 pcs of P1 (quota 500) on 16 November, and synced.
struct Dashboard {
  ServerProcess server;
  Cli t;
  Dashboard() {
    setup_head_office(server);
    ok(server.run({"unit", "add", "U7", "--site", "S1", "--name", "<script>alert(1)</script>"}), "unit add");
    ok(server.run({"quota", "set", "--unit", "U7", "--period", "2026-11", "--product", "P1", "--quantity", "10"}),
       "quota set");
    ok(server.run({"account", "create", "--name", "anna"}, std::string(kPassword) + "\n"), "account create");
    server.start();
    enroll(t, server);
    log_a_day(t);
  }
};

}  // namespace

TEST_CASE("dashboard: pages need a session, signing in sets an HttpOnly SameSite cookie, the overview shows plan "
          "against actual, escaped") {
  Dashboard d;
  Browser b(d.server.url());
  auto anonymous = b.get("/dashboard/");
  CHECK(anonymous->status == 303);
  CHECK(anonymous->get_header_value("Location") == "/dashboard/login");

  auto login = b.get("/dashboard/login");
  CHECK(login->status == 200);
  CHECK(has(login->get_header_value("Content-Security-Policy"), "default-src 'none'"));
  const auto [nonce, login_header] = set_cookie(login, "sb_login");
  CHECK(nonce.size() == 32);
  CHECK(has(login_header, "HttpOnly"));
  CHECK(has(login_header, "SameSite=Strict"));
  CHECK_FALSE(has(login_header, "Secure"));  // plain HTTP, no proxy saying otherwise
  CHECK(form_token(login->body) == nonce);

  auto in = b.sign_in(kPassword);
  CHECK(in->status == 303);
  CHECK(in->get_header_value("Location") == "/dashboard/");
  const auto [session, session_header] = set_cookie(in, "sb_session");
  CHECK(session.size() == 64);
  CHECK(has(session_header, "HttpOnly"));
  CHECK(has(session_header, "SameSite=Strict"));
  CHECK(d.server.wait_for_log("dashboard login peer 127.0.0.1 account anna signed in"));
  CHECK(d.server.wait_for_log("ledgers ready in "));  // built in the background at the start

  auto overview = b.get("/dashboard/?period=2026-11");
  REQUIRE(overview->status == 200);
  const std::string& html = overview->body;
  CHECK(has(html, "Signed in as <b>anna</b>"));
  CHECK(has(html, "Press shop (U1)"));
  CHECK(has(html, "Bracket (P1)"));
  CHECK(has(html, "<td class=\"n\">500 pcs</td><td class=\"n\">620 pcs</td><td class=\"n\">124.0 %</td><td class=\"n\">120 pcs</td>"));
  CHECK(has(html, "<svg"));
  CHECK(has(html, "&lt;script&gt;alert(1)&lt;/script&gt; (U7)"));
  CHECK_FALSE(has(html, "<script>"));
  auto unknown_period = b.get("/dashboard/?period=1999-01");
  CHECK(unknown_period->status == 404);
  CHECK(has(unknown_period->body, "no period &#39;1999-01&#39;"));
}

TEST_CASE("dashboard: behind a trusted proxy that says HTTPS the cookies are Secure, and from anyone else the header "
          "changes nothing") {
  // The sign-in form's and the session's Set-Cookie headers when the request says `proto`.
  const auto cookies_for = [](const ServerProcess& server, const std::string& proto) {
    httplib::Client http = http_client(server.url());
    auto form = http.Get("/dashboard/login", {{"X-Forwarded-Proto", proto}});
    REQUIRE(form);
    const std::string token = form_token(form->body);
    auto in = http.Post("/dashboard/login", {{"Cookie", "sb_login=" + token}, {"X-Forwarded-Proto", proto}},
                        httplib::Params{{"csrf", token}, {"name", "anna"}, {"password", kPassword}});
    REQUIRE(in);
    REQUIRE(in->status == 303);
    return std::pair{set_cookie(form, "sb_login").second, set_cookie(in, "sb_session").second};
  };
  ServerProcess behind;
  add_account(behind, "anna");
  behind.start({"--trusted-proxy", "127.0.0.1"});
  const auto [login, session] = cookies_for(behind, "https");
  CHECK(has(login, "; Secure"));
  CHECK(has(session, "; Secure"));
  CHECK(has(session, "HttpOnly"));
  const auto [plain_login, plain_session] = cookies_for(behind, "http");
  CHECK_FALSE(has(plain_login, "Secure"));
  CHECK_FALSE(has(plain_session, "Secure"));

  ServerProcess direct;
  add_account(direct, "anna");
  direct.start();
  const auto [direct_login, direct_session] = cookies_for(direct, "https");
  CHECK_FALSE(has(direct_login, "Secure"));
  CHECK_FALSE(has(direct_session, "Secure"));
}

TEST_CASE("dashboard: a wrong password, a missing or foreign form token are refused, signing out ends the session") {
  Dashboard d;
  Browser b(d.server.url());
  auto wrong = b.sign_in("correct horse battery!");
  CHECK(wrong->status == 401);
  CHECK(has(wrong->body, "wrong name or password"));
  CHECK(set_cookie(wrong, "sb_session").first.empty());

  b.open_login();
  auto no_token = b.post("/dashboard/login", {{"name", "anna"}, {"password", kPassword}});
  CHECK(no_token->status == 403);
  CHECK(set_cookie(no_token, "sb_session").first.empty());
  auto other_token = b.post("/dashboard/login", {{"csrf", std::string(32, 'a')}, {"name", "anna"}, {"password", kPassword}});
  CHECK(other_token->status == 403);

  REQUIRE(b.sign_in(kPassword)->status == 303);
  Browser other(d.server.url());  // another login of the same account
  REQUIRE(other.sign_in(kPassword)->status == 303);
  const std::string others_token = form_token(other.get("/dashboard/?period=2026-11")->body);
  auto foreign = b.post("/dashboard/logout", {{"csrf", others_token}});
  CHECK(foreign->status == 403);
  CHECK(has(foreign->body, "security token"));
  auto missing = b.post("/dashboard/logout", {});
  CHECK(missing->status == 403);
  CHECK(b.get("/dashboard/?period=2026-11")->status == 200);  // still signed in

  const std::string mine = form_token(b.get("/dashboard/?period=2026-11")->body);
  auto out = b.post("/dashboard/logout", {{"csrf", mine}});
  CHECK(out->status == 303);
  CHECK(out->get_header_value("Location") == "/dashboard/login");
  CHECK(b.get("/dashboard/?period=2026-11")->status == 303);
  CHECK(other.get("/dashboard/?period=2026-11")->status == 200);  // the other login goes on
}
