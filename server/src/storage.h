// The server's storage interface: everything head office keeps, behind a narrow set of calls so
// that the SQL dialect stays inside a backend. SQLite (storage_sqlite_impl.h) is the embedded
// default; PostgreSQL (storage_postgres_impl.h, docs/POSTGRES.md) keeps the same contract. Domain
// rules (what a push may contain, who may see what) live in the service, not here: a backend
// stores and finds.
//
// Invariants every backend keeps:
// - Events are stored whole (their canonical bytes) and never changed. Each gets a position
//   (`pos`), strictly increasing in commit order: appends are serialized, so a reader that has
//   seen position p has seen every event committed before it.
// - One append is one transaction: the events, the head at its last event, and the receipt land
//   together or not at all.
// - A device's events are stored in seq order, gapless from 1.
// - A revoked device's later pushes are kept apart, in quarantine: never positioned or pulled.
// Thread-safe: the service calls it from many request threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shiftbook/audit.h"
#include "shiftbook/canonical.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/protocol.h"
#include "shiftbook/status.h"

namespace shiftbook::server {

struct DeviceRecord {
  PublicKey key{};
  std::string site;
  std::vector<std::string> units;
  std::int64_t enrolled_ms = 0;
  std::string flag;                 // empty, or why the device is flagged (an equivocation)
  std::int64_t flagged_ms = 0;
  std::uint64_t seq = 0;            // the last seq held of its chain (0: none)
  Hash head{};                      // the hash of that event
  std::int64_t last_sync_ms = 0;    // server time of its last sync (0: never)
  std::int64_t last_client_ms = 0;  // the terminal's own clock, as it said in that sync
  std::uint64_t last_cursor = 0;    // the position it pulls from next (as note_sync last said)
  std::int64_t revoked_ms = 0;      // server time head office revoked it (0: not revoked)
  std::string revoke_reason;
  std::uint64_t quarantined = 0;    // events of it held in quarantine
};

struct CodeRecord {
  Hash secret_hash{};               // BLAKE2b-256 of the code's 8-byte secret; never the secret
  std::string site;
  std::vector<std::string> units;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  std::int64_t used_ms = 0;         // 0 while unused
  PublicKey used_by{};
};

// A head-office API token (Service::create_token): the credential of the read-only report
// endpoints. Only the hash of its secret is kept; the secret is shown once, when it is made.
struct TokenRecord {
  std::string id;                   // 8 lowercase hex digits, public: the token's text names it
  std::string name;                 // who or what uses it, as head office called it
  Hash secret_hash{};               // BLAKE2b-256 of the token's 32-byte secret; never the secret
  std::int64_t created_ms = 0;
  std::int64_t revoked_ms = 0;      // 0 while it is valid
  std::int64_t last_used_ms = 0;    // server time of the last request it was accepted for (0: never)
};

// A head-office account (docs/DASHBOARD.md): who may sign in to the dashboard. Only the Argon2id
// hash of its password is kept.
struct AccountRecord {
  std::string name;                 // login name: 1 to 64 of a-z 0-9 . _ -
  std::string password_hash;        // libsodium's Argon2id string; never the password
  std::int64_t created_ms = 0;
  std::int64_t disabled_ms = 0;     // 0 while it may sign in
  std::int64_t failures = 0;        // wrong passwords in a row, each counted before its check
  std::int64_t locked_until_ms = 0; // 0, or the server time a lockout ends
  std::int64_t last_login_ms = 0;   // 0: never
};

// A signed-in session of the dashboard: only the hash of the cookie's secret is kept.
struct SessionRecord {
  Hash id_hash{};                   // BLAKE2b-256 of the session's 32-byte secret
  std::string account;
  std::int64_t created_ms = 0;
  std::int64_t last_seen_ms = 0;
};

// How a sign-in attempt is counted (Storage::begin_login).
struct LoginLimits {
  std::int64_t max_failures = 5;          // wrong passwords in a row that lock the account
  std::int64_t lockout_ms = 15 * 60'000;  // for this long
};

// What the service needs to know about a stored event to check what refers to it.
struct EventInfo {
  PublicKey device{};
  std::uint64_t seq = 0;
  std::uint64_t hlc = 0;
  std::string kind;
  std::string unit;  // the production unit the event belongs to; empty for head-office events
  std::string site;  // the site it belongs to (of its unit, or of its site signer)
};

// What a device_revoke event does to the device it names (see Storage::append).
struct Revocation {
  PublicKey device{};
  std::string reason;
};

// One event to append, with what the service derived about it.
struct NewEvent {
  Event event;       // decoded, hash set
  Bytes raw;         // its canonical bytes
  std::string unit;  // as EventInfo
  std::string site;
  // For head-office reference events (ref_*): the key of the thing it defines ("U1"; for a quota
  // "U1/2026-11/P1"), so the backend can keep the current value of each. Empty otherwise.
  std::string ref_key;
  // For a device_revoke event: the device it revokes and why, so the backend marks it revoked.
  std::optional<Revocation> revokes{};
  // Where the body starts in `raw` while event.body is not built (a push's events are read with
  // decode_event_keep_body and most bodies checked on their bytes); 0 once event.body holds it.
  std::size_t body_at = 0;
};

// The chains a head-office decision was computed from: every terminal enrolled for `site`, and
// the seq its chain ended at when it was read (0: it held none).
struct ReadChains {
  std::string site;
  std::map<PublicKey, std::uint64_t> ends;
  bool operator==(const ReadChains&) const = default;
};

struct AppendBatch {
  PublicKey device{};
  std::uint64_t expected_seq = 0;   // the first event's seq; aborted if the device holds another
  std::vector<NewEvent> events;     // consecutive, non-empty
  SignedHead head;                  // at the last event
  Receipt receipt;                  // for the new head
  // When set, the batch is written only if the site's terminals and their chain ends are still
  // exactly these (checked in the append's transaction); aborted otherwise, with nothing written.
  std::optional<ReadChains> unchanged;
};

// A push of a revoked device, to keep in quarantine (see Storage::quarantine).
struct QuarantineBatch {
  PublicKey device{};
  std::vector<NewEvent> events;     // consecutive, non-empty (unit, site and ref_key unused)
  SignedHead head;                  // at the last event
  std::int64_t received_ms = 0;
};
// A pushed event whose (device, seq) is held with another hash: the first one stays.
struct QuarantineConflict {
  std::uint64_t seq = 0;
  Hash held{};
  Hash pushed{};
  bool in_events = false;           // held among the accepted events (else in quarantine)
};
struct QuarantineOutcome {
  std::vector<std::uint64_t> added;  // seqs newly quarantined, ascending
  std::vector<QuarantineConflict> conflicts;
};
struct QuarantinedEvent {
  PublicKey device{};
  std::uint64_t seq = 0;
  Hash hash{};
  std::string kind;
  std::int64_t received_ms = 0;
  SignedHead head;                  // the signed head of the push that brought it
};

// An accepted event of a chain, with the receipt given for the push that delivered it.
struct ChainEvent {
  Bytes raw;
  std::int64_t received_ms = 0;
  std::optional<Receipt> receipt;   // nullopt for pushes stored before schema version 2
};

struct PulledEvent {
  std::uint64_t pos = 0;
  Bytes raw;
};
struct PullBatch {
  std::vector<PulledEvent> events;  // in pos order
  std::vector<SignedHead> heads;    // one per device in `events`, at its last event in them
  // The pos to ask after next time. When `more` is false it may lie past the last event
  // returned: the events in between belong to devices that were not asked for.
  std::uint64_t cursor = 0;
  bool more = false;                // more visible events exist after `cursor`
};

class Storage {
 public:
  virtual ~Storage() = default;

