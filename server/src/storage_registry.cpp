// The SQLite backend of the server's storage (storage.h): the registry. Enrolled devices and
// their units (with their revocation and quarantine count), enrollment codes (redeemed in one
// transaction), sync bookkeeping, and the current
// value of each head-office reference item. The backend's invariants are in storage_sqlite_impl.h.
#include <map>
#include <set>
#include <utility>

#include "storage_sqlite_impl.h"

namespace shiftbook::server::sqlite {
using rows::decode_units;
using rows::encode_units;

Result<std::optional<DeviceRecord>> SqliteStorage::device(const PublicKey& key) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  Db& db = lease.db();
  SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
  SB_ASSIGN_OR_RETURN(auto rows, read_devices(db, &key));
  if (rows.empty()) return std::optional<DeviceRecord>();
  return std::optional<DeviceRecord>(std::move(rows.front()));
}

Result<std::vector<DeviceRecord>> SqliteStorage::devices() {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  Db& db = lease.db();
  SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
  return read_devices(db, nullptr);
}

Status SqliteStorage::add_code(const CodeRecord& code) {
  SB_ASSIGN_OR_RETURN(Bytes units, encode_units(code.units));
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO codes(secret_hash, site, units, created_ms, expires_ms) "
                                               "VALUES(?, ?, ?, ?, ?)"));
  Status s = st.bind_blob(1, view(code.secret_hash))
                 .bind(2, code.site)
                 .bind_blob(3, units)
                 .bind(4, code.created_ms)
                 .bind(5, code.expires_ms)
                 .run();
  if (s.code() == Code::kAlreadyExists) return rows::code_exists();
  return s;
}

Result<std::vector<CodeRecord>> SqliteStorage::codes() {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare(rows::kCodeColumns));
  std::vector<CodeRecord> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    SB_ASSIGN_OR_RETURN(CodeRecord c, rows::code_from(st));
    out.push_back(std::move(c));
  }
  return out;
}

Result<DeviceRecord> SqliteStorage::redeem_code(const Hash& secret_hash, const PublicKey& device, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
  DeviceRecord rec;
  rec.key = device;
  std::int64_t expires_ms = 0;
  std::int64_t used_ms = 0;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("SELECT site, units, expires_ms, used_ms FROM codes "
                                                 "WHERE secret_hash = ?"));
    st.bind_blob(1, view(secret_hash));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return rows::unknown_code();
    rec.site = st.text(0);
    SB_ASSIGN_OR_RETURN(rec.units, decode_units(st.blob(1), "an enrollment code for site " + rec.site));
    expires_ms = st.int64(2);
    used_ms = st.int64(3);
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("SELECT site FROM devices WHERE key = ?"));
    st.bind_blob(1, view(device));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) return rows::enrolled_already(device, st.text(0));
  }
  if (used_ms != 0) return rows::code_used();
  if (now_ms >= expires_ms) return rows::code_expired();
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE codes SET used_ms = ?, used_by = ? WHERE secret_hash = ?"));
    SB_RETURN_IF_ERROR(st.bind(1, now_ms).bind_blob(2, view(device)).bind_blob(3, view(secret_hash)).run());
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO devices(key, site, enrolled_ms) VALUES(?, ?, ?)"));
    SB_RETURN_IF_ERROR(st.bind_blob(1, view(device)).bind(2, rec.site).bind(3, now_ms).run());
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT OR IGNORE INTO device_units(device, unit) VALUES(?, ?)"));
    for (const auto& unit : rec.units) SB_RETURN_IF_ERROR(st.bind_blob(1, view(device)).bind(2, unit).run());
  }
  SB_RETURN_IF_ERROR(tx.commit());
  rec.enrolled_ms = now_ms;
  return rec;
}

Status SqliteStorage::flag_device(const PublicKey& key, const std::string& reason, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(write_mu_);
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE devices SET flag = ?, flagged_ms = ? "
                                               "WHERE key = ? AND flag = ''"));
  SB_RETURN_IF_ERROR(st.bind(1, reason).bind(2, now_ms).bind_blob(3, view(key)).run());
  if (writer_.changes() == 0) return enrolled_or_not_found(writer_, key);
  return Status::ok();
}

