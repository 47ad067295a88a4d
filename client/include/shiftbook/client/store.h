// The terminal's store: a directory (mode 0700) holding the device key (device.key, mode 0600)
// and an SQLite database (terminal.db, WAL, synchronous=FULL) whose events table is the truth and
// whose other tables are derived from it or are local settings. Every recording call is one
// transaction that appends one signed event and updates the derived tables, and is durable when
// it returns; on any error nothing is written. A Store is one connection: use it from one thread
// at a time. Several processes may open the same store; writers queue on SQLite's lock.
//
// Entries are named by references: 1 to 7 decimal digits are this terminal's event seq ("12");
// 8 to 64 hex digits are a prefix of an event hash, also when they are all decimal digits
// ("00091726"). Either may name any version of an entry. The read calls give each entry, shift
// and version the reference to type for it ("ref"): a number only for this terminal's events.
//
// Sync (sync_state.cpp) is the store's side only: it builds what a push carries and accepts what
// an answer brings, each in one transaction; the network is the driver's (client/src/sync_client.h).
// An enrolled terminal takes its reference data and shift leaders from its site's head-office
// signer alone, and holds other terminals' events beside its own; the derived tables are every
// event replayed in the order the terminal stored them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/bundle.h"
#include "shiftbook/canonical.h"
#include "shiftbook/clock.h"
#include "shiftbook/crypto.h"
#include "shiftbook/envelope.h"
#include "shiftbook/event.h"
#include "shiftbook/protocol.h"
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
// How long the terminal keeps what opening a bundle's reply needs: this many days after the
// export, and only for this many of the latest exports (docs/PROTOCOL.md, "Bundles").
inline constexpr std::int64_t kBundleKeepDays = 30;
inline constexpr std::int64_t kBundleKeepCount = 16;

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
  std::optional<PublicKey> device;  // only the entries this device (terminal) first recorded
  bool include_void = false;
};

// What enrollment pinned: the server, the terminal's site and units, and the site's signer.
struct Enrollment {
  std::string server_url;
  PublicKey server_key{};
  std::string site;
  std::vector<std::string> units;  // sorted
  Delegation signer;               // verified with server_key before it was stored
  std::int64_t enrolled_ms = 0;    // this terminal's clock
  std::int64_t server_ms = 0;      // the server's clock, as it answered the enrollment
};

// Head office's revocation of this terminal, as the store recorded it (Store::accept_revocation).
struct Revocation {
  std::int64_t revoked_ms = 0;  // head office's clock when it revoked the terminal
  std::string reason;
};
// "head office revoked this terminal on 2026-11-16 08:00 UTC (reason: stolen)", for messages.
std::string revocation_text(const Revocation& r);

// Where sync stands, for the driver and for status.
struct SyncState {
  Enrollment enrollment;
  std::uint64_t cursor = 0;         // server position of the last event pulled
  std::optional<Receipt> receipt;   // the last receipt, verified; none before the first sync
  std::int64_t last_sync_ms = 0;    // this terminal's clock at the last completed round trip (0: never)
  std::uint64_t own_seq = 0;        // this device's last event (0: none)
  std::optional<Revocation> revoked;  // set once head office's notice revoking this terminal was accepted
  // Own events the server has not acknowledged: own_seq minus the receipt's seq.
  std::uint64_t unacknowledged() const { return own_seq - std::min(own_seq, receipt ? receipt->seq : 0); }
};

// The events of one push: this device's, consecutive, with a head freshly signed at the last.
struct PushBatch {
  std::vector<Bytes> events;        // canonical encodings, seq first_seq .. head.seq
  std::uint64_t first_seq = 0;      // 0 when there is nothing to push
  std::optional<SignedHead> head;   // present exactly when events is not empty
  std::size_t bytes = 0;            // sum of the encodings' sizes
};

// What accepting one answer did.
struct SyncAccepted {
  std::uint64_t pushed = 0;     // own events the receipt newly acknowledges
  std::uint64_t pulled = 0;     // events stored (already-held duplicates are not counted)
  std::uint64_t unshown = 0;    // pulled events kept in the log but not shown: they name entries or
                                // shifts this terminal does not hold, or supersede a version that is
                                // no longer current (forks; the merge rules will show them)
  Receipt receipt;              // as verified and stored
  std::uint64_t server_seq = 0;  // the seq of the answer's own receipt: what the server holds of
                                 // this terminal's chain now (below `receipt.seq` when it lost
                                 // events it had acknowledged: restored from a backup)
  std::uint64_t cursor = 0;
  bool more = false;            // the server has more to pull
};