  // ---- devices and enrollment
  virtual Result<std::optional<DeviceRecord>> device(const PublicKey& key) = 0;
  virtual Result<std::vector<DeviceRecord>> devices() = 0;
  virtual Status add_code(const CodeRecord& code) = 0;
  virtual Result<std::vector<CodeRecord>> codes() = 0;
  // In one transaction: finds the unused, unexpired code with this secret hash, marks it used by
  // `device`, and enrolls the device with the code's site and units. Checked in this order, and
  // nothing is written unless all pass: not_found for an unknown code; already_exists when the
  // device is enrolled already (also when it redeemed this very code: a retried enrollment);
  // failed_precondition for a used or an expired code (the message says which). A code expires
  // at expires_ms (now_ms >= expires_ms is expired).
  virtual Result<DeviceRecord> redeem_code(const Hash& secret_hash, const PublicKey& device, std::int64_t now_ms) = 0;
  // Flags an enrolled device (not_found otherwise). The first flag stays: a flagged device keeps
  // the reason and time it was first flagged for.
  virtual Status flag_device(const PublicKey& key, const std::string& reason, std::int64_t now_ms) = 0;
  // Records a device's sync: both clocks, and the position it pulls from next (not_found when it
  // is not enrolled). Bookkeeping, not evidence: a backend may make it durable lazily (with its
  // next durable write).
  virtual Status note_sync(const PublicKey& key, std::int64_t server_ms, std::int64_t client_ms,
                           std::uint64_t cursor) = 0;