Status SqliteStorage::note_sync(const PublicKey& key, std::int64_t server_ms, std::int64_t client_ms,
                                std::uint64_t cursor) {
  std::lock_guard<std::mutex> lock(write_mu_);
  // Saves one fsync per sync round trip.
  return write_lazily([&]() -> Status {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE devices SET last_sync_ms = ?, last_client_ms = ?, "
                                                 "last_cursor = ? WHERE key = ?"));
    SB_RETURN_IF_ERROR(st.bind(1, server_ms).bind(2, client_ms).bind(3, i64(cursor)).bind_blob(4, view(key)).run());
    if (writer_.changes() == 0) return rows::not_enrolled(key);
    return Status::ok();
  });
}

Status SqliteStorage::write_lazily(const std::function<Status()>& write) { return without_own_fsync(writer_, write); }

Result<std::vector<PublicKey>> SqliteStorage::devices_in_units(const std::vector<std::string>& units) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  Db& db = lease.db();
  SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
  std::set<PublicKey> found;
  for (const auto& unit : std::set<std::string>(units.begin(), units.end())) {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT device FROM device_units WHERE unit = ?"));
    st.bind(1, unit);
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      found.insert(st.blob32(0));
    }
  }
  return std::vector<PublicKey>(found.begin(), found.end());
}

Result<std::vector<Json>> SqliteStorage::reference(const std::string& kind, const std::string& site) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT ref_key, body FROM reference "
                                                  "WHERE kind = ?1 AND (?2 = '' OR site = ?2) ORDER BY ref_key"));
  st.bind(1, kind).bind(2, site);
  std::vector<Json> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    SB_ASSIGN_OR_RETURN(Json body, decode_body(st, kind));
    out.push_back(std::move(body));
  }
  return out;
}

Result<std::optional<Json>> SqliteStorage::reference_item(const std::string& kind, const std::string& ref_key) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT ref_key, body FROM reference WHERE kind = ? AND ref_key = ?"));
  st.bind(1, kind).bind(2, ref_key);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<Json>();
  SB_ASSIGN_OR_RETURN(Json body, decode_body(st, kind));
  return std::optional<Json>(std::move(body));
}

// Devices with their units and chain ends: one device when `key` is set, else all.
Result<std::vector<DeviceRecord>> SqliteStorage::read_devices(Db& db, const PublicKey* key) {
  // Two texts rather than "?1 IS NULL OR": a lookup of one device must stay a key lookup.
  const std::string which = key ? "WHERE d.key = ?" : "ORDER BY d.enrolled_ms, d.key";
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(rows::kDeviceColumns + which));
  if (key) st.bind_blob(1, view(*key));
  std::vector<DeviceRecord> out;
  std::map<PublicKey, std::size_t> index;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    DeviceRecord d = rows::device_from(st);
    index.emplace(d.key, out.size());
    out.push_back(std::move(d));
  }
  if (out.empty()) return out;
  SB_ASSIGN_OR_RETURN(Stmt units, db.prepare(key ? "SELECT device, unit FROM device_units WHERE device = ? ORDER BY unit"
                                                 : "SELECT device, unit FROM device_units ORDER BY device, unit"));
  if (key) units.bind_blob(1, view(*key));
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, units.step());
    if (!row) break;
    auto it = index.find(units.blob32(0));
    if (it != index.end()) out[it->second].units.push_back(units.text(1));
  }
  return out;
}

Result<Json> SqliteStorage::decode_body(const Stmt& st, const std::string& kind) {
  auto body = decode_value(st.blob(1));
  if (!body.is_ok()) return data_loss("the stored " + kind + " " + st.text(0) + " is damaged: " + body.status().message());
  return std::move(body).value();
}

// not_found when `key` is not an enrolled device, else ok.
Status SqliteStorage::enrolled_or_not_found(Db& db, const PublicKey& key) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT 1 FROM devices WHERE key = ?"));
  st.bind_blob(1, view(key));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return rows::not_enrolled(key);
  return Status::ok();
}

Status SqliteStorage::put_reference(const NewEvent& n) {
  SB_ASSIGN_OR_RETURN(Bytes body, encode_value(n.event.body));
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO reference(kind, ref_key, site, body) VALUES(?, ?, ?, ?) "
                                               "ON CONFLICT(kind, ref_key) DO UPDATE SET site = excluded.site, "
                                               "body = excluded.body"));
  return st.bind(1, n.event.kind).bind(2, n.ref_key).bind(3, n.site).bind_blob(4, body).run();
}

}  // namespace shiftbook::server::sqlite
