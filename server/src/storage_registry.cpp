// The SQLite backend of the server's storage (storage.h): the registry. Enrolled devices and
// their units (with their revocation and quarantine count), enrollment codes (redeemed in one
// transaction), sync bookkeeping, and the current
// value of each head-office reference item. The backend's invariants are in storage_sqlite_impl.h.
#include <map>
#include <set>
#include <utility>

#include "storage_sqlite_impl.h"

namespace shiftbook::server::sqlite {
namespace {

Result<Bytes> encode_units(const std::vector<std::string>& units) {
  Json list = Json::array();
  for (const auto& u : units) list.push_back(u);
  return encode_value(list);
}

Result<std::vector<std::string>> decode_units(ByteView bytes, const std::string& what) {
  auto list = decode_value(bytes);
  if (!list.is_ok() || !list->is_array()) return data_loss("the stored units of " + what + " are damaged");
  std::vector<std::string> out;
  for (const auto& u : *list) {
    if (!u.is_string()) return data_loss("the stored units of " + what + " are damaged");
    out.push_back(u.get<std::string>());
  }
  return out;
}

}  // namespace

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
  if (s.code() == Code::kAlreadyExists) return already_exists("an enrollment code with this secret exists already");
  return s;
}

Result<std::vector<CodeRecord>> SqliteStorage::codes() {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT secret_hash, site, units, created_ms, expires_ms, used_ms, "
                                                  "used_by FROM codes ORDER BY created_ms, secret_hash"));
  std::vector<CodeRecord> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    CodeRecord c;
    c.secret_hash = st.blob32(0);
    c.site = st.text(1);
    SB_ASSIGN_OR_RETURN(c.units, decode_units(st.blob(2), "an enrollment code for site " + c.site));
    c.created_ms = st.int64(3);
    c.expires_ms = st.int64(4);
    c.used_ms = st.int64(5);
    c.used_by = st.blob32(6);
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
    if (!row) return not_found("unknown enrollment code; check it, or ask head office for a new one");
    rec.site = st.text(0);
    SB_ASSIGN_OR_RETURN(rec.units, decode_units(st.blob(1), "an enrollment code for site " + rec.site));
    expires_ms = st.int64(2);
    used_ms = st.int64(3);
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("SELECT site FROM devices WHERE key = ?"));
    st.bind_blob(1, view(device));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) {
      return already_exists("device " + short_device(device) + " is enrolled already (site " + st.text(0) +
                            "); it needs no new code");
    }
  }
  if (used_ms != 0) return failed_precondition("enrollment code already used; ask head office for a new one");
  if (now_ms >= expires_ms) return failed_precondition("enrollment code expired; ask head office for a new one");
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
    if (writer_.changes() == 0) return not_found("device " + short_device(key) + " is not enrolled");
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
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT d.key, d.site, d.enrolled_ms, d.flag, d.flagged_ms, d.last_sync_ms, "
                                          "d.last_client_ms, c.seq, c.hash, d.last_cursor, d.revoked_ms, "
                                          "d.revoke_reason, (SELECT count(*) FROM quarantine q WHERE q.device = d.key) "
                                          "FROM devices d LEFT JOIN chains c ON c.device = d.key " + which));
  if (key) st.bind_blob(1, view(*key));
  std::vector<DeviceRecord> out;
  std::map<PublicKey, std::size_t> index;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    DeviceRecord d;
    d.key = st.blob32(0);
    d.site = st.text(1);
    d.enrolled_ms = st.int64(2);
    d.flag = st.text(3);
    d.flagged_ms = st.int64(4);
    d.last_sync_ms = st.int64(5);
    d.last_client_ms = st.int64(6);
    if (!st.is_null(7)) {
      d.seq = u64(st.int64(7));
      d.head = st.blob32(8);
    }
    d.last_cursor = u64(st.int64(9));
    d.revoked_ms = st.int64(10);
    d.revoke_reason = st.text(11);
    d.quarantined = u64(st.int64(12));
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
  if (!row) return not_found("device " + short_device(key) + " is not enrolled");
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
