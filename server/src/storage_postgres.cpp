// The PostgreSQL backend of the server's storage (storage.h, docs/POSTGRES.md), first part:
// creating and opening a store (refusing a database that holds something else), its migrations,
// the registry (devices, enrollment codes, sync bookkeeping) and head-office reference data. The
// backend's invariants are in storage_postgres_impl.h.
#include <set>
#include <utility>

#include "shiftbook/schema_server_postgres.h"
#include "storage_postgres_impl.h"

namespace shiftbook::server {
namespace postgres {
namespace {

using rows::i64;
using rows::u64;
using rows::view;

constexpr const char* kFormat = "shiftbook-server";
// Any fixed number: the advisory lock under which a store is created or migrated.
constexpr std::int64_t kMigrationLock = 0x5368696674626b31;  // "Shiftbk1"

int known_version() { return schema::k_server_postgres_migrations.back().version; }

Result<std::int64_t> one_int(pg::Conn& conn, std::string_view sql, std::string_view what) {
  SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query(sql, pg::Params(), what));
  if (r.empty()) return internal_error(std::string(what) + ": no row");
  return r[0].int64(0);
}

// Creates or migrates the store in one transaction, under the advisory lock, so that processes
// opening one database at once do it once.
Status open_store(pg::Conn& conn, bool create, const std::string& where) {
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(conn));
  SB_RETURN_IF_ERROR(take_migration_lock(conn));
  SB_ASSIGN_OR_RETURN(std::int64_t has_meta,
                      one_int(conn, "SELECT CASE WHEN to_regclass('meta') IS NULL THEN 0 ELSE 1 END",
                              "looking for the store's tables"));
  std::int64_t version = 0;
  if (has_meta == 0) {
    if (!create) {
      return not_found("no head-office store in " + where +
                       "; run 'shiftbook-server init --store URL' first");
    }
  } else {
    if (create) return already_exists("a head-office store already exists in " + where + "; use it, or choose another database");
    SB_ASSIGN_OR_RETURN(pg::Rows mark, conn.query("SELECT value FROM meta WHERE key = 'format'", pg::Params(),
                                                  "reading the store's format mark"));
    if (mark.empty() || mark[0].text(0) != kFormat) {
      return data_loss(where + " is not a Shiftbook head-office store (it has no format mark)");
    }
    SB_ASSIGN_OR_RETURN(version, one_int(conn, "SELECT version FROM schema_version", "reading the schema version"));
    if (version > known_version()) {
      return failed_precondition(where + " has schema version " + std::to_string(version) +
                                 ", newer than this shiftbook-server knows (" + std::to_string(known_version()) +
                                 "); install a newer shiftbook-server to open it");
    }
  }
  SB_RETURN_IF_ERROR(migrate_tables(conn, version, where));
  return tx.commit();
}

Result<Json> reference_body(const pg::Row& row, const std::string& kind) {
  auto body = decode_value(row.view(1));
  if (!body.is_ok()) return data_loss("the stored " + kind + " " + row.text(0) + " is damaged: " + body.status().message());
  return std::move(body).value();
}

}  // namespace

Status take_migration_lock(pg::Conn& conn) {
  return conn.run("SELECT pg_advisory_xact_lock($1)", pg::Params().i64(kMigrationLock),
                  "waiting for another process opening the store");
}

Status migrate_tables(pg::Conn& conn, std::int64_t version, const std::string& where) {
  for (const auto& m : schema::k_server_postgres_migrations) {
    if (m.version <= version) continue;
    Status s = conn.exec(m.sql);
    if (!s.is_ok()) return s.with_context("migrating " + where + " to schema version " + std::to_string(m.version) + ": ");
    SB_RETURN_IF_ERROR(conn.run("UPDATE schema_version SET version = $1", pg::Params().i64(m.version),
                                "recording the schema version"));
  }
  if (version > 0) return Status::ok();
  return conn.run("INSERT INTO meta(key, value) VALUES('format', $1)", pg::Params().bytes(as_bytes(kFormat)),
                  "marking the store");
}

Result<int> write_lazily(pg::Conn& conn, std::string_view sql, const pg::Params& params, std::string_view what) {
  SB_RETURN_IF_ERROR(conn.exec("BEGIN; SET LOCAL synchronous_commit = off"));
  pg::Tx tx = pg::Tx::adopt(conn);
  SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query(sql, params, what));
  SB_RETURN_IF_ERROR(tx.commit());
  return r.size();
}

// ---- devices and enrollment -------------------------------------------------------------------------

