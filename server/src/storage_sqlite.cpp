// The SQLite backend of the server's storage (storage.h): one database file in WAL mode with
// synchronous=FULL, its schema in schema/server/. Invariants: every write goes through one writer
// connection under a mutex, so appends are serialized and positions follow commit order; reads
// take a connection of their own from a pool and, in WAL mode, never wait for the writer. Admin
// commands in another process may write the same file: busy_timeout makes the writers queue.
// What keeps appends fast: no index on random keys is written per append (hashes reach their
// index in large sorted batches, see event_info), and checkpoints run on a thread of their own.
// A pull walks one row per push (table heads) and reads only the events it returns.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "shiftbook/platform/db.h"
#include "shiftbook/platform/files.h"
#include "shiftbook/schema_server.h"
#include "storage.h"

namespace shiftbook::server {
namespace {
namespace fs = std::filesystem;

constexpr const char* kFormat = "shiftbook-server";
constexpr const char* kTerminalFormat = "shiftbook-terminal";
constexpr const char* kBusyTimeout = "PRAGMA busy_timeout = 10000";
// Idle read connections kept open; more are opened when more threads read at once.
constexpr std::size_t kMaxIdleReaders = 16;

int known_version() { return schema::k_server_migrations.back().version; }

template <std::size_t N>
ByteView view(const std::array<std::uint8_t, N>& a) {
  return {a.data(), N};
}
std::int64_t i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }
std::uint64_t u64(std::int64_t v) { return static_cast<std::uint64_t>(v); }
// events.hash_key: the hash's first 8 bytes, big-endian, as SQLite's signed integer.
std::int64_t hash_key(const Hash& h) { return i64(get_u64(h.data())); }

Result<Signature> signature_column(const Stmt& st, int col, const std::string& what) {
  Bytes b = st.blob(col);
  Signature sig{};
  if (b.size() != sig.size()) return data_loss("the stored signature of " + what + " is damaged");
  std::copy(b.begin(), b.end(), sig.begin());
  return sig;
}

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
  for (const auto& m : schema::k_server_migrations) {
    if (m.version <= current) continue;
    SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
    SB_RETURN_IF_ERROR(db.exec(m.sql).with_context("migration " + std::string(m.name) + ": "));
    SB_RETURN_IF_ERROR(db.exec("PRAGMA user_version = " + std::to_string(m.version)));
    SB_RETURN_IF_ERROR(tx.commit());
  }
  return Status::ok();
}

// Read connections, one per reading thread at a time. A lease returns its connection on death.
class ReaderPool {
 public:
  explicit ReaderPool(std::string path) : path_(std::move(path)) {}

  class Lease {
   public:
    Lease(ReaderPool* pool, std::unique_ptr<Db> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (db_) pool_->give_back(std::move(db_));
    }
    Db& db() { return *db_; }

   private:
    ReaderPool* pool_;
    std::unique_ptr<Db> db_;
  };

  Result<Lease> acquire() {
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

 private:
  void give_back(std::unique_ptr<Db> db) {
    // A connection still inside a transaction (it cannot be, but a bug must not leak a snapshot
    // that pins the WAL) is closed rather than reused.
    if (sqlite3_get_autocommit(db->handle()) == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdleReaders) idle_.push_back(std::move(db));
  }

  std::string path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Db>> idle_;
};

// Copies the WAL back into the database file on a thread of its own, so that appends do not
// wait for it. Once the WAL holds kCheckpointPages, the thread copies it in passive rounds
// (never blocking a writer or a reader) while appends go on; when a round leaves at most
// kFinishPages uncopied, the writer copies those itself after its commit, which lets its next
// append start the WAL over (SQLite restarts a WAL only once all of it is copied, and appends
// arriving without pause would otherwise keep the thread a little behind forever). Past
// kWalHardLimitPages (the thread failed, or readers held it back) the writer restarts the WAL
// itself, waiting for readers.
class Checkpointer {
 public:
  static constexpr int kCheckpointPages = 8192;     // 32 MiB of 4 KiB pages
  static constexpr int kFinishPages = 2048;
  static constexpr int kWalHardLimitPages = 65536;  // 256 MiB

