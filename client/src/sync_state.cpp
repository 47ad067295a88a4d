// The store's side of sync, apart from accepting answers (sync_accept.cpp): the enrollment, the
// sync position for the driver and for status, and the next push. Enrolling is one transaction:
// the pinned key, the scope and the signer are stored, and the reference data and leaders held
// before are dropped, together or not at all.
#include <algorithm>

#include "shiftbook/kinds.h"
#include "store_impl.h"

namespace shiftbook::client {

// What the store reads of the enrollment row, in one place.
Result<std::optional<SyncState>> Store::Impl::load_sync_state() const {
  const PublicKey& me = key.public_key();
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT server_url, server_key, site, signer, signer_sig, enrolled_ms, "
                                          "server_enrolled_ms, cursor, last_sync_ms, receipt_seq, receipt_hash, "
                                          "receipt_server_ms, receipt_sig, revoked_ms, revoked_reason FROM enrollment"));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<SyncState>();
  SyncState s;
  Enrollment& en = s.enrollment;
  en.server_url = st.text(0);
  en.server_key = st.blob32(1);
  en.site = st.text(2);
  en.signer.site = en.site;
  en.signer.signer = st.blob32(3);
  const Bytes sig = st.blob(4);
  if (st.blob(1).size() != 32 || st.blob(3).size() != 32 || sig.size() != en.signer.signature.size()) {
    return data_loss("the stored enrollment is damaged (a key or signature has the wrong length); "
                     "restore the store from a backup");
  }
  std::copy(sig.begin(), sig.end(), en.signer.signature.begin());
  en.enrolled_ms = st.int64(5);
  en.server_ms = st.int64(6);
  s.cursor = static_cast<std::uint64_t>(st.int64(7));
  s.last_sync_ms = st.int64(8);
  if (st.int64(9) > 0 || !st.is_null(12)) {
    Receipt r;
    r.device = me;
    r.seq = static_cast<std::uint64_t>(st.int64(9));
    r.hash = st.blob32(10);
    r.server_ms = st.int64(11);
    const Bytes rsig = st.blob(12);
    if (rsig.size() != r.signature.size()) return data_loss("the stored sync receipt is damaged; run 'shiftbook sync' again");
    std::copy(rsig.begin(), rsig.end(), r.signature.begin());
    s.receipt = r;
  }
  if (!st.is_null(13)) s.revoked = Revocation{st.int64(13), st.text(14)};
  st.reset();
  SB_ASSIGN_OR_RETURN(Stmt units, db.prepare("SELECT unit FROM enrolled_units ORDER BY unit"));
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool u, units.step());
    if (!u) break;
    en.units.push_back(units.text(0));
  }
  SB_ASSIGN_OR_RETURN(Stmt head, db.prepare("SELECT seq FROM heads WHERE device = ?"));
  head.bind_blob(1, me);
  SB_ASSIGN_OR_RETURN(bool h, head.step());
  s.own_seq = h ? static_cast<std::uint64_t>(head.int64(0)) : 0;
  return std::optional<SyncState>(std::move(s));
}

Result<SyncState> Store::Impl::enrolled_state() const {
  SB_ASSIGN_OR_RETURN(std::optional<SyncState> s, load_sync_state());
  if (!s) {
    return failed_precondition("this terminal is not enrolled with head office; run 'shiftbook enroll --server URL "
                               "--code CODE' with a code from head office first");
  }
  return std::move(*s);
}

Result<std::optional<SiteScope>> Store::Impl::site_scope() const {
  SB_ASSIGN_OR_RETURN(std::optional<SyncState> s, load_sync_state());
  if (!s) return std::optional<SiteScope>();
  return std::optional<SiteScope>(
      SiteScope{s->enrollment.signer.signer, s->enrollment.site, s->enrollment.units, s->revoked.has_value()});
}

Status Store::Impl::refuse_if_enrolled(std::string_view what) const {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT server_url FROM enrollment"));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::ok();
  return failed_precondition("this terminal is enrolled with head office (" + st.text(0) + "): reference data and "
                             "shift leaders come from head office with 'shiftbook sync', so it cannot " +
                             std::string(what) + " here");
}

namespace {

// What the last sync attempts came to (the sync_health row); null before the first attempt.
Result<Json> sync_health(Db& db) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT last_attempt_ms, last_outcome, last_code, last_success_ms, "
                                          "failing_since_ms, failures, last_error FROM sync_health"));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Json(nullptr);
  const auto int_or_null = [&](int col) { return st.is_null(col) ? Json(nullptr) : Json(st.int64(col)); };
  const auto text_or_null = [&](int col) { return st.is_null(col) ? Json(nullptr) : Json(st.text(col)); };
  return Json{{"last_attempt_ms", st.int64(0)},         {"last_outcome", st.text(1)},
              {"last_code", text_or_null(2)},           {"last_success_ms", int_or_null(3)},
              {"failing_since_ms", int_or_null(4)},     {"failures", st.int64(5)},
              {"last_error", text_or_null(6)}};
}

