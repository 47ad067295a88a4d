// A thin wrapper over SQLite: the one file that talks to the sqlite3 C API, turning its error
// codes into Status. A Db is one connection, used from one thread at a time; Stmt and Transaction
// borrow it and must not outlive it. Db keeps the statements it prepares and hands them out again
// for the same SQL text (parsing SQL is most of the CPU of recording one entry).
#pragma once

#include <sqlite3.h>

#include <array>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "shiftbook/bytes.h"
#include "shiftbook/status.h"

namespace shiftbook {

class Stmt {
 public:
  Stmt() = default;
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Binds are 1-based, as in SQLite. Chainable: st.bind(1, x).bind(2, y).
  Stmt& bind(int index, std::int64_t value);
  Stmt& bind(int index, std::string_view text);
  Stmt& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Stmt& bind_blob(int index, ByteView blob);
  Stmt& bind_null(int index);
  // As bind(text) and bind_blob, without SQLite's own copy of the bytes: they must stay unchanged
  // until the statement is reset (run() resets it). For statements run once per row of a batch.
  Stmt& bind_unowned(int index, std::string_view text);
  Stmt& bind_blob_unowned(int index, ByteView blob);

  // True when a row is ready, false when done; errors become a Status naming the statement.
  Result<bool> step();
  // Runs to completion, expecting no rows back.
  Status run();
  void reset();

  std::int64_t int64(int col) const;
  std::string text(int col) const;
  Bytes blob(int col) const;
  // A 32-byte blob column (hashes, keys); all zero if the column holds anything else.
  std::array<std::uint8_t, 32> blob32(int col) const;
  bool is_null(int col) const;

 private:
  friend class Db;
  // `in_use` is the cache slot's flag when the statement belongs to Db's cache: it is then reset
  // and handed back on destruction instead of finalized.
  Stmt(sqlite3_stmt* st, sqlite3* db, bool* in_use) : st_(st), db_(db), in_use_(in_use) {}
  void release();
  sqlite3_stmt* st_ = nullptr;
  sqlite3* db_ = nullptr;
  bool* in_use_ = nullptr;
  Status bind_error_;
};

class Db {
 public:
  // Opens (and with `create`, creates) the database file. `vfs` empty means SQLite's default.
  static Result<Db> open(const std::string& path, bool create, const std::string& vfs = {});

  Db() = default;
  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  Status exec(std::string_view sql);
  // A prepared statement for `sql`: the cached one when it is free, else a new one (cached when
  // there is room). Either way the caller owns it until the Stmt dies.
  Result<Stmt> prepare(std::string_view sql);
  // Runs a query expected to return one integer (or none: `fallback`).
  Result<std::int64_t> query_int(std::string_view sql, std::int64_t fallback = 0);
  std::int64_t changes() const;
  sqlite3* handle() const { return db_; }
  Status close();

 private:
  struct CachedStmt {
    sqlite3_stmt* st = nullptr;
    bool in_use = false;
  };
  // Looked up by the SQL text as given, without copying it into a key (prepare runs for every
  // statement of every event a sync stores).
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const noexcept { return std::hash<std::string_view>{}(sql); }
  };
  using StmtCache = std::unordered_map<std::string, CachedStmt, SqlHash, std::equal_to<>>;
  static constexpr std::size_t kMaxCachedStatements = 128;

  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
  // On the heap so that a moved Db keeps the slots its Stmts point into.
  std::unique_ptr<StmtCache> cache_ = std::make_unique<StmtCache>();
};

// Runs `write` with synchronous=NORMAL on `db`, then FULL again (a connection set to FULL): a commit
// inside skips its own fsync. In WAL mode a power cut may then lose it, never tear it, a process
// kill loses nothing, and the next FULL commit, which syncs the whole WAL, makes it durable too.
// For bookkeeping and for what can be fetched again, never for what only this store holds.
Status without_own_fsync(Db& db, const std::function<Status()>& write);

// Status for an SQLite result code: busy and locked are unavailable, corruption and not-a-database
// are data_loss, full disk is resource_exhausted, the rest internal.
Status sqlite_status(int rc, sqlite3* db, std::string_view what);

// BEGIN IMMEDIATE on construction (so two writers queue instead of deadlocking), ROLLBACK on
// destruction unless commit() succeeded.
class Transaction {
 public:
  static Result<Transaction> begin(Db& db);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_ = nullptr;
};

// Keeps the reads between construction and destruction on one snapshot of the database (a
// deferred read transaction, rolled back at the end: nothing is written). Does nothing when a
// transaction is already open, which then gives the snapshot.
class ReadSnapshot {
 public:
  static Result<ReadSnapshot> begin(Db& db);
  ReadSnapshot(ReadSnapshot&& other) noexcept;
  ReadSnapshot& operator=(ReadSnapshot&&) = delete;
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  ~ReadSnapshot();

 private:
  explicit ReadSnapshot(Db* db) : db_(db) {}
  Db* db_ = nullptr;
};

// Applies, in order, every migration (with .version, .name and .sql, as schema/embed.cmake writes
// them) newer than `current`, each in its own transaction that also sets PRAGMA user_version, so
// a store is always at exactly one schema version.
template <typename Migrations>
Status apply_migrations(Db& db, std::int64_t current, const Migrations& migrations) {
  for (const auto& m : migrations) {
    if (m.version <= current) continue;
    SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
    SB_RETURN_IF_ERROR(db.exec(m.sql).with_context("migration " + std::string(m.name) + ": "));
    SB_RETURN_IF_ERROR(db.exec("PRAGMA user_version = " + std::to_string(m.version)));
    SB_RETURN_IF_ERROR(tx.commit());
  }
  return Status::ok();
}

}  // namespace shiftbook