  explicit Checkpointer(std::string path) : path_(std::move(path)), thread_([this] { run(); }) {}
  ~Checkpointer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Called by the writer after each commit with the number of pages in the WAL. True when the
  // writer should now copy the rest itself (a passive checkpoint of its own).
  bool wal_grew(int pages) {
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

 private:
  void run() {
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

  std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool running_ = false;
  bool stop_ = false;
  int seen_pages_ = 0;    // the WAL's length at the last commit
  int copied_pages_ = 0;  // how much of it the last round copied
  std::thread thread_;    // last: starts once the members above exist
};

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(const std::string& path, Db writer, const SqliteOptions& options, std::uint64_t hash_indexed_upto)
      : options_(options),
        writer_(std::move(writer)),
        readers_(path),
        checkpointer_(std::make_unique<Checkpointer>(path)),
        indexed_upto_(hash_indexed_upto),
        loaded_upto_(hash_indexed_upto) {
    // Replaces SQLite's automatic checkpoint, which would run inside the append that crosses it.
    sqlite3_wal_hook(writer_.handle(), &SqliteStorage::on_wal_commit, this);
  }
  ~SqliteStorage() override {
    checkpointer_.reset();
    sqlite3_wal_hook(writer_.handle(), nullptr, nullptr);
  }
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  Result<std::optional<DeviceRecord>> device(const PublicKey& key) override {
    SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
    Db& db = lease.db();
    SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
    SB_ASSIGN_OR_RETURN(auto rows, read_devices(db, &key));
    if (rows.empty()) return std::optional<DeviceRecord>();
    return std::optional<DeviceRecord>(std::move(rows.front()));
  }

  Result<std::vector<DeviceRecord>> devices() override {
    SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
    Db& db = lease.db();
    SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
    return read_devices(db, nullptr);
  }

  Status add_code(const CodeRecord& code) override {
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

  Result<std::vector<CodeRecord>> codes() override {
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

  Result<DeviceRecord> redeem_code(const Hash& secret_hash, const PublicKey& device, std::int64_t now_ms) override {
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

  Status flag_device(const PublicKey& key, const std::string& reason, std::int64_t now_ms) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE devices SET flag = ?, flagged_ms = ? "
                                                 "WHERE key = ? AND flag = ''"));
    SB_RETURN_IF_ERROR(st.bind(1, reason).bind(2, now_ms).bind_blob(3, view(key)).run());
    if (writer_.changes() == 0) return enrolled_or_not_found(writer_, key);
    return Status::ok();
  }

  Status note_sync(const PublicKey& key, std::int64_t server_ms, std::int64_t client_ms) override {
    std::lock_guard<std::mutex> lock(write_mu_);
    // Bookkeeping, not evidence: this commit skips its own fsync; the next durable commit (the
    // WAL is synced whole) makes it durable too. Saves one fsync per sync round trip.
    SB_RETURN_IF_ERROR(writer_.exec("PRAGMA synchronous = NORMAL"));
    Status s = [&]() -> Status {
      SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE devices SET last_sync_ms = ?, last_client_ms = ? "
                                                   "WHERE key = ?"));
      SB_RETURN_IF_ERROR(st.bind(1, server_ms).bind(2, client_ms).bind_blob(3, view(key)).run());
      if (writer_.changes() == 0) return not_found("device " + short_device(key) + " is not enrolled");
      return Status::ok();
    }();
    Status restored = writer_.exec("PRAGMA synchronous = FULL");
    return s.is_ok() ? restored : s;
  }

