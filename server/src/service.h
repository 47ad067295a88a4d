// Head office's logic, apart from HTTP: enrollment, the sync round trip (checking a push,
// committing it, signing the receipt, assembling the pull; a revoked device's push kept in
// quarantine instead) and head-office administration (which writes signed reference events and
// revocations into each site signer's chain, and watches the terminals in the field). The HTTP layer (http.cpp) and
// the admin commands (main.cpp) are thin callers of this class. The rules are in
// docs/PROTOCOL.md; the storage behind it is storage.h. Thread-safe: the HTTP layer calls
// enroll() and sync() from many threads at once.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shiftbook/bundle.h"
#include "shiftbook/clock.h"
#include "shiftbook/crypto.h"
#include "shiftbook/ledger.h"
#include "shiftbook/protocol.h"
#include "shiftbook/status.h"
#include "storage.h"

namespace shiftbook::server {

// The author of every event head office writes from the command line; what a dashboard action
// writes carries the signed-in account's name instead (docs/DASHBOARD.md, "Who did it").
inline constexpr std::string_view kHeadOfficeAuthor = "head-office";

// What one request comes to, independent of HTTP: the status to answer with, the body (an
// envelope, or JSON for errors that cannot be encrypted), and one line for the server's log.
struct Reply {
  int http_status = 200;
  std::string content_type = "application/octet-stream";
  std::string body;
  std::string log_line;
  int retry_after_seconds = 0;  // for 429
  // Further response headers (WWW-Authenticate, Content-Disposition), in order.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ServiceOptions {
  // Failed enrollment attempts allowed per peer address in a window, and globally.
  int enroll_failures_per_peer = 5;
  int enroll_failures_global = 50;
  std::int64_t enroll_window_ms = 10 * 60 * 1000;
  // Keep each site's ledger in memory once read, and bring it up to date from its chains at each
  // with_ledger (what `serve` does); otherwise every read builds it from the store.
  bool keep_ledgers = false;
  // The Argon2id cost of head-office passwords (docs/DASHBOARD.md); tests make it the minimum.
  PinCost password_cost = PinCost::kInteractive;
  // When wrong passwords lock an account, and for how long.
  LoginLimits login_limits;
  // A dashboard session ends after this long without a request, and this long after signing in.
  std::int64_t session_idle_ms = 30 * 60'000;
  std::int64_t session_max_ms = 12 * 3'600'000;
  // Tests only: called by approve once it has computed the figures, before it writes the approval
  // (so that a test can make another decision land in between, as another server process could).
  std::function<void()> before_decision;
};

// A terminal as head office watches it (`devices`).
struct DeviceHealth {
  DeviceRecord device;
  // Events visible to it after the position it pulls from next; nullopt when it never synced.
  std::optional<std::uint64_t> behind;
};

// An accepted event of a terminal with the two server-signed times that bracket when it was
// made (docs/PROTOCOL.md, "Trusted time"). Both receipts are verified with the server key.
struct BracketedEvent {
  std::uint64_t seq = 0;
  Hash hash{};
  std::string kind;
  std::int64_t terminal_ms = 0;        // the wall-clock part of its HLC: the terminal's own time
  std::int64_t received_ms = 0;
  std::optional<Receipt> after;        // named by the latest shift_open at or before it
  std::uint64_t after_shift = 0;       // the seq of that shift_open (0: none at or before it)
  std::optional<Receipt> before;       // given for the push that delivered it
};

// One site's log merged (Service::ledger): its terminals as enrolled, and the Ledger.
struct SiteLedger {
  std::string site;
  std::vector<DeviceRecord> devices;
  Ledger ledger;
  ReadChains read;  // the terminals' chains as far as the ledger read them
  std::uint64_t signer_end = 0;  // the site signer's chain as far as the ledger read it
};

// What the server measured of each device's clock at its latest sync (server time minus the
// terminal's clock; none before its first sync), for find_anomalies.
std::vector<DeviceClockFact> clock_facts(const std::vector<DeviceRecord>& devices);
// A site's anomalies (docs/ANOMALIES.md) and integrity signals (docs/SIGNALS.md): the signals
// read the devices' equivocation flags too. Sorted by kind, then identifier.
std::vector<Anomaly> site_anomalies(SiteLedger& l);
std::vector<Anomaly> site_signals(SiteLedger& l);
// Whether an identifier's kind (what precedes its colon) is an integrity signal's.
bool is_signal_kind(std::string_view kind);

// A resolution head office recorded (Service::resolve).
struct RecordedResolution {
  std::string site;
  Hash root{};       // the entry
  std::string unit;  // its unit
  Hash fork{}, winner{};
  std::vector<Hash> losers;
  std::string reason;
  Hash event{};      // the resolution event
  std::uint64_t signer_seq = 0;
};

// An anomaly decision head office recorded (Service::note_anomaly).
struct RecordedNote {
  std::string site;
  std::string anomaly;
  std::string reason;
  Hash event{};
  std::uint64_t signer_seq = 0;
};

// One request of a bundle that was answered with a refusal (Service::bundle).
struct BundleRefusal {
  std::uint32_t part = 0;  // 0-based index of the request in the bundle
  std::string code;        // the protocol's error name ("gap", "scope", ...)
  std::string message;
};

// What answering a request bundle came to (Service::bundle).
struct BundleReport {
  BundleId id{};
  PublicKey device{};
  std::size_t requests = 0;        // requests in the bundle
  std::size_t answers = 0;         // answers in the reply: one per request, then pull-only ones
  std::uint64_t pushed = 0;        // events of the device newly stored
  std::uint64_t server_seq = 0;    // the device's chain held afterwards: 1..server_seq
  std::uint64_t pulled = 0;        // events in the reply's answers
  bool more = false;               // the reply stopped at reply_max with more to pull
  std::vector<BundleRefusal> refused;
  std::vector<std::string> log_lines;  // one per answer, as `serve` logs a sync
};

// One unit's report for one period (Ledger::report) with the site the unit belongs to.
struct SiteReport {
  std::string site;
  UnitPeriodReport report;
  ReadChains read;  // what the report was computed from (SiteLedger::read); only unit_report, for approve, fills it
  std::uint64_t signer_end = 0;  // and the site signer's chain end it was read at (the same)
};

// One line of the payroll export (docs/SERVER.md, "export payroll"): a worker's figures in a
// unit and period and their share of one product's pool, as reported (the approved figures of a
// locked period). Only products with a quota in force have lines.
struct PayrollRow {
  std::string worker, unit, period, product;
  std::int64_t minutes = 0;
  std::int64_t special_minutes = 0;
  std::int64_t milli_points = 0;  // shown as points with three decimals (format_milli_points)
  std::int64_t share = 0;         // goods in the product's base unit
  int decimals = 0;               // the product's (0 or 3), for showing the share
};

// The payroll lines of these reports, by worker, unit, period and product (ids compared
// bytewise). A report with products under a quota but no shares (no rule set in force, or
// figures sharing out refuses) is failed_precondition naming the unit, the period and why.
// `decimals`: each product's decimals (a product missing from it is shown in base units).
Result<std::vector<PayrollRow>> payroll_rows(const std::vector<SiteReport>& reports,
                                             const std::map<std::string, int>& decimals);
// RFC 4180 CSV, lines ending in CRLF, a header line first; ids that a spreadsheet would read as
// a formula are written as text (a leading single quote).
std::string payroll_csv(const std::vector<PayrollRow>& rows);
// {"format":"shiftbook-payroll/1","period":...,"rows":[...]}: minutes as integers, points and
// share as decimal strings.
Json payroll_json(const std::string& period, const std::vector<PayrollRow>& rows);

// A head-office API token just made (Service::create_token): its text, which is shown this
// once, and the record kept (which holds only the hash of its secret).
struct NewToken {
  std::string text;  // "sbt_" + id + "_" + 64 hex digits of secret
  TokenRecord record;
};

// A dashboard session just started (Service::start_session). `cookie` goes to the browser only
// (the store keeps its hash); `csrf` is the token every form of the session carries.
struct NewSession {
  std::string cookie;  // 64 lower-case hex digits: the session's 32-byte secret
  std::string csrf;    // 64 lower-case hex digits, derived from the secret
  AccountRecord account;
};

// The session a request's cookie names (Service::check_session).
struct SessionInfo {
  std::string account;
  std::string csrf;
  Hash id_hash{};
  std::int64_t created_ms = 0;
};

class Service {
 public:
  Service(std::unique_ptr<Storage> storage, DeviceKey server_key, const Clock& clock, ServiceOptions options = {});
  ~Service();

