// Private to the store: its state and the internal steps shared by the store's source files
// (store.cpp opens and appends, reference.cpp, auth.cpp, record.cpp, projection.cpp, views.cpp,
// verify.cpp). One Impl per connection, used from one thread at a time.
#pragma once

#include <optional>
#include <string>

#include "shiftbook/platform/db.h"
#include "shiftbook/platform/files.h"
#include "shiftbook/client/store.h"
#include "shiftbook/event.h"

namespace shiftbook::client {

struct Store::Impl {
  std::string dir;
  mutable Db db;  // const readers still prepare statements
  DeviceKey key;
  const Clock* clock;
  StoreOptions options;

  Impl(std::string d, Db database, DeviceKey k, const Clock& c, StoreOptions o)
      : dir(std::move(d)), db(std::move(database)), key(std::move(k)), clock(&c), options(std::move(o)) {}

  // Appends one event of this device with the next seq and HLC stamp, signs the new chain head,
  // and applies it to the derived tables. Call inside a Transaction; the caller commits.
  Result<Recorded> append_local(const std::string& author, std::string_view kind, Json body);

  // Updates the derived tables (shifts, entries, versions) for one stored event (projection.cpp).
  // Events must arrive in each device's seq order; the event's references must already be known.
  Status apply_event(const Event& e);

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


}  // namespace shiftbook::client