  Result<std::vector<Hash>> hashes(const PublicKey& device, std::uint64_t from, std::uint64_t to) override {
    if (from < 1 || from > to) {
      return invalid_argument("hashes of device " + short_device(device) + ": the range " + std::to_string(from) +
                              ".." + std::to_string(to) + " is empty or starts before seq 1");
    }
    SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
    SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT e.hash FROM chains c JOIN events e ON e.chain = c.id "
                                                    "WHERE c.device = ? AND e.seq BETWEEN ? AND ? ORDER BY e.seq"));
    st.bind_blob(1, view(device)).bind(2, i64(from)).bind(3, i64(to));
    std::vector<Hash> out;
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      out.push_back(st.blob32(0));
    }
    if (out.size() != to - from + 1) {
      return not_found("device " + short_device(device) + ": events " + std::to_string(from) + ".." +
                       std::to_string(to) + " are not all held (" + std::to_string(out.size()) + " are)");
    }
    return out;
  }

  Result<std::optional<EventInfo>> event_info(const Hash& hash) override;

  Status append(const AppendBatch& batch) override;

  Result<std::optional<Receipt>> receipt(const PublicKey& device) override {
    SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
    SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT seq, hash, server_ms, signature FROM receipts "
                                                    "WHERE device = ?"));
    st.bind_blob(1, view(device));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return std::optional<Receipt>();
    Receipt r;
    r.device = device;
    r.seq = u64(st.int64(0));
    r.hash = st.blob32(1);
    r.server_ms = st.int64(2);
    SB_ASSIGN_OR_RETURN(r.signature, signature_column(st, 3, "the receipt of device " + short_device(device)));
    return std::optional<Receipt>(r);
  }

  Result<PullBatch> pull(const std::vector<PublicKey>& devices, std::uint64_t cursor, std::size_t max_bytes) override;

  Result<std::vector<PublicKey>> devices_in_units(const std::vector<std::string>& units) override {
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

  Result<std::vector<Json>> reference(const std::string& kind, const std::string& site) override {
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

  Result<std::optional<Json>> reference_item(const std::string& kind, const std::string& ref_key) override {
    SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
    SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT ref_key, body FROM reference WHERE kind = ? AND ref_key = ?"));
    st.bind(1, kind).bind(2, ref_key);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return std::optional<Json>();
    SB_ASSIGN_OR_RETURN(Json body, decode_body(st, kind));
    return std::optional<Json>(std::move(body));
  }

  Result<std::pair<std::uint64_t, Hash>> chain_end(const PublicKey& device) override {
    SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
    SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT seq, hash FROM chains WHERE device = ?"));
    st.bind_blob(1, view(device));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return std::pair<std::uint64_t, Hash>(0, Hash{});
    return std::pair<std::uint64_t, Hash>(u64(st.int64(0)), st.blob32(1));
  }

 private:
  // Devices with their units and chain ends: one device when `key` is set, else all.
  static Result<std::vector<DeviceRecord>> read_devices(Db& db, const PublicKey* key) {
    // Two texts rather than "?1 IS NULL OR": a lookup of one device must stay a key lookup.
    const std::string which = key ? "WHERE d.key = ?" : "ORDER BY d.enrolled_ms, d.key";
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT d.key, d.site, d.enrolled_ms, d.flag, d.flagged_ms, d.last_sync_ms, "
                                            "d.last_client_ms, c.seq, c.hash FROM devices d "
                                            "LEFT JOIN chains c ON c.device = d.key " + which));
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

  static Result<Json> decode_body(const Stmt& st, const std::string& kind) {
    auto body = decode_value(st.blob(1));
    if (!body.is_ok()) return data_loss("the stored " + kind + " " + st.text(0) + " is damaged: " + body.status().message());
    return std::move(body).value();
  }

  // not_found when `key` is not an enrolled device, else ok.
  static Status enrolled_or_not_found(Db& db, const PublicKey& key) {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT 1 FROM devices WHERE key = ?"));
    st.bind_blob(1, view(key));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return not_found("device " + short_device(key) + " is not enrolled");
    return Status::ok();
  }

  Status check_batch(const AppendBatch& batch) const;
  Status write_batch(const AppendBatch& batch);
  Status put_reference(const NewEvent& n);
  Status catch_up_recent(Db& db);
  Status index_recent_hashes();

  static int on_wal_commit(void* self, sqlite3* db, const char* /*name*/, int pages) {
    if (pages >= Checkpointer::kWalHardLimitPages) {
      // Waits (busy_timeout) for readers to move on, then starts the WAL over.
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
    } else if (static_cast<SqliteStorage*>(self)->checkpointer_->wal_grew(pages)) {
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
    return SQLITE_OK;
  }

  const SqliteOptions options_;
  std::mutex write_mu_;
  Db writer_;
  ReaderPool readers_;
  std::unique_ptr<Checkpointer> checkpointer_;

  // The hashes of the events after hash_indexed_upto, which hash_index does not hold yet (see
  // event_info). recent_mu_ is held for a whole lookup, and after write_mu_ when both are.
  std::mutex recent_mu_;
  std::uint64_t indexed_upto_;  // meta hash_indexed_upto, as this process last wrote or read it
  std::uint64_t loaded_upto_;   // recent_ holds the events in (indexed_upto_, loaded_upto_]
  std::unordered_multimap<std::int64_t, std::uint64_t> recent_;  // hash_key -> pos
};

Status SqliteStorage::check_batch(const AppendBatch& b) const {
  const std::string who = "append for device " + short_device(b.device) + ": ";
  if (b.events.empty()) return invalid_argument(who + "the batch has no events");
  if (b.expected_seq < 1) return invalid_argument(who + "expected_seq must be at least 1");
  for (std::size_t i = 0; i < b.events.size(); ++i) {
    const Event& e = b.events[i].event;
    if (e.device != b.device) return invalid_argument(who + "it holds an event of device " + short_device(e.device));
    if (e.seq != b.expected_seq + i) {
      return invalid_argument(who + event_name(e.device, e.seq) + " is not consecutive from seq " +
                              std::to_string(b.expected_seq));
    }
  }
  const Event& last = b.events.back().event;
  if (b.head.device != b.device || b.head.seq != last.seq || b.head.hash != last.hash) {
    return invalid_argument(who + "the head is not at the batch's last event");
  }
  if (b.receipt.device != b.device || b.receipt.seq != last.seq || b.receipt.hash != last.hash) {
    return invalid_argument(who + "the receipt is not for the batch's last event");
  }
  return Status::ok();
}

Status SqliteStorage::append(const AppendBatch& batch) {
  SB_RETURN_IF_ERROR(check_batch(batch));
  std::lock_guard<std::mutex> lock(write_mu_);
  {
    SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
    SB_RETURN_IF_ERROR(write_batch(batch));
    SB_RETURN_IF_ERROR(tx.commit());
  }
  // The append stands whatever happens here: a failed move is simply tried again after the next.
  (void)index_recent_hashes();
  return Status::ok();
}

// Lookups by hash: events up to hash_indexed_upto through hash_index, later ones through
// recent_, which first catches up with what was appended since (by this process or another).
// A lookup holds recent_mu_ from before its snapshot to its end, and index_recent_hashes drops
// moved entries from recent_ only under that mutex and after its commit: every snapshot a
// lookup reads finds each event in hash_index or in recent_.
Result<std::optional<EventInfo>> SqliteStorage::event_info(const Hash& hash) {
  std::lock_guard<std::mutex> lock(recent_mu_);
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  Db& db = lease.db();
  SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
  SB_RETURN_IF_ERROR(catch_up_recent(db));
  const std::int64_t key = hash_key(hash);
  std::vector<std::uint64_t> candidates;
  const auto [first, last] = recent_.equal_range(key);
  for (auto it = first; it != last; ++it) candidates.push_back(it->second);
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT pos FROM hash_index WHERE hash_key = ?"));
    st.bind(1, key);
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      candidates.push_back(u64(st.int64(0)));
    }
  }
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT c.device, e.seq, e.hlc, e.kind, e.unit, e.site, e.hash "
                                          "FROM events e JOIN chains c ON c.id = e.chain WHERE e.pos = ?"));
  for (std::uint64_t pos : candidates) {
    st.bind(1, i64(pos));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row && st.blob32(6) == hash) {
      EventInfo info;
      info.device = st.blob32(0);
      info.seq = u64(st.int64(1));
      info.hlc = u64(st.int64(2));
      info.kind = st.text(3);
      info.unit = st.text(4);
      info.site = st.text(5);
      return std::optional<EventInfo>(std::move(info));
    }
    st.reset();
  }
  return std::optional<EventInfo>();
}