Result<std::vector<DeviceRecord>> PgStorage::read_devices(pg::Conn& conn, const PublicKey* key) {
  pg::Params p;
  if (key) p.bytes(view(*key));
  SB_ASSIGN_OR_RETURN(pg::Rows found,
                      conn.query(std::string(rows::kDeviceColumns) + (key ? "WHERE d.key = $1" : "ORDER BY d.enrolled_ms, d.key"),
                                 p, "reading devices"));
  std::vector<DeviceRecord> out;
  std::map<PublicKey, std::size_t> index;
  for (int i = 0; i < found.size(); ++i) {
    out.push_back(rows::device_from(found[i]));
    index.emplace(out.back().key, out.size() - 1);
  }
  if (out.empty()) return out;
  SB_ASSIGN_OR_RETURN(pg::Rows units,
                      conn.query(key ? "SELECT device, unit FROM device_units WHERE device = $1 ORDER BY unit COLLATE \"C\""
                                     : "SELECT device, unit FROM device_units ORDER BY device, unit COLLATE \"C\"",
                                 p, "reading devices' units"));
  for (int i = 0; i < units.size(); ++i) {
    auto it = index.find(units[i].blob32(0));
    if (it != index.end()) out[it->second].units.push_back(units[i].text(1));
  }
  return out;
}

Result<std::optional<DeviceRecord>> PgStorage::device(const PublicKey& key) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(lease.conn(), pg::Tx::Kind::kSnapshot));
  SB_ASSIGN_OR_RETURN(auto found, read_devices(lease.conn(), &key));
  SB_RETURN_IF_ERROR(tx.commit());
  if (found.empty()) return std::optional<DeviceRecord>();
  return std::optional<DeviceRecord>(std::move(found.front()));
}

Result<std::vector<DeviceRecord>> PgStorage::devices() {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(lease.conn(), pg::Tx::Kind::kSnapshot));
  SB_ASSIGN_OR_RETURN(auto found, read_devices(lease.conn(), nullptr));
  SB_RETURN_IF_ERROR(tx.commit());
  return found;
}

Status PgStorage::add_code(const CodeRecord& code) {
  SB_ASSIGN_OR_RETURN(Bytes units, rows::encode_units(code.units));
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  Status s = lease.conn().run("INSERT INTO codes(secret_hash, site, units, created_ms, expires_ms) VALUES($1, $2, $3, $4, $5)",
                              pg::Params().bytes(view(code.secret_hash)).text(code.site).bytes(units)
                                  .i64(code.created_ms).i64(code.expires_ms),
                              "storing an enrollment code");
  if (s.code() == Code::kAlreadyExists) return rows::code_exists();
  return s;
}

Result<std::vector<CodeRecord>> PgStorage::codes() {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query(rows::kCodeColumns, pg::Params(), "reading enrollment codes"));
  std::vector<CodeRecord> out;
  for (int i = 0; i < r.size(); ++i) {
    SB_ASSIGN_OR_RETURN(CodeRecord c, rows::code_from(r[i]));
    out.push_back(std::move(c));
  }
  return out;
}

// The code's row lock serializes two devices redeeming one code; the positions row lock
// serializes enrollment with appends that check a site's terminals (AppendBatch::unchanged).
Result<DeviceRecord> PgStorage::redeem_code(const Hash& secret_hash, const PublicKey& device, std::int64_t now_ms) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  pg::Conn& conn = lease.conn();
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(conn));
  DeviceRecord rec;
  rec.key = device;
  std::int64_t expires_ms = 0;
  std::int64_t used_ms = 0;
  {
    SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("SELECT site, units, expires_ms, used_ms FROM codes WHERE secret_hash = $1 "
                                               "FOR UPDATE",
                                               pg::Params().bytes(view(secret_hash)), "finding the enrollment code"));
    if (r.empty()) return rows::unknown_code();
    rec.site = r[0].text(0);
    SB_ASSIGN_OR_RETURN(rec.units, rows::decode_units(r[0].view(1), "an enrollment code for site " + rec.site));
    expires_ms = r[0].int64(2);
    used_ms = r[0].int64(3);
  }
  SB_RETURN_IF_ERROR(conn.run("SELECT last_pos FROM positions FOR UPDATE", pg::Params(), "locking the positions"));
  {
    SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("SELECT site FROM devices WHERE key = $1", pg::Params().bytes(view(device)),
                                               "finding the device"));
    if (!r.empty()) return rows::enrolled_already(device, r[0].text(0));
  }
  if (used_ms != 0) return rows::code_used();
  if (now_ms >= expires_ms) return rows::code_expired();
  SB_RETURN_IF_ERROR(conn.run("UPDATE codes SET used_ms = $1, used_by = $2 WHERE secret_hash = $3",
                              pg::Params().i64(now_ms).bytes(view(device)).bytes(view(secret_hash)),
                              "marking the enrollment code used"));
  Status added = conn.run("INSERT INTO devices(key, site, enrolled_ms) VALUES($1, $2, $3)",
                          pg::Params().bytes(view(device)).text(rec.site).i64(now_ms), "enrolling the device");
  // Another code redeemed by the same device at this very moment enrolled it first.
  if (added.code() == Code::kAlreadyExists) return rows::enrolled_already(device, "");
  SB_RETURN_IF_ERROR(added);
  SB_RETURN_IF_ERROR(conn.run("INSERT INTO device_units(device, unit) SELECT $1, u FROM unnest($2::text[]) AS u "
                              "ON CONFLICT DO NOTHING",
                              pg::Params().bytes(view(device)).text_array(rec.units), "storing the device's units"));
  SB_RETURN_IF_ERROR(tx.commit());
  rec.enrolled_ms = now_ms;
  return rec;
}

