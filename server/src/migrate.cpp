// Moving a head office from SQLite to PostgreSQL (migrate.h, docs/POSTGRES.md "Migrating a head
// office from SQLite"): the source held alone, its tables streamed into the target's in chunks of
// binary COPY within one transaction, then both stores audited and compared.
#include "migrate.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <sstream>

#include "pg.h"
#include "server_dir.h"
#include "service.h"
#include "shiftbook/platform/db.h"
#include "shiftbook/platform/files.h"
#include "storage.h"
#include "storage_postgres_impl.h"

namespace shiftbook::server {

namespace fs = std::filesystem;

const MigrationTables& migration_tables() {
  // Parents before the tables that refer to them (device_units to devices, sessions to accounts).
  static const MigrationTables tables{{"meta", "devices", "device_units", "codes", "chains", "events", "heads",
                                       "receipts", "reference", "quarantine", "tokens", "accounts", "sessions"},
                                      {"hash_index"},
                                      {"schema_version", "positions"}};
  return tables;
}

namespace {

// A chunk of COPY data sent at once: memory stays bounded whatever the store's size.
constexpr std::size_t kChunkBytes = 8 << 20;

std::string joined(const std::vector<std::string>& items) {
  std::ostringstream out;
  for (std::size_t i = 0; i < items.size(); ++i) out << (i ? ", " : "") << items[i];
  return out.str();
}

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The tables a store holds against those its schema has: refused when they differ, since a table
// the migration does not know would not be copied.
Status check_tables(std::vector<std::string> held, std::vector<std::string> known, const std::string& where) {
  std::sort(held.begin(), held.end());
  std::sort(known.begin(), known.end());
  std::vector<std::string> unknown, missing;
  std::set_difference(held.begin(), held.end(), known.begin(), known.end(), std::back_inserter(unknown));
  std::set_difference(known.begin(), known.end(), held.begin(), held.end(), std::back_inserter(missing));
  if (!unknown.empty()) {
    return failed_precondition(where + " holds tables this migration does not know (" + joined(unknown) +
                               "): they would be lost; migrate with the shiftbook-server that made the store");
  }
  if (!missing.empty()) return failed_precondition(where + " lacks tables of its schema (" + joined(missing) + ")");
  return Status::ok();
}

// Rows of the source with no counterpart in PostgreSQL (docs/POSTGRES.md, "The schema"): SQLite's
// hash index mark, and where `restored` skipped its positions to (PostgreSQL's counter holds that).
std::string source_filter(const std::string& table) {
  return table == "meta" ? " WHERE key NOT IN ('hash_indexed_upto', 'positions_from')" : "";
}

Result<std::vector<std::string>> sqlite_strings(Db& db, const std::string& sql) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(sql));
  std::vector<std::string> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return out;
    out.push_back(st.text(0));
  }
}

Result<std::vector<std::string>> pg_strings(pg::Conn& conn, std::string_view sql, const pg::Params& params,
                                            std::string_view what) {
  SB_ASSIGN_OR_RETURN(pg::Rows rows, conn.query(sql, params, what));
  std::vector<std::string> out;
  for (int i = 0; i < rows.size(); ++i) out.push_back(rows[i].text(0));
  return out;
}

Result<std::vector<std::string>> pg_tables(pg::Conn& conn) {
  return pg_strings(conn,
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() "
                    "ORDER BY 1",
                    pg::Params(), "listing the target's tables");
}

struct Column {
  std::string name;
  bool integer = false;   // BIGINT; else BYTEA or TEXT (the same bytes in binary COPY)
  bool identity = false;  // GENERATED ALWAYS AS IDENTITY: its sequence continues after the copy
};

