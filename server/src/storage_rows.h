// What the backends of the server's storage (storage.h) share, so that SQLite and PostgreSQL keep
// one contract in one place: the checks of a batch a caller hands in, the errors and their
// messages, the rule of a sign-in attempt, the choice of a pull's pushes, and the mapping of a
// row to a record. Row mappers are templates over the row type (SQLite's Stmt, pg::Row: both read
// columns with int64, text, blob, blob32, is_null) and go with column lists both dialects share.
// Pure functions; safe from any thread.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "storage.h"

namespace shiftbook::server::rows {

inline std::int64_t i64(std::uint64_t v) { return static_cast<std::int64_t>(v); }
inline std::uint64_t u64(std::int64_t v) { return static_cast<std::uint64_t>(v); }
template <std::size_t N>
ByteView view(const std::array<std::uint8_t, N>& a) {
  return {a.data(), N};
}
// events.hash_key: the hash's first 8 bytes, big-endian, as a signed integer.
inline std::int64_t hash_key(const Hash& h) { return i64(get_u64(h.data())); }

// ---- what a caller hands in (invalid_argument: a caller's bug)
Status check_append(const AppendBatch& b);
Status check_quarantine(const QuarantineBatch& b);
Status check_hash_range(const PublicKey& device, std::uint64_t from, std::uint64_t to);

// ---- errors
Status hashes_not_all_held(const PublicKey& device, std::uint64_t from, std::uint64_t to, std::size_t held);
Status chain_moved(const PublicKey& device, std::uint64_t held, std::uint64_t expected_seq);
Status site_changed(const std::string& site);
Status revoked_before_push(const PublicKey& device);
Status revoked_already(const PublicKey& device);
Status not_enrolled(const PublicKey& device);
Status missing_event(const PublicKey& device, std::uint64_t seq);
Status missing_push_events(std::uint64_t cursor);
Status no_push_holding(const std::string& what);
Status unknown_code();
Status enrolled_already(const PublicKey& device, const std::string& site);
Status code_used();
Status code_expired();
Status code_exists();
Status token_exists(const std::string& id);
Status unknown_token(const std::string& id);
Status token_revoked_already(const std::string& id, std::int64_t revoked_ms);
Status account_exists(const std::string& name);
Status unknown_account(const std::string& name);
Status account_disabled_already(const std::string& name);

// ---- enrollment codes' units, stored as a canonical list
Result<Bytes> encode_units(const std::vector<std::string>& units);
Result<std::vector<std::string>> decode_units(ByteView bytes, const std::string& what);

// ---- sign-in attempts (Storage::begin_login, login_succeeded)
struct LoginCount {
  std::int64_t failures = 0;
  std::int64_t locked_until_ms = 0;
};
// What begin_login writes for an attempt on `held`; nullopt when it is locked (nothing counted).
std::optional<LoginCount> count_login(const AccountRecord& held, std::int64_t now_ms, const LoginLimits& limits);
// Whether login_succeeded changes `held` (not when another attempt's lockout holds it).
inline bool login_success_applies(const AccountRecord& held, std::int64_t now_ms, bool own_lockout) {
  return held.locked_until_ms <= now_ms || own_lockout;
}

// ---- a pull's pushes (Storage::pull): offered in position order, kept while they fit
class PullPlan {
 public:
  struct Push {
    std::int64_t first_pos, last_pos;
  };
  explicit PullPlan(std::size_t max_bytes) : max_bytes_(max_bytes) {}
  // Offers the next push of a wanted chain; false (and `more` set) when it does not fit.
  bool offer(const Push& push, std::size_t bytes, std::int64_t chain, const SignedHead& head);
  const std::vector<Push>& pushes() const { return pushes_; }
  bool more() const { return more_; }
  std::size_t event_count() const;
  // The heads, one per chain, at its last push, in order of each chain's first push.
  std::vector<SignedHead> heads() const;