  const PublicKey& server_key() const;

  // GET /v1/hello: {"protocol":1,"server_key":hex,"fingerprint":"ab12 cd34 ..."} as JSON.
  Reply hello() const;
  // POST /v1/enroll and POST /v1/sync: the request envelope in, the reply out. `peer` is the
  // remote address, for rate limits and the log.
  Reply enroll(ByteView wire, const std::string& peer);
  Reply sync(ByteView wire, const std::string& peer);

  // ---- head-office administration (the admin commands)
  // Checks a reference item of a ref_* kind (validate_head_office_body, and that what it names
  // exists: a unit's site, a quota's unit, period and product, a worker's or leader's site), then
  // appends it as one event to the chain of every site signer it concerns: its own site's, or
  // every site's for periods and products. A new site's chain starts with the site itself and
  // the current periods and products. For ref_quota, a missing "version" is filled in as one
  // more than the current quota's (1 for a new one). Returns the body as written.
  Result<Json> put_reference(const std::string& kind, Json body);
  // Current reference items of a kind (all sites when `site` is empty).
  Result<std::vector<Json>> reference(const std::string& kind, const std::string& site = {});
  // A new enrollment code for `site` and some of its units, valid for `valid_ms`.
  Result<std::string> create_code(const std::string& site, const std::vector<std::string>& units,
                                  std::int64_t valid_ms);
  Result<std::vector<CodeRecord>> codes();
  Result<std::vector<DeviceRecord>> devices();

