// Head office's logic (service.h): enrollment. A terminal's enroll request redeems a code
// (storage does it atomically); the answer names the site, the units and the site signer's
// delegation. Failed attempts are counted per peer address and in all (EnrollLimiter), and past
// the limits a request is refused with 429 before its envelope is even opened.
#include <algorithm>
#include <iterator>
#include <utility>

#include "service_impl.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
using namespace detail;

namespace detail {

int EnrollLimiter::wait_seconds(const std::string& peer, std::int64_t now) {
  std::lock_guard lock(mu_);
  prune(now);
  std::int64_t until = 0;
  if (static_cast<int>(global_.size()) >= options_.enroll_failures_global) {
    until = global_[global_.size() - options_.enroll_failures_global] + options_.enroll_window_ms;
  }
  auto it = peers_.find(peer);
  if (it != peers_.end() && static_cast<int>(it->second.size()) >= options_.enroll_failures_per_peer) {
    const auto& q = it->second;
    until = std::max(until, q[q.size() - options_.enroll_failures_per_peer] + options_.enroll_window_ms);
  }
  if (until <= now) return 0;
  return static_cast<int>(std::max<std::int64_t>(1, (until - now + 999) / 1000));
}

void EnrollLimiter::record_failure(const std::string& peer, std::int64_t now) {
  std::lock_guard lock(mu_);
  global_.push_back(now);
  peers_[peer].push_back(now);
}

void EnrollLimiter::prune(std::int64_t now) {
  const std::int64_t oldest = now - options_.enroll_window_ms;
  while (!global_.empty() && global_.front() <= oldest) global_.pop_front();
  for (auto it = peers_.begin(); it != peers_.end();) {
    while (!it->second.empty() && it->second.front() <= oldest) it->second.pop_front();
    it = it->second.empty() ? peers_.erase(it) : std::next(it);
  }
}

}  // namespace detail

// ---- enroll ---------------------------------------------------------------------------------------

Reply Service::Impl::enroll(ByteView wire, const std::string& peer) {
  const std::int64_t now = clock.now_ms();
  std::string prefix = "enroll peer " + peer;
  if (wire.size() > kMaxEnvelopeBytes) {
    limiter.record_failure(peer, now);
    return json_error(413, "too_large", "the request is larger than " + std::to_string(kMaxEnvelopeBytes) + " bytes",
                      prefix + " refused: too_large: " + std::to_string(wire.size()) + " bytes");
  }
  if (int wait_s = limiter.wait_seconds(peer, now); wait_s > 0) {
    Reply r = json_error(429, "rate_limited",
                         "too many failed enrollment attempts; try again in " + std::to_string(wait_s) + " s",
                         prefix + " refused: rate_limited: retry after " + std::to_string(wait_s) + " s");
    r.retry_after_seconds = wait_s;
    return r;
  }
  auto opened = open_request(server_key, wire);
  if (!opened.is_ok()) {
    limiter.record_failure(peer, now);
    return envelope_refusal(opened.status(), prefix);
  }
  prefix = "enroll device " + short_device(opened->device) + " peer " + peer;
  DeviceRecord rec;
  std::optional<Refusal> refusal = enroll_code(*opened, rec);
  if (refusal) {
    if (refusal->error != ProtocolError::kInternal) limiter.record_failure(peer, now);
    return sealed_refusal(opened->context, *refusal, prefix);
  }
  auto s = signer(rec.site);
  Message m;
  m.header["type"] = "enrolled";
  m.header["site"] = rec.site;
  m.header["units"] = rec.units;
  m.header["server_ms"] = now;
  m.header["signer"] = Json{{"site", s->delegation.site},
                            {"key", to_hex(s->delegation.signer)},
                            {"sig", to_hex(s->delegation.signature)}};
  return sealed(opened->context, m, prefix + " enrolled: site " + rec.site + " units " + join(rec.units, ","));
}

std::optional<Refusal> Service::Impl::enroll_code(const OpenedRequest& req, DeviceRecord& enrolled) {
  auto msg = decode_message(req.plaintext);
  if (!msg.is_ok()) return refuse(ProtocolError::kMalformed, msg.status().message());
  const Json& h = msg->header;
  if (h.at("type") != "enroll") {
    return refuse(ProtocolError::kMalformed, "expected an enroll message, got '" + h.at("type").get<std::string>() + "'");
  }
  if (auto r = check_version(h)) return r;
  if (Status s = only_fields(h, {"type", "v", "code"}); !s.is_ok()) return refuse(ProtocolError::kMalformed, s.message());
  if (!msg->events.empty()) return refuse(ProtocolError::kMalformed, "an enroll message carries no events");
  auto secret = hex_field<8>(h, "code");
  if (!secret.is_ok()) return refuse(ProtocolError::kMalformed, secret.status().message());

  const Hash secret_hash = blake2b_256(*secret);
  // The code's record, read only on the rare paths that need it (codes are few).
  auto code_record = [&]() -> std::optional<CodeRecord> {
    auto all = storage->codes();
    if (!all.is_ok()) return std::nullopt;
    for (CodeRecord& c : *all) {
      if (c.secret_hash == secret_hash) return std::move(c);
    }
    return std::nullopt;
  };
  // An enrolled device presenting the code it redeemed itself is retrying an enrollment whose
  // answer it lost: it hears "enrolled" again. Any other code is refused.
  auto enrolled_already = [&](DeviceRecord r) -> std::optional<Refusal> {
    auto c = code_record();
    if (c && c->used_ms != 0 && c->used_by == req.device) {
      enrolled = std::move(r);
      return std::nullopt;
    }
    return refuse(ProtocolError::kCode, "this terminal (device " + short_device(req.device) +
                                            ") is enrolled already, for site " + r.site + " units " +
                                            join(r.units, ", ") + "; it cannot enroll again with a new code");
  };
  auto existing = storage->device(req.device);
  if (!existing.is_ok()) return internal_refusal(existing.status());
  if (*existing) return enrolled_already(std::move(**existing));

  auto redeemed = storage->redeem_code(secret_hash, req.device, clock.now_ms());
  if (redeemed.is_ok()) {
    enrolled = std::move(*redeemed);
    return std::nullopt;
  }
  const Status& s = redeemed.status();
  switch (s.code()) {
    case Code::kNotFound:
      return refuse(ProtocolError::kCode, "unknown enrollment code: check it was typed as head office gave it");
    case Code::kAlreadyExists: {  // enrolled by a concurrent request
      auto again = storage->device(req.device);
      if (!again.is_ok()) return internal_refusal(again.status());
      if (*again) return enrolled_already(std::move(**again));
      return internal_refusal(s);
    }
    case Code::kFailedPrecondition: {
      // Say which of the two it was from the record itself, not from the backend's wording.
      if (auto c = code_record()) {
        if (c->used_ms != 0) {
          return refuse(ProtocolError::kCode, "this enrollment code was already used (at " + format_utc(c->used_ms) +
                                                  "); ask head office for a new one");
        }
        return refuse(ProtocolError::kCode,
                      "this enrollment code expired at " + format_utc(c->expires_ms) + "; ask head office for a new one");
      }
      return refuse(ProtocolError::kCode, "this enrollment code cannot be used: " + s.message());
    }
    default:
      return internal_refusal(s);
  }
}

}  // namespace shiftbook::server