Result<std::vector<Column>> pg_columns(pg::Conn& conn, const std::string& table) {
  SB_ASSIGN_OR_RETURN(pg::Rows rows,
                      conn.query("SELECT column_name::text, data_type::text, is_identity::text FROM "
                                 "information_schema.columns WHERE table_schema = current_schema() AND "
                                 "table_name::text = $1 ORDER BY ordinal_position",
                                 pg::Params().text(table), "reading the target's columns"));
  std::vector<Column> out;
  for (int i = 0; i < rows.size(); ++i) {
    const std::string type = rows[i].text(1);
    if (type != "bigint" && type != "bytea" && type != "text") {
      return internal_error("the target's column " + table + "." + rows[i].text(0) + " has type " + type +
                            ", which the migration does not copy");
    }
    out.push_back(Column{rows[i].text(0), type == "bigint", rows[i].text(2) == "YES"});
  }
  return out;
}

// Streams one table's rows from the source's snapshot into the target, in chunks, and makes its
// identity columns continue after the highest value copied; its row count.
Result<std::uint64_t> copy_table(Db& source, pg::Conn& target, const std::string& table) {
  SB_ASSIGN_OR_RETURN(std::vector<Column> columns, pg_columns(target, table));
  std::vector<std::string> names, in_source;
  for (const Column& c : columns) names.push_back(c.name);
  SB_ASSIGN_OR_RETURN(in_source, sqlite_strings(source, "SELECT name FROM pragma_table_info('" + table + "')"));
  std::sort(in_source.begin(), in_source.end());
  std::vector<std::string> sorted_names = names;
  std::sort(sorted_names.begin(), sorted_names.end());
  if (in_source != sorted_names) {
    return failed_precondition("table " + table + " has the columns " + joined(in_source) + " in the source and " +
                               joined(sorted_names) + " in the target; nothing was copied");
  }
  const std::string list = joined(names);
  SB_ASSIGN_OR_RETURN(Stmt st, source.prepare("SELECT " + list + " FROM " + table + source_filter(table)));
  const std::string copy = "COPY " + table + " (" + list + ") FROM STDIN (FORMAT binary)";
  pg::CopyRows chunk;
  std::uint64_t rows = 0, pending = 0;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) {
      chunk.row(static_cast<int>(columns.size()));
      for (std::size_t i = 0; i < columns.size(); ++i) {
        const int col = static_cast<int>(i);
        if (st.is_null(col)) {
          chunk.null();
        } else if (columns[i].integer) {
          chunk.i64(st.int64(col));
        } else {
          chunk.bytes(st.blob(col));
        }
      }
      ++rows;
      ++pending;
    }
    if (pending > 0 && (!row || chunk.size() >= kChunkBytes)) {
      SB_RETURN_IF_ERROR(target.copy_in(copy, chunk.finish(), "copying table " + table));
      chunk = pg::CopyRows();
      pending = 0;
    }
    if (!row) break;
  }
  for (const Column& c : columns) {
    if (!c.identity) continue;
    SB_RETURN_IF_ERROR(target.exec("SELECT setval(pg_get_serial_sequence('" + table + "', '" + c.name + "'), max(" +
                                   c.name + ")) FROM " + table + " HAVING count(*) > 0"));
  }
  return rows;
}

// In one transaction on `target`: its tables made by the normal migrations, every row of the
// source copied, the position counter set to continue after what was copied.
Result<std::vector<std::pair<std::string, std::uint64_t>>> copy_store(Db& source, pg::Conn& target) {
  const std::string where = target.describe();
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(target));
  SB_RETURN_IF_ERROR(postgres::take_migration_lock(target));
  SB_ASSIGN_OR_RETURN(std::vector<std::string> held, pg_tables(target));
  if (!held.empty()) {
    return already_exists(where + " holds tables already (" + joined(held) +
                          "); migrate into an empty database, or an empty schema of its own "
                          "(options=-csearch_path%3DNAME in the URL); nothing was written");
  }
  SB_RETURN_IF_ERROR(postgres::migrate_tables(target, 0, where));
  SB_ASSIGN_OR_RETURN(held, pg_tables(target));
  const MigrationTables& tables = migration_tables();
  SB_RETURN_IF_ERROR(check_tables(held, plus(tables.copied, tables.postgres_only), "the new store in " + where));
  // The source's meta rows, its format mark among them, take the place of the new store's.
  SB_RETURN_IF_ERROR(target.exec("DELETE FROM meta"));
  std::vector<std::pair<std::string, std::uint64_t>> counts;
  for (const std::string& table : tables.copied) {
    SB_ASSIGN_OR_RETURN(std::uint64_t rows, copy_table(source, target, table));
    counts.emplace_back(table, rows);
  }
  // SQLite needs no counter (its one writer reads max(pos), or where `restored` skipped to if
  // that is higher); PostgreSQL's continues from the same.
  SB_ASSIGN_OR_RETURN(std::int64_t skipped_to,
                      source.query_int("SELECT coalesce((SELECT value FROM meta WHERE key = 'positions_from'), 0)"));
  SB_RETURN_IF_ERROR(target.run("UPDATE positions SET last_pos = GREATEST((SELECT coalesce(max(pos), 0) FROM events), $1)",
                                pg::Params().i64(skipped_to), "setting the position counter"));
  SB_RETURN_IF_ERROR(tx.commit());
  return counts;
}