  // ---- terminals in the field (service_devices.cpp, service_revoke.cpp)
  // The enrolled device whose key starts with `prefix` (8 to 64 hex digits, either case):
  // invalid_argument for a malformed or ambiguous prefix, not_found when none matches.
  Result<DeviceRecord> find_device(std::string_view prefix);
  // Revokes an enrolled device: a device_revoke {device, reason} written by the signer of its
  // site into that site's chain, and the device marked revoked at that append's server time, in
  // one transaction. From then on each sync of it is answered "revoked" and what it pushes is
  // kept in quarantine. not_found for a device not enrolled, failed_precondition for one revoked
  // already, invalid_argument for a reason that is empty, longer than 500 bytes or holds control
  // characters. Returns the device as now stored.
  Result<DeviceRecord> revoke_device(const PublicKey& device, const std::string& reason,
                                     const std::string& author = std::string(kHeadOfficeAuthor));
  // Every enrolled device with how far behind it is.
  Result<std::vector<DeviceHealth>> device_health();
  // What quarantine holds, of one device or (nullptr) of all.
  Result<std::vector<QuarantinedEvent>> quarantined(const PublicKey* device);
  // Up to `limit` accepted events of an enrolled device from seq `from` on, each with its
  // bracket. data_loss when a stored receipt does not verify with the server key.
  Result<std::vector<BracketedEvent>> events(const PublicKey& device, std::uint64_t from, std::size_t limit);

