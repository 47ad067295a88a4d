// The report endpoints against a real `shiftbook-server serve` on 127.0.0.1 (docs/SERVER.md
// "Report endpoints"): a terminal logs hours and output for U1 and syncs, head office sets a rule
// set and makes an API token from the command line; then over HTTP (cpp-httplib's client) no
// token and a wrong token get 401 with a Bearer challenge, a good token gets the payroll CSV
// byte for byte as `export payroll --format csv` prints it and the returns as `returns --json`
// prints them, a bad format is 400, and once `token revoke` ran the same token gets 403.
#include <doctest/doctest.h>

#include <httplib.h>

#include <string>

#include "integration/terminal_cli.h"
#include "support/fixture.h"
#include "support/server_process.h"
#include "support/shared_expectations.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

httplib::Client client(const std::string& url) { return http_client(url); }

std::string error_code(const httplib::Result& r) {
  REQUIRE(r);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  return Json::parse(r->body)["error"]["code"].get<std::string>();
}

httplib::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

// Head office with the standard reference data and rule set 1 from 2026-11-01, serving; terminal
// T of U1 logged W1's 8 hours and 620 pcs of P1 (quota 500) on 16 November, and synced.
struct Reporting {
  ServerProcess server;
  Cli t;
  Reporting() {
    setup_head_office(server);
    ok(server.run({"rules", "set", "--from", "2026-11-01", "--pool-share-permille", "750", "--special-weight-permille",
                   "500", "--skill-points", "100", "--innovation-points", "0"}),
       "rules set");
    server.start();
    enroll(t, server);
    log_a_day(t);
  }
  std::string token(const std::string& name) const {
    return server.json({"token", "create", "--name", name, "--json"})["token"].get<std::string>();
  }
};

TEST_CASE("reports over HTTP: 401 without a valid token, the CLI's own bytes with one, 400 and 403 when due") {
  Reporting w;
  const std::string token = w.token("payroll office");
  auto http = client(w.server.url());

  auto none = http.Get("/v1/reports/payroll?period=2026-11&format=csv");
  REQUIRE(none);
  CHECK(none->status == 401);
  CHECK(error_code(none) == "unauthenticated");
  CHECK(none->get_header_value("WWW-Authenticate") == "Bearer realm=\"shiftbook\"");
  std::string wrong = token;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  auto bad_token = http.Get("/v1/reports/returns", bearer(wrong));
  REQUIRE(bad_token);
  CHECK(bad_token->status == 401);
  CHECK(bad_token->get_header_value("WWW-Authenticate") == "Bearer realm=\"shiftbook\", error=\"invalid_token\"");
  CHECK(w.server.wait_for_log("report returns peer 127.0.0.1 refused: unauthenticated"));

  // The payroll: the same bytes as `export payroll --format csv`, with its shares (W1 gets the
  // whole pool of P1: floor(120 x 750 / 1000) = 90).
  const RunResult exported = w.server.run({"export", "payroll", "--period", "2026-11", "--format", "csv"});
  ok(exported, "export payroll");
  CHECK(exported.out.find("W1,U1,2026-11,P1,") != std::string::npos);
  auto csv = http.Get("/v1/reports/payroll?period=2026-11&format=csv", bearer(token));
  REQUIRE(csv);
  CHECK(csv->status == 200);
  CHECK(csv->get_header_value("Content-Type") == "text/csv; charset=utf-8");
  CHECK(csv->get_header_value("Content-Disposition") == "attachment; filename=\"payroll-2026-11.csv\"");
  CHECK(csv->body == exported.out);
  auto json = http.Get("/v1/reports/payroll?period=2026-11&unit=U1", bearer(token));
  REQUIRE(json);
  CHECK(json->status == 200);
  CHECK(json->body ==
        w.server.run({"export", "payroll", "--period", "2026-11", "--unit", "U1", "--format", "json"}).out);

  // The returns: as `returns --json` prints them.
  auto returns = http.Get("/v1/reports/returns?unit=U1&period=2026-11", bearer(token));
  REQUIRE(returns);
  CHECK(returns->status == 200);
  CHECK(returns->get_header_value("Content-Type") == "application/json");
  CHECK(returns->body == w.server.run({"returns", "--json", "--unit", "U1", "--period", "2026-11"}).out);
  const Json doc = Json::parse(returns->body);
  REQUIRE(doc["returns"].size() == 2);
  CHECK(doc["returns"][0]["actual"] == 620);
  CHECK(doc["returns"][0]["surplus"] == 120);
  CHECK(w.server.wait_for_log("report payroll peer 127.0.0.1 token " + token.substr(4, 8) + " period 2026-11 csv"));

  // Bad parameters, unknown ids, other methods.
  auto bad_format = http.Get("/v1/reports/payroll?period=2026-11&format=xlsx", bearer(token));
  REQUIRE(bad_format);
  CHECK(bad_format->status == 400);
  CHECK(error_code(bad_format) == "bad_request");
  CHECK(bad_format->body.find("give format=csv or format=json") != std::string::npos);
  auto unknown = http.Get("/v1/reports/returns?site=S7", bearer(token));
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
  auto post = http.Post("/v1/reports/returns", bearer(token), "x", "text/plain");
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(post->get_header_value("Allow") == "GET");

  // The token's use is listed; revoked, it gets 403 while another token still works.
  const Json listed = w.server.json({"token", "list", "--json"})["tokens"];
  REQUIRE(listed.size() == 1);
  CHECK(listed[0]["last_used_ms"].get<std::int64_t>() > 0);
  CHECK(listed[0].dump().find(token.substr(13)) == std::string::npos);
  const std::string other = w.token("auditor");
  ok(w.server.run({"token", "revoke", token.substr(4, 8)}), "token revoke");
  auto revoked = http.Get("/v1/reports/returns", bearer(token));
  REQUIRE(revoked);
  CHECK(revoked->status == 403);
  CHECK(error_code(revoked) == "revoked");
  auto still = http.Get("/v1/reports/returns", bearer(other));
  REQUIRE(still);
  CHECK(still->status == 200);
}

