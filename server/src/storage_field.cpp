// The SQLite backend of the server's storage (storage.h): the field. Revocation as part of an
// append (a device_revoke marks its device; a revoked device's own appends are aborted),
// quarantine (a revoked device's later pushes, kept apart from the events: no position, never
// pulled), a chain's events with the receipt of the push that delivered each, and how many
// events lie after a cursor. The backend's invariants are in storage_sqlite_impl.h.
#include <set>
#include <utility>

#include "storage_sqlite_impl.h"

namespace shiftbook::server::sqlite {
namespace {

Status check_quarantine_batch(const QuarantineBatch& b) {
  const std::string who = "quarantine for device " + short_device(b.device) + ": ";
  if (b.events.empty()) return invalid_argument(who + "the batch has no events");
  for (std::size_t i = 0; i < b.events.size(); ++i) {
    const Event& e = b.events[i].event;
    if (e.device != b.device) return invalid_argument(who + "it holds an event of device " + short_device(e.device));
    if (i > 0 && e.seq != b.events[i - 1].event.seq + 1) {
      return invalid_argument(who + event_name(e.device, e.seq) + " does not follow the event before it");
    }
  }
  const Event& last = b.events.back().event;
  if (b.head.device != b.device || b.head.seq != last.seq || b.head.hash != last.hash) {
    return invalid_argument(who + "the head is not at the batch's last event");
  }
  return Status::ok();
}

}  // namespace

Status SqliteStorage::mark_revoked(const Revocation& r, std::int64_t server_ms) {
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE devices SET revoked_ms = ?, revoke_reason = ? "
                                                 "WHERE key = ? AND revoked_ms = 0"));
    SB_RETURN_IF_ERROR(st.bind(1, server_ms).bind(2, r.reason).bind_blob(3, view(r.device)).run());
  }
  if (writer_.changes() > 0) return Status::ok();
  SB_RETURN_IF_ERROR(enrolled_or_not_found(writer_, r.device));
  return failed_precondition("device " + short_device(r.device) + " is revoked already");
}

Status SqliteStorage::not_revoked(const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("SELECT revoked_ms FROM devices WHERE key = ?"));
  st.bind_blob(1, view(device));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (row && st.int64(0) != 0) {
    return aborted("device " + short_device(device) + " was revoked before this push was stored; what it sends now "
                   "is kept in quarantine");
  }
  return Status::ok();
}

Result<QuarantineOutcome> SqliteStorage::quarantine(const QuarantineBatch& batch) {
  SB_RETURN_IF_ERROR(check_quarantine_batch(batch));
  QuarantineOutcome out;
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
  std::int64_t chain = 0;
  std::uint64_t held = 0;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("SELECT id, seq FROM chains WHERE device = ?"));
    st.bind_blob(1, view(batch.device));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) {
      chain = st.int64(0);
      held = u64(st.int64(1));
    }
  }
  SB_ASSIGN_OR_RETURN(Stmt accepted, writer_.prepare("SELECT hash FROM events WHERE chain = ? AND seq = ?"));
  SB_ASSIGN_OR_RETURN(Stmt kept, writer_.prepare("SELECT hash FROM quarantine WHERE device = ? AND seq = ?"));
  SB_ASSIGN_OR_RETURN(Stmt insert, writer_.prepare("INSERT INTO quarantine(device, seq, hash, kind, raw, received_ms, "
                                                   "head_seq, head_hash, head_sig) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  for (const NewEvent& n : batch.events) {
    const Event& e = n.event;
    // The hash held at this seq, and where, if any.
    std::optional<Hash> found;
    bool in_events = false;
    if (chain != 0 && e.seq <= held) {
      accepted.bind(1, chain).bind(2, i64(e.seq));
      SB_ASSIGN_OR_RETURN(bool row, accepted.step());
      if (!row) {
        return data_loss("the head-office store is missing " + event_name(e.device, e.seq) +
                         "; restore it from a backup");
      }
      found = accepted.blob32(0);
      in_events = true;
      accepted.reset();
    } else {
      kept.bind_blob(1, view(batch.device)).bind(2, i64(e.seq));
      SB_ASSIGN_OR_RETURN(bool row, kept.step());
      if (row) found = kept.blob32(0);
      kept.reset();
    }
    if (found) {
      if (*found != e.hash) out.conflicts.push_back(QuarantineConflict{e.seq, *found, e.hash, in_events});
      continue;
    }
    Status s = insert.bind_blob(1, view(batch.device))
                   .bind(2, i64(e.seq))
                   .bind_blob(3, view(e.hash))
                   .bind(4, e.kind)
                   .bind_blob(5, n.raw)
                   .bind(6, batch.received_ms)
                   .bind(7, i64(batch.head.seq))
                   .bind_blob(8, view(batch.head.hash))
                   .bind_blob(9, view(batch.head.signature))
                   .run();
    if (!s.is_ok()) return s.with_context("keeping " + event_name(e.device, e.seq) + " in quarantine: ");
    out.added.push_back(e.seq);
  }
  SB_RETURN_IF_ERROR(tx.commit());
  return out;
}