Status SqliteStorage::catch_up_recent(Db& db) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT pos, hash_key FROM events WHERE pos > ? ORDER BY pos"));
  st.bind(1, i64(loaded_upto_));
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    loaded_upto_ = u64(st.int64(0));
    recent_.emplace(st.int64(1), loaded_upto_);
  }
  return Status::ok();
}

// Moves the hashes of events after hash_indexed_upto into hash_index, in key order, once there
// are options_.hash_batch_events of them: each page of the index is written once per move.
Status SqliteStorage::index_recent_hashes() {
  SB_ASSIGN_OR_RETURN(std::int64_t newest, writer_.query_int("SELECT max(pos) FROM events"));
  {
    std::lock_guard<std::mutex> lock(recent_mu_);
    if (u64(newest) < indexed_upto_ + options_.hash_batch_events) return Status::ok();
  }
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
  // Another process (an admin command) may have moved some already.
  SB_ASSIGN_OR_RETURN(std::int64_t from, writer_.query_int("SELECT value FROM meta WHERE key = 'hash_indexed_upto'"));
  SB_ASSIGN_OR_RETURN(std::int64_t upto, writer_.query_int("SELECT max(pos) FROM events"));
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO hash_index(hash_key, pos) SELECT hash_key, pos FROM events "
                                                 "WHERE pos > ? AND pos <= ? ORDER BY hash_key, pos"));
    SB_RETURN_IF_ERROR(st.bind(1, from).bind(2, upto).run());
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO meta(key, value) VALUES('hash_indexed_upto', ?) "
                                                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    SB_RETURN_IF_ERROR(st.bind(1, upto).run());
  }
  SB_RETURN_IF_ERROR(tx.commit());
  std::lock_guard<std::mutex> lock(recent_mu_);
  indexed_upto_ = u64(upto);
  loaded_upto_ = std::max(loaded_upto_, indexed_upto_);
  std::erase_if(recent_, [&](const auto& entry) { return entry.second <= indexed_upto_; });
  return Status::ok();
}

