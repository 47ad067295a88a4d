// The inside of the PostgreSQL backend of the server's storage (storage.h, docs/POSTGRES.md),
// shared by its files: storage_postgres.cpp (opening and migrating, devices, codes, reference
// data), storage_postgres_chains.cpp (appends, lookups, the pull, the audit, quarantine) and
// storage_postgres_accounts.cpp (API tokens, accounts, sessions). Private to the server library.
// Invariants: every write is one transaction on a connection of its own from the pool; an append
// takes its positions from the one row of `positions` (UPDATE ... RETURNING), whose row lock, held
// to its commit, serializes appends across threads and processes, so position order is commit
// order; every check an append makes comes after that lock. Reads of several statements run in one
// REPEATABLE READ snapshot. Thread-safe: nothing is shared between calls but the pool.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pg.h"
#include "storage.h"
#include "storage_rows.h"

namespace shiftbook::server::postgres {

class PgStorage final : public Storage {
 public:
  PgStorage(std::string url, StorageOptions options) : options_(std::move(options)), pool_(std::move(url)) {}

  // ---- storage_postgres.cpp
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

  // ---- storage_postgres_chains.cpp
  Result<std::vector<Hash>> hashes(const PublicKey& device, std::uint64_t from, std::uint64_t to) override;
  Result<std::optional<EventInfo>> event_info(const Hash& hash) override;
  Result<std::optional<Bytes>> event_raw(const Hash& hash) override;
  Status append(const AppendBatch& batch) override;
  Result<std::optional<Receipt>> receipt(const PublicKey& device) override;
  Result<PullBatch> pull(const std::vector<PublicKey>& devices, std::uint64_t cursor, std::size_t max_bytes) override;
  Result<std::pair<std::uint64_t, Hash>> chain_end(const PublicKey& device) override;
  Result<QuarantineOutcome> quarantine(const QuarantineBatch& batch) override;
  Result<std::vector<QuarantinedEvent>> quarantined(const PublicKey* device) override;
  Result<std::vector<ChainEvent>> chain_events(const PublicKey& device, std::uint64_t from,
                                               std::size_t limit) override;
  Result<std::optional<Bytes>> last_event_of_kind(const PublicKey& device, const std::string& kind,
                                                  std::uint64_t at_most) override;
  Result<std::uint64_t> events_after(const std::vector<PublicKey>& devices, std::uint64_t cursor) override;
  Result<std::uint64_t> skip_positions(std::uint64_t gap) override;
  Result<std::vector<AuditPush>> pushes(std::uint64_t after_last_pos, std::size_t limit) override;
  Result<std::vector<PulledEvent>> events_in(std::uint64_t first_pos, std::uint64_t last_pos) override;

  // ---- storage_postgres_accounts.cpp
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
  // ---- storage_postgres.cpp
  static Result<std::vector<DeviceRecord>> read_devices(pg::Conn& conn, const PublicKey* key);

  // ---- storage_postgres_chains.cpp
  // Within an append, after its positions: the checks storage.h names, in SQLite's order.
  static Status check_append_state(pg::Conn& conn, const AppendBatch& batch, std::int64_t& chain);
  static Status mark_revoked(pg::Conn& conn, const Revocation& r, std::int64_t server_ms);

  const StorageOptions options_;
  pg::Pool pool_;
};

// Within a transaction on `conn`: waits for the advisory lock under which a store is created or
// migrated (held to the transaction's end), so that processes opening one database at once do it once.
Status take_migration_lock(pg::Conn& conn);
// Within that transaction: applies every migration newer than `version`; from 0 (no tables yet) also
// marks the store as a head-office store. `where` names the database in messages.
Status migrate_tables(pg::Conn& conn, std::int64_t version, const std::string& where);

// One UPDATE (or DELETE) as bookkeeping, not evidence: committed with synchronous_commit off, so
// the next durable commit of the database makes it durable (storage.h allows it). The rows the
// statement returned (`RETURNING 1`), so that a caller tells a missing row.
Result<int> write_lazily(pg::Conn& conn, std::string_view sql, const pg::Params& params, std::string_view what);

}  // namespace shiftbook::server::postgres