// The terminals of the site that head office revoked, from the device_revoke events of the site
// signer's chain: [{device, device_short, reason, revoked_ms}], revoked_ms being the signer's
// stamp. Bodies are read without trusting them further than their shape.
Result<Json> revoked_terminals(Db& db, const PublicKey& signer) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT raw FROM events WHERE device = ? AND kind = 'device_revoke' "
                                          "ORDER BY seq"));
  st.bind_blob(1, signer);
  Json out = Json::array();
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return out;
    auto e = decode_event(st.blob(0));
    if (!e.is_ok()) return data_loss("a stored event of head office is damaged: " + e.status().message() +
                                     "; run 'shiftbook verify'");
    const Json& b = e->body;
    auto device = b.contains("device") && b["device"].is_string() ? array_from_hex<32>(b["device"].get<std::string>())
                                                                  : Result<PublicKey>(invalid_argument("no device"));
    if (!device.is_ok()) continue;
    out.push_back(Json{{"device", to_hex(*device)},
                       {"device_short", short_device(*device)},
                       {"reason", b.contains("reason") && b["reason"].is_string() ? b["reason"] : Json("")},
                       {"revoked_ms", static_cast<std::int64_t>(hlc_ms(e->hlc))}});
  }
}

}  // namespace

Result<Json> Store::Impl::sync_status(std::int64_t own_events) const {
  SB_ASSIGN_OR_RETURN(std::optional<SyncState> s, load_sync_state());
  SB_ASSIGN_OR_RETURN(Json health, sync_health(db));
  if (!s) {
    return Json{{"enrollment", nullptr}, {"last_sync", nullptr}, {"unsynced_events", own_events},
                {"sync_health", std::move(health)}, {"revoked", nullptr}, {"revoked_terminals", Json::array()}};
  }
  const Enrollment& en = s->enrollment;
  Json enrollment{{"server", en.server_url},       {"server_key", to_hex(en.server_key)},
                  {"fingerprint", format_fingerprint(en.server_key)},
                  {"site", en.site},              {"units", en.units},
                  {"signer", to_hex(en.signer.signer)},
                  {"enrolled_ms", en.enrolled_ms}, {"server_enrolled_ms", en.server_ms}};
  Json last = nullptr;
  if (s->receipt) {
    last = Json{{"receipt_seq", s->receipt->seq},
                {"server_ms", s->receipt->server_ms},
                {"synced_ms", s->last_sync_ms},
                {"cursor", s->cursor}};
  }
  Json revoked = nullptr;
  if (s->revoked) revoked = Json{{"revoked_ms", s->revoked->revoked_ms}, {"reason", s->revoked->reason}};
  SB_ASSIGN_OR_RETURN(Json others, revoked_terminals(db, en.signer.signer));
  return Json{{"enrollment", std::move(enrollment)},
              {"last_sync", std::move(last)},
              {"unsynced_events", static_cast<std::int64_t>(s->unacknowledged())},
              {"sync_health", std::move(health)},
              {"revoked", std::move(revoked)},
              {"revoked_terminals", std::move(others)}};
}

Status Store::record_sync_attempt(const SyncAttempt& attempt) {
  Db& db = impl_->db;
  const std::int64_t now = impl_->clock->now_ms();
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  if (attempt.outcome == "ok") {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(
        "INSERT INTO sync_health(one, last_attempt_ms, last_outcome, last_code, last_success_ms, failing_since_ms, "
        "failures, last_error) VALUES(1, ?1, 'ok', NULL, ?1, NULL, 0, NULL) ON CONFLICT(one) DO UPDATE SET "
        "last_attempt_ms = ?1, last_outcome = 'ok', last_code = NULL, last_success_ms = ?1, failing_since_ms = NULL, "
        "failures = 0, last_error = NULL"));
    SB_RETURN_IF_ERROR(st.bind(1, now).run());
  } else {
    // A failure keeps the last success and the start of the failing streak.
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(
        "INSERT INTO sync_health(one, last_attempt_ms, last_outcome, last_code, last_success_ms, failing_since_ms, "
        "failures, last_error) VALUES(1, ?1, ?2, ?3, NULL, ?1, 1, ?4) ON CONFLICT(one) DO UPDATE SET "
        "last_attempt_ms = ?1, last_outcome = ?2, last_code = ?3, "
        "failing_since_ms = coalesce(sync_health.failing_since_ms, ?1), failures = sync_health.failures + 1, "
        "last_error = ?4"));
    st.bind(1, now).bind(2, attempt.outcome).bind(4, attempt.message);
    if (attempt.code.empty()) st.bind_null(3); else st.bind(3, attempt.code);
    SB_RETURN_IF_ERROR(st.run());
  }
  return tx.commit();
}

