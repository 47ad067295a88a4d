#include "shiftbook/platform/db.h"

#include <algorithm>
#include <utility>

namespace shiftbook {

Status sqlite_status(int rc, sqlite3* db, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::ok();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return unavailable(msg + " (another program is using the store; try again)");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return data_loss(msg);
    case SQLITE_FULL:
      return resource_exhausted(msg);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      return permission_denied(msg);
    case SQLITE_CONSTRAINT:
      return already_exists(msg);
    default:
      return internal_error(msg);
  }
}

Stmt::Stmt(Stmt&& other) noexcept
    : st_(std::exchange(other.st_, nullptr)),
      db_(other.db_),
      in_use_(std::exchange(other.in_use_, nullptr)),
      bind_error_(std::move(other.bind_error_)) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    release();
    st_ = std::exchange(other.st_, nullptr);
    db_ = other.db_;
    in_use_ = std::exchange(other.in_use_, nullptr);
    bind_error_ = std::move(other.bind_error_);
  }
  return *this;
}

Stmt::~Stmt() { release(); }

void Stmt::release() {
  if (!st_) return;
  if (in_use_) {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
    *in_use_ = false;
  } else {
    sqlite3_finalize(st_);
  }
  st_ = nullptr;
  in_use_ = nullptr;
}

namespace {
void note_bind(int rc, sqlite3* db, Status& slot) {
  if (rc != SQLITE_OK && slot.is_ok()) slot = sqlite_status(rc, db, "binding a statement parameter");
}
}  // namespace

Stmt& Stmt::bind(int index, std::int64_t value) {
  note_bind(sqlite3_bind_int64(st_, index, value), db_, bind_error_);
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view text) {
  note_bind(sqlite3_bind_text(st_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT), db_,
            bind_error_);
  return *this;
}

Stmt& Stmt::bind_blob(int index, ByteView blob) {
  // A zero-length blob still has to be a blob, not NULL: SQLite takes a non-null pointer for that.
  static const std::uint8_t kEmpty = 0;
  const void* p = blob.empty() ? &kEmpty : blob.data();
  note_bind(sqlite3_bind_blob(st_, index, p, static_cast<int>(blob.size()), SQLITE_TRANSIENT), db_, bind_error_);
  return *this;
}

Stmt& Stmt::bind_unowned(int index, std::string_view text) {
  note_bind(sqlite3_bind_text(st_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC), db_,
            bind_error_);
  return *this;
}

Stmt& Stmt::bind_blob_unowned(int index, ByteView blob) {
  static const std::uint8_t kEmpty = 0;
  const void* p = blob.empty() ? &kEmpty : blob.data();
  note_bind(sqlite3_bind_blob(st_, index, p, static_cast<int>(blob.size()), SQLITE_STATIC), db_, bind_error_);
  return *this;
}

Stmt& Stmt::bind_null(int index) {
  note_bind(sqlite3_bind_null(st_, index), db_, bind_error_);
  return *this;
}

Result<bool> Stmt::step() {
  if (!bind_error_.is_ok()) return bind_error_;
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(st_);
  std::string what = "store query failed";
  if (sql) what += " (" + std::string(sql).substr(0, 60) + ")";
  return sqlite_status(rc, db_, what);
}

Status Stmt::run() {
  SB_ASSIGN_OR_RETURN(bool row, step());
  (void)row;
  reset();
  return Status::ok();
}

void Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
  bind_error_ = Status::ok();
}

std::int64_t Stmt::int64(int col) const { return sqlite3_column_int64(st_, col); }

std::string Stmt::text(int col) const {
  const auto* p = sqlite3_column_text(st_, col);
  int n = sqlite3_column_bytes(st_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
}

Bytes Stmt::blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st_, col));
  int n = sqlite3_column_bytes(st_, col);
  return p ? Bytes(p, p + n) : Bytes();
}

std::array<std::uint8_t, 32> Stmt::blob32(int col) const {
  std::array<std::uint8_t, 32> out{};
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st_, col));
  if (p && sqlite3_column_bytes(st_, col) == 32) std::copy(p, p + 32, out.begin());
  return out;
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }

Result<Db> Db::open(const std::string& path, bool create, const std::string& vfs) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, vfs.empty() ? nullptr : vfs.c_str());
  Db db(raw);
  if (rc != SQLITE_OK) return sqlite_status(rc, raw, "cannot open " + path);
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

Db::Db(Db&& other) noexcept : db_(std::exchange(other.db_, nullptr)), cache_(std::move(other.cache_)) {
  other.cache_ = std::make_unique<StmtCache>();
}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    (void)close();
    db_ = std::exchange(other.db_, nullptr);
    std::swap(cache_, other.cache_);
  }
  return *this;
}

Db::~Db() { (void)close(); }

Status Db::close() {
  if (!db_) return Status::ok();
  // Every Stmt must be gone by now (they borrow the Db); the cached statements are finalized here.
  for (auto& [sql, slot] : *cache_) sqlite3_finalize(slot.st);
  cache_->clear();
  int rc = sqlite3_close(db_);
  if (rc != SQLITE_OK) {
    Status s = sqlite_status(rc, db_, "closing the store");
    sqlite3_close_v2(db_);
    db_ = nullptr;
    return s;
  }
  db_ = nullptr;
  return Status::ok();
}

Status Db::exec(std::string_view sql) {
  std::string z(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, z.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);
  if (rc != SQLITE_OK) return sqlite_status(rc, db_, "store statement failed");
  return Status::ok();
}

Result<Stmt> Db::prepare(std::string_view sql) {
  auto it = cache_->find(sql);
  if (it != cache_->end() && !it->second.in_use) {
    it->second.in_use = true;
    return Stmt(it->second.st, db_, &it->second.in_use);
  }
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  if (rc != SQLITE_OK) return sqlite_status(rc, db_, "preparing a store query");
  // A statement already in use (the same query nested in itself) stays uncached.
  if (it == cache_->end() && cache_->size() < kMaxCachedStatements) {
    auto [slot, inserted] = cache_->emplace(std::string(sql), CachedStmt{st, true});
    (void)inserted;
    return Stmt(st, db_, &slot->second.in_use);
  }
  return Stmt(st, db_, nullptr);
}

Status without_own_fsync(Db& db, const std::function<Status()>& write) {
  SB_RETURN_IF_ERROR(db.exec("PRAGMA synchronous = NORMAL"));
  Status s = write();
  Status restored = db.exec("PRAGMA synchronous = FULL");
  return s.is_ok() ? restored : s;
}

Result<std::int64_t> Db::query_int(std::string_view sql, std::int64_t fallback) {
  SB_ASSIGN_OR_RETURN(Stmt st, prepare(sql));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row || st.is_null(0)) return fallback;
  return st.int64(0);
}

std::int64_t Db::changes() const { return sqlite3_changes64(db_); }

Result<Transaction> Transaction::begin(Db& db) {
  SB_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

Transaction::~Transaction() {
  if (db_) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  Status s = db_->exec("COMMIT");
  if (s.is_ok()) db_ = nullptr;
  return s;
}

Result<ReadSnapshot> ReadSnapshot::begin(Db& db) {
  if (sqlite3_get_autocommit(db.handle()) == 0) return ReadSnapshot(nullptr);
  SB_RETURN_IF_ERROR(db.exec("BEGIN DEFERRED"));
  return ReadSnapshot(&db);
}

ReadSnapshot::ReadSnapshot(ReadSnapshot&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}

ReadSnapshot::~ReadSnapshot() {
  if (db_) (void)db_->exec("ROLLBACK");
}
}  // namespace shiftbook
