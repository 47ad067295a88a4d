// The terminal's store: a directory (mode 0700) holding the device key (device.key, mode 0600)
// and an SQLite database (terminal.db, WAL, synchronous=FULL) whose events table is the truth and
// whose other tables are derived from it or are local settings. Every recording call is one
// transaction that appends one signed event and updates the derived tables, and is durable when
// it returns; on any error nothing is written. A Store is one connection: use it from one thread
// at a time. Several processes may open the same store; writers queue on SQLite's lock.
//
// Entries are named by references: 1 to 7 decimal digits are this terminal's event seq ("12");
// 8 to 64 hex digits are a prefix of an event hash, also when they are all decimal digits
// ("00091726"). Either may name any version of an entry.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/canonical.h"
#include "shiftbook/clock.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/status.h"

namespace shiftbook::client {

// The schema version this program writes (the highest migration in schema/client/).
int known_schema_version();

// Whether a reference is an event number of this terminal (1 to 7 decimal digits) rather than a
// hash prefix (8 to 64 hex digits). The one rule for every place that reads a reference.
bool is_entry_number(std::string_view ref);

inline constexpr int kMaxPinFailures = 5;               // wrong PINs in a row before a lockout
inline constexpr std::int64_t kLockoutMinutes = 15;     // how long a lockout lasts
inline constexpr int kDefaultIdleMinutes = 30;          // a login ends after this long unused
inline constexpr int kMaxIdleMinutes = 12 * 60;

struct StoreOptions {
  std::string vfs;                      // SQLite VFS name; empty for the default
  bool relaxed_durability = false;      // synchronous=NORMAL; only for the test that proves the
                                        // power-loss test detects weakened settings
  PinCost pin_cost = PinCost::kInteractive;  // cost of PIN hashes that add_leader makes
};

struct Session {
  std::string leader;
  std::string leader_name;
  std::int64_t started_ms = 0;
  std::int64_t last_ms = 0;
  int idle_minutes = kDefaultIdleMinutes;
};

// What a recording call appended.
struct Recorded {
  std::uint64_t seq = 0;
  Hash hash{};
  std::string kind;
};

struct ListFilter {
  std::optional<Hash> shift;
  std::optional<std::string> worker;
  std::optional<std::string> kind;
  bool include_void = false;
};

struct VerifyReport {
  std::uint64_t events = 0;
  std::uint64_t devices = 0;
  std::uint64_t heads_checked = 0;
  bool log_ok = false;  // every event, chain and signed head checked out; a problem, if any, is
                        // then in the derived tables (what list and summary show)
  Status problem;       // ok, or data_loss naming the first bad event or entry
};

class Store {
 public:
  // Creates a new store in `dir` (made if missing, and restricted to its owner: mode 0700): a fresh
  // device key and an empty database. already_exists if `dir` holds a store already.
  static Result<std::unique_ptr<Store>> init(const std::string& dir, const Clock& clock, StoreOptions options = {});
  // Opens an existing store, applying any migrations it lacks. not_found if there is none;
  // failed_precondition if its schema is newer than this program; data_loss if it is damaged.
  static Result<std::unique_ptr<Store>> open(const std::string& dir, const Clock& clock, StoreOptions options = {});

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const PublicKey& device() const;
  const std::string& dir() const;

  // Reference data (sites, units, periods, products, workers with PIN hashes, quotas), as in
  // docs/REFERENCE.md. Checked whole, then replaces what the store held in one transaction.
  // Needs a logged-in leader once the terminal has one (failed_precondition otherwise): the
  // roster holds the workers' PIN hashes. A terminal without leaders imports freely, for setup.
  Status import_reference(const Json& doc);
  Result<Json> reference() const;

  // Shift leaders. The first leader of a terminal may be added by anyone; after that only while
  // a leader is logged in. PINs are 4 to 64 characters.
  Status add_leader(const std::string& id, const std::string& name, const std::string& pin);
  Result<Json> leaders() const;
  // Removes a leader (someone who left, or whose PIN must be replaced: remove, then add again).
  // Needs another leader logged in; the events the removed leader recorded stay as they are.
  Status remove_leader(const std::string& id);
  // Checks the PIN (Argon2id) and makes `id` the logged-in leader, replacing any other.
  // unauthenticated on a wrong PIN; permission_denied while locked out (after kMaxPinFailures).
  Result<Session> login(const std::string& id, const std::string& pin, int idle_minutes = kDefaultIdleMinutes);
  Status logout();
  // The logged-in leader, if the login has not gone idle. failed_precondition otherwise.
  Result<Session> session();

  // Recording. Each needs a logged-in leader, who becomes the event's author, and refreshes the
  // login's idle timer. `shift` empty means the terminal's only open shift.
  Result<Recorded> open_shift(const std::string& unit, std::optional<std::int64_t> day,
                              std::optional<std::string> name);
  Result<Recorded> close_shift(const std::string& shift_ref);
  Result<Recorded> log_hours(const std::string& shift_ref, const std::string& worker, std::int64_t start,
                             std::int64_t end, bool special);
  Result<Recorded> log_output(const std::string& shift_ref, const std::string& product, std::int64_t quantity);
  Result<Recorded> log_bonus(const std::string& shift_ref, const std::string& worker, const std::string& type,
                             std::optional<std::string> note);
  // A worker confirms the current version of an hours entry with their own PIN.
  Result<Recorded> confirm(const std::string& entry_ref, const std::string& worker, const std::string& pin);
  // Supersedes the current version of an entry. `changes` holds the fields to change (same names
  // as the entry's body, docs/EVENTS.md); the rest are carried over. The entry's shift, and an
  // output's product and quota_version, cannot change (invalid_argument): void and record again.
  Result<Recorded> correct(const std::string& entry_ref, const Json& changes, const std::string& reason);
  Result<Recorded> void_entry(const std::string& entry_ref, const std::string& reason);

  // The shift a reference names (this terminal's number, or a hash prefix), open or closed.
  Result<Hash> find_shift(const std::string& shift_ref) const;

  // Reading (shapes in docs/READING.md).
  Result<Json> list_entries(const ListFilter& filter) const;
  Result<Json> show_entry(const std::string& entry_ref) const;
  Result<Json> list_shifts(bool open_only) const;
  Result<Json> summary_shift(const std::string& shift_ref) const;
  Result<Json> summary_period(const std::string& unit, const std::string& period) const;
  Result<Json> status();

  // Re-checks every stored event: its hash, its chain link, the columns against its bytes, and
  // every device's signed head; then replays the events and checks that the derived tables (what
  // list and summary read) hold exactly what they give. Stops at the first problem and names it.
  // Writes nothing, but holds the write lock while it replays.
  Result<VerifyReport> verify() const;
  // The log as JSON lines: one {"type":"event",...} per event in (device, seq) order, then one
  // {"type":"head",...} per device.
  Status export_log(std::ostream& out) const;

  // Throws away the derived tables (shifts, entries, versions) and rebuilds them by replaying
  // every event in (device, seq) order, in one transaction: the derived state is a function of
  // the events alone. Used after a migration that changes the projection, and by tests.
  Status rebuild_derived();

  // The canonical bytes of every event of `device`, in seq order (tests and tools).
  Result<std::vector<Bytes>> raw_events(const PublicKey& device) const;

  struct Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Where the store lives when --store is not given: $SHIFTBOOK_STORE, else
// $XDG_DATA_HOME/shiftbook, else $HOME/.local/share/shiftbook.
std::string default_store_dir();

}  // namespace shiftbook::client