Status SqliteStorage::write_batch(const AppendBatch& b) {
  const PublicKey& device = b.device;
  std::int64_t chain = 0;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("SELECT id, seq FROM chains WHERE device = ?"));
    st.bind_blob(1, view(device));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    const std::uint64_t held = row ? u64(st.int64(1)) : 0;
    if (held + 1 != b.expected_seq) {
      return aborted("device " + short_device(device) + " now holds events up to seq " + std::to_string(held) +
                     ", not " + std::to_string(b.expected_seq - 1) + " (another sync of it was stored first); sync again");
    }
    if (row) chain = st.int64(0);
  }
  if (chain == 0) {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO chains(device, seq, hash, hlc) VALUES(?, 0, ?, 0) "
                                                 "RETURNING id"));
    st.bind_blob(1, view(device)).bind_blob(2, view(Hash{}));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return internal_error("storing the first events of device " + short_device(device) + ": no chain id");
    chain = st.int64(0);
  }
  // Positions are given explicitly, after the last one: an append's events are consecutive.
  SB_ASSIGN_OR_RETURN(std::int64_t last_pos, writer_.query_int("SELECT max(pos) FROM events"));
  const std::int64_t first_pos = last_pos + 1;
  std::int64_t bytes = 0;
  SB_ASSIGN_OR_RETURN(Stmt insert, writer_.prepare("INSERT INTO events(pos, chain, seq, hash, hash_key, hlc, kind, unit, "
                                                   "site, raw, received_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  for (const NewEvent& n : b.events) {
    const Event& e = n.event;
    Status s = insert.bind(1, ++last_pos)
                   .bind(2, chain)
                   .bind(3, i64(e.seq))
                   .bind_blob(4, view(e.hash))
                   .bind(5, hash_key(e.hash))
                   .bind(6, i64(e.hlc))
                   .bind(7, e.kind)
                   .bind(8, n.unit)
                   .bind(9, n.site)
                   .bind_blob(10, n.raw)
                   .bind(11, b.receipt.server_ms)
                   .run();
    if (!s.is_ok()) return s.with_context("storing " + event_name(device, e.seq) + ": ");
    bytes += static_cast<std::int64_t>(n.raw.size());
    if (!n.ref_key.empty()) SB_RETURN_IF_ERROR(put_reference(n));
  }
  const Event& last = b.events.back().event;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE chains SET seq = ?, hash = ?, hlc = ? WHERE id = ?"));
    SB_RETURN_IF_ERROR(st.bind(1, i64(last.seq)).bind_blob(2, view(last.hash)).bind(3, i64(last.hlc))
                           .bind(4, chain).run());
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO heads(last_pos, first_pos, chain, seq, hash, signature, "
                                                 "bytes) VALUES(?, ?, ?, ?, ?, ?, ?)"));
    SB_RETURN_IF_ERROR(st.bind(1, last_pos).bind(2, first_pos).bind(3, chain).bind(4, i64(b.head.seq))
                           .bind_blob(5, view(b.head.hash)).bind_blob(6, view(b.head.signature)).bind(7, bytes).run());
  }
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO receipts(device, seq, hash, server_ms, signature) "
                                               "VALUES(?, ?, ?, ?, ?) ON CONFLICT(device) DO UPDATE SET "
                                               "seq = excluded.seq, hash = excluded.hash, "
                                               "server_ms = excluded.server_ms, signature = excluded.signature"));
  return st.bind_blob(1, view(device)).bind(2, i64(b.receipt.seq)).bind_blob(3, view(b.receipt.hash))
      .bind(4, b.receipt.server_ms).bind_blob(5, view(b.receipt.signature)).run();
}