// What the migration compares of a store besides its row counts: the audit, the bytes of its audit
// export, and the records the audit does not cover (the registry's bookkeeping, codes, tokens,
// accounts, quarantine, latest receipts).
struct Look {
  AuditResult audit;
  Hash export_hash{};
  Json records;
};

Json sorted_array(Json items) {
  std::sort(items.begin(), items.end());
  return items;
}

Result<Json> records_of(Storage& st) {
  Json devices = Json::array(), receipts = Json::array(), codes = Json::array(), tokens = Json::array(),
       accounts = Json::array(), quarantined = Json::array();
  SB_ASSIGN_OR_RETURN(std::vector<DeviceRecord> all, st.devices());
  for (const DeviceRecord& d : all) {
    devices.push_back(Json::array({to_hex(d.key), d.site, d.units, d.enrolled_ms, d.flag, d.flagged_ms, d.seq,
                                   to_hex(d.head), d.last_sync_ms, d.last_client_ms, d.last_cursor, d.revoked_ms,
                                   d.revoke_reason, d.quarantined}));
    SB_ASSIGN_OR_RETURN(std::optional<Receipt> r, st.receipt(d.key));
    if (r) receipts.push_back(Json::array({to_hex(r->device), r->seq, to_hex(r->hash), r->server_ms, to_hex(r->signature)}));
  }
  SB_ASSIGN_OR_RETURN(std::vector<CodeRecord> all_codes, st.codes());
  for (const CodeRecord& c : all_codes) {
    codes.push_back(Json::array({to_hex(c.secret_hash), c.site, c.units, c.created_ms, c.expires_ms, c.used_ms,
                                 to_hex(c.used_by)}));
  }
  SB_ASSIGN_OR_RETURN(std::vector<TokenRecord> all_tokens, st.tokens());
  for (const TokenRecord& t : all_tokens) {
    tokens.push_back(Json::array({t.id, t.name, to_hex(t.secret_hash), t.created_ms, t.revoked_ms, t.last_used_ms}));
  }
  SB_ASSIGN_OR_RETURN(std::vector<AccountRecord> all_accounts, st.accounts());
  for (const AccountRecord& a : all_accounts) {
    accounts.push_back(Json::array({a.name, a.password_hash, a.created_ms, a.disabled_ms, a.failures,
                                    a.locked_until_ms, a.last_login_ms}));
  }
  SB_ASSIGN_OR_RETURN(std::vector<QuarantinedEvent> held, st.quarantined(nullptr));
  for (const QuarantinedEvent& q : held) {
    quarantined.push_back(Json::array({to_hex(q.device), q.seq, to_hex(q.hash), q.kind, q.received_ms, q.head.seq,
                                       to_hex(q.head.hash), to_hex(q.head.signature)}));
  }
  return Json{{"devices", sorted_array(devices)}, {"receipts", sorted_array(receipts)},
              {"codes", sorted_array(codes)},     {"tokens", sorted_array(tokens)},
              {"accounts", sorted_array(accounts)}, {"quarantine", sorted_array(quarantined)}};
}

