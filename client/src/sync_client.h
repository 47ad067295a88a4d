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
#include <string>
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

struct SyncOptions {
  // The largest push the server takes: every round trip costs a commit (with its fsync) and a
  // signed receipt on each side, so fewer, larger pushes go faster.
  std::size_t push_bytes = kMaxPushBytes;
  // The largest batch the server sends: each answer is one commit on the terminal, and every
  // commit writes again the pages of the hash-ordered indexes it touched, so fewer, larger
  // answers pull faster. An 8 MiB answer takes about 20 MiB while it is checked and stored.
  std::size_t pull_bytes = kMaxPullBytes;
  std::uint64_t max_round_trips = 1'000'000;  // a bound on one run, far above any real backlog
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
};
// Round trips until this terminal has nothing left to push and the server nothing left to pull.
// Each round trip is committed on its own, so a failure keeps what earlier ones brought. Stops
// with the server's message on a refusal, unauthenticated when an answer does not open with the
// pinned key, aborted after a round trip that changed nothing while work remained, or after
// options.max_round_trips. `progress` (optional) is called after every round trip.
Status sync(Store& store, Transport& transport, const Clock& clock, SyncReport& report,
            const std::function<void(const SyncReport&)>& progress = {}, SyncOptions options = {});

}  // namespace shiftbook::client