  // ---- chains
  // Hashes of `device`'s events from..to (inclusive, both within what is held), in seq order.
  virtual Result<std::vector<Hash>> hashes(const PublicKey& device, std::uint64_t from, std::uint64_t to) = 0;
  virtual Result<std::optional<EventInfo>> event_info(const Hash& hash) = 0;
  // The canonical bytes of the event with this hash (as appended), if held. For the rules that
  // need an event's body, which EventInfo does not carry (what a correction must keep).
  virtual Result<std::optional<Bytes>> event_raw(const Hash& hash) = 0;
  // Appends a batch (see the invariants). aborted when the device's chain no longer ends at
  // expected_seq - 1 (a concurrent sync of the same device won); nothing is written then.
  // invalid_argument when the batch is not consecutive from expected_seq, names another device,
  // or its head or receipt is not at its last event (a caller's bug). Each event's received
  // time is the receipt's server_ms, and the receipt is kept with the push (chain_events). Each
  // event with a ref_key replaces the current value of (its kind, ref_key) with its body and
  // site. Each event that `revokes` a device marks it revoked at the receipt's server_ms with its
  // reason: not_found when that device is not enrolled, failed_precondition when it is revoked
  // already (the message says since when); nothing of the batch is written then. aborted, too,
  // when the batch's own device is revoked (a revocation committed first): a revoked device's
  // events go to quarantine, never here.
  virtual Status append(const AppendBatch& batch) = 0;
  // The latest receipt given to `device`, if any.
  virtual Result<std::optional<Receipt>> receipt(const PublicKey& device) = 0;

  // ---- pull
  // Events after `cursor` of the given devices, in pos order, whole pushes only (a batch ends
  // right after an event that carries a stored head), stopping before `max_bytes` of raw events
  // would be exceeded, except that the first push is always included whole.
  virtual Result<PullBatch> pull(const std::vector<PublicKey>& devices, std::uint64_t cursor, std::size_t max_bytes) = 0;
  // Devices enrolled with at least one of `units`.
  virtual Result<std::vector<PublicKey>> devices_in_units(const std::vector<std::string>& units) = 0;

  // ---- head-office reference data: the current value of each ref_* event's ref_key
  // Bodies of the current ref events of `kind` (all sites when `site` is empty), by ref_key order.
  // An item's site is the site of the event that last set it (for periods and products, which
  // every site's chain carries, that is whichever site was written last: ask with an empty site).
  virtual Result<std::vector<Json>> reference(const std::string& kind, const std::string& site) = 0;
  // The current body for (kind, ref_key), if any.
  virtual Result<std::optional<Json>> reference_item(const std::string& kind, const std::string& ref_key) = 0;
  // The last seq and hash of a chain (for the site signers that head office appends to); (0, all
  // zero) for a chain with no events.
  virtual Result<std::pair<std::uint64_t, Hash>> chain_end(const PublicKey& device) = 0;

