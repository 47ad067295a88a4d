// The inside of Service (service.h), shared by the files that implement it: service.cpp
// (construction, hello, reading requests, sealing answers, the sync round trip), service_enroll.cpp
// (enrollment), service_push.cpp (checking and storing a push, with the checks of each new event
// in service_check.cpp), service_admin.cpp (reference data, enrollment codes, devices),
// service_revoke.cpp (revocation, the "revoked" answer and quarantine) and service_devices.cpp
// (the terminals in the field). Private to the server library. Invariants kept across those files:
// - Nothing of a refused push is stored; an accepted push is stored by ONE storage append (events,
//   head and receipt together), after one head-signature check and one check_link per event.
// - Everything said after a request envelope opens is sealed for that request; only what cannot
//   be encrypted (size, version, unknown device, authentication) is answered as plain JSON.
// - A site signer's chain is only appended to under admin_mu (and storage refuses a stale
//   expected_seq, so another process writing the same store cannot interleave a chain either).
// Thread-safe: sync() and enroll() run on many request threads; the mutable state (enrollment
// failure counts, the site signer cache) sits behind its own mutexes.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "report_text.h"
#include "service.h"
#include "shiftbook/envelope.h"
#include "shiftbook/event.h"

namespace shiftbook::server {
namespace detail {

// Storage appends that lose a race (aborted) are judged again this many times.
constexpr int kAppendAttempts = 3;

inline std::string short_hash(const Hash& h) { return to_hex(ByteView(h.data(), 8)); }

// A plain JSON error answer (for what cannot be said inside an encrypted response).
Reply json_error(int http_status, std::string_view code, const std::string& message, std::string log_line);

// Reading request message headers (enroll and sync), with messages that name the field.
Status only_fields(const Json& header, std::initializer_list<std::string_view> allowed);
Result<std::int64_t> int_field(const Json& obj, const char* name);
Result<std::string> string_field(const Json& obj, const char* name);
template <std::size_t N>
Result<std::array<std::uint8_t, N>> hex_field(const Json& obj, const char* name) {
  SB_ASSIGN_OR_RETURN(std::string text, string_field(obj, name));
  auto v = array_from_hex<N>(text);
  if (!v.is_ok()) return invalid_argument(std::string("field '") + name + "': " + v.status().message());
  return *v;
}

// A refusal said inside the encrypted response; `log_detail` goes to the log only (storage
// failures, which the terminal is not told about beyond "internal").
struct Refusal {
  ProtocolError error = ProtocolError::kInternal;
  std::string message;
  std::optional<std::uint64_t> expected_seq;
  std::string log_detail;
};

inline Refusal refuse(ProtocolError e, std::string message) {
  return Refusal{e, std::move(message), std::nullopt, {}};
}
inline Refusal internal_refusal(const Status& s) {
  return Refusal{ProtocolError::kInternal, "the server failed to handle this request; retry later", std::nullopt,
                 s.to_string()};
}

// Failed enrollment attempts within a sliding window, per peer address and in all. Only failures
// are counted (a refused-by-limit attempt is not), so the map holds at most about the global
// limit of peers at once.
class EnrollLimiter {
 public:
  explicit EnrollLimiter(const ServiceOptions& o) : options_(o) {}

  // Seconds until an attempt from `peer` may be made, or 0 when it may be made now.
  int wait_seconds(const std::string& peer, std::int64_t now);
  void record_failure(const std::string& peer, std::int64_t now);

 private:
  void prune(std::int64_t now);

  const ServiceOptions options_;
  std::mutex mu_;
  std::deque<std::int64_t> global_;
  std::map<std::string, std::deque<std::int64_t>> peers_;
};

struct SiteSigner {
  SiteSigner(DeviceKey k, Delegation d) : key(std::move(k)), delegation(std::move(d)) {}
  DeviceKey key;
  Delegation delegation;
};

// One reference event to write into a site signer's chain.
struct ChainItem {
  std::string kind;
  Json body;
  std::string ref_key;
  std::optional<Revocation> revokes{};  // for device_revoke (NewEvent::revokes)
  std::string author = std::string(kHeadOfficeAuthor);  // the event's author: who decided it
};

// The message's "v" (kOldestProtocolVersion..kProtocolVersion), checked before anything else so a
// newer terminal hears "version", not "unknown field".
std::optional<Refusal> check_version(const Json& header);

bool is_ref_kind(std::string_view k);

// not_found unless `site` is a site (service_ledger.cpp).
Status known_site(Storage& st, const std::string& site);
// The ledger of a site known to exist, whose signer is `signer` (service_ledger.cpp).
Result<SiteLedger> build_ledger(Storage& st, const std::string& site, const PublicKey& signer);
// Brings `l` up to date: the site's devices as enrolled now, and every event stored after the
// ends it read (l.read, and l.signer_end for the signer's chain), which it moves on.
// With `stop`, it returns aborted between two chains once *stop is set.
Status update_ledger(Storage& st, SiteLedger& l, const PublicKey& signer, const std::atomic<bool>* stop = nullptr);
// A site's ledger as `serve` keeps it (ServiceOptions::keep_ledgers).
struct KeptLedger {
  KeptLedger(const std::string& site, const PublicKey& signer) : l{site, {}, Ledger(signer), ReadChains{site, {}}, 0} {}
  std::mutex mu;
  SiteLedger l;
};

// A sync request's header, read (service.cpp).
struct SyncRequest {
  std::uint64_t cursor = 0;
  std::size_t pull_max = kDefaultPullBytes;
  std::int64_t client_ms = 0;
  std::optional<SignedHead> head;
  int version = kProtocolVersion;  // the header's v (check_version): a v1 push is checked as v1 was
};

// What answering one opened sync request comes to, before it is sealed: the plaintext answer and
// its log line. Bundles (service_bundle.cpp) answer several requests and seal each themselves.
struct SyncAnswer {
  Message message;       // "sync", "revoked" or "error"
  std::string log_line;  // without the elapsed time
  bool pulled = false;   // a "sync" answer: cursor and more are set
  std::uint64_t cursor = 0;
  bool more = false;
};

}  // namespace detail

struct Service::Impl {
  using Refusal = detail::Refusal;