Status SqliteStorage::put_reference(const NewEvent& n) {
  SB_ASSIGN_OR_RETURN(Bytes body, encode_value(n.event.body));
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO reference(kind, ref_key, site, body) VALUES(?, ?, ?, ?) "
                                               "ON CONFLICT(kind, ref_key) DO UPDATE SET site = excluded.site, "
                                               "body = excluded.body"));
  return st.bind(1, n.event.kind).bind(2, n.ref_key).bind(3, n.site).bind_blob(4, body).run();
}

// Walks the heads table (one row per append) from `cursor` in position order, keeps the pushes
// of the wanted chains while they fit, then reads exactly their events by position. A call
// never rescans from the start, and reads the events of other devices not at all.
Result<PullBatch> SqliteStorage::pull(const std::vector<PublicKey>& devices, std::uint64_t cursor,
                                      std::size_t max_bytes) {
  PullBatch out;
  out.cursor = cursor;
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  Db& db = lease.db();
  SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
  std::map<std::int64_t, PublicKey> wanted;  // chain id -> device
  for (const auto& key : devices) {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT id FROM chains WHERE device = ?"));
    st.bind_blob(1, view(key));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) wanted.emplace(st.int64(0), key);
  }
  if (wanted.empty()) return out;

  struct Push {
    std::int64_t first_pos, last_pos;
  };
  std::vector<Push> pushes;
  std::vector<std::int64_t> order;                 // chains in order of first appearance
  std::map<std::int64_t, SignedHead> last_head;    // chain -> its head at its last push so far
  std::size_t bytes = 0;
  std::uint64_t scanned = cursor;                  // every push up to here was looked at
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT last_pos, first_pos, chain, seq, hash, signature, bytes "
                                            "FROM heads WHERE last_pos > ? ORDER BY last_pos"));
    st.bind(1, i64(cursor));
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      const auto it = wanted.find(st.int64(2));
      if (it != wanted.end()) {
        const auto size = static_cast<std::size_t>(st.int64(6));
        if (!pushes.empty() && bytes + size > max_bytes) {
          out.more = true;
          break;
        }
        bytes += size;
        pushes.push_back(Push{st.int64(1), st.int64(0)});
        SignedHead h;
        h.device = it->second;
        h.seq = u64(st.int64(3));
        h.hash = st.blob32(4);
        SB_ASSIGN_OR_RETURN(h.signature, signature_column(st, 5, "the head at " + event_name(h.device, h.seq)));
        if (last_head.find(it->first) == last_head.end()) order.push_back(it->first);
        last_head[it->first] = h;
      }
      scanned = u64(st.int64(0));
    }
  }
  // Past the last push looked at when nothing more is wanted: the pushes in between are of
  // devices this caller does not see, and need not be walked again.
  out.cursor = out.more ? u64(pushes.back().last_pos) : scanned;

  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT pos, raw FROM events WHERE pos BETWEEN ? AND ? ORDER BY pos"));
  for (const Push& p : pushes) {
    st.bind(1, p.first_pos).bind(2, p.last_pos);
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      out.events.push_back(PulledEvent{u64(st.int64(0)), st.blob(1)});
    }
    st.reset();
  }
  const auto expected = std::accumulate(pushes.begin(), pushes.end(), std::size_t{0}, [](std::size_t n, const Push& p) {
    return n + static_cast<std::size_t>(p.last_pos - p.first_pos + 1);
  });
  if (out.events.size() != expected) {
    return data_loss("the head-office store is missing events of a stored push (positions after " +
                     std::to_string(cursor) + "); restore it from a backup");
  }
  for (std::int64_t chain : order) out.heads.push_back(last_head[chain]);
  return out;
}

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

Result<std::unique_ptr<Storage>> open_store(const std::string& path, const SqliteOptions& options) {
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

Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::string& path, bool create,
                                                     const SqliteOptions& options) {
  std::error_code ec;
  if (create) {
    if (fs::exists(path, ec)) {
      return already_exists("a head-office store already exists at " + path + "; use it, or choose another path");
    }
    SB_RETURN_IF_ERROR(create_store(path));
  } else if (!fs::exists(path, ec)) {
    return not_found("no head-office store at " + path + "; run 'shiftbook-server init' first");
  }
  return open_store(path, options);
}

}  // namespace shiftbook::server
