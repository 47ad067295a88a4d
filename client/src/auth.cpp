// Shift leaders, logins and PIN checks with lockout. An enrolled terminal's leaders come from head
// office by sync (reference_events.cpp); adding and removing them here is for terminals without.
#include "shiftbook/kinds.h"
#include "store_impl.h"

namespace shiftbook::client {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;

Status check_pin_text(const std::string& pin) {
  if (pin.size() < 4 || pin.size() > 64) return invalid_argument("a PIN must be 4 to 64 characters");
  for (unsigned char c : pin) {
    if (c < 0x20 || c == 0x7f) return invalid_argument("a PIN must not hold control characters");
  }
  return Status::ok();
}

std::string minutes_text(std::int64_t ms) {
  std::int64_t minutes = (ms + kMinuteMs - 1) / kMinuteMs;
  return std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes");
}

}  // namespace

Status Store::Impl::check_pin(const std::string& subject, const std::string& pin_hash, const std::string& pin) {
  const std::string who = subject.substr(subject.find(':') + 1);
  if (!is_pin_hash(pin_hash)) {
    return failed_precondition("the PIN of " + who + " on this terminal is damaged; " +
                               (subject.rfind("worker:", 0) == 0 ? "ask head office to send the roster again"
                                                                 : "remove and add the leader again"));
  }
  const std::int64_t now = clock->now_ms();
  auto locked_out = [&](std::int64_t until) {
    return permission_denied(who + " is locked out after " + std::to_string(kMaxPinFailures) +
                             " wrong PINs; try again in " + minutes_text(until - now));
  };
  auto read_state = [&]() -> Result<std::pair<std::int64_t, std::int64_t>> {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT failures, locked_until_ms FROM pin_attempts WHERE subject = ?"));
    st.bind(1, subject);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return std::pair<std::int64_t, std::int64_t>{0, 0};
    return std::pair<std::int64_t, std::int64_t>{st.int64(0), st.int64(1)};
  };

  // The attempt is counted as a failure before the PIN is checked, in one write transaction:
  // attempts made in parallel each see the count the one before left, so however many are in
  // flight, no more than kMaxPinFailures are ever checked before the lockout.
  std::int64_t failures = 0;
  bool this_attempt_locks = false;
  {
    SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
    SB_ASSIGN_OR_RETURN(auto state, read_state());
    if (state.second > now) return locked_out(state.second);
    failures = state.first + 1;
    this_attempt_locks = failures >= kMaxPinFailures;
    SB_ASSIGN_OR_RETURN(Stmt up, db.prepare("INSERT INTO pin_attempts(subject, failures, locked_until_ms) VALUES(?, ?, ?) "
                                            "ON CONFLICT(subject) DO UPDATE SET failures = excluded.failures, "
                                            "locked_until_ms = excluded.locked_until_ms"));
    SB_RETURN_IF_ERROR(up.bind(1, subject)
                           .bind(2, this_attempt_locks ? 0 : failures)
                           .bind(3, this_attempt_locks ? now + kLockoutMinutes * kMinuteMs : 0)
                           .run());
    SB_RETURN_IF_ERROR(tx.commit());
  }
  // Argon2id runs outside any transaction so that a slow check never holds the store's lock.
  SB_ASSIGN_OR_RETURN(bool match, verify_pin(pin_hash, pin));
  if (!match) {
    if (this_attempt_locks) {
      return permission_denied("wrong PIN for " + who + "; after " + std::to_string(kMaxPinFailures) +
                               " wrong PINs " + who + " is locked out for " + std::to_string(kLockoutMinutes) +
                               " minutes");
    }
    const std::int64_t left = kMaxPinFailures - failures;
    return unauthenticated("wrong PIN for " + who + " (" + std::to_string(left) + (left == 1 ? " try" : " tries") +
                           " left before a " + std::to_string(kLockoutMinutes) + "-minute lockout)");
  }
  // The right PIN clears the count, this attempt's included, unless wrong PINs tried in parallel
  // locked the subject out meanwhile: then the lockout stands.
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(auto state, read_state());
  if (state.second > now && !this_attempt_locks) return locked_out(state.second);
  SB_ASSIGN_OR_RETURN(Stmt del, db.prepare("DELETE FROM pin_attempts WHERE subject = ?"));
  SB_RETURN_IF_ERROR(del.bind(1, subject).run());
  return tx.commit();
}

Status Store::add_leader(const std::string& id, const std::string& name, const std::string& pin) {
  SB_RETURN_IF_ERROR(check_id("leader id", id));
  SB_RETURN_IF_ERROR(check_text("leader name", name, 64));
  SB_RETURN_IF_ERROR(check_pin_text(pin));
  SB_RETURN_IF_ERROR(impl_->refuse_if_enrolled("add shift leaders"));
  // Hash before taking the write lock: Argon2id is deliberately slow.
  SB_ASSIGN_OR_RETURN(std::string pin_hash, hash_pin(pin, impl_->options.pin_cost));
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  // Checked again under the write lock: an enrollment may have landed while the PIN was hashed.
  SB_RETURN_IF_ERROR(impl_->refuse_if_enrolled("add shift leaders"));
  SB_ASSIGN_OR_RETURN(std::int64_t count, db.query_int("SELECT count(*) FROM leaders"));
  if (count > 0) {
    auto s = impl_->require_session(true);
    if (!s.is_ok()) {
      return failed_precondition("only a logged-in shift leader can add another leader (" + s.status().message() + ")");
    }
  }
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO leaders(id, name, pin_hash, added_ms) VALUES(?, ?, ?, ?) "
                                          "ON CONFLICT(id) DO NOTHING"));
  SB_RETURN_IF_ERROR(st.bind(1, id).bind(2, name).bind(3, pin_hash).bind(4, impl_->clock->now_ms()).run());
  if (db.changes() == 0) return already_exists("shift leader '" + id + "' already exists on this terminal");
  return tx.commit();
}

