// The PostgreSQL backend of the server's storage (storage.h, docs/POSTGRES.md): head-office API
// tokens, accounts and dashboard sessions. A read-check-write (revoking a token, a sign-in
// attempt, a new password) holds the row's lock (FOR UPDATE) from its read to its commit, so calls
// in parallel, from one process or many, queue and each sees what the one before left. The
// backend's invariants are in storage_postgres_impl.h.
#include "storage_postgres_impl.h"

namespace shiftbook::server::postgres {
namespace {

using rows::view;

Result<std::optional<TokenRecord>> find_token(pg::Conn& conn, const std::string& id, bool lock) {
  SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query(std::string(rows::kTokenColumns) + " WHERE id = $1" + (lock ? " FOR UPDATE" : ""),
                                             pg::Params().text(id), "finding an API token"));
  if (r.empty()) return std::optional<TokenRecord>();
  SB_ASSIGN_OR_RETURN(TokenRecord t, rows::token_from(r[0]));
  return std::optional<TokenRecord>(std::move(t));
}

Result<std::optional<AccountRecord>> find_account(pg::Conn& conn, const std::string& name, bool lock) {
  SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query(std::string(rows::kAccountColumns) + " WHERE name = $1" +
                                                 (lock ? " FOR UPDATE" : ""),
                                             pg::Params().text(name), "finding an account"));
  if (r.empty()) return std::optional<AccountRecord>();
  return std::optional<AccountRecord>(rows::account_from(r[0]));
}

// The account, locked to the end of the caller's transaction; not_found when there is none.
Result<AccountRecord> locked_account(pg::Conn& conn, const std::string& name) {
  SB_ASSIGN_OR_RETURN(std::optional<AccountRecord> held, find_account(conn, name, true));
  if (!held) return rows::unknown_account(name);
  return std::move(*held);
}

Status end_sessions_of(pg::Conn& conn, const std::string& name) {
  return conn.run("DELETE FROM sessions WHERE account = $1", pg::Params().text(name), "ending the account's sessions");
}

}  // namespace

// ---- API tokens -----------------------------------------------------------------------------------

Status PgStorage::add_token(const TokenRecord& token) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  Status s = lease.conn().run("INSERT INTO tokens(id, name, secret_hash, created_ms) VALUES($1, $2, $3, $4)",
                              pg::Params().text(token.id).text(token.name).bytes(view(token.secret_hash)).i64(token.created_ms),
                              "storing an API token");
  if (s.code() == Code::kAlreadyExists) return rows::token_exists(token.id);
  return s;
}

Result<std::vector<TokenRecord>> PgStorage::tokens() {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query(std::string(rows::kTokenColumns) + " ORDER BY created_ms, id COLLATE \"C\"",
                                                     pg::Params(), "reading API tokens"));
  std::vector<TokenRecord> out;
  for (int i = 0; i < r.size(); ++i) {
    SB_ASSIGN_OR_RETURN(TokenRecord t, rows::token_from(r[i]));
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::optional<TokenRecord>> PgStorage::token_by_id(const std::string& id) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  return find_token(lease.conn(), id, false);
}

Result<TokenRecord> PgStorage::revoke_token(const std::string& id, std::int64_t now_ms) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  pg::Conn& conn = lease.conn();
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(conn));
  SB_ASSIGN_OR_RETURN(std::optional<TokenRecord> held, find_token(conn, id, true));
  if (!held) return rows::unknown_token(id);
  if (held->revoked_ms != 0) return rows::token_revoked_already(id, held->revoked_ms);
  SB_RETURN_IF_ERROR(conn.run("UPDATE tokens SET revoked_ms = $1 WHERE id = $2", pg::Params().i64(now_ms).text(id),
                              "revoking the API token"));
  SB_RETURN_IF_ERROR(tx.commit());
  held->revoked_ms = now_ms;
  return *held;
}

Status PgStorage::note_token_use(const std::string& id, std::int64_t now_ms) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(int changed, write_lazily(lease.conn(), "UPDATE tokens SET last_used_ms = $1 WHERE id = $2 RETURNING 1",
                                                pg::Params().i64(now_ms).text(id), "recording the API token's use"));
  return changed == 0 ? rows::unknown_token(id) : Status::ok();
}

// ---- accounts -------------------------------------------------------------------------------------

Status PgStorage::add_account(const AccountRecord& account) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  Status s = lease.conn().run("INSERT INTO accounts(name, password_hash, created_ms) VALUES($1, $2, $3)",
                              pg::Params().text(account.name).text(account.password_hash).i64(account.created_ms),
                              "storing an account");
  if (s.code() == Code::kAlreadyExists) return rows::account_exists(account.name);
  return s;
}

Result<std::vector<AccountRecord>> PgStorage::accounts() {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query(std::string(rows::kAccountColumns) + " ORDER BY name COLLATE \"C\"",
                                                     pg::Params(), "reading accounts"));
  std::vector<AccountRecord> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(rows::account_from(r[i]));
  return out;
}

Result<std::optional<AccountRecord>> PgStorage::account(const std::string& name) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  return find_account(lease.conn(), name, false);
}