TEST_CASE("reports over HTTP: the server's kept ledger answers with what terminals synced since the last request") {
  Reporting w;
  const std::string token = w.token("payroll office");
  auto http = client(w.server.url());
  auto actual = [&] {
    auto r = http.Get("/v1/reports/returns?unit=U1&period=2026-11", bearer(token));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return Json::parse(r->body)["returns"][0]["actual"].get<std::int64_t>();
  };
  CHECK(actual() == 620);
  ok(w.t.run({"log", "output", "--product", "P1", "--quantity", "30"}), "log output");
  ok(w.t.run({"sync"}), "sync");
  CHECK(actual() == 650);
  auto returns = http.Get("/v1/reports/returns?unit=U1&period=2026-11", bearer(token));
  REQUIRE(returns);
  CHECK(returns->body == w.server.run({"returns", "--json", "--unit", "U1", "--period", "2026-11"}).out);
}

TEST_CASE("token commands: create shows the token once, list never, revoke refuses what it cannot do") {
  ServerProcess server;
  const RunResult made = server.run({"token", "create", "--name", "payroll office"});
  ok(made, "token create");
  CHECK(made.out.find("cannot be shown again") != std::string::npos);
  const std::size_t at = made.out.find("sbt_");
  REQUIRE(at != std::string::npos);
  const std::string token = made.out.substr(at, 4 + 8 + 1 + 64);
  const std::string id = token.substr(4, 8);
  const RunResult list = server.run({"token", "list"});
  ok(list, "token list");
  CHECK(list.out.find(id) != std::string::npos);
  CHECK(list.out.find("payroll office") != std::string::npos);
  CHECK(list.out.find(token.substr(13)) == std::string::npos);

  CHECK(server.run({"token", "create", "--name", ""}).exit_code == 3);
  const RunResult bad_id = server.run({"token", "revoke", "nothex!!"});
  CHECK(bad_id.exit_code == 3);
  CHECK(bad_id.err.find("8 lower-case hex digits") != std::string::npos);
  CHECK(server.run({"token", "revoke", id == "00000000" ? "00000001" : "00000000"}).exit_code == 4);
  const Json revoked = server.json({"token", "revoke", id, "--json"});
  CHECK(revoked["state"] == "revoked");
  const RunResult twice = server.run({"token", "revoke", id});
  CHECK(twice.exit_code == 6);
  CHECK(twice.err.find("revoked already") != std::string::npos);
  CHECK(twice.out.empty());
}

}  // namespace