  Impl(std::unique_ptr<Storage> s, DeviceKey k, const Clock& c, ServiceOptions o)
      : storage(std::move(s)), server_key(std::move(k)), clock(c), options(o), limiter(options) {}

  std::unique_ptr<Storage> storage;
  DeviceKey server_key;
  const Clock& clock;
  ServiceOptions options;
  detail::EnrollLimiter limiter;

  std::mutex signers_mu;
  std::map<std::string, std::shared_ptr<const detail::SiteSigner>> signers;
  std::mutex admin_mu;
  std::mutex kept_ledgers_mu;  // guards the map; each KeptLedger has its own mutex
  std::map<std::string, std::unique_ptr<detail::KeptLedger>> kept_ledgers;
  // A password hash no account has, checked against when a sign-in names an unknown account so
  // that the answer takes as long as for a known one (service_accounts.cpp); made at first use.
  std::once_flag absent_hash_once;
  std::string absent_hash;

  // The site's signer key and delegation, derived once and kept.
  std::shared_ptr<const detail::SiteSigner> signer(const std::string& site);

  // A message sealed for the request of `ctx`; a refusal sealed likewise, and logged after `prefix`.
  Reply sealed(const EnvelopeContext& ctx, const Message& m, std::string log_line);
  Reply sealed_refusal(const EnvelopeContext& ctx, const Refusal& refusal, const std::string& prefix);
  // Maps what open_request/request_device say about an envelope to its plain JSON answer.
  static Reply envelope_refusal(const Status& s, const std::string& prefix);

  Reply enroll(ByteView wire, const std::string& peer);
  Reply sync(ByteView wire, const std::string& peer);
  // The sync round trip after the envelope opened: the request read, the push, the pull. The pull
  // starts after the later of the request's cursor and `cursor_floor` (a bundle's later requests
  // carry on where the answers to its earlier ones ended).
  detail::SyncAnswer answer_sync(const DeviceRecord& rec, ByteView plaintext, const std::string& prefix,
                                 std::uint64_t cursor_floor = 0);
  // A "sync" answer carrying `receipt` and the events visible to `rec` after `cursor`;
  // `line` starts its log line.
  detail::SyncAnswer answer_pull(const DeviceRecord& rec, const Receipt& receipt, std::uint64_t cursor,
                                 std::size_t pull_max, const std::string& line);
  static detail::SyncAnswer refused_answer(const Refusal& refusal, const std::string& prefix);
  // The answer to every sync request of a revoked device (service_revoke.cpp): its push checked
  // as framing, sender, links and head signature, then kept in quarantine; "revoked" with the
  // signed notice and how many of the request's events were newly quarantined.
  detail::SyncAnswer answer_revoked(const DeviceRecord& rec, Message& msg, const detail::SyncRequest& req,
                                    const std::string& prefix);
  // The chains a device sees: its site signer's and every other device's of its units.
  Result<std::vector<PublicKey>> visible_to(const DeviceRecord& rec);
  // Reads a sync request's header and checks what needs no storage (type, version, fields, head
  // with events, the push's size).
  static std::variant<detail::SyncRequest, Refusal> read_sync_request(const Message& msg, const PublicKey& device);
  std::optional<Refusal> enroll_code(const OpenedRequest& req, DeviceRecord& enrolled);

  // The push of a sync request; on success the receipt to answer with and what was added.
  struct PushOutcome {
    Receipt receipt;
    std::size_t added = 0;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
  };
  // `version` is the request's: kinds unknown to this server are taken from version 2 on.
  std::variant<PushOutcome, Refusal> push(DeviceRecord rec, std::vector<Bytes>& raw, const SignedHead& head,
                                          int version);
  std::variant<PushOutcome, Refusal> stored_receipt(const DeviceRecord& rec);

  // With `unchanged`, the items are written only while the site's terminals' chains are as read
  // (AppendBatch::unchanged) and the site signer's chain still ends at `signer_end` (no other
  // decision was written since, by this process or another): aborted otherwise, and not tried
  // again here.
  Status append_to_chain(const std::string& site, std::vector<detail::ChainItem> items,
                         const std::optional<ReadChains>& unchanged = std::nullopt, std::uint64_t signer_end = 0);
  Result<Json> put_reference(const std::string& kind, Json body);
  // The report of a unit and period that exist, read now (service_payroll.cpp); not_found for
  // an unknown unit or period.
  Result<SiteReport> unit_report(const std::string& unit, const std::string& period);
  // Service::with_ledger, stopping between two chains once *stop is set (warm_ledgers).
  Status with_ledger(const std::string& site, const std::function<Status(SiteLedger&)>& read,
                     const std::atomic<bool>* stop);
  Result<std::string> create_code(const std::string& site, const std::vector<std::string>& units,
                                  std::int64_t valid_ms);
};

}  // namespace shiftbook::server
