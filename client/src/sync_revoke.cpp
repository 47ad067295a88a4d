// Head office revoked this terminal. The store's side (Store::accept_revocation): the terminal
// lets go of everything it held of others (other terminals' events, head office's reference data
// and shift leaders) and keeps its own log, in one transaction, but only on a notice that the
// pinned server key signed for this very device: a forged notice, or one for another terminal,
// changes nothing. Once revoked, the terminal records nothing more and says why. The driver's side
// (sync_client.h): reading the "revoked" answer, and the message a revoked sync ends with.
#include <string>

#include "shiftbook/kinds.h"
#include "store_impl.h"
#include "sync_client.h"

namespace shiftbook::client {
namespace {

// "2026-11-16 08:00 UTC" for head office's clock in a notice.
std::string minute_text(std::int64_t ms) {
  const std::int64_t day = ms >= 0 ? ms / 86'400'000 : (ms - 86'399'999) / 86'400'000;
  const std::int64_t minute = (ms - day * 86'400'000) / 60'000;
  return format_date(day) + " " + format_minutes(minute) + " UTC";
}

Result<std::int64_t> count(Db& db, const std::string& sql, const PublicKey& me) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(sql));
  st.bind_blob(1, me);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.int64(0) : 0;
}

std::string count_text(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string revocation_text(const Revocation& r) {
  return "head office revoked this terminal on " + minute_text(r.revoked_ms) +
         (r.reason.empty() ? std::string() : " (reason: " + r.reason + ")");
}

Status Store::Impl::refuse_if_revoked() const {
  SB_ASSIGN_OR_RETURN(std::optional<SyncState> s, load_sync_state());
  if (!s || !s->revoked) return Status::ok();
  return failed_precondition(revocation_text(*s->revoked) + ": it holds no shift leaders and records nothing more. "
                             "Its own entries stay in its log; contact head office");
}

Result<RevocationReport> Store::accept_revocation(const RevocationNotice& notice) {
  Db& db = impl_->db;
  const PublicKey& me = impl_->key.public_key();
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(SyncState state, impl_->enrolled_state());
  // The signature first: nothing an unsigned notice says is worth reading, not even its device.
  if (!verify_revocation(state.enrollment.server_key, notice)) {
    return unauthenticated("a revocation notice did not verify with the pinned server key (fingerprint " +
                           format_fingerprint(state.enrollment.server_key) + "); nothing was changed");
  }
  if (notice.device != me) {
    return invalid_argument("a revocation notice names terminal " + short_device(notice.device) + ", not this one (" +
                            short_device(me) + "); nothing was changed");
  }
  RevocationReport report;
  report.already = state.revoked.has_value();
  report.revocation = state.revoked ? *state.revoked : Revocation{notice.revoked_ms, notice.reason};
  SB_ASSIGN_OR_RETURN(std::int64_t others, count(db, "SELECT count(*) FROM events WHERE device != ?", me));
  SB_ASSIGN_OR_RETURN(std::int64_t devices,
                      count(db, "SELECT count(DISTINCT device) FROM events WHERE device != ?", me));
  SB_ASSIGN_OR_RETURN(std::int64_t own, count(db, "SELECT count(*) FROM events WHERE device = ?", me));
  report.removed_events = static_cast<std::uint64_t>(others);
  report.removed_devices = static_cast<std::uint64_t>(devices);
  report.own_events = static_cast<std::uint64_t>(own);
  report.unacknowledged = state.unacknowledged();
  if (!report.already) {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("UPDATE enrollment SET revoked_ms = ?, revoked_reason = ?, revoked_sig = ?"));
    SB_RETURN_IF_ERROR(st.bind(1, notice.revoked_ms).bind(2, notice.reason).bind_blob(3, notice.signature).run());
  }
  if (!report.already || others > 0) {
    for (const char* sql : {"DELETE FROM events WHERE device != ?", "DELETE FROM heads WHERE device != ?"}) {
      SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(sql));
      SB_RETURN_IF_ERROR(st.bind_blob(1, me).run());
    }
    // What the terminal shows is its own log alone from now on; the reference data and leaders
    // (the site signer's) go with the replay, and nobody stays logged in.
    const SiteScope scope{state.enrollment.signer.signer, state.enrollment.site, state.enrollment.units, true};
    SB_RETURN_IF_ERROR(impl_->replay_events(&scope));
    SB_RETURN_IF_ERROR(db.exec("DELETE FROM session; DELETE FROM pin_attempts;"));
  }
  SB_RETURN_IF_ERROR(tx.commit());
  return report;
}

Result<RevokedAnswer> read_revoked_answer(const Json& h, const PublicKey& me) {
  const auto bad = [](const std::string& what) {
    return data_loss("the server's 'revoked' answer does not follow the protocol (" + what +
                     " is missing or of the wrong type); nothing was changed");
  };
  auto notice = h.find("notice");
  if (notice == h.end() || !notice->is_object()) return bad("notice");
  RevokedAnswer out;
  out.notice.device = me;  // the notice is for the requester
  auto ms = notice->find("revoked_ms");
  if (ms == notice->end() || !ms->is_number_integer()) return bad("notice.revoked_ms");
  out.notice.revoked_ms = ms->get<std::int64_t>();
  auto reason = notice->find("reason");
  if (reason == notice->end() || !reason->is_string()) return bad("notice.reason");
  out.notice.reason = reason->get<std::string>();
  auto sig = notice->find("sig");
  if (sig == notice->end() || !sig->is_string()) return bad("notice.sig");
  auto sig_bytes = array_from_hex<64>(sig->get<std::string>());
  if (!sig_bytes.is_ok()) return bad("notice.sig");
  out.notice.signature = *sig_bytes;
  auto quarantined = h.find("quarantined");
  if (quarantined == h.end() || !quarantined->is_number_integer() || quarantined->get<std::int64_t>() < 0) {
    return bad("quarantined");
  }
  out.quarantined = quarantined->get<std::uint64_t>();
  return out;
}

std::string revoked_message(const RevocationReport& r, std::uint64_t sent) {
  std::string text = revocation_text(r.revocation) + ". ";
  if (r.removed_events > 0) {
    text += "This terminal removed what it held of others (" + count_text(r.removed_events, "event", "events") +
            " of " + count_text(r.removed_devices, "other device", "other devices") +
            ": other terminals' entries and shifts, head office's reference data and shift leaders); ";
  } else {
    text += "This terminal holds nothing of others any more; ";
  }
  text += "its own " + count_text(r.own_events, "event stays", "events stay") + " in its log";
  if (r.unacknowledged == 0) {
    text += ", all of them held by head office";
  } else if (sent >= r.unacknowledged) {
    text += "; the " + std::to_string(r.unacknowledged) +
            " head office had not acknowledged were sent, and head office keeps them in quarantine";
  } else {
    text += "; " + std::to_string(sent) + " of the " + std::to_string(r.unacknowledged) +
            " head office had not acknowledged were sent, and head office keeps them in quarantine";
  }
  return text + ". Contact head office";
}

}  // namespace shiftbook::client