  // ---- the merged state of a site's log (service_ledger.cpp, docs/SERVER.md "conflicts")
  // Every site's id, ascending.
  Result<std::vector<std::string>> sites();
  // The site's Ledger, built on demand from every accepted event of its terminals (revoked ones'
  // too, as delivered before their revocation; never quarantine) and of its site signer, each
  // terminal event with the time of the receipt that acknowledged it. not_found for an unknown site.
  Result<SiteLedger> ledger(const std::string& site);
  // Calls `read` with the site's ledger up to date with everything stored (not_found for an
  // unknown site). With keep_ledgers, the kept ledger takes only the events stored since it last
  // read each chain, and calls for one site run one at a time; otherwise it is built anew.
  Status with_ledger(const std::string& site, const std::function<Status(SiteLedger&)>& read);
  // With keep_ledgers, builds every site's kept ledger now, so that the first report or dashboard
  // page need not (`serve` calls it in the background when it starts). Returns aborted, between
  // two chains, once `stop` is set; what it built is kept. Nothing to do without keep_ledgers.
  Status warm_ledgers(const std::atomic<bool>& stop);
  // Head office's decision of a fork: a `resolution` {fork, winner, losers: every other child the
  // server holds, reason} appended to the chain of the site signer of the entry, under admin_mu.
  // `fork` and `winner` are 8 to 64 hex digits (a unique prefix) of a fork the server holds (in
  // `site`, or in any site when it is empty) and of one of its children. invalid_argument for a
  // malformed or ambiguous prefix, a winner that is no child of the fork, or a reason that is
  // empty, longer than 500 bytes or holds control characters; not_found for no such fork.
  Result<RecordedResolution> resolve(const std::string& site, std::string_view fork, std::string_view winner,
                                     const std::string& reason, const std::string& author = std::string(kHeadOfficeAuthor));
  // Head office's decision of an anomaly or an integrity signal: an `anomaly_note` {anomaly,
  // reason}, or for a signal's id a `signal_note` {signal, reason}, appended to the chain of the
  // site signer, under admin_mu. `anomaly` is the id of one the server finds now (in `site`, or in
  // any site when it is empty). invalid_argument for a malformed id or reason; not_found when no
  // site has it now.
  Result<RecordedNote> note_anomaly(const std::string& site, const std::string& anomaly, const std::string& reason,
                                    const std::string& author = std::string(kHeadOfficeAuthor));

  // ---- sharing out, approval and payroll (service_payroll.cpp, docs/RETURNS.md, docs/SHAREOUT.md)
  // The reports of every unit and period with figures, a quota or a decision (Ledger::reports),
  // of one site, unit or period when given (each must exist: not_found otherwise;
  // invalid_argument for a unit of another site than `site`). With both a unit and a period, that
  // one report even when it has no figures. By site, then unit and period start.
  Result<std::vector<SiteReport>> reports(const std::string& site, const std::string& unit, const std::string& period);
  // Head office approves a unit's return for a period, which locks it: a `period_approval` of
  // the figures computed now (adjustments booked in included) in the unit's site chain, under
  // admin_mu. not_found for an unknown unit or period; failed_precondition when the period is
  // locked already, or has more workers or products than an approval holds. The report after it.
  Result<SiteReport> approve(const std::string& unit, const std::string& period,
                             const std::string& author = std::string(kHeadOfficeAuthor));
  // Unlocks an approved period: a `period_reopen` {unit, period, reason}. invalid_argument for a
  // bad reason; not_found as for approve; failed_precondition when the period is not locked.
  Result<SiteReport> reopen(const std::string& unit, const std::string& period, const std::string& reason,
                            const std::string& author = std::string(kHeadOfficeAuthor));
  // The payroll lines of a period (payroll_rows over reports(site, unit, period)).
  Result<std::vector<PayrollRow>> payroll(const std::string& period, const std::string& site, const std::string& unit);

  // ---- the audit (service_audit.cpp, docs/AUDIT.md)
  // The audit export, line by line into `sink` (which may stop it with an error): the header,
  // the sites, the devices and every append in position order.
  Status audit_export(const std::function<Status(const Json& line)>& sink);
  // The same lines checked by an AuditVerifier with this server's key: every delegation, chain,
  // signed head and receipt, every approval against the events held when it was written, and
  // the reports recomputed from the raw events. `each_line`, when given, also sees every line as
  // the export file would hold it (without its newline), header included.
  Result<AuditResult> audit(const std::function<void(std::string_view line)>& each_line = nullptr);

