// The terminal's sync driver: enrollment and the sync round trips of docs/PROTOCOL.md, carried by
// a Transport (HTTP through cpp-httplib here; a test or a later bundle file can plug in another).
// The driver seals requests with the store's device key, opens answers only with the pinned
// server key, and hands every answer to the store, which takes it whole or not at all: a failure
// at any point leaves the store as the last completed round trip left it, and the next sync
// carries on from there. Memory holds one request and one answer at a time. One thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/bytes.h"
#include "shiftbook/client/store.h"
#include "shiftbook/clock.h"
#include "shiftbook/protocol.h"
#include "shiftbook/status.h"

namespace shiftbook::client {

// One HTTP exchange as the driver sees it.
struct HttpReply {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
};

class Transport {
 public:
  virtual ~Transport() = default;
  // unavailable when the server cannot be reached (refused, reset, timed out); the message
  // names the URL. Any HTTP status is a reply, not an error.
  virtual Result<HttpReply> get(const std::string& path) = 0;
  virtual Result<HttpReply> post(const std::string& path, ByteView body) = 0;
  // The server's address as the user gave it, for messages and the enrollment.
  virtual const std::string& url() const = 0;
};

struct HttpOptions {
  int connect_timeout_seconds = 10;
  int io_timeout_seconds = 120;  // a large batch takes the server a while to check and commit
};
// An HTTP transport for "http://host[:port][/prefix]" (or https://). TCP_NODELAY is on and the
// connection is kept alive between round trips; answers larger than an envelope may be are cut
// off. invalid_argument for an address of another form.
Result<std::unique_ptr<Transport>> http_transport(const std::string& url, HttpOptions options = {});

struct EnrollReport {
  std::string server_url;
  std::string fingerprint;  // of the server key now pinned
  std::string site;
  std::vector<std::string> units;
  bool unreachable = false;  // set when enrollment failed because the server could not be reached
};
// Enrolls the store with the server behind `transport`, with an enrollment code from head office:
// checks the code (invalid_argument for a mistyped one), that the store is not enrolled yet
// (already_exists), fetches the server's key and checks it against the code's fingerprint
// (unauthenticated, before anything is sent), redeems the code, and stores the answer.
Status enroll(Store& store, Transport& transport, const std::string& code_text, EnrollReport& report);

// What a sync attempt came to: set by sync() on every return, kept by name in the store's health
// record (Store::record_sync_attempt), and read by watch to tell a failure worth retrying from one
// that needs a person.
enum class SyncOutcome {
  kOk,
  kUnreachable,  // the network: refused, reset, timed out; or the server is stopping (HTTP 502/503/504)
  kServerBusy,   // the server failed or asks to wait: HTTP 500, "internal", rate limited
  kStoreBusy,    // another program held this terminal's store
  kStalled,      // a round trip moved nothing while work remained, or the bound on round trips was reached
  kStopped,      // SyncOptions::stop asked to stop between round trips
  kRefused,      // the server refused this terminal's request or events (SyncReport::server_code says how)
  kRevoked,      // head office revoked this terminal (SyncReport::revoked)
  kRejected,     // an answer failed this terminal's checks (pinned key, receipt, pulled events, notice)
  kRolledBack,   // the server holds more of this terminal's log than the terminal: its store was rolled back
  kFailed,       // anything else on this side: not enrolled, disk full, a damaged store
};
// "ok", "unreachable", "server_busy", "store_busy", "stalled", "stopped", "refused", "revoked",
// "rejected", "rolled_back", "failed".
std::string_view sync_outcome_name(SyncOutcome outcome);
// Whether trying again later may succeed with nobody doing anything: unreachable, server busy,
// store busy, stalled.
bool is_transient(SyncOutcome outcome);

// The sync request of one round trip (docs/PROTOCOL.md, "sync (request)"): `push`'s events, moved
// out of it (its head stays, for Store::accept_sync), under its signed head; the cursor to pull
// after and how many bytes to pull. HTTP sends it to /v1/sync; a bundle carries it in a file.
Message sync_request(std::uint64_t cursor, std::size_t pull_bytes, std::int64_t client_ms, PushBatch& push);

struct SyncOptions {
  // The largest push the server takes: every round trip costs a commit (with its fsync) and a
  // signed receipt on each side, so fewer, larger pushes go faster.
  std::size_t push_bytes = kMaxPushBytes;
  // The largest batch the server sends: each answer is one commit on the terminal, and every
  // commit writes again the pages of the hash-ordered indexes it touched, so fewer, larger
  // answers pull faster. An 8 MiB answer takes about 20 MiB while it is checked and stored.
  std::size_t pull_bytes = kMaxPullBytes;
  std::uint64_t max_round_trips = 1'000'000;  // a bound on one run, far above any real backlog
  // Asked before every round trip: true stops the sync there (aborted, outcome kStopped), keeping
  // what earlier round trips brought. A round trip under way is finished first.
  std::function<bool()> stop;
};

struct SyncReport {
  std::string server_url;
  std::uint64_t round_trips = 0;
  std::uint64_t pushed = 0;       // own events newly acknowledged by a receipt
  std::uint64_t to_push = 0;      // own events unacknowledged when the sync began
  std::uint64_t pulled = 0;       // events received and stored
  std::uint64_t unshown = 0;      // of those, kept in the log but not shown (Store::accept_sync)
  std::uint64_t server_seq = 0;   // the last receipt: the server holds this terminal's events 1..server_seq
  std::int64_t server_ms = 0;     // the server's time in that receipt
  std::uint64_t unsynced = 0;     // own events still unacknowledged at the end
  bool unreachable = false;       // set when the sync stopped because the server could not be reached
  SyncOutcome outcome = SyncOutcome::kOk;
  std::string server_code;        // with kRefused (and kServerBusy): the server's code ("scope", "HTTP 500")
  std::optional<RevocationReport> revoked;  // with kRevoked: what the terminal removed and kept
  std::uint64_t quarantined = 0;  // with kRevoked: own events head office newly took into quarantine
  bool cursor_moved = false;       // the pull cursor went forward (past events this terminal may not see, say)
  // Whether the sync changed anything: pushed, pulled, or moved the cursor.
  bool moved() const { return pushed > 0 || pulled > 0 || cursor_moved; }
};
// Round trips until this terminal has nothing left to push and the server nothing left to pull.
// Each round trip is committed on its own, so a failure keeps what earlier ones brought. Stops
// with the server's message on a refusal, unauthenticated when an answer does not open with the
// pinned key, aborted after a round trip that changed nothing while work remained, or after
// options.max_round_trips. `progress` (optional) is called after every round trip.
// A "revoked" answer (docs/PROTOCOL.md section 8) is checked and handed to
// Store::accept_revocation; the terminal's remaining own events are pushed after it (head office
// keeps them in quarantine), and the sync ends with permission_denied saying when and why head
// office revoked the terminal, what it removed, and what became of its own events. Every attempt
// of an enrolled terminal, except one stopped by options.stop, is recorded in the store's health
// record with its outcome.
Status sync(Store& store, Transport& transport, const Clock& clock, SyncReport& report,
            const std::function<void(const SyncReport&)>& progress = {}, SyncOptions options = {});

// The "revoked" answer to a sync (docs/PROTOCOL.md section 8; read in sync_revoke.cpp): head
// office's notice for this terminal (the requester, `me`), and how many of the events that
// request pushed head office kept in quarantine. data_loss for a header that lacks a field or
// has one of the wrong type; the notice's signature is the store's to check.
struct RevokedAnswer {
  RevocationNotice notice;
  std::uint64_t quarantined = 0;
};
Result<RevokedAnswer> read_revoked_answer(const Json& header, const PublicKey& me);
// The message a revoked sync ends with: when and why, what the terminal removed, what became of
// its own events (`sent`: how many this sync pushed into head office's quarantine), and to
// contact head office.
std::string revoked_message(const RevocationReport& r, std::uint64_t sent);

// ---- Watching (sync_watch.cpp)

struct WatchOptions {
  std::int64_t interval_ms = 60'000;     // sync at least this often while the server answers
  std::int64_t first_retry_ms = 1'000;   // the wait after a first failure; doubles with each failure
  std::int64_t retry_max_ms = 300'000;   // ... up to this
  std::int64_t poll_ms = 1'000;          // how often the store is looked at for new own events
  std::uint64_t seed = 0;                // the jitter's random seed; 0: a random one
  SyncOptions sync;                      // its `stop` is replaced by the listener's
};

// What watch tells its caller as it happens, and the one way time passes for it (so that a test
// can drive it with a fake clock, and a signal can end a wait).
class WatchListener {
 public:
  virtual ~WatchListener() = default;
  // A sync that completed (report.moved() says whether it brought or took anything).
  virtual void synced(const SyncReport& report) = 0;
  // An attempt that failed in a way retrying may mend; the `failures`-th in a row. The next
  // attempt comes after `wait_ms`.
  virtual void retrying(const SyncReport& report, const Status& failure, std::int64_t failures,
                        std::int64_t wait_ms) = 0;
  // The watch ends with `failure`, which retrying cannot mend (report.outcome says what it was).
  virtual void stopping(const SyncReport& report, const Status& failure) = 0;
  // Waits up to `ms`; false when the watch must stop now.
  virtual bool wait(std::int64_t ms) = 0;
  // True once the watch must stop (asked between round trips too).
  virtual bool stop_requested() = 0;
};

// Syncs now, then again within poll_ms of this terminal recording something new and at least
// every interval_ms. After a failure that retrying may mend (is_transient) it waits first_retry_ms
// doubling up to retry_max_ms, each wait drawn uniformly from [d/2, d] so that terminals that lost
// the server together do not come back together, and tries again, for as long as it takes.
// Returns ok when the listener says stop (a sync under way finishes its round trip first); the
// failure itself when retrying cannot mend it (revoked, a refusal, an answer that does not check
// out, a rolled-back store); every attempt is recorded in the health record by sync().
Status watch(Store& store, Transport& transport, const Clock& clock, WatchListener& listener,
             WatchOptions options = {});

}  // namespace shiftbook::client
