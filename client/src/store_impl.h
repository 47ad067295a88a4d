// Private to the store: its state and the internal steps shared by the store's source files
// (store.cpp opens and appends, reference.cpp, auth.cpp, record.cpp, projection.cpp, views.cpp,
// verify.cpp, sync_state.cpp). One Impl per connection, used from one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "shiftbook/platform/db.h"
#include "shiftbook/platform/files.h"
#include "shiftbook/client/store.h"
#include "shiftbook/event.h"
#include "shiftbook/hash_key.h"

namespace shiftbook::client {

// What an enrolled terminal trusts for reference data: its site's head-office signer, and the
// units it may record for.
struct SiteScope {
  PublicKey signer{};
  std::string site;
  std::vector<std::string> units;  // sorted
  bool revoked = false;            // head office revoked this terminal (sync_revoke.cpp)
};

// Trusted time (kinds.h, shift_open_receipt): the receipt a shift_open event names, if any, must
// be signed by `server` (the pinned key; null on a terminal that is not enrolled, which holds no
// receipt) for the event's own device, at a seq below the event's, naming that device's event at
// that seq as `db` holds it (seq 0: the zero hash). data_loss naming the event otherwise
// (sync_state.cpp).
Status check_shift_open_receipt(Db& db, const Event& e, const PublicKey* server);

// What the projection looked up or wrote while it takes many events in one transaction (a sync
// answer, a replay), so that each output does not ask SQLite twice more for the same facts: a
// shift's day by its id, and per device its latest shift_open projected (the trusted after time of
// every later version of that device, docs/MERGE.md section 3, until its next shift_open). Both
// never change once stored, and the memo dies with the transaction (MemoScope). The per-device
// fact rests on each device's events reaching the projection in seq order, with none of the
// device's shifts stored beyond them: true of a pulled answer's new events and of a replay.
struct ProjectionMemo {
  struct LatestShift {
    std::uint64_t seq = 0;                  // 0: the device has no shift_open at or before what was asked
    std::optional<std::int64_t> receipt_ms;  // the receipt time its shift_open names, if any
  };
  std::unordered_map<Hash, std::int64_t, HashKey> shift_day;
  std::unordered_map<PublicKey, LatestShift, HashKey> latest_shift;
};

struct Store::Impl {
  std::string dir;
  mutable Db db;  // const readers still prepare statements
  DeviceKey key;
  const Clock* clock;
  StoreOptions options;
  // Set by MemoScope while one transaction projects many events; null otherwise.
  ProjectionMemo* memo = nullptr;

  Impl(std::string d, Db database, DeviceKey k, const Clock& c, StoreOptions o)
      : dir(std::move(d)), db(std::move(database)), key(std::move(k)), clock(&c), options(std::move(o)) {}

  // Appends one event of this device with the next seq and HLC stamp, signs the new chain head,
  // and applies it to the derived tables. Call inside a Transaction; the caller commits.
  Result<Recorded> append_local(const std::string& author, std::string_view kind, Json body);

  // Updates the derived tables (shifts, entries, versions) for one stored event (projection.cpp),
  // `raw` its canonical encoding, `arrival` its number in the events table (the key of the entry
  // and version rows it writes). Events must arrive in each device's seq order. An event naming
  // what the terminal does not hold is failed_precondition and has written nothing. A correction
  // or void of a version that is no longer shown (a fork, docs/MERGE.md) is kept and the entry
  // merged again from all its versions.
  Status apply_event(const Event& e, ByteView raw, std::int64_t arrival);

  // Folds one stored event into what the terminal shows (projection.cpp): the site signer's
  // events into the reference tables and leaders (`scope` set on an enrolled terminal), this
  // device's and other terminals' events through apply_event; the signer's resolutions into
  // the merge (projection.cpp). Another terminal's event that names something this terminal
  // does not hold changes nothing and gives false (it stays in the log); any other failure is
  // returned.
  Result<bool> project_event(const Event& e, ByteView raw, std::int64_t arrival, const SiteScope* scope);
  // Store::accept_sync's one transaction, at whatever synchronous level the connection has
  // (sync_accept.cpp).
  Result<SyncAccepted> accept_answer(const PushBatch& pushed, const Message& answer);
  // Empties the derived tables (and, with `scope`, the reference tables and leaders) and projects
  // every event again in the order the terminal stored them. Call inside a transaction.
  Status replay_events(const SiteScope* scope);

  // Applies one event of the site signer (ref_*) to the reference tables and leaders
  // (reference.cpp). The body was checked with validate_head_office_body when it was pulled.
  Status apply_reference_event(const Event& e, const SiteScope& scope);
  // Empties the reference tables and the leaders (reference.cpp).
  Status clear_reference();

  // The enrollment and sync position (sync_state.cpp); nullopt when the terminal is not enrolled.
  Result<std::optional<SyncState>> load_sync_state() const;
  // The same, failed_precondition (saying how to enroll) when the terminal is not enrolled.
  Result<SyncState> enrolled_state() const;
  // The enrolled terminal's signer and units (sync_state.cpp); nullopt when not enrolled.
  Result<std::optional<SiteScope>> site_scope() const;
  // failed_precondition naming `what` when the terminal is enrolled (sync_state.cpp): reference
  // data and leaders then come from head office only.
  Status refuse_if_enrolled(std::string_view what) const;
  // The enrollment and last receipt for `status` (sync_state.cpp): {"enrollment": ..., "sync":
  // ...}, both null on a terminal that is not enrolled; and the own events not yet acknowledged.
  Result<Json> sync_status(std::int64_t own_events) const;

  // failed_precondition saying when and why head office revoked this terminal, if it did
  // (sync_revoke.cpp): such a terminal records nothing more.
  Status refuse_if_revoked() const;

  // Replays every event into the derived tables inside a rolled-back transaction and compares
  // the result with what they hold (verify.cpp). data_loss names the first entry that differs.
  Status check_derived();

  // The logged-in leader, refreshing the idle timer (auth.cpp); failed_precondition if none.
  Result<Session> require_session(bool touch);

  // Checks a leader's or worker's PIN against its Argon2id hash, counting failures under `subject`
  // ("leader:ID", "worker:ID") and locking it out for kLockoutMinutes after kMaxPinFailures. The
  // failure count is committed even though the caller's work is not (auth.cpp).
  Status check_pin(const std::string& subject, const std::string& pin_hash, const std::string& pin);

  // Resolves "12" (this device's seq: 1 to 7 digits, is_entry_number) or a hash prefix of 8..64
  // hex digits to an event hash.
  Result<Hash> resolve_event(const std::string& ref) const;
  // The entry (hash of its first version) that the event `version` belongs to; not_found if the
  // event is not a version of an entry (a shift event, or unknown).
  Result<Hash> entry_of(const Hash& version) const;
  // The open shift named by `ref`, or this terminal's only open shift when `ref` is empty.
  Result<Hash> resolve_open_shift(const std::string& ref) const;

  // The event's decoded form, by hash.
  Result<Event> load_event(const Hash& hash) const;
};

// Lends `impl` a memo for the projection for as long as it lives (one transaction's work).
class MemoScope {
 public:
  explicit MemoScope(Store::Impl& impl) : impl_(impl) { impl_.memo = &memo_; }
  ~MemoScope() { impl_.memo = nullptr; }
  MemoScope(const MemoScope&) = delete;
  MemoScope& operator=(const MemoScope&) = delete;

 private:
  Store::Impl& impl_;
  ProjectionMemo memo_;
};

}  // namespace shiftbook::client