Result<std::vector<QuarantinedEvent>> SqliteStorage::quarantined(const PublicKey* device) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  const std::string which = device ? "WHERE device = ? " : "";
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT device, seq, hash, kind, received_ms, head_seq, head_hash, "
                                                  "head_sig FROM quarantine " + which + "ORDER BY device, seq"));
  if (device) st.bind_blob(1, view(*device));
  std::vector<QuarantinedEvent> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    QuarantinedEvent q;
    q.device = st.blob32(0);
    q.seq = u64(st.int64(1));
    q.hash = st.blob32(2);
    q.kind = st.text(3);
    q.received_ms = st.int64(4);
    q.head.device = q.device;
    q.head.seq = u64(st.int64(5));
    q.head.hash = st.blob32(6);
    SB_ASSIGN_OR_RETURN(q.head.signature,
                        signature_column(st, 7, "the quarantined head of " + event_name(q.device, q.head.seq)));
    out.push_back(std::move(q));
  }
  return out;
}

// Each event's push is the heads row with the smallest last_pos at or after the event's position:
// an append's events take consecutive positions, and its heads row ends them.
Result<std::vector<ChainEvent>> SqliteStorage::chain_events(const PublicKey& device, std::uint64_t from,
                                                            std::size_t limit) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  Db& db = lease.db();
  SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT e.raw, e.received_ms, e.seq, h.chain = e.chain, h.seq, h.hash, "
                                          "h.receipt_ms, h.receipt_sig FROM chains c "
                                          "JOIN events e ON e.chain = c.id "
                                          "LEFT JOIN heads h ON h.last_pos = "
                                          "(SELECT min(last_pos) FROM heads WHERE last_pos >= e.pos) "
                                          "WHERE c.device = ? AND e.seq >= ? ORDER BY e.seq LIMIT ?"));
  st.bind_blob(1, view(device)).bind(2, i64(from)).bind(3, i64(limit));
  std::vector<ChainEvent> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    ChainEvent ce;
    ce.raw = st.blob(0);
    ce.received_ms = st.int64(1);
    const std::string what = event_name(device, u64(st.int64(2)));
    if (st.is_null(3) || st.int64(3) == 0) {
      return data_loss("the head-office store has no push holding " + what + "; restore it from a backup");
    }
    if (!st.is_null(7)) {
      Receipt r;
      r.device = device;
      r.seq = u64(st.int64(4));
      r.hash = st.blob32(5);
      r.server_ms = st.int64(6);
      SB_ASSIGN_OR_RETURN(r.signature, signature_column(st, 7, "the receipt for the push of " + what));
      ce.receipt = r;
    }
    out.push_back(std::move(ce));
  }
  return out;
}

Result<std::optional<Bytes>> SqliteStorage::last_event_of_kind(const PublicKey& device, const std::string& kind,
                                                               std::uint64_t at_most) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT e.raw FROM chains c JOIN events e ON e.chain = c.id "
                                                  "WHERE c.device = ? AND e.seq <= ? AND e.kind = ? "
                                                  "ORDER BY e.seq DESC LIMIT 1"));
  st.bind_blob(1, view(device)).bind(2, i64(at_most)).bind(3, kind);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<Bytes>();
  return std::optional<Bytes>(st.blob(0));
}

// Walks one heads row per push after the cursor, as the pull does.
Result<std::uint64_t> SqliteStorage::events_after(const std::vector<PublicKey>& devices, std::uint64_t cursor) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  Db& db = lease.db();
  SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
  std::set<std::int64_t> wanted;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT id FROM chains WHERE device = ?"));
    for (const PublicKey& key : devices) {
      st.bind_blob(1, view(key));
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (row) wanted.insert(st.int64(0));
      st.reset();
    }
  }
  std::uint64_t count = 0;
  if (wanted.empty()) return count;
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT chain, last_pos - first_pos + 1 FROM heads WHERE last_pos > ?"));
  st.bind(1, i64(cursor));
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    if (wanted.count(st.int64(0)) > 0) count += u64(st.int64(1));
  }
  return count;
}

}  // namespace shiftbook::server::sqlite
