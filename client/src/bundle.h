// Sync by files, the terminal's side (docs/PROTOCOL.md, "Bundles"): export writes every
// unacknowledged event as sync requests into a request bundle, sealed exactly as for HTTP;
// import takes the server's reply bundle through the same Store::accept_sync as an HTTP answer.
// A reply is checked whole before anything of it is stored (its framing and checksum, that it is
// for this terminal and its pinned server, and that every answer opens with the key of the request
// it answers); then each answer is taken in its own transaction, in order. Taking a reply twice,
// out of order, or after an HTTP sync changes nothing twice. Memory holds one envelope of a reply
// at a time; an export holds its requests until the file is written. One thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shiftbook/bundle.h"
#include "shiftbook/client/store.h"
#include "shiftbook/clock.h"
#include "shiftbook/status.h"

namespace shiftbook::client {

struct BundleExportReport {
  std::string file;
  BundleId id{};
  std::uint64_t events = 0;     // own events in the bundle, all parts together
  std::uint64_t first_seq = 0;  // 0 when it pushes none
  std::uint64_t last_seq = 0;
  std::size_t parts = 0;        // requests; one with no events when nothing is unsent (to pull)
  std::uint64_t bytes = 0;      // the file's size
  std::string fingerprint;      // of the pinned server key it is sealed for
};
// Writes a request bundle to `path` (atomically: the old file or the whole new one): every own
// event no receipt acknowledges, in consecutive parts of at most kMaxPushBytes of events, each a
// sync request with its own signed head, the terminal's cursor and kMaxPullBytes to pull; keeps
// each part's key in the store. failed_precondition when
// the terminal is not enrolled; errors of the file as files.h says (nothing is kept then).
// The keys are kept until they expire (Store::remember_bundle), not only until the reply is taken,
// so that a reply taken twice is answered "nothing new" rather than refused.
Status export_bundle(Store& store, const Clock& clock, const std::string& path, BundleExportReport& report);

// One answer of a reply that head office refused: the request it answered and its words.
struct BundleRefusal {
  std::uint32_t part = 0;  // 0-based
  std::string code;        // the protocol's error name ("scope", "gap", ...)
  std::string message;
};

struct BundleImportReport {
  std::string file;
  BundleId id{};
  std::int64_t server_ms = 0;     // the reply's time, by head office's clock
  std::uint64_t answers = 0;      // answers taken (a part's answer, and pull-only answers after the last)
  std::uint64_t pushed = 0;       // own events newly acknowledged
  std::uint64_t pulled = 0;       // events received and stored (duplicates not counted)
  std::uint64_t unshown = 0;      // of those, kept in the log but not shown (Store::accept_sync)
  std::uint64_t server_seq = 0;   // the receipt held afterwards: head office holds events 1..server_seq
  std::uint64_t unsynced = 0;     // own events still unacknowledged afterwards
  bool more = false;              // head office has more for this terminal than the reply held
  std::vector<BundleRefusal> refused;
  std::optional<RevocationReport> revoked;  // head office revoked this terminal: what it removed
  std::uint64_t quarantined = 0;  // own events head office kept in quarantine (revoked)
};
// Takes the reply bundle at `path`. Refused before anything is stored: a file that is not a reply
// bundle, cut short or damaged (invalid_argument), of another bundle version
// (failed_precondition), sealed by another server or for another terminal (invalid_argument), the
// reply to a bundle whose keys expired or that this terminal never exported (failed_precondition,
// Store::bundle), an answer that does not open with the key of its request (unauthenticated:
// tampered). Then each answer in order, as an HTTP answer would be: a refusal is collected into
// report.refused and the next taken; an answer that fails this terminal's checks stops the import
// there (what earlier answers brought is kept). Refusals make the result failed_precondition (or
// data_loss for "equivocation" and "chain"), naming the first, after the rest was taken. A
// "revoked" answer is taken as over HTTP (Store::accept_revocation), and the result is then
// permission_denied, saying when and why head office revoked the terminal.
Status import_bundle_reply(Store& store, const std::string& path, BundleImportReport& report);

}  // namespace shiftbook::client
