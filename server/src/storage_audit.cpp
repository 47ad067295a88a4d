// The SQLite backend of the server's storage (storage.h): what the audit reads. Every append is
// one row of `heads` (the device's signed head, the receipt, its positions), so the audit walks
// them in position order and reads each one's events by position. The backend's invariants are in
// storage_sqlite_impl.h.
#include "storage_sqlite_impl.h"

namespace shiftbook::server::sqlite {

Result<std::vector<AuditPush>> SqliteStorage::pushes(std::uint64_t after_last_pos, std::size_t limit) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  Db& db = lease.db();
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(std::string(rows::kPushColumns) +
                                          "WHERE h.last_pos > ? ORDER BY h.last_pos LIMIT ?"));
  st.bind(1, i64(after_last_pos)).bind(2, i64(limit));
  std::vector<AuditPush> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    SB_ASSIGN_OR_RETURN(AuditPush p, rows::push_from(st));
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<PulledEvent>> SqliteStorage::events_in(std::uint64_t first_pos, std::uint64_t last_pos) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT pos, raw FROM events WHERE pos BETWEEN ? AND ? ORDER BY pos"));
  st.bind(1, i64(first_pos)).bind(2, i64(last_pos));
  std::vector<PulledEvent> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(PulledEvent{u64(st.int64(0)), st.blob(1)});
  }
  return out;
}

}  // namespace shiftbook::server::sqlite