 private:
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  bool more_ = false;
  std::vector<Push> pushes_;
  std::vector<std::int64_t> order_;
  std::map<std::int64_t, SignedHead> last_head_;
};

// ---- rows
template <class Row>
Result<Signature> signature_column(const Row& row, int col, const std::string& what) {
  Bytes b = row.blob(col);
  Signature sig{};
  if (b.size() != sig.size()) return data_loss("the stored signature of " + what + " is damaged");
  std::copy(b.begin(), b.end(), sig.begin());
  return sig;
}

inline constexpr const char* kTokenColumns = "SELECT id, name, secret_hash, created_ms, revoked_ms, last_used_ms FROM tokens";
template <class Row>
Result<TokenRecord> token_from(const Row& row) {
  TokenRecord t;
  t.id = row.text(0);
  t.name = row.text(1);
  if (row.blob(2).size() != t.secret_hash.size()) return data_loss("the stored hash of API token " + t.id + " is damaged");
  t.secret_hash = row.blob32(2);
  t.created_ms = row.int64(3);
  t.revoked_ms = row.int64(4);
  t.last_used_ms = row.int64(5);
  return t;
}

inline constexpr const char* kAccountColumns =
    "SELECT name, password_hash, created_ms, disabled_ms, failures, locked_until_ms, last_login_ms FROM accounts";
template <class Row>
AccountRecord account_from(const Row& row) {
  AccountRecord a;
  a.name = row.text(0);
  a.password_hash = row.text(1);
  a.created_ms = row.int64(2);
  a.disabled_ms = row.int64(3);
  a.failures = row.int64(4);
  a.locked_until_ms = row.int64(5);
  a.last_login_ms = row.int64(6);
  return a;
}

// A device with its chain end and quarantine count; its units are read apart.
inline constexpr const char* kDeviceColumns =
    "SELECT d.key, d.site, d.enrolled_ms, d.flag, d.flagged_ms, d.last_sync_ms, d.last_client_ms, c.seq, c.hash, "
    "d.last_cursor, d.revoked_ms, d.revoke_reason, (SELECT count(*) FROM quarantine q WHERE q.device = d.key) "
    "FROM devices d LEFT JOIN chains c ON c.device = d.key ";
template <class Row>
DeviceRecord device_from(const Row& row) {
  DeviceRecord d;
  d.key = row.blob32(0);
  d.site = row.text(1);
  d.enrolled_ms = row.int64(2);
  d.flag = row.text(3);
  d.flagged_ms = row.int64(4);
  d.last_sync_ms = row.int64(5);
  d.last_client_ms = row.int64(6);
  if (!row.is_null(7)) {
    d.seq = u64(row.int64(7));
    d.head = row.blob32(8);
  }
  d.last_cursor = u64(row.int64(9));
  d.revoked_ms = row.int64(10);
  d.revoke_reason = row.text(11);
  d.quarantined = u64(row.int64(12));
  return d;
}

inline constexpr const char* kCodeColumns =
    "SELECT secret_hash, site, units, created_ms, expires_ms, used_ms, used_by FROM codes ORDER BY created_ms, secret_hash";
template <class Row>
Result<CodeRecord> code_from(const Row& row) {
  CodeRecord c;
  c.secret_hash = row.blob32(0);
  c.site = row.text(1);
  SB_ASSIGN_OR_RETURN(c.units, decode_units(row.blob(2), "an enrollment code for site " + c.site));
  c.created_ms = row.int64(3);
  c.expires_ms = row.int64(4);
  c.used_ms = row.int64(5);
  c.used_by = row.blob32(6);
  return c;
}

inline constexpr const char* kQuarantineColumns =
    "SELECT device, seq, hash, kind, received_ms, head_seq, head_hash, head_sig FROM quarantine ";
template <class Row>
Result<QuarantinedEvent> quarantined_from(const Row& row) {
  QuarantinedEvent q;
  q.device = row.blob32(0);
  q.seq = u64(row.int64(1));
  q.hash = row.blob32(2);
  q.kind = row.text(3);
  q.received_ms = row.int64(4);
  q.head.device = q.device;
  q.head.seq = u64(row.int64(5));
  q.head.hash = row.blob32(6);
  SB_ASSIGN_OR_RETURN(q.head.signature,
                      signature_column(row, 7, "the quarantined head of " + event_name(q.device, q.head.seq)));
  return q;
}

inline constexpr const char* kPushColumns =
    "SELECT h.last_pos, h.first_pos, c.device, h.seq, h.hash, h.signature, h.receipt_ms, h.receipt_sig "
    "FROM heads h JOIN chains c ON c.id = h.chain ";
template <class Row>
Result<AuditPush> push_from(const Row& row) {
  AuditPush p;
  p.last_pos = u64(row.int64(0));
  p.first_pos = u64(row.int64(1));
  p.device = row.blob32(2);
  p.head.device = p.device;
  p.head.seq = u64(row.int64(3));
  p.head.hash = row.blob32(4);
  const std::string what = "the push ending at " + event_name(p.device, p.head.seq);
  SB_ASSIGN_OR_RETURN(p.head.signature, signature_column(row, 5, "the head of " + what));
  if (!row.is_null(7)) {
    Receipt r;
    r.device = p.device;
    r.seq = p.head.seq;
    r.hash = p.head.hash;
    r.server_ms = row.int64(6);
    SB_ASSIGN_OR_RETURN(r.signature, signature_column(row, 7, "the receipt of " + what));
    p.receipt = r;
  }
  return p;
}

inline constexpr const char* kReceiptColumns = "SELECT seq, hash, server_ms, signature FROM receipts ";
template <class Row>
Result<Receipt> receipt_from(const Row& row, const PublicKey& device) {
  Receipt r;
  r.device = device;
  r.seq = u64(row.int64(0));
  r.hash = row.blob32(1);
  r.server_ms = row.int64(2);
  SB_ASSIGN_OR_RETURN(r.signature, signature_column(row, 3, "the receipt of device " + short_device(device)));
  return r;
}

// A chain's event with the push that delivered it: the heads row with the smallest last_pos at
// or after the event's position (an append's events take consecutive positions, its heads row
// ends them). Followed by the backend's WHERE on c.device and e.seq.
inline constexpr const char* kChainEventColumns =
    "SELECT e.raw, e.received_ms, e.seq, CASE WHEN h.chain = e.chain THEN 1 ELSE 0 END, h.seq, h.hash, "
    "h.receipt_ms, h.receipt_sig FROM chains c JOIN events e ON e.chain = c.id "
    "LEFT JOIN heads h ON h.last_pos = (SELECT min(last_pos) FROM heads WHERE last_pos >= e.pos) ";
template <class Row>
Result<ChainEvent> chain_event_from(const Row& row, const PublicKey& device) {
  ChainEvent ce;
  ce.raw = row.blob(0);
  ce.received_ms = row.int64(1);
  const std::string what = event_name(device, u64(row.int64(2)));
  if (row.is_null(3) || row.int64(3) == 0) return no_push_holding(what);
  if (!row.is_null(7)) {
    Receipt r;
    r.device = device;
    r.seq = u64(row.int64(4));
    r.hash = row.blob32(5);
    r.server_ms = row.int64(6);
    SB_ASSIGN_OR_RETURN(r.signature, signature_column(row, 7, "the receipt for the push of " + what));
    ce.receipt = r;
  }
  return ce;
}

// An event found by hash: columns 1.. after e.hash (column 0).
inline constexpr const char* kEventInfoColumns =
    "SELECT e.hash, c.device, e.seq, e.hlc, e.kind, e.unit, e.site FROM events e JOIN chains c ON c.id = e.chain ";
template <class Row>
EventInfo event_info_from(const Row& row) {
  EventInfo info;
  info.device = row.blob32(1);
  info.seq = u64(row.int64(2));
  info.hlc = u64(row.int64(3));
  info.kind = row.text(4);
  info.unit = row.text(5);
  info.site = row.text(6);
  return info;
}

}  // namespace shiftbook::server::rows