  // ---- the field: quarantine, trusted-time brackets, how far behind
  // Keeps a revoked device's push, in one transaction: each event whose (device, seq) is held
  // neither among the accepted events nor in quarantine is stored in quarantine with the head
  // and received_ms; one held with the same hash is skipped (a retry); one held with another
  // hash is a conflict: the first stays, and the outcome names it. Quarantined events get no
  // position: they are never pulled and never counted. invalid_argument when the batch is empty,
  // not consecutive, of another device, or its head is not at its last event (a caller's bug).
  virtual Result<QuarantineOutcome> quarantine(const QuarantineBatch& batch) = 0;
  // What quarantine holds, of one device or (nullptr) of all, by device then seq.
  virtual Result<std::vector<QuarantinedEvent>> quarantined(const PublicKey* device) = 0;
  // Up to `limit` accepted events of `device` from seq `from` on, in seq order.
  virtual Result<std::vector<ChainEvent>> chain_events(const PublicKey& device, std::uint64_t from,
                                                       std::size_t limit) = 0;
  // The canonical bytes of `device`'s last event of `kind` at a seq <= at_most, if any.
  virtual Result<std::optional<Bytes>> last_event_of_kind(const PublicKey& device, const std::string& kind,
                                                          std::uint64_t at_most) = 0;
  // How many events of the given devices have a position after `cursor`.
  virtual Result<std::uint64_t> events_after(const std::vector<PublicKey>& devices, std::uint64_t cursor) = 0;
  // For a store restored to an earlier state than terminals were told of (a backup, a standby
  // promoted without the last commits; docs/DEPLOYMENT.md): the positions handed out from now on
  // start `gap` past the highest one held or skipped to before, so that none lands at or below a
  // pull cursor a terminal got from the lost history. Returns the position the next append's first
  // event gets. Kept in the store (SQLite: meta row positions_from; PostgreSQL: the counter).
  virtual Result<std::uint64_t> skip_positions(std::uint64_t gap) = 0;

  // ---- the audit (docs/AUDIT.md)
  // Every append whose last position is after `after_last_pos`, in position order, at most
  // `limit` of them: the device, its positions, the head it signed and the receipt given.
  virtual Result<std::vector<AuditPush>> pushes(std::uint64_t after_last_pos, std::size_t limit) = 0;
  // The accepted events at positions first_pos..last_pos, in order.
  virtual Result<std::vector<PulledEvent>> events_in(std::uint64_t first_pos, std::uint64_t last_pos) = 0;

  // ---- head-office API tokens
  // Keeps a new token as given (revoked_ms and last_used_ms 0). already_exists when a token
  // with its id is held (revoked ones too: an id is never given twice).
  virtual Status add_token(const TokenRecord& token) = 0;
  // Every token, revoked ones too, by created_ms then id.
  virtual Result<std::vector<TokenRecord>> tokens() = 0;
  // The token with this id, if held.
  virtual Result<std::optional<TokenRecord>> token_by_id(const std::string& id) = 0;
  // Marks a token revoked at now_ms, for good; returns it as now stored. not_found for an
  // unknown id; failed_precondition when it is revoked already (the message says since when),
  // and nothing changes then.
  virtual Result<TokenRecord> revoke_token(const std::string& id, std::int64_t now_ms) = 0;
  // Records that a request was accepted with the token (not_found for an unknown id).
  // Bookkeeping, not evidence: a backend may make it durable lazily, as note_sync.
  virtual Status note_token_use(const std::string& id, std::int64_t now_ms) = 0;

