// The SQLite backend of the server's storage (storage.h), first part: creating and opening the
// database file (refusing what is not a head-office store), its migrations and writer settings,
// the pool of read connections, and the checkpointer thread that keeps the WAL short. The
// backend's invariants are in storage_sqlite_impl.h.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <utility>

#include "shiftbook/platform/files.h"
#include "shiftbook/schema_server.h"
#include "storage_sqlite_impl.h"

namespace shiftbook::server {
namespace fs = std::filesystem;

namespace sqlite {
namespace {

constexpr const char* kFormat = "shiftbook-server";
constexpr const char* kTerminalFormat = "shiftbook-terminal";
// Idle read connections kept open; more are opened when more threads read at once.
constexpr std::size_t kMaxIdleReaders = 16;

int known_version() { return schema::k_server_migrations.back().version; }

Status damaged(const std::string& path, const Status& s) {
  if (s.code() != Code::kDataLoss) return s;
  return data_loss(path + " is not a Shiftbook head-office store or is damaged (" + s.message() +
                   "); restore it from a backup, or run 'shiftbook-server init' to make a new one");
}

Status configure_writer(Db& db) {
  SB_ASSIGN_OR_RETURN(Stmt mode, db.prepare("PRAGMA journal_mode = WAL"));
  SB_ASSIGN_OR_RETURN(bool row, mode.step());
  if (!row || mode.text(0) != "wal") {
    return failed_precondition("the head-office store cannot use write-ahead logging here (journal mode " +
                               (row ? mode.text(0) : std::string("unknown")) + "); keep it on a local disk");
  }
  // FULL: a commit (and so a receipt) is on disk before the answer leaves.
  SB_RETURN_IF_ERROR(db.exec("PRAGMA synchronous = FULL"));
  SB_RETURN_IF_ERROR(db.exec("PRAGMA cache_size = -65536"));
  // After a checkpoint starts the WAL over, its file is cut back to this size.
  SB_RETURN_IF_ERROR(db.exec("PRAGMA journal_size_limit = 67108864"));
  return db.exec("PRAGMA foreign_keys = ON");
}

Status migrate(Db& db, std::int64_t current) {
  return apply_migrations(db, current, schema::k_server_migrations);
}

}  // namespace

// ---- the reader pool ------------------------------------------------------------------------------

Result<ReaderPool::Lease> ReaderPool::acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto db = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(db));
    }
  }
  SB_ASSIGN_OR_RETURN(Db db, Db::open(path_, false));
  SB_RETURN_IF_ERROR(db.exec(kBusyTimeout));
  SB_RETURN_IF_ERROR(db.exec("PRAGMA query_only = 1"));
  SB_RETURN_IF_ERROR(db.exec("PRAGMA cache_size = -8192"));
  return Lease(this, std::make_unique<Db>(std::move(db)));
}

void ReaderPool::give_back(std::unique_ptr<Db> db) {
  // A connection still inside a transaction (it cannot be, but a bug must not leak a snapshot
  // that pins the WAL) is closed rather than reused.
  if (sqlite3_get_autocommit(db->handle()) == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < kMaxIdleReaders) idle_.push_back(std::move(db));
}

// ---- the checkpointer -----------------------------------------------------------------------------

Checkpointer::~Checkpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

bool Checkpointer::wal_grew(int pages) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pages < seen_pages_) copied_pages_ = 0;  // the WAL was started over
    seen_pages_ = pages;
    if (pages < kCheckpointPages || running_) return false;
    if (copied_pages_ > 0 && pages - copied_pages_ <= kFinishPages) return true;
    pending_ = true;
  }
  cv_.notify_one();
  return false;
}

void Checkpointer::run() {
  auto db = Db::open(path_, false);
  // A connection checkpoints only once it has read the database and so opened its WAL.
  if (!db.is_ok() || !db->exec(kBusyTimeout).is_ok() || !db->query_int("PRAGMA user_version").is_ok()) return;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return pending_ || stop_; });
    if (stop_) return;
    pending_ = false;
    running_ = true;
    lock.unlock();
    // Best effort: a failed round leaves the WAL longer, and the hard limit bounds it.
    int copied = 0;
    if (sqlite3_wal_checkpoint_v2(db->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, &copied) != SQLITE_OK) {
      copied = 0;
    }
    lock.lock();
    running_ = false;
    copied_pages_ = copied;
  }
}

// ---- the storage ----------------------------------------------------------------------------------

SqliteStorage::SqliteStorage(const std::string& path, Db writer, const StorageOptions& options,
                             std::uint64_t hash_indexed_upto)
    : options_(options),
      writer_(std::move(writer)),
      readers_(path),
      checkpointer_(std::make_unique<Checkpointer>(path)),
      indexed_upto_(hash_indexed_upto),
      loaded_upto_(hash_indexed_upto) {
  // Replaces SQLite's automatic checkpoint, which would run inside the append that crosses it.
  sqlite3_wal_hook(writer_.handle(), &SqliteStorage::on_wal_commit, this);
}