  // ---- sync by files (service_bundle.cpp, docs/PROTOCOL.md "Bundles")
  // Answers the request bundle read from `request` with the reply bundle to write. Refused
  // before anything is stored, in this order: what BundleReader::open and check refuse (not a
  // request bundle, another bundle version, cut short, damaged), a bundle made for another server
  // key (invalid_argument, naming both fingerprints), a device that is not enrolled
  // (failed_precondition: enroll it first), a request that does not open with this server's key
  // or was sealed by another device than the bundle names (unauthenticated: tampered). Then each
  // request in order, exactly as POST /v1/sync answers it, each request after the first pulling on
  // from where the answer before it ended; a refusal (gap, chain, scope...) is that request's
  // answer, and the next is still answered. When the last answer says there is more, pull-only
  // answers to the last request follow while the reply stays within `reply_max` bytes (the answers
  // to the requests themselves are always there). A bundle answered twice is answered again:
  // pushes are idempotent.
  Result<BundleFile> bundle(std::istream& request, std::size_t reply_max, BundleReport& report);

  // ---- head-office API tokens (service_tokens.cpp, docs/SERVER.md "API tokens")
  // Makes a token for the report endpoints: a random id (8 hex digits) and 32 random bytes of
  // secret, of which only the BLAKE2b-256 hash is kept. `name` says who uses it (1 to 100 bytes,
  // UTF-8, no control characters: invalid_argument otherwise).
  Result<NewToken> create_token(const std::string& name);
  // Every token, revoked ones too, by creation time; never a secret.
  Result<std::vector<TokenRecord>> tokens();
  // Revokes a token for good. invalid_argument for an id that is not 8 lower-case hex digits,
  // not_found for an unknown one, failed_precondition for one revoked already.
  Result<TokenRecord> revoke_token(const std::string& id);
  // The token an HTTP Authorization header value ("Bearer sbt_...") presents, checked and its
  // use noted. unauthenticated when the value is empty, not Bearer, not a token's text, or names
  // an unknown id or a wrong secret (one message for both; hashes compared in constant time);
  // permission_denied for a revoked token with the right secret.
  Result<TokenRecord> check_token(std::string_view authorization);

  // ---- head-office accounts (service_accounts.cpp, docs/DASHBOARD.md)
  // Makes an account. invalid_argument for a name or password of the wrong form (the message says
  // what is allowed; it never holds the password); already_exists for a name taken.
  Result<AccountRecord> create_account(const std::string& name, const std::string& password);
  // Every account, by name.
  Result<std::vector<AccountRecord>> accounts();
  // Sets a new password, ending any lockout. invalid_argument as create_account; not_found.
  Result<AccountRecord> set_account_password(const std::string& name, const std::string& password);
  // Disables an account for good. not_found; failed_precondition when it is disabled already.
  Result<AccountRecord> disable_account(const std::string& name);
  // Signs in: the account when the password is right. unauthenticated "wrong name or password"
  // for an unknown name or a wrong password alike; permission_denied while the account is locked
  // (after login_limits.max_failures wrong passwords in a row) or when it is disabled. Every
  // attempt is counted before its password is checked (docs/DASHBOARD.md, "Signing in").
  Result<AccountRecord> check_login(const std::string& name, const std::string& password);
  // Signs in (check_login) and starts a session. The same refusals as check_login.
  Result<NewSession> start_session(const std::string& name, const std::string& password);
  // The session a cookie's value names. unauthenticated when it names none (malformed, unknown,
  // or ended: signed out, a new password, the account disabled), or when it ended by time
  // (session_idle_ms without a request, session_max_ms after signing in; it is then removed).
  // A request at least a minute after the last one is noted.
  Result<SessionInfo> check_session(std::string_view cookie);
  // permission_denied unless `token` is the session's CSRF token (compared in constant time).
  Status check_csrf(const SessionInfo& session, std::string_view token);
  // Signs out: the session the cookie names ends (nothing happens for one that names none).
  Status end_session(std::string_view cookie);
  Storage& storage();
  // The server's clock (pages show the current period by it).
  const Clock& clock() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shiftbook::server