  // ---- head-office accounts (docs/DASHBOARD.md)
  // Keeps a new account as given (its counts and times 0 but created_ms). already_exists when an
  // account of that name is held (disabled ones too).
  virtual Status add_account(const AccountRecord& account) = 0;
  // Every account, by name.
  virtual Result<std::vector<AccountRecord>> accounts() = 0;
  // The account of this name, if held.
  virtual Result<std::optional<AccountRecord>> account(const std::string& name) = 0;
  // Replaces the password hash, clears the count of wrong passwords and any lockout; returns the
  // account as now stored. not_found for an unknown name.
  virtual Result<AccountRecord> set_account_password(const std::string& name, const std::string& password_hash) = 0;
  // Disables the account at now_ms, for good; returns it as now stored. not_found for an unknown
  // name; failed_precondition when it is disabled already (nothing changes then).
  virtual Result<AccountRecord> disable_account(const std::string& name, std::int64_t now_ms) = 0;
  // Counts one sign-in attempt before its password is checked, in one write: returns the account
  // as it was before (nullopt for an unknown name: nothing is written). An account locked at now_ms
  // is returned as it is, nothing counted. Otherwise failures goes up by one, and on reaching
  // limits.max_failures the account is locked until now_ms + limits.lockout_ms and failures is 0
  // again. Attempts in parallel are serialized: each sees the count the one before left.
  virtual Result<std::optional<AccountRecord>> begin_login(const std::string& name, std::int64_t now_ms,
                                                          const LoginLimits& limits) = 0;
  // The password of an attempt begin_login counted was right: failures 0, no lockout and
  // last_login_ms now_ms; but when the account is locked and `own_lockout` is false (wrong
  // passwords tried in parallel locked it meanwhile), nothing changes. `own_lockout`: this very
  // attempt was the one that locked it (every later one was refused, none counted), so its right
  // password ends that lockout. Returns the account as now stored; not_found for an unknown name.
  virtual Result<AccountRecord> login_succeeded(const std::string& name, std::int64_t now_ms, bool own_lockout) = 0;
  // set_account_password and disable_account also end every session of the account, in the
  // same transaction.

  // ---- dashboard sessions (docs/DASHBOARD.md, "Sessions")
  // Keeps a new session (its account must be held: not_found otherwise).
  virtual Status add_session(const SessionRecord& session) = 0;
  // The session with this hash, if held.
  virtual Result<std::optional<SessionRecord>> session(const Hash& id_hash) = 0;
  // Records a request of the session at now_ms (bookkeeping: a backend may make it durable lazily).
  virtual Status touch_session(const Hash& id_hash, std::int64_t now_ms) = 0;
  // Ends the session (nothing happens for one not held).
  virtual Status end_session(const Hash& id_hash) = 0;
};

// How a store is opened. Tuning knobs and test hooks; the defaults are what a server runs with.
struct StorageOptions {
  // SQLite: events whose hashes are looked up from memory before they are added to the on-disk
  // hash index in one sorted batch (tests make it small to exercise the move).
  std::size_t hash_batch_events = 1 << 18;
  // Tests only: called inside every append once its events are written at their positions, before
  // its commit (the commit-order test stalls an append here). From the appending thread.
  std::function<void()> before_commit;
};

// What `shiftbook-server restored` skips (Storage::skip_positions): more positions than a head
// office hands out in years (2^40; at 100,000 events a second, 127 days), and few enough that
// positions stay exact in JSON (below 2^53) after thousands of restores.
inline constexpr std::uint64_t kRestoreGap = std::uint64_t{1} << 40;

// Opens the store a URL names (docs/POSTGRES.md, "The store URL"): "sqlite:PATH" or
// "postgresql://..." ("postgres://..." too). invalid_argument for any other URL. create refuses
// an existing store (already_exists); open refuses a missing one (not_found), one with a newer
// schema (failed_precondition), and what is not a head-office store (data_loss).
Result<std::unique_ptr<Storage>> open_storage(const std::string& url, bool create, const StorageOptions& options = {});
// True for a URL that names a PostgreSQL database.
bool is_postgres_url(const std::string& url);

// The embedded default: one SQLite database file (created by init, migrated by open).
// create refuses an existing file (already_exists); open refuses a missing one (not_found), one
// with a newer schema (failed_precondition), and a file that is not a head-office store, such
// as a terminal's store or another program's database (data_loss).
Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::string& path, bool create,
                                                     const StorageOptions& options = {});
// A PostgreSQL database (docs/POSTGRES.md), by libpq's URL; init makes the tables, not the
// database. Refuses as open_sqlite_storage does.
Result<std::unique_ptr<Storage>> open_postgres_storage(const std::string& url, bool create,
                                                       const StorageOptions& options = {});

}  // namespace shiftbook::server