Result<AccountRecord> PgStorage::set_account_password(const std::string& name, const std::string& password_hash) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  pg::Conn& conn = lease.conn();
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(conn));
  SB_ASSIGN_OR_RETURN(AccountRecord held, locked_account(conn, name));
  SB_RETURN_IF_ERROR(conn.run("UPDATE accounts SET password_hash = $1, failures = 0, locked_until_ms = 0 WHERE name = $2",
                              pg::Params().text(password_hash).text(name), "setting the account's password"));
  SB_RETURN_IF_ERROR(end_sessions_of(conn, name));
  SB_RETURN_IF_ERROR(tx.commit());
  held.password_hash = password_hash;
  held.failures = 0;
  held.locked_until_ms = 0;
  return held;
}

Result<AccountRecord> PgStorage::disable_account(const std::string& name, std::int64_t now_ms) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  pg::Conn& conn = lease.conn();
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(conn));
  SB_ASSIGN_OR_RETURN(AccountRecord held, locked_account(conn, name));
  if (held.disabled_ms != 0) return rows::account_disabled_already(name);
  SB_RETURN_IF_ERROR(conn.run("UPDATE accounts SET disabled_ms = $1 WHERE name = $2", pg::Params().i64(now_ms).text(name),
                              "disabling the account"));
  SB_RETURN_IF_ERROR(end_sessions_of(conn, name));
  SB_RETURN_IF_ERROR(tx.commit());
  held.disabled_ms = now_ms;
  return held;
}

Result<std::optional<AccountRecord>> PgStorage::begin_login(const std::string& name, std::int64_t now_ms,
                                                            const LoginLimits& limits) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  pg::Conn& conn = lease.conn();
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(conn));
  SB_ASSIGN_OR_RETURN(std::optional<AccountRecord> held, find_account(conn, name, true));
  if (!held) return held;
  const std::optional<rows::LoginCount> count = rows::count_login(*held, now_ms, limits);
  if (!count) return held;
  SB_RETURN_IF_ERROR(conn.run("UPDATE accounts SET failures = $1, locked_until_ms = $2 WHERE name = $3",
                              pg::Params().i64(count->failures).i64(count->locked_until_ms).text(name),
                              "counting a sign-in attempt"));
  SB_RETURN_IF_ERROR(tx.commit());
  return held;
}

Result<AccountRecord> PgStorage::login_succeeded(const std::string& name, std::int64_t now_ms, bool own_lockout) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  pg::Conn& conn = lease.conn();
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(conn));
  SB_ASSIGN_OR_RETURN(AccountRecord held, locked_account(conn, name));
  if (!rows::login_success_applies(held, now_ms, own_lockout)) return held;
  SB_RETURN_IF_ERROR(conn.run("UPDATE accounts SET failures = 0, locked_until_ms = 0, last_login_ms = $1 WHERE name = $2",
                              pg::Params().i64(now_ms).text(name), "recording the sign-in"));
  SB_RETURN_IF_ERROR(tx.commit());
  held.failures = 0;
  held.locked_until_ms = 0;
  held.last_login_ms = now_ms;
  return held;
}

// ---- sessions -------------------------------------------------------------------------------------

Status PgStorage::add_session(const SessionRecord& session) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  pg::Conn& conn = lease.conn();
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(conn));
  // Locked, so that a password changed or the account disabled meanwhile ends this session too.
  SB_RETURN_IF_ERROR(locked_account(conn, session.account).status());
  SB_RETURN_IF_ERROR(conn.run("INSERT INTO sessions(id_hash, account, created_ms, last_seen_ms) VALUES($1, $2, $3, $4)",
                              pg::Params()
                                  .bytes(view(session.id_hash))
                                  .text(session.account)
                                  .i64(session.created_ms)
                                  .i64(session.last_seen_ms),
                              "storing a session"));
  return tx.commit();
}

Result<std::optional<SessionRecord>> PgStorage::session(const Hash& id_hash) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query("SELECT account, created_ms, last_seen_ms FROM sessions WHERE id_hash = $1",
                                                     pg::Params().bytes(view(id_hash)), "finding a session"));
  if (r.empty()) return std::optional<SessionRecord>();
  SessionRecord s;
  s.id_hash = id_hash;
  s.account = r[0].text(0);
  s.created_ms = r[0].int64(1);
  s.last_seen_ms = r[0].int64(2);
  return std::optional<SessionRecord>(std::move(s));
}

Status PgStorage::touch_session(const Hash& id_hash, std::int64_t now_ms) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  return write_lazily(lease.conn(), "UPDATE sessions SET last_seen_ms = $1 WHERE id_hash = $2 RETURNING 1",
                      pg::Params().i64(now_ms).bytes(view(id_hash)), "recording the session's request")
      .status();
}

Status PgStorage::end_session(const Hash& id_hash) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  return lease.conn().run("DELETE FROM sessions WHERE id_hash = $1", pg::Params().bytes(view(id_hash)), "ending a session");
}

}  // namespace shiftbook::server::postgres