Status Store::remove_leader(const std::string& id) {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_RETURN_IF_ERROR(impl_->refuse_if_enrolled("remove shift leaders"));
  SB_ASSIGN_OR_RETURN(Session s, impl_->require_session(true));
  if (s.leader == id) {
    return failed_precondition("shift leader " + id + " is logged in and cannot remove themselves; "
                               "another leader has to log in to do it");
  }
  SB_ASSIGN_OR_RETURN(Stmt del, db.prepare("DELETE FROM leaders WHERE id = ?"));
  SB_RETURN_IF_ERROR(del.bind(1, id).run());
  if (db.changes() == 0) return not_found("there is no shift leader '" + id + "' on this terminal");
  SB_ASSIGN_OR_RETURN(Stmt tries, db.prepare("DELETE FROM pin_attempts WHERE subject = ?"));
  SB_RETURN_IF_ERROR(tries.bind(1, "leader:" + id).run());
  return tx.commit();
}

Result<Json> Store::leaders() const {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT l.id, l.name, coalesce(p.locked_until_ms, 0) FROM leaders l "
                                          "LEFT JOIN pin_attempts p ON p.subject = 'leader:' || l.id ORDER BY l.id"));
  Json out = Json::array();
  const std::int64_t now = impl_->clock->now_ms();
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back({{"id", st.text(0)}, {"name", st.text(1)}, {"locked", st.int64(2) > now}});
  }
  return Json{{"leaders", std::move(out)}};
}

Result<Session> Store::login(const std::string& id, const std::string& pin, int idle_minutes) {
  if (idle_minutes < 1 || idle_minutes > kMaxIdleMinutes) {
    return invalid_argument("idle time must be 1 to " + std::to_string(kMaxIdleMinutes) + " minutes");
  }
  Db& db = impl_->db;
  std::string name, pin_hash;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT name, pin_hash FROM leaders WHERE id = ?"));
    st.bind(1, id);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) {
      SB_RETURN_IF_ERROR(impl_->refuse_if_revoked());
      return not_found("there is no shift leader '" + id + "' on this terminal ('shiftbook leader add' adds one)");
    }
    name = st.text(0);
    pin_hash = st.text(1);
  }
  SB_RETURN_IF_ERROR(impl_->check_pin("leader:" + id, pin_hash, pin));
  const std::int64_t now = impl_->clock->now_ms();
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  // Replacing the session switches leader; unsynced entries are events and are untouched.
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT OR REPLACE INTO session(one, leader, started_ms, last_ms, idle_minutes) "
                                          "VALUES(1, ?, ?, ?, ?)"));
  SB_RETURN_IF_ERROR(st.bind(1, id).bind(2, now).bind(3, now).bind(4, idle_minutes).run());
  SB_RETURN_IF_ERROR(tx.commit());
  return Session{id, name, now, now, idle_minutes};
}

Status Store::logout() {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_RETURN_IF_ERROR(db.exec("DELETE FROM session"));
  return tx.commit();
}

Result<Session> Store::session() {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  auto s = impl_->require_session(false);
  // An expired login is removed by require_session; keep that.
  SB_RETURN_IF_ERROR(tx.commit());
  return s;
}

Result<Session> Store::Impl::require_session(bool touch) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT s.leader, l.name, s.started_ms, s.last_ms, s.idle_minutes "
                                          "FROM session s LEFT JOIN leaders l ON l.id = s.leader"));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) {
    SB_RETURN_IF_ERROR(refuse_if_revoked());
    return failed_precondition("no shift leader is logged in; run 'shiftbook login LEADER' first");
  }
  Session s{st.text(0), st.text(1), st.int64(2), st.int64(3), static_cast<int>(st.int64(4))};
  st.reset();
  const std::int64_t now = clock->now_ms();
  if (now - s.last_ms > static_cast<std::int64_t>(s.idle_minutes) * kMinuteMs) {
    SB_RETURN_IF_ERROR(db.exec("DELETE FROM session"));
    return failed_precondition("the login of shift leader " + s.leader + " ended after " +
                               std::to_string(s.idle_minutes) + " minutes without use; run 'shiftbook login " +
                               s.leader + "' again");
  }
  if (touch) {
    SB_ASSIGN_OR_RETURN(Stmt up, db.prepare("UPDATE session SET last_ms = ?"));
    SB_RETURN_IF_ERROR(up.bind(1, now).run());
    s.last_ms = now;
  }
  return s;
}

}  // namespace shiftbook::client
