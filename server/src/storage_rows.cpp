// What the backends of the server's storage share (storage_rows.h).
#include "storage_rows.h"

#include <numeric>

#include "shiftbook/kinds.h"

namespace shiftbook::server::rows {

Status check_append(const AppendBatch& b) {
  const std::string who = "append for device " + short_device(b.device) + ": ";
  if (b.events.empty()) return invalid_argument(who + "the batch has no events");
  if (b.expected_seq < 1) return invalid_argument(who + "expected_seq must be at least 1");
  for (std::size_t i = 0; i < b.events.size(); ++i) {
    const Event& e = b.events[i].event;
    if (e.device != b.device) return invalid_argument(who + "it holds an event of device " + short_device(e.device));
    if (e.seq != b.expected_seq + i) {
      return invalid_argument(who + event_name(e.device, e.seq) + " is not consecutive from seq " +
                              std::to_string(b.expected_seq));
    }
  }
  const Event& last = b.events.back().event;
  if (b.head.device != b.device || b.head.seq != last.seq || b.head.hash != last.hash) {
    return invalid_argument(who + "the head is not at the batch's last event");
  }
  if (b.receipt.device != b.device || b.receipt.seq != last.seq || b.receipt.hash != last.hash) {
    return invalid_argument(who + "the receipt is not for the batch's last event");
  }
  return Status::ok();
}

Status check_quarantine(const QuarantineBatch& b) {
  const std::string who = "quarantine for device " + short_device(b.device) + ": ";
  if (b.events.empty()) return invalid_argument(who + "the batch has no events");
  for (std::size_t i = 0; i < b.events.size(); ++i) {
    const Event& e = b.events[i].event;
    if (e.device != b.device) return invalid_argument(who + "it holds an event of device " + short_device(e.device));
    if (i > 0 && e.seq != b.events[i - 1].event.seq + 1) {
      return invalid_argument(who + event_name(e.device, e.seq) + " does not follow the event before it");
    }
  }
  const Event& last = b.events.back().event;
  if (b.head.device != b.device || b.head.seq != last.seq || b.head.hash != last.hash) {
    return invalid_argument(who + "the head is not at the batch's last event");
  }
  return Status::ok();
}

Status check_hash_range(const PublicKey& device, std::uint64_t from, std::uint64_t to) {
  if (from < 1 || from > to) {
    return invalid_argument("hashes of device " + short_device(device) + ": the range " + std::to_string(from) +
                            ".." + std::to_string(to) + " is empty or starts before seq 1");
  }
  return Status::ok();
}

Status hashes_not_all_held(const PublicKey& device, std::uint64_t from, std::uint64_t to, std::size_t held) {
  return not_found("device " + short_device(device) + ": events " + std::to_string(from) + ".." +
                   std::to_string(to) + " are not all held (" + std::to_string(held) + " are)");
}

Status chain_moved(const PublicKey& device, std::uint64_t held, std::uint64_t expected_seq) {
  return aborted("device " + short_device(device) + " now holds events up to seq " + std::to_string(held) + ", not " +
                 std::to_string(expected_seq - 1) + " (another sync of it was stored first); sync again");
}

Status site_changed(const std::string& site) {
  return aborted("site " + site + "'s terminals stored events since this was computed; compute it again");
}

Status revoked_before_push(const PublicKey& device) {
  return aborted("device " + short_device(device) + " was revoked before this push was stored; what it sends now "
                 "is kept in quarantine");
}

Status revoked_already(const PublicKey& device) {
  return failed_precondition("device " + short_device(device) + " is revoked already");
}

Status not_enrolled(const PublicKey& device) { return not_found("device " + short_device(device) + " is not enrolled"); }

Status missing_event(const PublicKey& device, std::uint64_t seq) {
  return data_loss("the head-office store is missing " + event_name(device, seq) + "; restore it from a backup");
}

Status missing_push_events(std::uint64_t cursor) {
  return data_loss("the head-office store is missing events of a stored push (positions after " +
                   std::to_string(cursor) + "); restore it from a backup");
}

Status no_push_holding(const std::string& what) {
  return data_loss("the head-office store has no push holding " + what + "; restore it from a backup");
}

Status unknown_code() { return not_found("unknown enrollment code; check it, or ask head office for a new one"); }

Status enrolled_already(const PublicKey& device, const std::string& site) {
  return already_exists("device " + short_device(device) + " is enrolled already" +
                        (site.empty() ? std::string() : " (site " + site + ")") + "; it needs no new code");
}

Status code_used() { return failed_precondition("enrollment code already used; ask head office for a new one"); }

Status code_expired() { return failed_precondition("enrollment code expired; ask head office for a new one"); }

Status code_exists() { return already_exists("an enrollment code with this secret exists already"); }

Status token_exists(const std::string& id) { return already_exists("an API token with id " + id + " exists already"); }

Status unknown_token(const std::string& id) {
  return not_found("no API token '" + id + "' (see 'shiftbook-server token list')");
}

Status token_revoked_already(const std::string& id, std::int64_t ms) {
  return failed_precondition("API token " + id + " is revoked already (since " + format_date(ms / 86'400'000) + " " +
                             format_minutes((ms % 86'400'000) / 60'000) + " UTC)");
}

Status account_exists(const std::string& name) {
  return already_exists("an account named '" + name + "' exists already");
}

Status unknown_account(const std::string& name) {
  return not_found("no account '" + name + "' (see 'shiftbook-server account list')");
}

Status account_disabled_already(const std::string& name) {
  return failed_precondition("account " + name + " is disabled already; nothing was changed");
}

Result<Bytes> encode_units(const std::vector<std::string>& units) {
  Json list = Json::array();
  for (const auto& u : units) list.push_back(u);
  return encode_value(list);
}

Result<std::vector<std::string>> decode_units(ByteView bytes, const std::string& what) {
  auto list = decode_value(bytes);
  if (!list.is_ok() || !list->is_array()) return data_loss("the stored units of " + what + " are damaged");
  std::vector<std::string> out;
  for (const auto& u : *list) {
    if (!u.is_string()) return data_loss("the stored units of " + what + " are damaged");
    out.push_back(u.get<std::string>());
  }
  return out;
}

std::optional<LoginCount> count_login(const AccountRecord& held, std::int64_t now_ms, const LoginLimits& limits) {
  if (held.locked_until_ms > now_ms) return std::nullopt;
  const std::int64_t failures = held.failures + 1;
  if (failures >= limits.max_failures) return LoginCount{0, now_ms + limits.lockout_ms};
  return LoginCount{failures, 0};
}

bool PullPlan::offer(const Push& push, std::size_t bytes, std::int64_t chain, const SignedHead& head) {
  if (!pushes_.empty() && bytes_ + bytes > max_bytes_) {
    more_ = true;
    return false;
  }
  bytes_ += bytes;
  pushes_.push_back(push);
  if (last_head_.find(chain) == last_head_.end()) order_.push_back(chain);
  last_head_[chain] = head;
  return true;
}

std::size_t PullPlan::event_count() const {
  return std::accumulate(pushes_.begin(), pushes_.end(), std::size_t{0}, [](std::size_t n, const Push& p) {
    return n + static_cast<std::size_t>(p.last_pos - p.first_pos + 1);
  });
}

std::vector<SignedHead> PullPlan::heads() const {
  std::vector<SignedHead> out;
  for (std::int64_t chain : order_) out.push_back(last_head_.at(chain));
  return out;
}

}  // namespace shiftbook::server::rows
