// The SQLite backend's API tokens (storage_tokens.cpp): a token is kept as given with only its
// secret's hash, found by id, listed in creation order, revoked once and for good, its use noted;
// and a version-2 store migrates to version 3 with its history kept and no tokens.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "storage_world.h"

using namespace shiftbook;
using namespace shiftbook::storage_world;
using server::TokenRecord;

namespace {

TokenRecord token(const std::string& id, const std::string& name, std::int64_t created_ms) {
  TokenRecord t;
  t.id = id;
  t.name = name;
  t.secret_hash = blake2b_256(as_bytes("secret of " + id));
  t.created_ms = created_ms;
  return t;
}

STORAGE_TEST_CASE("storage tokens: kept with the hash, found by id, listed by creation, an id never given twice") {
  TempDir dir;
  auto st = make_storage(dir);
  CHECK(st->tokens()->empty());
  CHECK(!st->token_by_id("0a0b0c0d")->has_value());
  REQUIRE(st->add_token(token("ffff0000", "payroll office", kNow + 5)).is_ok());
  REQUIRE(st->add_token(token("0a0b0c0d", "auditor", kNow)).is_ok());
  auto again = st->add_token(token("0a0b0c0d", "someone else", kNow + 9));
  CHECK(again.code() == Code::kAlreadyExists);
  CHECK(again.message().find("0a0b0c0d") != std::string::npos);

  auto all = st->tokens();
  REQUIRE(all.is_ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].id == "0a0b0c0d");  // created first
  CHECK((*all)[0].name == "auditor");
  CHECK((*all)[1].id == "ffff0000");
  auto found = st->token_by_id("ffff0000");
  REQUIRE(found.is_ok());
  REQUIRE(found->has_value());
  CHECK((*found)->name == "payroll office");
  CHECK((*found)->secret_hash == blake2b_256(as_bytes("secret of ffff0000")));
  CHECK((*found)->created_ms == kNow + 5);
  CHECK((*found)->revoked_ms == 0);
  CHECK((*found)->last_used_ms == 0);
}

STORAGE_TEST_CASE("storage tokens: revoked once and for good, use noted, unknown ids refused") {
  TempDir dir;
  auto st = make_storage(dir);
  REQUIRE(st->add_token(token("0a0b0c0d", "auditor", kNow)).is_ok());
  REQUIRE(st->note_token_use("0a0b0c0d", kNow + 10).is_ok());
  CHECK(st->token_by_id("0a0b0c0d")->value().last_used_ms == kNow + 10);
  CHECK(st->note_token_use("99999999", kNow).code() == Code::kNotFound);

  auto revoked = st->revoke_token("0a0b0c0d", kNow + 20);
  REQUIRE_MESSAGE(revoked.is_ok(), revoked.status().to_string());
  CHECK(revoked->revoked_ms == kNow + 20);
  CHECK(revoked->name == "auditor");
  auto twice = st->revoke_token("0a0b0c0d", kNow + 30);
  CHECK(twice.status().code() == Code::kFailedPrecondition);
  CHECK(twice.status().message().find("revoked already") != std::string::npos);
  CHECK(st->token_by_id("0a0b0c0d")->value().revoked_ms == kNow + 20);  // the first revocation stays
  auto unknown = st->revoke_token("99999999", kNow);
  CHECK(unknown.status().code() == Code::kNotFound);
  CHECK(unknown.status().message().find("token list") != std::string::npos);
}

TEST_CASE("storage (sqlite): a version-2 store migrates to version 3 and on, its history kept and no API tokens") {
  TempDir dir;
  Chain d;
  d.grow(2);
  const std::string path = dir.file("hq.db");
  {
    auto st = make_storage(dir);
    append_ok(*st, batch_of(d, 1, 2));
  }
  // The same store as version 2 wrote it: version 3 only adds the tokens table (and version 4 the
  // accounts and sessions tables).
  exec_sql(path, "DROP TABLE sessions; DROP TABLE accounts; DROP TABLE tokens; PRAGMA user_version = 2;");
  CHECK(query_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'tokens'") == 0);

  auto reopened = server::open_sqlite_storage(path, false);
  REQUIRE_MESSAGE(reopened.is_ok(), reopened.status().to_string());
  Storage& st = **reopened;
  CHECK(query_int(path, "PRAGMA user_version") == 4);
  auto end = st.chain_end(d.device());
  REQUIRE(end.is_ok());
  CHECK(end->first == 2);
  CHECK(end->second == d.hash(2));
  CHECK(st.tokens()->empty());
  REQUIRE(st.add_token(token("0a0b0c0d", "auditor", kNow)).is_ok());
  CHECK(st.tokens()->size() == 1);
}

}  // namespace
