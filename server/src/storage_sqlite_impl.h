// The inside of the SQLite backend of the server's storage (storage.h), shared by its files:
// storage_sqlite.cpp (creating and opening the file, the reader pool, the checkpointer),
// storage_chains.cpp (appends, lookups by hash, receipts, the pull), storage_registry.cpp
// (devices, enrollment codes, reference data), storage_field.cpp (revocation, quarantine, a
// chain's events with their receipts, how far behind) and storage_tokens.cpp (head-office API
// tokens). Private to the server library.
// One database file in WAL mode with synchronous=FULL, its schema in schema/server/. Invariants:
// every write goes through one writer connection under a mutex, so appends are serialized and
// positions follow commit order; reads take a connection of their own from a pool and, in WAL
// mode, never wait for the writer. Admin commands in another process may write the same file:
// busy_timeout makes the writers queue. What keeps appends fast: no index on random keys is
// written per append (hashes reach their index in large sorted batches, see event_info), and
// checkpoints run on a thread of their own. A pull walks one row per push (table heads) and reads
// only the events it returns.
#pragma once

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "shiftbook/platform/db.h"
#include "storage.h"
#include "storage_rows.h"

namespace shiftbook::server::sqlite {

inline constexpr const char* kBusyTimeout = "PRAGMA busy_timeout = 10000";

using rows::i64;
using rows::signature_column;
using rows::u64;
using rows::view;

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

  Result<Lease> acquire();

 private:
  void give_back(std::unique_ptr<Db> db);

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
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Called by the writer after each commit with the number of pages in the WAL. True when the
  // writer should now copy the rest itself (a passive checkpoint of its own).
  bool wal_grew(int pages);

 private:
  void run();

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
  SqliteStorage(const std::string& path, Db writer, const StorageOptions& options, std::uint64_t hash_indexed_upto);
  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  // ---- storage_registry.cpp
  Result<std::optional<DeviceRecord>> device(const PublicKey& key) override;
  Result<std::vector<DeviceRecord>> devices() override;
  Status add_code(const CodeRecord& code) override;
  Result<std::vector<CodeRecord>> codes() override;
  Result<DeviceRecord> redeem_code(const Hash& secret_hash, const PublicKey& device, std::int64_t now_ms) override;
  Status flag_device(const PublicKey& key, const std::string& reason, std::int64_t now_ms) override;
  Status note_sync(const PublicKey& key, std::int64_t server_ms, std::int64_t client_ms,
                   std::uint64_t cursor) override;
  Result<std::vector<PublicKey>> devices_in_units(const std::vector<std::string>& units) override;
  Result<std::vector<Json>> reference(const std::string& kind, const std::string& site) override;
  Result<std::optional<Json>> reference_item(const std::string& kind, const std::string& ref_key) override;

  // ---- storage_chains.cpp
  Result<std::vector<Hash>> hashes(const PublicKey& device, std::uint64_t from, std::uint64_t to) override;
  Result<std::optional<EventInfo>> event_info(const Hash& hash) override;
  Result<std::optional<Bytes>> event_raw(const Hash& hash) override;
  Status append(const AppendBatch& batch) override;
  Result<std::optional<Receipt>> receipt(const PublicKey& device) override;
  Result<PullBatch> pull(const std::vector<PublicKey>& devices, std::uint64_t cursor, std::size_t max_bytes) override;
  Result<std::pair<std::uint64_t, Hash>> chain_end(const PublicKey& device) override;

  // ---- storage_field.cpp
  Result<QuarantineOutcome> quarantine(const QuarantineBatch& batch) override;
  Result<std::vector<QuarantinedEvent>> quarantined(const PublicKey* device) override;
  Result<std::vector<ChainEvent>> chain_events(const PublicKey& device, std::uint64_t from,
                                               std::size_t limit) override;
  Result<std::optional<Bytes>> last_event_of_kind(const PublicKey& device, const std::string& kind,
                                                  std::uint64_t at_most) override;
  Result<std::uint64_t> events_after(const std::vector<PublicKey>& devices, std::uint64_t cursor) override;
  Result<std::uint64_t> skip_positions(std::uint64_t gap) override;

  // ---- storage_audit.cpp
  Result<std::vector<AuditPush>> pushes(std::uint64_t after_last_pos, std::size_t limit) override;
  Result<std::vector<PulledEvent>> events_in(std::uint64_t first_pos, std::uint64_t last_pos) override;

  // ---- storage_tokens.cpp
  Status add_token(const TokenRecord& token) override;
  Result<std::vector<TokenRecord>> tokens() override;
  Result<std::optional<TokenRecord>> token_by_id(const std::string& id) override;
  Result<TokenRecord> revoke_token(const std::string& id, std::int64_t now_ms) override;
  Status note_token_use(const std::string& id, std::int64_t now_ms) override;

  Status add_account(const AccountRecord& account) override;
  Result<std::vector<AccountRecord>> accounts() override;
  Result<std::optional<AccountRecord>> account(const std::string& name) override;
  Result<AccountRecord> set_account_password(const std::string& name, const std::string& password_hash) override;
  Result<AccountRecord> disable_account(const std::string& name, std::int64_t now_ms) override;
  Result<std::optional<AccountRecord>> begin_login(const std::string& name, std::int64_t now_ms,
                                                   const LoginLimits& limits) override;
  Result<AccountRecord> login_succeeded(const std::string& name, std::int64_t now_ms, bool own_lockout) override;
  Status add_session(const SessionRecord& session) override;
  Result<std::optional<SessionRecord>> session(const Hash& id_hash) override;
  Status touch_session(const Hash& id_hash, std::int64_t now_ms) override;
  Status end_session(const Hash& id_hash) override;

 private:
  // ---- storage_field.cpp
  // Within an append: marks the device a device_revoke names revoked at `server_ms`.
  Status mark_revoked(const Revocation& r, std::int64_t server_ms);
  // Within an append: aborted when `device` is an enrolled device that is revoked.
  Status not_revoked(const PublicKey& device);

  // ---- storage_registry.cpp
  // Devices with their units and chain ends: one device when `key` is set, else all.
  static Result<std::vector<DeviceRecord>> read_devices(Db& db, const PublicKey* key);
  static Result<Json> decode_body(const Stmt& st, const std::string& kind);
  // not_found when `key` is not an enrolled device, else ok.
  static Status enrolled_or_not_found(Db& db, const PublicKey& key);
  // Within an append: sets the current value of a reference event's (kind, ref_key).
  Status put_reference(const NewEvent& n);

  // ---- storage_chains.cpp
  Status write_batch(const AppendBatch& batch);
  // Finds the event with this hash and hands its row to `read`: `select` reads one row of
  // events e (joined as it needs) WHERE e.pos = ?, with e.hash as its first column. False when
  // the event is not held.
  Result<bool> read_by_hash(const Hash& hash, const char* select, const std::function<void(const Stmt&)>& read);
  Status catch_up_recent(Db& db);
  Status index_recent_hashes();
  // Runs `write` on the writer (the caller holds write_mu_) as bookkeeping, not evidence: its
  // commit skips its own fsync (synchronous=NORMAL for it), and the next durable commit, which
  // syncs the whole WAL, makes it durable too.
  Status write_lazily(const std::function<Status()>& write);

  // ---- storage_sqlite.cpp
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int pages);

  const StorageOptions options_;
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

}  // namespace shiftbook::server::sqlite