Status check_shift_open_receipt(Db& db, const Event& e, const PublicKey* server) {
  if (e.kind != kind::kShiftOpen) return Status::ok();
  auto named = shift_open_receipt(e.body, e.device);
  const auto bad = [&](const std::string& why) {
    return data_loss(event_name(e.device, e.seq) + " (a shift_open) names a server receipt that " + why);
  };
  if (!named.is_ok()) return bad("does not read: " + named.status().message());
  if (!*named) return Status::ok();
  const Receipt& r = **named;
  if (!server) return bad("this terminal cannot check: it is not enrolled with head office");
  if (!verify_receipt(*server, r)) return bad("does not verify with the pinned server key");
  if (r.seq >= e.seq) {
    return bad("is for event " + std::to_string(r.seq) + ", not an event before it");
  }
  if (r.seq == 0) return Status::ok();  // shift_open_receipt made sure the hash is zero
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT hash FROM events WHERE device = ? AND seq = ?"));
  st.bind_blob(1, e.device).bind(2, static_cast<std::int64_t>(r.seq));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row || st.blob32(0) != r.hash) {
    return bad("names event " + std::to_string(r.seq) + " with another hash than that device's event " +
               std::to_string(r.seq));
  }
  return Status::ok();
}

Result<SyncState> Store::sync_state() const {
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(impl_->db));
  return impl_->enrolled_state();
}

Status Store::enroll(const std::string& server_url, const PublicKey& server_key, const std::string& site,
                     const std::vector<std::string>& units, std::int64_t server_ms, const Delegation& signer) {
  if (server_url.empty()) return invalid_argument("the server's address is empty");
  SB_RETURN_IF_ERROR(check_id("site", site));
  if (units.empty()) return invalid_argument("an enrollment names at least one production unit");
  std::vector<std::string> sorted = units;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (const std::string& u : sorted) SB_RETURN_IF_ERROR(check_id("unit", u));
  if (signer.site != site || !verify_delegation(server_key, signer)) {
    return unauthenticated("the server's delegation of site " + site + "'s signer does not verify with the server's "
                           "key; the terminal was not enrolled. Ask head office for a new code");
  }
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT server_url, site FROM enrollment"));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) {
      return already_exists("this terminal is already enrolled with " + st.text(0) + " for site " + st.text(1) +
                            "; a terminal is enrolled once (initialise a new store to enroll it anew)");
    }
  }
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO enrollment(one, server_url, server_key, site, signer, signer_sig, "
                                          "enrolled_ms, server_enrolled_ms) VALUES(1, ?, ?, ?, ?, ?, ?, ?)"));
  SB_RETURN_IF_ERROR(st.bind(1, server_url)
                         .bind_blob(2, server_key)
                         .bind(3, site)
                         .bind_blob(4, signer.signer)
                         .bind_blob(5, signer.signature)
                         .bind(6, impl_->clock->now_ms())
                         .bind(7, server_ms)
                         .run());
  SB_ASSIGN_OR_RETURN(Stmt unit, db.prepare("INSERT INTO enrolled_units(unit) VALUES(?)"));
  for (const std::string& u : sorted) SB_RETURN_IF_ERROR(unit.bind(1, u).run());
  // From now on reference data and leaders are head office's alone; the events recorded under the
  // old ones stay as they are. Nobody stays logged in as a leader head office may not know.
  SB_RETURN_IF_ERROR(impl_->clear_reference());
  SB_RETURN_IF_ERROR(db.exec("DELETE FROM session; DELETE FROM pin_attempts;"));
  return tx.commit();
}

Result<SealedRequest> Store::seal_request_for(const PublicKey& server, ByteView plaintext) const {
  return seal_request(impl_->key, server, plaintext);
}

Result<PushBatch> Store::next_push(std::optional<std::uint64_t> after_seq, std::size_t max_bytes) const {
  Db& db = impl_->db;
  const PublicKey& me = impl_->key.public_key();
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(db));
  SB_ASSIGN_OR_RETURN(SyncState state, impl_->enrolled_state());
  const std::uint64_t own_seq = state.own_seq;
  std::uint64_t after = after_seq.value_or(state.receipt ? state.receipt->seq : 0);
  if (after > own_seq) {
    return data_loss("the server expects this terminal's events from " + std::to_string(after + 1) +
                     " on, but the terminal has only " + std::to_string(own_seq) + " (restored from a backup?)");
  }
  max_bytes = std::min(max_bytes, kMaxPushBytes);
  PushBatch batch;
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT seq, hash, raw FROM events WHERE device = ? AND seq > ? ORDER BY seq"));
  st.bind_blob(1, me).bind(2, static_cast<std::int64_t>(after));
  std::uint64_t last_seq = 0;
  Hash last_hash{};
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    Bytes raw = st.blob(2);
    if (!batch.events.empty() && (batch.bytes + raw.size() > max_bytes || batch.events.size() >= kMaxEventsPerMessage)) {
      break;
    }
    const auto seq = static_cast<std::uint64_t>(st.int64(0));
    if (seq != after + batch.events.size() + 1) {
      return data_loss(event_name(me, after + batch.events.size() + 1) + " is missing from this terminal's log; "
                       "run 'shiftbook verify'");
    }
    if (batch.events.empty()) batch.first_seq = seq;
    batch.bytes += raw.size();
    batch.events.push_back(std::move(raw));
    last_seq = seq;
    last_hash = st.blob32(1);
  }
  if (!batch.events.empty()) batch.head = sign_head(impl_->key, last_seq, last_hash);
  return batch;
}

}  // namespace shiftbook::client
