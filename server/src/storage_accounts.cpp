// The SQLite backend of the server's storage (storage.h): head-office accounts, table accounts
// (schema/server/0004_accounts.sql, docs/DASHBOARD.md). Only the Argon2id hash of a password is
// stored. The backend's invariants are in storage_sqlite_impl.h.
#include "storage_sqlite_impl.h"

namespace shiftbook::server::sqlite {
namespace {

using rows::kAccountColumns;
using rows::unknown_account;

Result<std::optional<AccountRecord>> find_account(Db& db, const std::string& name) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(std::string(kAccountColumns) + " WHERE name = ?"));
  st.bind(1, name);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<AccountRecord>();
  return std::optional<AccountRecord>(rows::account_from(st));
}

// Ends every session of the account (a new password, or the account disabled).
Status end_sessions_of(Db& db, const std::string& name) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("DELETE FROM sessions WHERE account = ?"));
  return st.bind(1, name).run();
}

// The account of `name` in the writer's transaction; not_found when there is none.
Result<AccountRecord> held_account(Db& db, const std::string& name) {
  SB_ASSIGN_OR_RETURN(std::optional<AccountRecord> held, find_account(db, name));
  if (!held) return unknown_account(name);
  return std::move(*held);
}

}  // namespace

Status SqliteStorage::add_account(const AccountRecord& account) {
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO accounts(name, password_hash, created_ms) VALUES(?, ?, ?)"));
  Status s = st.bind(1, account.name).bind(2, account.password_hash).bind(3, account.created_ms).run();
  if (s.code() == Code::kAlreadyExists) return rows::account_exists(account.name);
  return s;
}

Result<std::vector<AccountRecord>> SqliteStorage::accounts() {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare(std::string(kAccountColumns) + " ORDER BY name"));
  std::vector<AccountRecord> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(rows::account_from(st));
  }
  return out;
}

Result<std::optional<AccountRecord>> SqliteStorage::account(const std::string& name) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  return find_account(lease.db(), name);
}

Result<AccountRecord> SqliteStorage::set_account_password(const std::string& name, const std::string& password_hash) {
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
  SB_ASSIGN_OR_RETURN(AccountRecord held, held_account(writer_, name));
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE accounts SET password_hash = ?, failures = 0, "
                                               "locked_until_ms = 0 WHERE name = ?"));
  SB_RETURN_IF_ERROR(st.bind(1, password_hash).bind(2, name).run());
  SB_RETURN_IF_ERROR(end_sessions_of(writer_, name));
  SB_RETURN_IF_ERROR(tx.commit());
  held.password_hash = password_hash;
  held.failures = 0;
  held.locked_until_ms = 0;
  return held;
}

Result<AccountRecord> SqliteStorage::disable_account(const std::string& name, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
  SB_ASSIGN_OR_RETURN(AccountRecord held, held_account(writer_, name));
  if (held.disabled_ms != 0) return rows::account_disabled_already(name);
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE accounts SET disabled_ms = ? WHERE name = ?"));
  SB_RETURN_IF_ERROR(st.bind(1, now_ms).bind(2, name).run());
  SB_RETURN_IF_ERROR(end_sessions_of(writer_, name));
  SB_RETURN_IF_ERROR(tx.commit());
  held.disabled_ms = now_ms;
  return held;
}

Result<std::optional<AccountRecord>> SqliteStorage::begin_login(const std::string& name, std::int64_t now_ms,
                                                                const LoginLimits& limits) {
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
  SB_ASSIGN_OR_RETURN(std::optional<AccountRecord> held, find_account(writer_, name));
  if (!held) return held;
  const std::optional<rows::LoginCount> count = rows::count_login(*held, now_ms, limits);
  if (!count) return held;
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE accounts SET failures = ?, locked_until_ms = ? WHERE name = ?"));
  SB_RETURN_IF_ERROR(st.bind(1, count->failures).bind(2, count->locked_until_ms).bind(3, name).run());
  SB_RETURN_IF_ERROR(tx.commit());
  return held;
}

Result<AccountRecord> SqliteStorage::login_succeeded(const std::string& name, std::int64_t now_ms, bool own_lockout) {
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
  SB_ASSIGN_OR_RETURN(AccountRecord held, held_account(writer_, name));
  if (!rows::login_success_applies(held, now_ms, own_lockout)) return held;
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE accounts SET failures = 0, locked_until_ms = 0, last_login_ms = ? "
                                               "WHERE name = ?"));
  SB_RETURN_IF_ERROR(st.bind(1, now_ms).bind(2, name).run());
  SB_RETURN_IF_ERROR(tx.commit());
  held.failures = 0;
  held.locked_until_ms = 0;
  held.last_login_ms = now_ms;
  return held;
}

Status SqliteStorage::add_session(const SessionRecord& session) {
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
  SB_RETURN_IF_ERROR(held_account(writer_, session.account).status());
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO sessions(id_hash, account, created_ms, last_seen_ms) "
                                               "VALUES(?, ?, ?, ?)"));
  SB_RETURN_IF_ERROR(st.bind_blob(1, view(session.id_hash))
                         .bind(2, session.account)
                         .bind(3, session.created_ms)
                         .bind(4, session.last_seen_ms)
                         .run());
  return tx.commit();
}

Result<std::optional<SessionRecord>> SqliteStorage::session(const Hash& id_hash) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT account, created_ms, last_seen_ms FROM sessions "
                                                  "WHERE id_hash = ?"));
  st.bind_blob(1, view(id_hash));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<SessionRecord>();
  SessionRecord s;
  s.id_hash = id_hash;
  s.account = st.text(0);
  s.created_ms = st.int64(1);
  s.last_seen_ms = st.int64(2);
  return std::optional<SessionRecord>(std::move(s));
}

Status SqliteStorage::touch_session(const Hash& id_hash, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return write_lazily([&]() -> Status {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE sessions SET last_seen_ms = ? WHERE id_hash = ?"));
    return st.bind(1, now_ms).bind_blob(2, view(id_hash)).run();
  });
}

Status SqliteStorage::end_session(const Hash& id_hash) {
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("DELETE FROM sessions WHERE id_hash = ?"));
  return st.bind_blob(1, view(id_hash)).run();
}

}  // namespace shiftbook::server::sqlite
