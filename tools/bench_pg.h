// The benchmark's stores (`--store`, docs/BENCHMARK.md): the server rows run on SQLite, the server
// folder's own file as ever, or on PostgreSQL, in schemas the benchmark makes in the database a
// postgresql:// URL names and drops when done (also when a row fails). A row's set-up makes its
// server with `init --store` in a schema of its own; each run gets a fresh schema holding a copy
// of the set-up's rows (the tables made by the server's own migrations, then every row copied),
// as on SQLite each run gets a copy of the set-up's folder. One thread.
#pragma once

#include <memory>
#include <string>

#include "shiftbook/status.h"

namespace shiftbook::bench {

// "sqlite:" (the default) or a postgresql:// / postgres:// URL.
bool is_postgres_store(const std::string& url);
// "SQLite" or "PostgreSQL", for output (never the URL: it may hold a password).
std::string store_name(const std::string& url);

// A schema made in the database `server_url` names, dropped with everything in it on
// destruction. Moves only.
class PgSchema {
 public:
  // A new empty schema; `tag` goes into its name (sbbench_PID_N_TAG).
  static Result<std::unique_ptr<PgSchema>> make(const std::string& server_url, const std::string& tag);
  ~PgSchema();
  PgSchema(const PgSchema&) = delete;
  PgSchema& operator=(const PgSchema&) = delete;

  const std::string& name() const { return name_; }
  // `server_url` with options=-csearch_path=NAME: connections that use this schema.
  const std::string& url() const { return url_; }
  // Fills this empty schema with a head-office store holding the rows of `from` (a store made by
  // `init --store from.url()`): the tables made by the server's migrations, then every table's rows
  // copied in one transaction and the identity columns moved past them.
  Status copy_store_from(const PgSchema& from);

 private:
  PgSchema(std::string server_url, std::string name, std::string url)
      : server_url_(std::move(server_url)), name_(std::move(name)), url_(std::move(url)) {}
  std::string server_url_, name_, url_;
};

// A server row's store on one backend. SQLite: nothing to do (the store is in the server folder,
// copied with it). PostgreSQL: a schema for the set-up, and one per run.
class RowStore {
 public:
  // `store_url` as --store gave it; `row` names the schemas ("push", "terminals").
  static Result<std::unique_ptr<RowStore>> make(const std::string& store_url, const std::string& row);
  // What the set-up's `shiftbook-server init --store` gets.
  std::string init_url() const;
  // For a run whose server folder `server_dir` is a copy of the set-up's: with PostgreSQL, a fresh
  // schema holding a copy of the set-up's store, and `server_dir`/store naming it; the schema is
  // dropped when the returned object is (null with SQLite).
  Result<std::unique_ptr<PgSchema>> for_run(const std::string& server_dir);

 private:
  RowStore(std::string url, std::string row) : url_(std::move(url)), row_(std::move(row)) {}
  std::string url_, row_;
  std::unique_ptr<PgSchema> setup_;
};

}  // namespace shiftbook::bench
