// Head-office API tokens (service_tokens.cpp) and the report endpoints' logic (report_api.cpp)
// over a real store: a token's text is shown once and only its hash is stored; check_token
// accepts the right token and notes its use, and refuses a missing or malformed header, a wrong
// secret or unknown id (one message for both) and a revoked token; the report endpoints check the
// token, then the parameters, then answer from the same Service calls as the admin commands.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "report_api.h"
#include "service_world.h"
#include "support/store_sql.h"

using namespace shiftbook;
using namespace shiftbook::service_world;
using server::NewToken;
using server::ReportRequest;
using server::TokenRecord;

namespace {

NewToken make_token(HeadOffice& ho, const std::string& name = "payroll office") {
  auto t = ho.service->create_token(name);
  REQUIRE_MESSAGE(t.is_ok(), t.status().to_string());
  return *t;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool is_lower_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string header(const Reply& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return {};
}

std::string error_code(const Reply& r) { return Json::parse(r.body)["error"]["code"].get<std::string>(); }
std::string error_message(const Reply& r) { return Json::parse(r.body)["error"]["message"].get<std::string>(); }

TEST_CASE("service tokens: the text is shown once, and the store keeps the hash of the secret, never the secret") {
  HeadOffice ho;
  const NewToken made = make_token(ho);
  const std::string& text = made.text;
  REQUIRE(text.size() == 4 + 8 + 1 + 64);
  CHECK(text.substr(0, 4) == "sbt_");
  CHECK(text.substr(4, 8) == made.record.id);
  CHECK(text[12] == '_');
  CHECK(is_lower_hex(made.record.id));
  const std::string secret_hex = text.substr(13);
  CHECK(is_lower_hex(secret_hex));
  const Bytes secret = *from_hex(secret_hex);
  CHECK(made.record.secret_hash == blake2b_256(secret));
  CHECK(made.record.name == "payroll office");
  CHECK(made.record.created_ms == testing::kSampleNowMs);

  auto listed = ho.service->tokens();
  REQUIRE(listed.is_ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].id == made.record.id);
  CHECK((*listed)[0].secret_hash == made.record.secret_hash);
  if (testing::postgres_backend()) {
    // Neither the secret's hex nor its bytes (which a row's text shows in hex) are in any token's row.
    const auto rows_holding = [&](const std::string& hex) {
      return testing::store_int(ho.store_url, "SELECT count(*) FROM tokens t WHERE strpos(t::text, '" + hex + "') > 0");
    };
    CHECK(rows_holding(secret_hex) == 0);
    CHECK(rows_holding(to_hex(made.record.secret_hash)) == 1);
  } else {
    // Neither the secret's hex nor its bytes are anywhere in the store's files.
    std::string stored;
    for (const char* suffix : {"", "-wal"}) {
      const std::string path = ho.dir.file("server.db") + suffix;
      if (std::filesystem::exists(path)) stored += file_bytes(path);
    }
    REQUIRE(!stored.empty());
    CHECK(stored.find(secret_hex) == std::string::npos);
    CHECK(stored.find(std::string(secret.begin(), secret.end())) == std::string::npos);
    CHECK(stored.find(std::string(made.record.secret_hash.begin(), made.record.secret_hash.end())) != std::string::npos);
  }

  // Two tokens never share an id or a secret.
  const NewToken other = make_token(ho, "auditor");
  CHECK(other.record.id != made.record.id);
  CHECK(other.text.substr(13) != secret_hex);
  CHECK(ho.service->tokens()->size() == 2);
}

TEST_CASE("service tokens: a name is 1 to 100 bytes of text") {
  HeadOffice ho;
  for (const std::string& bad : {std::string(), std::string(101, 'n'), std::string("tab\there"), std::string("\xff")}) {
    auto r = ho.service->create_token(bad);
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find("name") != std::string::npos);
  }
  CHECK(ho.service->tokens()->empty());
  CHECK(ho.service->create_token(std::string(100, 'n')).is_ok());
}