// Audits the store with DIR's key and `clock` (the same fixed time for both stores, so that their
// exports' header lines match), hashing the export's lines as a file would hold them.
Result<Look> look_at(std::unique_ptr<Storage> storage, const std::string& dir, const Clock& clock) {
  SB_ASSIGN_OR_RETURN(DeviceKey key, read_server_key(dir));
  Service service(std::move(storage), std::move(key), clock);
  Look look;
  SB_ASSIGN_OR_RETURN(look.records, records_of(service.storage()));
  crypto_generichash_state h;
  crypto_generichash_init(&h, nullptr, 0, look.export_hash.size());
  SB_ASSIGN_OR_RETURN(look.audit, service.audit([&h](std::string_view line) {
    crypto_generichash_update(&h, reinterpret_cast<const unsigned char*>(line.data()), line.size());
    crypto_generichash_update(&h, reinterpret_cast<const unsigned char*>("\n"), 1);
  }));
  crypto_generichash_final(&h, look.export_hash.data(), look.export_hash.size());
  return look;
}

std::string problems(const AuditResult& audit) {
  return std::to_string(audit.problem_count) + (audit.problem_count == 1 ? " problem" : " problems");
}

// What differs between the source and the target; empty when nothing does.
std::vector<std::string> differences(const Look& source, const Look& target) {
  std::vector<std::string> out;
  if (!target.audit.ok()) {
    out.push_back("the target's audit finds " + problems(target.audit) +
                  (target.audit.problems.empty() ? "" : " (the first: " + target.audit.problems.front() + ")"));
  }
  if (source.export_hash != target.export_hash) out.push_back("the audit exports differ");
  for (const auto& [name, items] : source.records.items()) {
    if (target.records.at(name) != items) out.push_back("the " + name + " differ");
  }
  return out;
}

// Holds the SQLite file alone, or says it cannot: a connection to a database in WAL mode keeps a
// shared lock on the file while it is open, so an exclusive lock is had only when no other
// connection (of any process: a running serve, another command) has it open. The lock lasts until
// `db` is closed.
Status hold_alone(Db& db, const std::string& path) {
  SB_RETURN_IF_ERROR(db.exec("PRAGMA busy_timeout = 0"));
  SB_RETURN_IF_ERROR(db.exec("PRAGMA locking_mode = EXCLUSIVE"));
  Status s = db.exec("BEGIN EXCLUSIVE; SELECT count(*) FROM sqlite_master; COMMIT");
  if (s.code() == Code::kUnavailable) {
    return unavailable(path + " is open in another process (a running 'shiftbook-server serve' of it, or another "
                              "command); stop it, then migrate");
  }
  return s;
}