Status PgStorage::flag_device(const PublicKey& key, const std::string& reason, std::int64_t now_ms) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  pg::Conn& conn = lease.conn();
  SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("UPDATE devices SET flag = $1, flagged_ms = $2 WHERE key = $3 AND flag = '' "
                                             "RETURNING 1",
                                             pg::Params().text(reason).i64(now_ms).bytes(view(key)), "flagging the device"));
  if (!r.empty()) return Status::ok();
  SB_ASSIGN_OR_RETURN(pg::Rows held, conn.query("SELECT 1 FROM devices WHERE key = $1", pg::Params().bytes(view(key)),
                                                "finding the device"));
  return held.empty() ? rows::not_enrolled(key) : Status::ok();
}

Status PgStorage::note_sync(const PublicKey& key, std::int64_t server_ms, std::int64_t client_ms, std::uint64_t cursor) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(int changed, write_lazily(lease.conn(),
                                                "UPDATE devices SET last_sync_ms = $1, last_client_ms = $2, last_cursor = $3 "
                                                "WHERE key = $4 RETURNING 1",
                                                pg::Params().i64(server_ms).i64(client_ms).u64(cursor).bytes(view(key)),
                                                "recording the device's sync"));
  return changed == 0 ? rows::not_enrolled(key) : Status::ok();
}

Result<std::vector<PublicKey>> PgStorage::devices_in_units(const std::vector<std::string>& units) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query("SELECT DISTINCT device FROM device_units WHERE unit = ANY($1) "
                                                     "ORDER BY device",
                                                     pg::Params().text_array(units), "finding the units' devices"));
  std::vector<PublicKey> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(r[i].blob32(0));
  return out;
}

// ---- reference data ---------------------------------------------------------------------------------

Result<std::vector<Json>> PgStorage::reference(const std::string& kind, const std::string& site) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query("SELECT ref_key, body FROM reference WHERE kind = $1 AND "
                                                     "($2 = '' OR site = $2) ORDER BY ref_key COLLATE \"C\"",
                                                     pg::Params().text(kind).text(site), "reading reference data"));
  std::vector<Json> out;
  for (int i = 0; i < r.size(); ++i) {
    SB_ASSIGN_OR_RETURN(Json body, reference_body(r[i], kind));
    out.push_back(std::move(body));
  }
  return out;
}

Result<std::optional<Json>> PgStorage::reference_item(const std::string& kind, const std::string& ref_key) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query("SELECT ref_key, body FROM reference WHERE kind = $1 AND ref_key = $2",
                                                     pg::Params().text(kind).text(ref_key), "reading a reference item"));
  if (r.empty()) return std::optional<Json>();
  SB_ASSIGN_OR_RETURN(Json body, reference_body(r[0], kind));
  return std::optional<Json>(std::move(body));
}

}  // namespace postgres

bool is_postgres_url(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Storage>> open_postgres_storage(const std::string& url, bool create,
                                                       const StorageOptions& options) {
  SB_ASSIGN_OR_RETURN(auto conn, pg::Conn::connect(url));
  SB_RETURN_IF_ERROR(postgres::open_store(*conn, create, conn->describe()));
  return std::unique_ptr<Storage>(new postgres::PgStorage(url, options));
}

Result<std::unique_ptr<Storage>> open_storage(const std::string& url, bool create, const StorageOptions& options) {
  if (url.rfind("sqlite:", 0) == 0 && url.size() > 7) return open_sqlite_storage(url.substr(7), create, options);
  if (is_postgres_url(url)) return open_postgres_storage(url, create, options);
  // The URL is not repeated: it may hold a password.
  return invalid_argument("unknown store URL: name a SQLite file as sqlite:PATH or a PostgreSQL database as "
                          "postgresql://USER@HOST:PORT/DBNAME");
}

}  // namespace shiftbook::server