// What accepting a revocation notice did (Store::accept_revocation).
struct RevocationReport {
  Revocation revocation;             // as recorded: the first notice's, when the terminal was revoked before
  bool already = false;              // the terminal had accepted a notice before
  std::uint64_t removed_events = 0;  // other terminals' and head office's events removed
  std::uint64_t removed_devices = 0; // of how many devices (terminals, and the site signer)
  std::uint64_t own_events = 0;      // this terminal's events: all kept
  std::uint64_t unacknowledged = 0;  // of those, the ones no receipt acknowledges
};

// What one sync attempt came to, for the health record `status` shows (Store::record_sync_attempt).
struct SyncAttempt {
  std::string outcome;   // "ok", or what failed: the names of sync_client.h's SyncOutcome
  std::string code;      // with "refused": the server's code ("scope", "unknown_device", ...)
  std::string message;   // the failure's message, for people; empty on success
};

// One request of an exported bundle, as the terminal keeps it to open and take the reply.
struct BundlePart {
  EnvelopeContext context;         // the request's envelope key and header
  std::uint64_t first_seq = 0;     // the first own event it pushed; 0 when it pushed none
  std::optional<SignedHead> head;  // the signed head of its push; none for a pull-only request
};

// An exported bundle (Store::remember_bundle, Store::bundle).
struct BundleRecord {
  BundleId id{};
  std::int64_t exported_ms = 0;  // this terminal's clock
  std::uint64_t events = 0;      // own events pushed, all parts together
  std::uint64_t bytes = 0;       // the size of the file written
  std::vector<BundlePart> parts;
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
  // An enrolled terminal refuses (failed_precondition): its reference data comes by sync.
  Status import_reference(const Json& doc);
  Result<Json> reference() const;

  // Shift leaders. The first leader of a terminal may be added by anyone; after that only while
  // a leader is logged in. PINs are 4 to 64 characters. An enrolled terminal refuses add_leader
  // and remove_leader (failed_precondition): its leaders come from head office by sync.
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
  // On an enrolled terminal that holds a receipt, a shift_open names it (kinds.h, "receipt"):
  // the server's signed time before the shift, whatever this terminal's clock says.
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
  // The terminal (device) whose key starts with `prefix`, 8 to 64 hex digits (the short id that
  // list and status show is the first 8), among this one and those whose events the store holds.
  // invalid_argument for a malformed or ambiguous prefix; not_found when none matches.
  Result<PublicKey> find_device(const std::string& prefix) const;

  // Reading (shapes in docs/READING.md).
  Result<Json> list_entries(const ListFilter& filter) const;
  Result<Json> show_entry(const std::string& entry_ref) const;
  Result<Json> list_shifts(bool open_only) const;
  Result<Json> summary_shift(const std::string& shift_ref) const;
  Result<Json> summary_period(const std::string& unit, const std::string& period) const;
  Result<Json> status();
  // Forks of the entries the terminal holds (docs/MERGE.md), open ones only unless
  // `include_resolved`; and the anomalies (docs/ANOMALIES.md) found over what it shows: overlaps,
  // more than 24 hours, output against a superseded quota. Clock anomalies are head office's.
  Result<Json> conflicts(bool include_resolved) const;
  Result<Json> anomalies() const;

  // Re-checks every stored event: its hash, its chain link, the columns against its bytes, and
  // every device's signed head; then replays the events and checks that the derived tables (what
  // list and summary read) hold exactly what they give. Stops at the first problem and names it.
  // Writes nothing, but holds the write lock while it replays.
  Result<VerifyReport> verify() const;
  // The log as JSON lines: one {"type":"event",...} per event in (device, seq) order, then one
  // {"type":"head",...} per device.
  Status export_log(std::ostream& out) const;

  // Throws away the derived tables (shifts, entries, versions; on an enrolled terminal also the
  // reference data and shift leaders) and rebuilds them by replaying every event in the order the
  // terminal stored it, in one transaction: the derived state is a function of the events alone.
  // Used after a migration that changes the projection, and by tests.
  Status rebuild_derived();

  // ---- Sync (sync_state.cpp). Nothing here touches the network.

