// The SQLite backend of the server's storage (storage.h): head-office API tokens, table tokens
// (schema/server/0003_tokens.sql). Only the hash of a token's secret is stored. The backend's
// invariants are in storage_sqlite_impl.h.
#include "storage_sqlite_impl.h"

namespace shiftbook::server::sqlite {
namespace {

using rows::kTokenColumns;
using rows::unknown_token;

Result<std::optional<TokenRecord>> find_token(Db& db, const std::string& id) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(std::string(kTokenColumns) + " WHERE id = ?"));
  st.bind(1, id);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<TokenRecord>();
  SB_ASSIGN_OR_RETURN(TokenRecord t, rows::token_from(st));
  return std::optional<TokenRecord>(std::move(t));
}

}  // namespace

Status SqliteStorage::add_token(const TokenRecord& token) {
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO tokens(id, name, secret_hash, created_ms) "
                                               "VALUES(?, ?, ?, ?)"));
  Status s = st.bind(1, token.id).bind(2, token.name).bind_blob(3, view(token.secret_hash)).bind(4, token.created_ms).run();
  if (s.code() == Code::kAlreadyExists) return rows::token_exists(token.id);
  return s;
}

Result<std::vector<TokenRecord>> SqliteStorage::tokens() {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare(std::string(kTokenColumns) + " ORDER BY created_ms, id"));
  std::vector<TokenRecord> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    SB_ASSIGN_OR_RETURN(TokenRecord t, rows::token_from(st));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::optional<TokenRecord>> SqliteStorage::token_by_id(const std::string& id) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  return find_token(lease.db(), id);
}

Result<TokenRecord> SqliteStorage::revoke_token(const std::string& id, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
  SB_ASSIGN_OR_RETURN(std::optional<TokenRecord> held, find_token(writer_, id));
  if (!held) return unknown_token(id);
  if (held->revoked_ms != 0) return rows::token_revoked_already(id, held->revoked_ms);
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE tokens SET revoked_ms = ? WHERE id = ?"));
  SB_RETURN_IF_ERROR(st.bind(1, now_ms).bind(2, id).run());
  SB_RETURN_IF_ERROR(tx.commit());
  held->revoked_ms = now_ms;
  return *held;
}

Status SqliteStorage::note_token_use(const std::string& id, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return write_lazily([&]() -> Status {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE tokens SET last_used_ms = ? WHERE id = ?"));
    SB_RETURN_IF_ERROR(st.bind(1, now_ms).bind(2, id).run());
    if (writer_.changes() == 0) return unknown_token(id);
    return Status::ok();
  });
}

}  // namespace shiftbook::server::sqlite