SqliteStorage::~SqliteStorage() {
  checkpointer_.reset();
  sqlite3_wal_hook(writer_.handle(), nullptr, nullptr);
}

int SqliteStorage::on_wal_commit(void* self, sqlite3* db, const char* /*name*/, int pages) {
  if (pages >= Checkpointer::kWalHardLimitPages) {
    // Waits (busy_timeout) for readers to move on, then starts the WAL over.
    sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
  } else if (static_cast<SqliteStorage*>(self)->checkpointer_->wal_grew(pages)) {
    sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
  return SQLITE_OK;
}

namespace {

// Creates the store under a temporary name, migrated and marked, then links it into place
// (which refuses to replace a file), so `path` exists only as a whole store.
Status create_store(const std::string& path) {
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) return permission_denied("cannot create the folder " + parent.string() + ": " + ec.message());
  }
  const std::string tmp = path + ".new." + std::to_string(::getpid());
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) fs::remove(tmp + suffix, ec);
  Status made = [&]() -> Status {
    SB_ASSIGN_OR_RETURN(Db db, Db::open(tmp, true));
    SB_RETURN_IF_ERROR(migrate(db, 0));
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO meta(key, value) VALUES('format', ?)"));
    SB_RETURN_IF_ERROR(st.bind_blob(1, as_bytes(kFormat)).run());
    return Status::ok();
  }();
  if (made.is_ok() && ::link(tmp.c_str(), path.c_str()) != 0) {
    made = errno == EEXIST ? already_exists("a head-office store already exists at " + path)
                           : errno_status("cannot create " + path);
  }
  fs::remove(tmp, ec);
  fs::remove(tmp + "-journal", ec);
  SB_RETURN_IF_ERROR(made);
  // The link is what makes the store exist: it is on disk before init reports success.
  const std::string dir = parent.empty() ? "." : parent.string();
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    const int synced = ::fsync(dfd);
    const int e = errno;
    ::close(dfd);
    errno = e;
    if (synced != 0) return errno_status("cannot sync the folder " + dir);
  }
  return Status::ok();
}

Result<std::unique_ptr<Storage>> open_store(const std::string& path, const StorageOptions& options) {
  SB_ASSIGN_OR_RETURN(Db db, Db::open(path, false));
  // Nothing writes to the file before it is known to be a head-office store: a terminal store or
  // another program's database is refused untouched.
  SB_RETURN_IF_ERROR(damaged(path, db.exec(kBusyTimeout)));
  auto version = db.query_int("PRAGMA user_version");
  if (!version.is_ok()) return damaged(path, version.status());
  if (*version == 0) return data_loss(path + " is not a Shiftbook head-office store (it has no Shiftbook schema)");
  Bytes format;
  {
    auto st = db.prepare("SELECT value FROM meta WHERE key = 'format'");
    if (!st.is_ok()) return data_loss(path + " is not a Shiftbook head-office store (it has no format mark)");
    auto row = st->step();
    if (!row.is_ok()) return damaged(path, row.status());
    if (*row) format = st->blob(0);
  }
  const std::string mark(format.begin(), format.end());
  if (mark == kTerminalFormat) {
    return data_loss(path + " is a Shiftbook terminal store, not a head-office store; give the head-office store's path");
  }
  if (mark != kFormat) return data_loss(path + " is not a Shiftbook head-office store (it has no format mark)");
  if (*version > known_version()) {
    return failed_precondition(path + " has schema version " + std::to_string(*version) +
                               ", newer than this shiftbook-server knows (" + std::to_string(known_version()) +
                               "); install a newer shiftbook-server to open it");
  }
  SB_RETURN_IF_ERROR(damaged(path, configure_writer(db)));
  SB_RETURN_IF_ERROR(damaged(path, migrate(db, *version)));
  SB_ASSIGN_OR_RETURN(std::int64_t indexed,
                      db.query_int("SELECT value FROM meta WHERE key = 'hash_indexed_upto'"));
  return std::unique_ptr<Storage>(new SqliteStorage(path, std::move(db), options, u64(indexed)));
}

}  // namespace
}  // namespace sqlite

Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::string& path, bool create,
                                                     const StorageOptions& options) {
  std::error_code ec;
  if (create) {
    if (fs::exists(path, ec)) {
      return already_exists("a head-office store already exists at " + path + "; use it, or choose another path");
    }
    SB_RETURN_IF_ERROR(sqlite::create_store(path));
  } else if (!fs::exists(path, ec)) {
    return not_found("no head-office store at " + path + "; run 'shiftbook-server init' first");
  }
  return sqlite::open_store(path, options);
}

}  // namespace shiftbook::server
