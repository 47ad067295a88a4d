// The benchmark's stores (bench_pg.h).
#include "bench_pg.h"

#include <unistd.h>

#include <vector>

#include "pg.h"
#include "server_dir.h"
#include "shiftbook/platform/files.h"
#include "storage.h"

namespace shiftbook::bench {

namespace pg = server::pg;

bool is_postgres_store(const std::string& url) { return server::is_postgres_url(url); }

std::string store_name(const std::string& url) { return is_postgres_store(url) ? "PostgreSQL" : "SQLite"; }

// ---- PgSchema ------------------------------------------------------------------------------------

Result<std::unique_ptr<PgSchema>> PgSchema::make(const std::string& server_url, const std::string& tag) {
  static int made = 0;
  const std::string name = "sbbench_" + std::to_string(::getpid()) + "_" + std::to_string(++made) + "_" + tag;
  SB_ASSIGN_OR_RETURN(auto conn, pg::Conn::connect(server_url));
  SB_RETURN_IF_ERROR(conn->exec("DROP SCHEMA IF EXISTS " + name + " CASCADE; CREATE SCHEMA " + name));
  return std::unique_ptr<PgSchema>(
      new PgSchema(server_url, name, pg::with_url_param(server_url, "options", "-csearch_path=" + name)));
}

PgSchema::~PgSchema() {
  auto conn = pg::Conn::connect(server_url_);
  if (conn.is_ok()) (void)(*conn)->exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
}

Status PgSchema::copy_store_from(const PgSchema& from) {
  // The tables, exactly as the server makes them (indexes, constraints, identity columns).
  SB_RETURN_IF_ERROR(server::open_storage(url_, true).status());
  SB_ASSIGN_OR_RETURN(auto conn, pg::Conn::connect(server_url_));
  // Tables that reference others last: the schema's foreign keys are one level deep (device_units
  // and sessions); a deeper one would make an INSERT below fail, never copy wrongly.
  SB_ASSIGN_OR_RETURN(pg::Rows tables,
                      conn->query("SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                  "WHERE n.nspname::text = $1 AND c.relkind = 'r' ORDER BY EXISTS (SELECT 1 FROM "
                                  "pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f'), c.relname",
                                  pg::Params().text(from.name_), "listing the set-up's tables"));
  SB_ASSIGN_OR_RETURN(pg::Rows identities,
                      conn->query("SELECT table_name::text, column_name::text FROM information_schema.columns "
                                  "WHERE table_schema::text = $1 AND is_identity = 'YES'",
                                  pg::Params().text(name_), "listing the identity columns"));
  auto quoted = [](const std::string& schema, const std::string& table) { return schema + ".\"" + table + "\""; };
  std::string all;
  for (int i = 0; i < tables.size(); ++i) all += (i ? ", " : "") + quoted(name_, tables[i].text(0));
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(*conn));
  SB_RETURN_IF_ERROR(conn->exec("TRUNCATE " + all));  // what the migrations inserted (version, counter, meta)
  for (int i = 0; i < tables.size(); ++i) {
    const std::string table = tables[i].text(0);
    SB_RETURN_IF_ERROR(conn->exec("INSERT INTO " + quoted(name_, table) + " OVERRIDING SYSTEM VALUE SELECT * FROM " +
                                  quoted(from.name_, table)));
  }
  for (int i = 0; i < identities.size(); ++i) {
    const std::string table = quoted(name_, identities[i].text(0)), column = identities[i].text(1);
    SB_RETURN_IF_ERROR(conn->exec("SELECT setval(pg_get_serial_sequence('" + table + "', '" + column +
                                  "'), coalesce(max(" + column + "), 0) + 1, false) FROM " + table));
  }
  return tx.commit();
}

// ---- RowStore ------------------------------------------------------------------------------------

Result<std::unique_ptr<RowStore>> RowStore::make(const std::string& store_url, const std::string& row) {
  std::unique_ptr<RowStore> s(new RowStore(store_url, row));
  if (is_postgres_store(store_url)) {
    SB_ASSIGN_OR_RETURN(s->setup_, PgSchema::make(store_url, row + "_setup"));
  }
  return s;
}

std::string RowStore::init_url() const { return setup_ ? setup_->url() : "sqlite:"; }

Result<std::unique_ptr<PgSchema>> RowStore::for_run(const std::string& server_dir) {
  if (!setup_) return std::unique_ptr<PgSchema>();
  SB_ASSIGN_OR_RETURN(auto run, PgSchema::make(url_, row_ + "_run"));
  SB_RETURN_IF_ERROR(run->copy_store_from(*setup_));
  SB_RETURN_IF_ERROR(write_file_atomic(server_dir + "/" + server::kServerStoreFile, as_bytes(run->url() + "\n"), 0600));
  return run;
}

}  // namespace shiftbook::bench
