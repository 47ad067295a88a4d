// The SQLite backend of the server's storage (storage.h): the field. Revocation as part of an
// append (a device_revoke marks its device; a revoked device's own appends are aborted),
// quarantine (a revoked device's later pushes, kept apart from the events: no position, never
// pulled), a chain's events with the receipt of the push that delivered each, and how many
// events lie after a cursor. The backend's invariants are in storage_sqlite_impl.h.
#include <set>
#include <utility>

#include "storage_sqlite_impl.h"

namespace shiftbook::server::sqlite {

Status SqliteStorage::mark_revoked(const Revocation& r, std::int64_t server_ms) {
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE devices SET revoked_ms = ?, revoke_reason = ? "
                                                 "WHERE key = ? AND revoked_ms = 0"));
    SB_RETURN_IF_ERROR(st.bind(1, server_ms).bind(2, r.reason).bind_blob(3, view(r.device)).run());
  }
  if (writer_.changes() > 0) return Status::ok();
  SB_RETURN_IF_ERROR(enrolled_or_not_found(writer_, r.device));
  return rows::revoked_already(r.device);
}

Status SqliteStorage::not_revoked(const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("SELECT revoked_ms FROM devices WHERE key = ?"));
  st.bind_blob(1, view(device));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (row && st.int64(0) != 0) return rows::revoked_before_push(device);
  return Status::ok();
}

Result<QuarantineOutcome> SqliteStorage::quarantine(const QuarantineBatch& batch) {
  SB_RETURN_IF_ERROR(rows::check_quarantine(batch));
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
      if (!row) return rows::missing_event(e.device, e.seq);
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
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare(rows::kQuarantineColumns + which + "ORDER BY device, seq"));
  if (device) st.bind_blob(1, view(*device));
  std::vector<QuarantinedEvent> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    SB_ASSIGN_OR_RETURN(QuarantinedEvent q, rows::quarantined_from(st));
    out.push_back(std::move(q));
  }
  return out;
}

// Each event's push: see rows::kChainEventColumns.
Result<std::vector<ChainEvent>> SqliteStorage::chain_events(const PublicKey& device, std::uint64_t from,
                                                            std::size_t limit) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  Db& db = lease.db();
  SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(std::string(rows::kChainEventColumns) +
                                          "WHERE c.device = ? AND e.seq >= ? ORDER BY e.seq LIMIT ?"));
  st.bind_blob(1, view(device)).bind(2, i64(from)).bind(3, i64(limit));
  std::vector<ChainEvent> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    SB_ASSIGN_OR_RETURN(ChainEvent ce, rows::chain_event_from(st, device));
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