TEST_CASE("service tokens: check accepts the right token and notes its use, and refuses everything else") {
  HeadOffice ho;
  const NewToken made = make_token(ho);
  ho.clock.advance(60'000);
  auto ok = ho.service->check_token("Bearer " + made.text);
  REQUIRE_MESSAGE(ok.is_ok(), ok.status().to_string());
  CHECK(ok->id == made.record.id);
  CHECK(ok->last_used_ms == testing::kSampleNowMs + 60'000);
  CHECK(ho.service->tokens()->front().last_used_ms == testing::kSampleNowMs + 60'000);
  CHECK(ho.service->check_token("bearer   " + made.text + " ").is_ok());  // the scheme in any case

  auto refused = [&](const std::string& authorization, const std::string& fragment) {
    auto r = ho.service->check_token(authorization);
    CHECK_MESSAGE(r.status().code() == Code::kUnauthenticated, authorization);
    CHECK_MESSAGE(r.status().message().find(fragment) != std::string::npos, r.status().message());
  };
  refused("", "no API token");
  refused("Basic dXNlcjpwYXNz", "not 'Bearer TOKEN'");
  refused("Bearer", "not 'Bearer TOKEN'");
  refused("Bearer " + made.text.substr(0, 40), "not a Shiftbook API token");
  refused("Bearer " + made.text + "0", "not a Shiftbook API token");
  std::string upper = made.text;
  for (std::size_t i = 13; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  if (upper != made.text) refused("Bearer " + upper, "lower-case hex");

  // A wrong secret and an unknown id get the same answer.
  std::string wrong_secret = made.text;
  wrong_secret.back() = wrong_secret.back() == '0' ? '1' : '0';
  std::string unknown_id = made.text;
  unknown_id[4] = unknown_id[4] == '0' ? '1' : '0';
  auto a = ho.service->check_token("Bearer " + wrong_secret);
  auto b = ho.service->check_token("Bearer " + unknown_id);
  CHECK(a.status().code() == Code::kUnauthenticated);
  CHECK(b.status().code() == Code::kUnauthenticated);
  CHECK(a.status().message() == b.status().message());
  CHECK(a.status().message().find("not valid") != std::string::npos);
  // Refusals leave the last use alone.
  CHECK(ho.service->tokens()->front().last_used_ms == testing::kSampleNowMs + 60'000);

  // Revoked: the right secret is told it is revoked; a wrong one learns nothing more.
  REQUIRE(ho.service->revoke_token(made.record.id).is_ok());
  auto revoked = ho.service->check_token("Bearer " + made.text);
  CHECK(revoked.status().code() == Code::kPermissionDenied);
  CHECK(revoked.status().message().find("revoked") != std::string::npos);
  CHECK(ho.service->check_token("Bearer " + wrong_secret).status().code() == Code::kUnauthenticated);
}

TEST_CASE("service tokens: revoke takes an id that exists, once") {
  HeadOffice ho;
  const NewToken made = make_token(ho);
  const NewToken other = make_token(ho, "auditor");
  CHECK(ho.service->revoke_token("xyz").status().code() == Code::kInvalidArgument);
  CHECK(ho.service->revoke_token(made.text).status().code() == Code::kInvalidArgument);
  std::string unknown = made.record.id;
  unknown[0] = unknown[0] == '0' ? '1' : '0';
  CHECK(ho.service->revoke_token(unknown).status().code() == Code::kNotFound);
  ho.clock.advance(1000);
  auto r = ho.service->revoke_token(made.record.id);
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  CHECK(r->revoked_ms == testing::kSampleNowMs + 1000);
  CHECK(ho.service->revoke_token(made.record.id).status().code() == Code::kFailedPrecondition);
  // The other token is untouched.
  CHECK(ho.service->check_token("Bearer " + other.text).is_ok());
}

// A report request with `token` (empty: no Authorization header) and these parameters.
ReportRequest request(const std::string& token, std::multimap<std::string, std::string> params) {
  return ReportRequest{token.empty() ? std::string() : "Bearer " + token, std::move(params), kPeer};
}

TEST_CASE("report endpoints: 401 with a challenge without a valid token, 403 for a revoked one, nothing read") {
  HeadOffice ho;
  const NewToken made = make_token(ho);
  Reply none = server::payroll_report(*ho.service, request("", {{"period", "2026-11"}}));
  CHECK(none.http_status == 401);
  CHECK(error_code(none) == "unauthenticated");
  CHECK(header(none, "WWW-Authenticate") == "Bearer realm=\"shiftbook\"");
  CHECK(none.log_line.find("report payroll peer 127.0.0.1 refused: unauthenticated") == 0);

  std::string wrong = made.text;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  Reply bad = server::returns_report(*ho.service, request(wrong, {}));
  CHECK(bad.http_status == 401);
  CHECK(header(bad, "WWW-Authenticate").find("error=\"invalid_token\"") != std::string::npos);
  // The token is checked before the parameters.
  CHECK(server::payroll_report(*ho.service, request(wrong, {{"format", "xml"}})).http_status == 401);

  REQUIRE(ho.service->revoke_token(made.record.id).is_ok());
  Reply revoked = server::returns_report(*ho.service, request(made.text, {}));
  CHECK(revoked.http_status == 403);
  CHECK(error_code(revoked) == "revoked");
  CHECK(header(revoked, "WWW-Authenticate").empty());
}

TEST_CASE("report endpoints: bad parameters are 400 saying what to give, unknown ids 404") {
  HeadOffice ho;
  const std::string token = make_token(ho).text;
  auto payroll = [&](std::multimap<std::string, std::string> params) {
    return server::payroll_report(*ho.service, request(token, std::move(params)));
  };
  auto returns = [&](std::multimap<std::string, std::string> params) {
    return server::returns_report(*ho.service, request(token, std::move(params)));
  };
  auto is_400 = [](const Reply& r, const std::string& fragment) {
    CHECK(r.http_status == 400);
    CHECK(error_code(r) == "bad_request");
    CHECK_MESSAGE(error_message(r).find(fragment) != std::string::npos, error_message(r));
  };
  is_400(payroll({}), "no period");
  is_400(payroll({{"period", "2026-11"}, {"format", "xml"}}), "give format=csv or format=json");
  is_400(payroll({{"period", "2026-11"}, {"format", ""}}), "parameter 'format' is empty");
  is_400(payroll({{"period", "2026-11"}, {"period", "2026-12"}}), "given twice");
  is_400(payroll({{"period", "2026-11"}, {"sort", "name"}}), "unknown parameter 'sort'");
  is_400(payroll({{"period", "2026-11\n"}}), "control character");
  is_400(returns({{"period", "2026-11"}, {"format", "csv"}}), "unknown parameter 'format'");
  is_400(returns({{"site", "S2"}, {"unit", "U1"}}), "unit U1 belongs to site S1, not to site S2");
  is_400(payroll({{"period", "2026-11"}, {"site", "S2"}, {"unit", "U1"}}), "not to site S2");

  for (const Reply& r : {payroll({{"period", "2031-01"}}), payroll({{"period", "2026-11"}, {"unit", "U7"}}),
                         returns({{"site", "S7"}}), returns({{"unit", "U7"}}), returns({{"period", "2031-01"}})}) {
    CHECK(r.http_status == 404);
    CHECK(error_code(r) == "not_found");
  }
  CHECK(error_message(returns({{"site", "S7"}})).find("site 'S7' does not exist") != std::string::npos);
}

TEST_CASE("report endpoints: the payroll as the CLI exports it, CSV or JSON, and the returns as `returns --json`") {
  HeadOffice ho;
  const std::string token = make_token(ho).text;
  // A unit with a quota and no rule set in force has no shares: no payroll yet.
  Reply early = server::payroll_report(*ho.service, request(token, {{"period", "2026-11"}}));
  CHECK(early.http_status == 409);
  CHECK(error_code(early) == "not_ready");
  ho.put("ref_rules", {{"from", "2026-11-01"}, {"pool_share_permille", 750}, {"special_weight_permille", 500},
                       {"skill_points", 100}, {"innovation_points", 0}});

  auto rows = ho.service->payroll("2026-11", "", "");
  REQUIRE_MESSAGE(rows.is_ok(), rows.status().to_string());
  Reply csv = server::payroll_report(*ho.service, request(token, {{"period", "2026-11"}, {"format", "csv"}}));
  CHECK(csv.http_status == 200);
  CHECK(csv.content_type == "text/csv; charset=utf-8");
  CHECK(header(csv, "Content-Disposition") == "attachment; filename=\"payroll-2026-11.csv\"");
  CHECK(csv.body == server::payroll_csv(*rows));
  CHECK(csv.log_line.find("report payroll peer 127.0.0.1 token ") == 0);

  // A period id may hold any text: the file name keeps only what is safe in the header.
  ho.put("ref_period", {{"id", "Dec \"26\""}, {"start", "2026-12-01"}, {"end", "2026-12-31"}});
  Reply december = server::payroll_report(*ho.service, request(token, {{"period", "Dec \"26\""}, {"format", "csv"}}));
  CHECK(december.http_status == 200);
  CHECK(header(december, "Content-Disposition") == "attachment; filename=\"payroll-Dec__26_.csv\"");

  Reply json = server::payroll_report(*ho.service, request(token, {{"period", "2026-11"}}));
  CHECK(json.http_status == 200);
  CHECK(json.content_type == "application/json");
  CHECK(json.body == server::payroll_json("2026-11", *rows).dump() + "\n");

  Reply all = server::returns_report(*ho.service, request(token, {}));
  REQUIRE(all.http_status == 200);
  CHECK(all.content_type == "application/json");
  const Json doc = Json::parse(all.body);
  REQUIRE(doc["returns"].size() == 2);  // U1's two quotas in 2026-11
  CHECK(doc["returns"][0] == Json{{"site", "S1"}, {"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"},
                                  {"quota", 500}, {"quota_version", 1}, {"actual", 0}, {"fulfilment_permille", 0},
                                  {"surplus", 0}, {"approved", false}, {"adjustment", 0}, {"pending", 0},
                                  {"adjusted_into", ""}});
  Reply other_site = server::returns_report(*ho.service, request(token, {{"site", "S2"}}));
  CHECK(Json::parse(other_site.body)["returns"].empty());
  Reply one = server::returns_report(*ho.service, request(token, {{"unit", "U1"}, {"period", "2026-11"}}));
  CHECK(Json::parse(one.body)["returns"].size() == 2);
}

}  // namespace