  // The enrollment and sync position; failed_precondition when the terminal is not enrolled.
  Result<SyncState> sync_state() const;
  // Enrolls the terminal with the server whose key is `server_key` (the driver has checked it
  // against the enrollment code's fingerprint). Checks that `signer` is the server key's
  // delegation for `site` (unauthenticated otherwise), then in one transaction: stores the
  // enrollment, drops the reference data and shift leaders held so far (from now on both come
  // from head office by sync; the events recorded stay) and ends any login. already_exists when
  // the terminal is enrolled already; invalid_argument for a malformed url, site or units.
  Status enroll(const std::string& server_url, const PublicKey& server_key, const std::string& site,
                const std::vector<std::string>& units, std::int64_t server_ms, const Delegation& signer);
  // Seals a request for `server` with this terminal's device key (the key never leaves the store).
  Result<SealedRequest> seal_request_for(const PublicKey& server, ByteView plaintext) const;
  // The next push: this device's events after `after_seq` (default: the last receipt's seq), as
  // many whole events as fit in `max_bytes` (at least one), with a head signed at the last.
  // Empty when there is nothing after. data_loss when `after_seq` is beyond this device's log.
  Result<PushBatch> next_push(std::optional<std::uint64_t> after_seq = std::nullopt,
                              std::size_t max_bytes = kDefaultPushBytes) const;
  // Accepts the server's "sync" answer to a request that pushed `pushed` (decoded, not checked).
  // In one transaction, or not at all: verifies the receipt with the pinned key (for this device;
  // at pushed's head or beyond it, or anywhere when nothing was pushed; either way at most this
  // device's last event, with the hash this terminal holds there: a server may hold more than
  // this push, from a later bundle or an HTTP sync), verifies every pulled event (it decodes, is
  // not this device's, links to what the terminal holds of its device, is covered by the answer's
  // signed head for that device, ref_* and other head-office kinds only from the site signer,
  // bodies valid) and every head (one per device in the batch, none for another), then stores
  // the events, heads, receipt and cursor (neither moves backwards: an older receipt or a lower
  // cursor, from a bundle's reply taken late, leaves the stored one), and shows the events:
  // terminal events in list and summary, the signer's reference data in the reference tables and
  // shift leaders. Refused answers store nothing and are data_loss or (for a signature that does
  // not verify) unauthenticated, naming the event and device. Already-held events that match are
  // skipped; one that differs is data_loss.
  Result<SyncAccepted> accept_sync(const PushBatch& pushed, const Message& answer);

  // Head office revoked this terminal. `notice` must verify with the pinned server key
  // (unauthenticated otherwise) and name this terminal (invalid_argument otherwise); when either
  // fails nothing changes. Then, in one transaction: removes every other device's events and
  // signed heads and all they showed (other terminals' shifts and entries, the reference data and
  // shift leaders), ends any login and resets PIN failures, and records the notice in the
  // enrollment. This terminal's own events stay, each shown as far as it stands on its own: later
  // syncs still push them, and head office keeps them in quarantine. A terminal revoked before
  // keeps the first notice's time and reason (report.already). failed_precondition when the
  // terminal is not enrolled. Recording afterwards is refused, saying the terminal was revoked.
  Result<RevocationReport> accept_revocation(const RevocationNotice& notice);
  // Records what one sync attempt came to (the sync_health row that status shows), in its own
  // transaction, at this terminal's clock: the time of the last attempt and of the last success,
  // and while attempts fail, since when, how many, and the last failure's outcome and message.
  Status record_sync_attempt(const SyncAttempt& attempt);

  // ---- Bundles (bundle_store.cpp): sync by files. The store keeps the keys; the file is the
  // driver's (client/src/bundle.h).

  // Keeps what opening the reply to an exported bundle needs, in one transaction that also drops
  // the keys of bundles that expired (exported more than kBundleKeepDays ago by this terminal's
  // clock, or followed by kBundleKeepCount later exports). already_exists for an id kept before;
  // invalid_argument for a bundle without parts.
  Status remember_bundle(const BundleRecord& bundle);
  // Forgets a bundle whose file could not be written.
  Status forget_bundle(const BundleId& id);
  // The exported bundle `id`, with the keys of its parts. failed_precondition, saying to export a
  // new bundle, when its keys expired ("too old": when it was exported, and which limit it
  // passed) and when this terminal never exported it. Reads only.
  Result<BundleRecord> bundle(const BundleId& id) const;

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