std::int64_t ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Result<MigrateReport> migrate_store(const MigrateRequest& request, const Clock& clock) {
  if (!is_postgres_url(request.to)) {
    // The URL is not repeated: it may hold a password.
    return invalid_argument("--to must name a PostgreSQL database: postgresql://USER@HOST:PORT/DBNAME");
  }
  if (request.from.rfind("sqlite:", 0) != 0 || request.from.size() <= 7) {
    return invalid_argument("--from must name the SQLite store to migrate: sqlite:PATH, such as sqlite:DIR/server.db");
  }
  MigrateReport report;
  report.source = request.from.substr(7);
  std::error_code ec;
  if (!fs::is_regular_file(report.source, ec)) {
    return not_found("no SQLite store at " + report.source + "; --from names the store to migrate, such as "
                     "sqlite:DIR/server.db");
  }
  SB_RETURN_IF_ERROR(read_server_key(request.dir).status());
  SB_ASSIGN_OR_RETURN(std::string dir_url, server_store_url(request.dir));
  const bool dirs_store = dir_url.rfind("sqlite:", 0) == 0 && fs::equivalent(dir_url.substr(7), report.source, ec);
  {
    // Refused before anything is opened when a server holds it (any other error: open says it better).
    SB_ASSIGN_OR_RETURN(Db probe, Db::open(report.source, false));
    Status alone = hold_alone(probe, report.source);
    if (alone.code() == Code::kUnavailable) return alone.with_context("nothing was copied: ");
  }
  SB_ASSIGN_OR_RETURN(auto source_storage, open_sqlite_storage(report.source, false));
  // The snapshot every read of the source comes from, and the write lock that keeps every other
  // process from writing to it until the migration ends.
  SB_ASSIGN_OR_RETURN(Db source, Db::open(report.source, false));
  SB_RETURN_IF_ERROR(source.exec("PRAGMA busy_timeout = 10000"));
  SB_RETURN_IF_ERROR(source.exec("BEGIN IMMEDIATE"));
  SB_ASSIGN_OR_RETURN(std::vector<std::string> source_tables,
                      sqlite_strings(source, "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                             "name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"));
  const MigrationTables& tables = migration_tables();
  SB_RETURN_IF_ERROR(check_tables(source_tables, plus(tables.copied, tables.sqlite_only), "the source " + report.source));

  const FakeClock audit_clock(clock.now_ms());
  auto started = std::chrono::steady_clock::now();
  SB_ASSIGN_OR_RETURN(Look before, look_at(std::move(source_storage), request.dir, audit_clock));
  if (!before.audit.ok()) {
    return data_loss("the audit of the source finds " + problems(before.audit) +
                     "; run 'shiftbook-server audit' and settle them first; nothing was copied");
  }
  std::int64_t verify_ms = ms_since(started);

  SB_ASSIGN_OR_RETURN(auto target, pg::Conn::connect(request.to));
  report.target = target->describe();
  started = std::chrono::steady_clock::now();
  SB_ASSIGN_OR_RETURN(report.rows, copy_store(source, *target));
  report.copy_ms = ms_since(started);

  started = std::chrono::steady_clock::now();
  const std::string kept = "; the copy stays in " + report.target + " and " + request.dir +
                           "/store is not changed (drop the copy's tables before migrating again)";
  std::vector<std::string> differ;
  for (const auto& [table, rows] : report.rows) {
    SB_ASSIGN_OR_RETURN(pg::Rows n, target->query("SELECT count(*) FROM " + table, pg::Params(), "counting " + table));
    const auto held = static_cast<std::uint64_t>(n[0].int64(0));
    if (held != rows) differ.push_back(table + ": " + std::to_string(rows) + " rows copied, " + std::to_string(held) + " held");
  }
  SB_ASSIGN_OR_RETURN(auto target_storage, open_postgres_storage(request.to, false));
  SB_ASSIGN_OR_RETURN(Look after, look_at(std::move(target_storage), request.dir, audit_clock));
  const std::vector<std::string> more = differences(before, after);
  differ.insert(differ.end(), more.begin(), more.end());
  if (!differ.empty()) return data_loss("the copy differs from the source: " + joined(differ) + kept);
  report.audit = std::move(after.audit);
  report.verify_ms = verify_ms + ms_since(started);

  if (request.copy_only || !dirs_store) {
    report.not_switched_why = request.copy_only ? "--copy-only was given"
                                                : "the source is not the store of " + request.dir + " (" + dir_url + ")";
    return report;
  }
  // No process may keep the source open past this point: one that did would go on serving it.
  SB_RETURN_IF_ERROR(source.exec("COMMIT"));
  Status alone = hold_alone(source, report.source);
  if (alone.code() == Code::kUnavailable) return unavailable("during the copy, " + alone.message() + kept);
  SB_RETURN_IF_ERROR(alone);
  const std::string store_file = request.dir + "/" + kServerStoreFile;
  if (fs::exists(store_file, ec)) {
    SB_ASSIGN_OR_RETURN(Bytes held, read_file_bytes(store_file));
    report.previous_store.assign(held.begin(), held.end());
    while (!report.previous_store.empty() && report.previous_store.back() == '\n') report.previous_store.pop_back();
  }
  SB_RETURN_IF_ERROR(record_server_store(request.dir, request.to));
  report.switched = true;
  return report;
}

}  // namespace shiftbook::server
