// Head office's logic (service.h): enrollment, the sync round trip, and administration that
// writes signed reference events. Invariants kept here:
// - Nothing of a refused push is stored; an accepted push is stored by ONE storage append (events,
//   head and receipt together), after one head-signature check and one check_link per event.
// - Everything said after a request envelope opens is sealed for that request; only what cannot
//   be encrypted (size, version, unknown device, authentication) is answered as plain JSON.
// - A site signer's chain is only appended to under admin_mu_ (and storage refuses a stale
//   expected_seq, so another process writing the same store cannot interleave a chain either).
// Thread-safe: sync() and enroll() run on many request threads; the mutable state (enrollment
// failure counts, the site signer cache) sits behind its own mutexes.
#include "service.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <iomanip>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "shiftbook/envelope.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
namespace {

constexpr std::int64_t kMinCodeValidMs = 60'000;
constexpr std::int64_t kMaxCodeValidMs = 30LL * 24 * 60 * 60 * 1000;
constexpr std::size_t kMaxCodeUnits = 64;
constexpr int kAppendAttempts = 3;
constexpr const char* kHeadOfficeAuthor = "head-office";

struct HashHasher {
  std::size_t operator()(const Hash& h) const {
    std::size_t v = 0;
    std::memcpy(&v, h.data(), sizeof v);  // BLAKE2b output is uniform already
    return v;
  }
};

std::string short_hash(const Hash& h) { return to_hex(ByteView(h.data(), 8)); }

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// "2026-11-17 08:00 UTC"
std::string format_utc(std::int64_t ms) {
  std::int64_t days = ms >= 0 ? ms / 86'400'000 : 0;
  std::int64_t minutes = ms >= 0 ? (ms % 86'400'000) / 60'000 : 0;
  return format_date(days) + " " + format_minutes(minutes) + " UTC";
}

std::string elapsed_ms(std::chrono::steady_clock::time_point started) {
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << ms << " ms";
  return out.str();
}

Reply json_error(int http_status, std::string_view code, const std::string& message, std::string log_line) {
  Json body = Json::object();
  body["error"] = Json{{"code", std::string(code)}, {"message", message}};
  Reply r;
  r.http_status = http_status;
  r.content_type = "application/json";
  r.body = body.dump();
  r.log_line = std::move(log_line);
  return r;
}

// A refusal said inside the encrypted response; `log_detail` goes to the log only (storage
// failures, which the terminal is not told about beyond "internal").
struct Refusal {
  ProtocolError error = ProtocolError::kInternal;
  std::string message;
  std::optional<std::uint64_t> expected_seq;
  std::string log_detail;
};

Refusal refuse(ProtocolError e, std::string message) { return Refusal{e, std::move(message), std::nullopt, {}}; }
Refusal internal_refusal(const Status& s) {
  return Refusal{ProtocolError::kInternal, "the server failed to handle this request; retry later", std::nullopt,
                 s.to_string()};
}

Json error_header(const Refusal& r) {
  Json h = Json::object();
  h["type"] = "error";
  h["code"] = std::string(protocol_error_name(r.error));
  h["message"] = r.message;
  if (r.expected_seq) h["expected_seq"] = static_cast<std::int64_t>(*r.expected_seq);
  return h;
}

Json receipt_json(const Receipt& r) {
  Json j = Json::object();
  j["seq"] = static_cast<std::int64_t>(r.seq);
  j["hash"] = to_hex(r.hash);
  j["server_ms"] = r.server_ms;
  j["sig"] = to_hex(r.signature);
  return j;
}

Json head_json(const SignedHead& h) {
  Json j = Json::object();
  j["device"] = to_hex(h.device);
  j["seq"] = static_cast<std::int64_t>(h.seq);
  j["hash"] = to_hex(h.hash);
  j["sig"] = to_hex(h.signature);
  return j;
}

// ---- reading request headers ------------------------------------------------------------------

Status only_fields(const Json& header, std::initializer_list<std::string_view> allowed) {
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      return invalid_argument("the message header has an unknown field '" + it.key() + "'");
    }
  }
  return Status::ok();
}

Result<std::int64_t> int_field(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end()) return invalid_argument(std::string("field '") + name + "' is missing");
  if (!it->is_number_integer()) return invalid_argument(std::string("field '") + name + "' must be a whole number");
  return it->get<std::int64_t>();
}

Result<std::string> string_field(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end()) return invalid_argument(std::string("field '") + name + "' is missing");
  if (!it->is_string()) return invalid_argument(std::string("field '") + name + "' must be text");
  return it->get<std::string>();
}

template <std::size_t N>
Result<std::array<std::uint8_t, N>> hex_field(const Json& obj, const char* name) {
  SB_ASSIGN_OR_RETURN(std::string text, string_field(obj, name));
  auto v = array_from_hex<N>(text);
  if (!v.is_ok()) return invalid_argument(std::string("field '") + name + "': " + v.status().message());
  return *v;
}

// The message's "v", checked before anything else so a newer terminal hears "version", not
// "unknown field".
std::optional<Refusal> check_version(const Json& header) {
  auto v = int_field(header, "v");
  if (!v.is_ok()) return refuse(ProtocolError::kMalformed, v.status().message());
  if (*v != kProtocolVersion) {
    return refuse(ProtocolError::kVersion, "this server speaks protocol version " + std::to_string(kProtocolVersion) +
                                               ", the request is version " + std::to_string(*v));
  }
  return std::nullopt;
}

struct SyncRequest {
  std::uint64_t cursor = 0;
  std::size_t pull_max = kDefaultPullBytes;
  std::int64_t client_ms = 0;
  std::optional<SignedHead> head;
};

Result<SyncRequest> parse_sync_header(const Json& h, const PublicKey& device) {
  SB_RETURN_IF_ERROR(only_fields(h, {"type", "v", "cursor", "pull_max", "client_ms", "head"}));
  SyncRequest r;
  SB_ASSIGN_OR_RETURN(std::int64_t cursor, int_field(h, "cursor"));
  if (cursor < 0) return invalid_argument("field 'cursor' must not be negative");
  r.cursor = static_cast<std::uint64_t>(cursor);
  SB_ASSIGN_OR_RETURN(std::int64_t pull_max, int_field(h, "pull_max"));
  r.pull_max = static_cast<std::size_t>(
      std::clamp<std::int64_t>(pull_max, kMinPullBytes, static_cast<std::int64_t>(kMaxPullBytes)));
  SB_ASSIGN_OR_RETURN(r.client_ms, int_field(h, "client_ms"));
  auto it = h.find("head");
  if (it != h.end()) {
    const Json& head = *it;
    if (!head.is_object()) return invalid_argument("field 'head' must be a map of seq, hash and sig");
    for (auto f = head.begin(); f != head.end(); ++f) {
      if (f.key() != "seq" && f.key() != "hash" && f.key() != "sig") {
        return invalid_argument("field 'head' has an unknown field '" + f.key() + "'");
      }
    }
    SignedHead sh;
    sh.device = device;
    SB_ASSIGN_OR_RETURN(std::int64_t seq, int_field(head, "seq"));
    if (seq < 1) return invalid_argument("head field 'seq' must be 1 or more");
    sh.seq = static_cast<std::uint64_t>(seq);
    SB_ASSIGN_OR_RETURN(sh.hash, hex_field<32>(head, "hash"));
    SB_ASSIGN_OR_RETURN(sh.signature, hex_field<64>(head, "sig"));
    r.head = sh;
  }
  return r;
}

// ---- checking a push ----------------------------------------------------------------------------

// What a pushed event's references need to know about the event they name.
struct RefInfo {
  PublicKey device{};
  std::string kind;
  std::string entry_kind;  // hours/output/bonus for an entry's versions; empty when not known
  std::string unit;
};

// Finds referenced events: first among the batch's own events, then in what storage holds (each
// stored event asked for once per request).
class RefLookup {
 public:
  explicit RefLookup(Storage& storage) : storage_(storage) {}

  void add(const Hash& h, RefInfo info) { batch_.insert_or_assign(h, std::move(info)); }

  // nullptr when the event is not known.
  Result<const RefInfo*> find(const Hash& h) {
    if (auto it = batch_.find(h); it != batch_.end()) return &it->second;
    if (auto it = stored_.find(h); it != stored_.end()) return it->second ? &*it->second : nullptr;
    SB_ASSIGN_OR_RETURN(std::optional<EventInfo> info, storage_.event_info(h));
    std::optional<RefInfo> ref;
    if (info) {
      ref = RefInfo{info->device, info->kind, is_correctable_kind(info->kind) ? info->kind : std::string(), info->unit};
    }
    auto it = stored_.emplace(h, std::move(ref)).first;
    return it->second ? &*it->second : nullptr;
  }

 private:
  Storage& storage_;
  std::unordered_map<Hash, RefInfo, HashHasher> batch_;
  std::unordered_map<Hash, std::optional<RefInfo>, HashHasher> stored_;
};

// A stored correction does not tell which kind of entry it corrects (storage keeps kinds, not
// bodies); the fields of its new version do, since the three correctable bodies are disjoint.
std::string entry_kind_from_fields(const Json& entry) {
  if (entry.is_object()) {
    if (entry.contains("product")) return std::string(kind::kOutput);
    if (entry.contains("type")) return std::string(kind::kBonus);
  }
  return std::string(kind::kHours);
}

bool has_unit(const DeviceRecord& rec, const std::string& unit) {
  return std::find(rec.units.begin(), rec.units.end(), unit) != rec.units.end();
}

// The hash a body field names, or nullopt when the field is absent or not a ref (validate_body
// reports those). The same rule as parse_hash_ref (64 lower-case hex digits), without allocating:
// it runs for nearly every pushed event.
std::optional<Hash> ref_field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  const std::string& text = it->get_ref<const std::string&>();
  if (text.size() != 64) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  Hash h{};
  for (std::size_t i = 0; i < h.size(); ++i) {
    int hi = digit(text[2 * i]);
    int lo = digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    h[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return h;
}

// Checks one new event of the sender's push against the rules that need no chain state: kind,
// body, references, scope. Sets its unit and site, and adds it to `refs` for later events.
std::optional<Refusal> check_new_event(NewEvent& ne, const DeviceRecord& rec, RefLookup& refs) {
  const Event& e = ne.event;
  // Named only when refusing: building the name for every event costs more than the checks.
  auto name = [&e] { return event_name(e.device, e.seq); };
  if (!is_terminal_kind(e.kind)) {
    return refuse(ProtocolError::kKind,
                  name() + ": kind '" + e.kind + "' " +
                      (is_head_office_kind(e.kind) ? "is written only by head office"
                                                   : "is not a kind a terminal may write"));
  }
  const bool is_correction = e.kind == kind::kCorrection;
  const bool names_target = is_correction || e.kind == kind::kVoid || e.kind == kind::kConfirm;
  const char* target_field = e.kind == kind::kConfirm ? "entry" : "target";
  const RefInfo* target = nullptr;
  std::string corrected_kind;
  if (names_target) {
    if (auto h = ref_field(e.body, target_field)) {
      auto found = refs.find(*h);
      if (!found.is_ok()) return internal_refusal(found.status());
      target = *found;
      if (target == nullptr) {
        return refuse(ProtocolError::kInvalid, name() + ": its " + target_field + " " + short_hash(*h) +
                                                   "... is not an event the server holds");
      }
      if (is_correction) {
        corrected_kind = target->entry_kind;
        if (corrected_kind.empty() && target->kind == kind::kCorrection) {
          auto entry = e.body.find("entry");
          corrected_kind = entry_kind_from_fields(entry == e.body.end() ? Json() : *entry);
        }
      }
    }
  }
  if (Status s = validate_body(e.kind, e.body, corrected_kind); !s.is_ok()) {
    return refuse(ProtocolError::kInvalid, name() + ": " + s.message());
  }

  std::string unit;
  if (e.kind == kind::kShiftOpen) {
    unit = e.body.at("unit").get<std::string>();
  } else if (auto shift = ref_field(e.body, "shift")) {
    auto found = refs.find(*shift);
    if (!found.is_ok()) return internal_refusal(found.status());
    const RefInfo* s = *found;
    if (s == nullptr || s->kind != kind::kShiftOpen) {
      return refuse(ProtocolError::kInvalid,
                    name() + ": its shift " + short_hash(*shift) + "... is not a shift the server holds");
    }
    if (s->device != e.device) {
      return refuse(ProtocolError::kInvalid, name() + ": its shift " + short_hash(*shift) +
                                                 "... was opened by another terminal (device " +
                                                 short_device(s->device) + ")");
    }
    unit = s->unit;
  } else if (target != nullptr) {
    unit = target->unit;
  }
  if (is_correction) {
    // The new version names its shift too; it must be a shift, though possibly another
    // terminal's (a terminal may correct what a colleague recorded in its unit).
    auto shift = ref_field(e.body.at("entry"), "shift");
    const RefInfo* s = nullptr;
    if (shift) {
      auto found = refs.find(*shift);
      if (!found.is_ok()) return internal_refusal(found.status());
      s = *found;
    }
    if (s == nullptr || s->kind != kind::kShiftOpen) {
      return refuse(ProtocolError::kInvalid, name() + ": the corrected entry's shift is not a shift the server holds");
    }
  }
  if (!has_unit(rec, unit)) {
    const std::string units = join(rec.units, ", ");
    return refuse(ProtocolError::kScope,
                  name() + ": " +
                      (unit.empty() ? "it belongs to no production unit; this terminal writes only for its units (" +
                                          units + ")"
                                    : "unit '" + unit + "' is not one of this terminal's units (" + units + ")"));
  }
  ne.unit = unit;
  ne.site = rec.site;
  std::string entry_kind;
  if (is_correctable_kind(e.kind)) entry_kind = e.kind;
  if (is_correction) entry_kind = corrected_kind;
  refs.add(e.hash, RefInfo{e.device, e.kind, std::move(entry_kind), unit});
  return std::nullopt;
}

// ---- enrollment failure counting ---------------------------------------------------------------

// Failed enrollment attempts within a sliding window, per peer address and in all. Only failures
// are counted (a refused-by-limit attempt is not), so the map holds at most about the global
// limit of peers at once.
class EnrollLimiter {
 public:
  explicit EnrollLimiter(const ServiceOptions& o) : options_(o) {}

  // Seconds until an attempt from `peer` may be made, or 0 when it may be made now.
  int wait_seconds(const std::string& peer, std::int64_t now) {
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

  void record_failure(const std::string& peer, std::int64_t now) {
    std::lock_guard lock(mu_);
    global_.push_back(now);
    peers_[peer].push_back(now);
  }

 private:
  void prune(std::int64_t now) {
    const std::int64_t oldest = now - options_.enroll_window_ms;
    while (!global_.empty() && global_.front() <= oldest) global_.pop_front();
    for (auto it = peers_.begin(); it != peers_.end();) {
      while (!it->second.empty() && it->second.front() <= oldest) it->second.pop_front();
      it = it->second.empty() ? peers_.erase(it) : std::next(it);
    }
  }

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

struct ChainItem {
  std::string kind;
  Json body;
  std::string ref_key;
};

bool is_ref_kind(std::string_view k) {
  return k == "ref_site" || k == "ref_unit" || k == "ref_period" || k == "ref_product" || k == "ref_worker" ||
         k == "ref_leader" || k == "ref_quota";
}

}  // namespace

// =================================================================================================

struct Service::Impl {
  Impl(std::unique_ptr<Storage> s, DeviceKey k, const Clock& c, ServiceOptions o)
      : storage(std::move(s)), server_key(std::move(k)), clock(c), options(o), limiter(options) {}

  std::unique_ptr<Storage> storage;
  DeviceKey server_key;
  const Clock& clock;
  ServiceOptions options;
  EnrollLimiter limiter;

  std::mutex signers_mu;
  std::map<std::string, std::shared_ptr<const SiteSigner>> signers;
  std::mutex admin_mu;

  std::shared_ptr<const SiteSigner> signer(const std::string& site) {
    std::lock_guard lock(signers_mu);
    auto it = signers.find(site);
    if (it != signers.end()) return it->second;
    DeviceKey key = derive_site_signer(server_key, site);
    Delegation d = sign_delegation(server_key, site, key.public_key());
    auto made = std::make_shared<const SiteSigner>(std::move(key), std::move(d));
    signers.emplace(site, made);
    return made;
  }

  Reply sealed(const EnvelopeContext& ctx, const Message& m, std::string log_line) {
    auto plain = encode_message(m);
    if (!plain.is_ok()) {
      return json_error(500, "internal", "the server could not encode its answer",
                        log_line + " (answer not sent: " + plain.status().to_string() + ")");
    }
    auto wire = seal_response(ctx, *plain);
    if (!wire.is_ok()) {
      return json_error(500, "internal", "the server could not seal its answer",
                        log_line + " (answer not sent: " + wire.status().to_string() + ")");
    }
    Reply r;
    r.body.assign(wire->begin(), wire->end());
    r.log_line = std::move(log_line);
    return r;
  }

  Reply sealed_refusal(const EnvelopeContext& ctx, const Refusal& refusal, const std::string& prefix) {
    Message m;
    m.header = error_header(refusal);
    std::string line = prefix + " refused: " + std::string(protocol_error_name(refusal.error)) + ": " + refusal.message;
    if (!refusal.log_detail.empty()) line += " (" + refusal.log_detail + ")";
    return sealed(ctx, m, std::move(line));
  }

  // Maps what open_request/request_device say about an envelope to its plain JSON answer.
  static Reply envelope_refusal(const Status& s, const std::string& prefix) {
    switch (s.code()) {
      case Code::kResourceExhausted:
        return json_error(413, "too_large", s.message(), prefix + " refused: too_large: " + s.message());
      case Code::kInvalidArgument:
        return json_error(400, "malformed", s.message(), prefix + " refused: malformed: " + s.message());
      case Code::kFailedPrecondition:
        return json_error(426, "version", s.message(), prefix + " refused: version: " + s.message());
      case Code::kUnauthenticated:
        return json_error(401, "unauthenticated", s.message(), prefix + " refused: unauthenticated: " + s.message());
      default:
        return json_error(500, "internal", "the server failed to read the request; retry later",
                          prefix + " failed: " + s.to_string());
    }
  }

  Reply enroll(ByteView wire, const std::string& peer);
  Reply sync(ByteView wire, const std::string& peer);
  std::optional<Refusal> enroll_code(const OpenedRequest& req, DeviceRecord& enrolled);

  // The push of a sync request; on success the receipt to answer with and what was added.
  struct PushOutcome {
    Receipt receipt;
    std::size_t added = 0;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
  };
  std::variant<PushOutcome, Refusal> push(DeviceRecord rec, std::vector<Bytes>& raw, const SignedHead& head);
  std::variant<PushOutcome, Refusal> stored_receipt(const DeviceRecord& rec);

  Status append_to_chain(const std::string& site, std::vector<ChainItem> items);
  Result<Json> put_reference(const std::string& kind, Json body);
  Result<std::string> create_code(const std::string& site, const std::vector<std::string>& units,
                                  std::int64_t valid_ms);
};

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

// ---- sync -----------------------------------------------------------------------------------------

std::variant<Service::Impl::PushOutcome, Refusal> Service::Impl::stored_receipt(const DeviceRecord& rec) {
  auto stored = storage->receipt(rec.key);
  if (!stored.is_ok()) return internal_refusal(stored.status());
  PushOutcome out;
  if (*stored && (*stored)->seq == rec.seq) {
    out.receipt = **stored;
  } else {
    // Nothing held (seq 0, zero hash), or a store without the receipt: vouch for what is held now.
    out.receipt = sign_receipt(server_key, rec.key, rec.seq, rec.seq == 0 ? Hash{} : rec.head, clock.now_ms());
  }
  return out;
}

std::variant<Service::Impl::PushOutcome, Refusal> Service::Impl::push(DeviceRecord rec, std::vector<Bytes>& raw,
                                                                      const SignedHead& head) {
  const PublicKey& sender = rec.key;
  // 1. Decode once; every event must be the sender's, consecutive, and linked within the batch.
  std::vector<NewEvent> events;
  events.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    auto e = decode_event(raw[i]);
    if (!e.is_ok()) {
      return refuse(ProtocolError::kMalformed, "pushed event " + std::to_string(i + 1) + " of " +
                                                   std::to_string(raw.size()) + ": " + e.status().message());
    }
    if (e->device != sender) {
      return refuse(ProtocolError::kForeignDevice, event_name(e->device, e->seq) +
                                                       ": is not an event of this terminal (device " +
                                                       short_device(sender) + "); a terminal pushes only its own events");
    }
    if (!events.empty()) {
      const Event& prev = events.back().event;
      if (e->seq != prev.seq + 1) {
        return refuse(ProtocolError::kChain, event_name(e->device, e->seq) + ": follows event " +
                                                 std::to_string(prev.seq) + " in the push; pushed events must be consecutive");
      }
      if (Status s = check_link(&prev, *e); !s.is_ok()) return refuse(ProtocolError::kChain, s.message());
    }
    NewEvent ne;
    ne.event = std::move(*e);
    ne.raw = std::move(raw[i]);
    events.push_back(std::move(ne));
  }
  // Copied: the events move into the append batch below.
  const std::uint64_t last_seq = events.back().event.seq;
  const Hash last_hash = events.back().event.hash;
  // 2. One signature for the whole batch, before any per-event database work.
  if (head.seq != last_seq || head.hash != last_hash) {
    return refuse(ProtocolError::kChain, "the signed head (seq " + std::to_string(head.seq) +
                                             ") is not at the last pushed event, " + event_name(sender, last_seq));
  }
  if (!verify_head(head)) {
    return refuse(ProtocolError::kChain,
                  "the head signature at " + event_name(sender, last_seq) + " does not verify with the device's key");
  }

  RefLookup refs(*storage);
  const std::uint64_t first_seq = events.front().event.seq;
  std::size_t checked_from = events.size();  // events at and after this index passed check_new_event
  for (int attempt = 0; attempt < kAppendAttempts; ++attempt) {
    const std::uint64_t held = rec.seq;
    // 3. What the server holds already must be exactly what is pushed again.
    if (first_seq > held + 1) {
      Refusal r = refuse(ProtocolError::kGap, "the push starts at " + event_name(sender, first_seq) +
                                                  " but the server holds this device up to seq " + std::to_string(held) +
                                                  "; push from seq " + std::to_string(held + 1));
      r.expected_seq = held + 1;
      return r;
    }
    if (first_seq <= held) {
      const std::uint64_t to = std::min(last_seq, held);
      auto hashes = storage->hashes(sender, first_seq, to);
      if (!hashes.is_ok()) return internal_refusal(hashes.status());
      if (hashes->size() != to - first_seq + 1) {
        return internal_refusal(internal_error("storage returned " + std::to_string(hashes->size()) +
                                               " hashes for seq " + std::to_string(first_seq) + ".." + std::to_string(to)));
      }
      for (std::uint64_t seq = first_seq; seq <= to; ++seq) {
        const Hash& pushed = events[seq - first_seq].event.hash;
        const Hash& stored = (*hashes)[seq - first_seq];
        if (pushed == stored) continue;
        Status flagged = storage->flag_device(sender, "equivocation at seq " + std::to_string(seq) + ": pushed " +
                                                          short_hash(pushed) + "..., held " + short_hash(stored) + "...",
                                              clock.now_ms());
        Refusal r = refuse(ProtocolError::kEquivocation,
                           event_name(sender, seq) + ": the server holds a different event at this seq (held " + short_hash(stored) +
                               "..., pushed " + short_hash(pushed) + "...); nothing was stored and the device is flagged");
        r.expected_seq = held + 1;
        if (!flagged.is_ok()) r.log_detail = "flagging failed: " + flagged.to_string();
        return r;
      }
    }
    if (last_seq <= held) return stored_receipt(rec);

    // 4. The new events: the first links to the stored chain end (hash and HLC).
    const std::size_t k = static_cast<std::size_t>(held + 1 - first_seq);
    if (k == 0) {
      Status linked;
      if (held == 0) {
        linked = check_link(nullptr, events[0].event);
      } else {
        auto end = storage->event_info(rec.head);
        if (!end.is_ok()) return internal_refusal(end.status());
        if (!*end) return internal_refusal(data_loss("the stored chain end of device " + short_device(sender) + " is missing"));
        Event stored_end;
        stored_end.device = sender;
        stored_end.seq = held;
        stored_end.hash = rec.head;
        stored_end.hlc = (*end)->hlc;
        linked = check_link(&stored_end, events[0].event);
      }
      if (!linked.is_ok()) return refuse(ProtocolError::kChain, linked.message());
    }
    for (std::size_t i = k; i < checked_from; ++i) {
      if (auto r = check_new_event(events[i], rec, refs)) return *r;
    }
    checked_from = std::min(checked_from, k);

    // 5. One append: events, head, receipt.
    const std::int64_t now = clock.now_ms();
    AppendBatch batch;
    batch.device = sender;
    batch.expected_seq = held + 1;
    if (k == 0) {
      batch.events = std::move(events);  // the usual case: everything pushed is new
    } else {
      batch.events.assign(std::make_move_iterator(events.begin() + static_cast<std::ptrdiff_t>(k)),
                          std::make_move_iterator(events.end()));
    }
    batch.head = head;
    batch.receipt = sign_receipt(server_key, sender, last_seq, last_hash, now);
    Status appended = storage->append(batch);
    if (appended.is_ok()) {
      PushOutcome out;
      out.receipt = batch.receipt;
      out.added = batch.events.size();
      out.first = held + 1;
      out.last = last_seq;
      return out;
    }
    if (appended.code() != Code::kAborted) return internal_refusal(appended);
    // A concurrent sync of this device won: take the events back and judge again against what
    // it stored (a retry, an equivocation, or a gap).
    if (k == 0) {
      events = std::move(batch.events);
    } else {
      std::move(batch.events.begin(), batch.events.end(), events.begin() + static_cast<std::ptrdiff_t>(k));
    }
    auto again = storage->device(sender);
    if (!again.is_ok()) return internal_refusal(again.status());
    if (!*again) return internal_refusal(not_found("device " + short_device(sender) + " vanished during its sync"));
    rec = std::move(**again);
  }
  return refuse(ProtocolError::kInternal, "other syncs of this terminal kept interfering with this one; retry");
}

Reply Service::Impl::sync(ByteView wire, const std::string& peer) {
  const auto started = std::chrono::steady_clock::now();
  std::string prefix = "sync peer " + peer;
  if (wire.size() > kMaxEnvelopeBytes) {
    return json_error(413, "too_large", "the request is larger than " + std::to_string(kMaxEnvelopeBytes) + " bytes",
                      prefix + " refused: too_large: " + std::to_string(wire.size()) + " bytes");
  }
  auto device = request_device(wire);
  if (!device.is_ok()) return envelope_refusal(device.status(), prefix);
  prefix = "sync device " + short_device(*device) + " peer " + peer;
  auto found = storage->device(*device);
  if (!found.is_ok()) {
    return json_error(500, "internal", "the server failed to read the request; retry later",
                      prefix + " failed: " + found.status().to_string());
  }
  if (!*found) {
    std::string m = "device " + short_device(*device) + " is not enrolled with this server; enroll it with a code first";
    return json_error(401, "unknown_device", m, prefix + " refused: unknown_device: " + m);
  }
  DeviceRecord rec = std::move(**found);
  auto opened = open_request(server_key, wire);
  if (!opened.is_ok()) return envelope_refusal(opened.status(), prefix);
  const EnvelopeContext& ctx = opened->context;

  auto msg = decode_message(opened->plaintext);
  if (!msg.is_ok()) return sealed_refusal(ctx, refuse(ProtocolError::kMalformed, msg.status().message()), prefix);
  if (msg->header.at("type") != "sync") {
    return sealed_refusal(ctx,
                          refuse(ProtocolError::kMalformed,
                                 "expected a sync message, got '" + msg->header.at("type").get<std::string>() + "'"),
                          prefix);
  }
  if (auto r = check_version(msg->header)) return sealed_refusal(ctx, *r, prefix);
  auto req = parse_sync_header(msg->header, rec.key);
  if (!req.is_ok()) return sealed_refusal(ctx, refuse(ProtocolError::kMalformed, req.status().message()), prefix);
  if (msg->events.empty() != !req->head.has_value()) {
    return sealed_refusal(ctx,
                          refuse(ProtocolError::kMalformed, msg->events.empty()
                                                                ? "a signed head was sent without events"
                                                                : "events were pushed without a signed head"),
                          prefix);
  }
  std::size_t pushed_bytes = 0;
  for (const Bytes& b : msg->events) pushed_bytes += b.size();
  if (pushed_bytes > kMaxPushBytes) {
    return sealed_refusal(ctx,
                          refuse(ProtocolError::kLimit, "the push holds " + std::to_string(pushed_bytes) +
                                                            " bytes of events, more than " + std::to_string(kMaxPushBytes) +
                                                            "; push fewer at a time"),
                          prefix);
  }

  auto pushed = msg->events.empty() ? stored_receipt(rec) : push(rec, msg->events, *req->head);
  if (auto* r = std::get_if<Refusal>(&pushed)) return sealed_refusal(ctx, *r, prefix);
  const PushOutcome& outcome = std::get<PushOutcome>(pushed);

  // The pull: the site's head-office chain and every other terminal sharing a unit.
  std::vector<PublicKey> visible{signer(rec.site)->key.public_key()};
  auto peers = storage->devices_in_units(rec.units);
  if (!peers.is_ok()) return sealed_refusal(ctx, internal_refusal(peers.status()), prefix);
  for (const PublicKey& k : *peers) {
    if (k != rec.key) visible.push_back(k);
  }
  auto pulled = storage->pull(visible, req->cursor, req->pull_max);
  if (!pulled.is_ok()) return sealed_refusal(ctx, internal_refusal(pulled.status()), prefix);
  const std::uint64_t cursor = std::max(req->cursor, pulled->cursor);

  Message out;
  out.header["type"] = "sync";
  out.header["receipt"] = receipt_json(outcome.receipt);
  out.header["cursor"] = static_cast<std::int64_t>(cursor);
  out.header["more"] = pulled->more;
  Json heads = Json::array();
  for (const SignedHead& h : pulled->heads) heads.push_back(head_json(h));
  out.header["heads"] = std::move(heads);
  out.events.reserve(pulled->events.size());
  for (PulledEvent& e : pulled->events) out.events.push_back(std::move(e.raw));

  const std::int64_t now = clock.now_ms();
  std::string line = prefix + " pushed " + std::to_string(outcome.added);
  if (outcome.added > 0) {
    line += " (seq " + std::to_string(outcome.first) + ".." + std::to_string(outcome.last) + ")";
  } else if (!msg->events.empty()) {
    line += " (held already, up to seq " + std::to_string(outcome.receipt.seq) + ")";
  }
  line += " pulled " + std::to_string(out.events.size()) + " cursor " + std::to_string(cursor);
  if (pulled->more) line += " more";
  if (Status s = storage->note_sync(rec.key, now, req->client_ms); !s.is_ok()) {
    line += " (last sync not noted: " + s.to_string() + ")";
  }
  line += " " + elapsed_ms(started);
  return sealed(ctx, out, std::move(line));
}

// ---- administration -------------------------------------------------------------------------------

Status Service::Impl::append_to_chain(const std::string& site, std::vector<ChainItem> items) {
  auto s = signer(site);
  const PublicKey& device = s->key.public_key();
  for (int attempt = 0; attempt < kAppendAttempts; ++attempt) {
    SB_ASSIGN_OR_RETURN(auto end, storage->chain_end(device));
    std::uint64_t hlc = 0;
    if (end.first > 0) {
      SB_ASSIGN_OR_RETURN(std::optional<EventInfo> info, storage->event_info(end.second));
      if (!info) return data_loss("the last event of site " + site + "'s head-office chain is missing");
      hlc = info->hlc;
    }
    const std::int64_t now = clock.now_ms();
    AppendBatch batch;
    batch.device = device;
    batch.expected_seq = end.first + 1;
    std::uint64_t seq = end.first;
    Hash prev = end.second;
    for (const ChainItem& item : items) {
      Event e;
      e.device = device;
      e.seq = ++seq;
      hlc = hlc_next(hlc, now);
      e.hlc = hlc;
      e.prev = seq == 1 ? Hash{} : prev;
      e.author = kHeadOfficeAuthor;
      e.kind = item.kind;
      e.body = item.body;
      auto sealed_event = seal_event(std::move(e));
      if (!sealed_event.is_ok()) return sealed_event.status().with_context(item.kind + " " + item.ref_key + ": ");
      prev = sealed_event->event.hash;
      NewEvent ne;
      ne.event = std::move(sealed_event->event);
      ne.raw = std::move(sealed_event->bytes);
      ne.site = site;
      ne.ref_key = item.ref_key;
      batch.events.push_back(std::move(ne));
    }
    batch.head = sign_head(s->key, seq, prev);
    batch.receipt = sign_receipt(server_key, device, seq, prev, now);
    Status appended = storage->append(batch);
    if (appended.code() != Code::kAborted) return appended;
  }
  return aborted("site " + site + "'s head-office chain kept changing under this change (another admin command?); retry");
}

Result<Json> Service::Impl::put_reference(const std::string& kind, Json body) {
  if (!is_ref_kind(kind)) {
    return invalid_argument("'" + kind +
                            "' is not a kind of reference data (ref_site, ref_unit, ref_period, ref_product, "
                            "ref_worker, ref_leader, ref_quota)");
  }
  if (!body.is_object()) return invalid_argument(kind + " must be a map of fields");
  std::lock_guard lock(admin_mu);

  auto item = [&](const std::string& k, const std::string& key) -> Result<std::optional<Json>> {
    return storage->reference_item(k, key);
  };
  auto need = [&](const char* k, const char* what, const std::string& id, const char* command) -> Result<Json> {
    SB_ASSIGN_OR_RETURN(std::optional<Json> found, item(k, id));
    if (!found) return not_found(std::string(what) + " '" + id + "' does not exist; add it first (" + command + ")");
    return *found;
  };
  auto str = [&](const char* name) -> std::string {
    auto it = body.find(name);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };

  if (kind == "ref_quota" && !body.contains("version")) {
    // One more than the current quota's; a body too broken to name a quota fails validation below.
    SB_ASSIGN_OR_RETURN(std::optional<Json> current, item(kind, str("unit") + "/" + str("period") + "/" + str("product")));
    std::int64_t version = 1;
    if (current && current->contains("version") && current->at("version").is_number_integer()) {
      version = current->at("version").get<std::int64_t>() + 1;
    }
    body["version"] = version;
  }
  SB_RETURN_IF_ERROR(validate_head_office_body(kind, body));

  std::vector<std::string> sites;
  std::vector<ChainItem> items;
  std::string ref_key;
  if (kind == "ref_quota") {
    ref_key = str("unit") + "/" + str("period") + "/" + str("product");
    SB_ASSIGN_OR_RETURN(Json unit, need("ref_unit", "unit", str("unit"), "unit add"));
    SB_RETURN_IF_ERROR(need("ref_period", "period", str("period"), "period add").status());
    SB_RETURN_IF_ERROR(need("ref_product", "product", str("product"), "product add").status());
    SB_ASSIGN_OR_RETURN(std::optional<Json> current, item(kind, ref_key));
    if (current && current->contains("version") && current->at("version").is_number_integer()) {
      std::int64_t held = current->at("version").get<std::int64_t>();
      if (body.at("version").get<std::int64_t>() <= held) {
        return invalid_argument("quota " + ref_key + " is at version " + std::to_string(held) +
                                "; a change needs version " + std::to_string(held + 1) +
                                " or more (or leave the version out)");
      }
    }
    sites.push_back(unit.at("site").get<std::string>());
  } else {
    ref_key = str("id");
    if (kind == "ref_site") {
      sites.push_back(ref_key);
      SB_ASSIGN_OR_RETURN(std::optional<Json> current, item(kind, ref_key));
      if (!current) {
        // A new site's chain starts with the site, then everything every site shares.
        items.push_back({kind, body, ref_key});
        for (const char* shared : {"ref_period", "ref_product"}) {
          SB_ASSIGN_OR_RETURN(std::vector<Json> all, storage->reference(shared, ""));
          for (Json& j : all) {
            std::string id = j.value("id", std::string());
            items.push_back({shared, std::move(j), std::move(id)});
          }
        }
      }
    } else if (kind == "ref_period" || kind == "ref_product") {
      SB_ASSIGN_OR_RETURN(std::vector<Json> all_sites, storage->reference("ref_site", ""));
      if (all_sites.empty()) {
        return failed_precondition(std::string(kind == "ref_period" ? "periods" : "products") +
                                   " travel in every site's head-office chain, and there is no site yet; add a site first");
      }
      for (const Json& site : all_sites) sites.push_back(site.value("id", std::string()));
      if (kind == "ref_period") {
        SB_ASSIGN_OR_RETURN(std::vector<Json> periods, storage->reference("ref_period", ""));
        std::int64_t start = *parse_date(str("start"));
        std::int64_t end = *parse_date(str("end"));
        for (const Json& p : periods) {
          if (p.value("id", std::string()) == ref_key) continue;
          auto ps = parse_date(p.value("start", std::string()));
          auto pe = parse_date(p.value("end", std::string()));
          if (ps.is_ok() && pe.is_ok() && start <= *pe && *ps <= end) {
            return invalid_argument("period " + ref_key + " (" + str("start") + " to " + str("end") + ") overlaps period " +
                                    p.value("id", std::string()) + " (" + p.value("start", std::string()) + " to " +
                                    p.value("end", std::string()) + "); a day belongs to at most one period");
          }
        }
      }
    } else {  // ref_unit, ref_worker, ref_leader: one site's
      const std::string site = str("site");
      SB_RETURN_IF_ERROR(need("ref_site", "site", site, "site add").status());
      SB_ASSIGN_OR_RETURN(std::optional<Json> current, item(kind, ref_key));
      if (current && current->value("site", std::string()) != site) {
        const char* what = kind == "ref_unit" ? "unit" : kind == "ref_worker" ? "worker" : "shift leader";
        return failed_precondition(std::string(what) + " '" + ref_key + "' belongs to site " +
                                   current->value("site", std::string()) + " and cannot move to site " + site +
                                   "; add it under a new id instead");
      }
      sites.push_back(site);
    }
  }
  if (items.empty()) items.push_back({kind, body, ref_key});
  for (const std::string& site : sites) {
    SB_RETURN_IF_ERROR(append_to_chain(site, items).with_context("site " + site + ": "));
  }
  return body;
}

Result<std::string> Service::Impl::create_code(const std::string& site, const std::vector<std::string>& units,
                                               std::int64_t valid_ms) {
  if (valid_ms < kMinCodeValidMs || valid_ms > kMaxCodeValidMs) {
    return invalid_argument("an enrollment code is valid for 1 minute to 30 days, not " + std::to_string(valid_ms / 1000) +
                            " s");
  }
  if (units.empty() || units.size() > kMaxCodeUnits) {
    return invalid_argument("an enrollment code names 1 to " + std::to_string(kMaxCodeUnits) + " production units");
  }
  SB_ASSIGN_OR_RETURN(std::optional<Json> site_item, storage->reference_item("ref_site", site));
  if (!site_item) return not_found("site '" + site + "' does not exist; add it first (site add)");
  for (std::size_t i = 0; i < units.size(); ++i) {
    if (std::find(units.begin(), units.begin() + static_cast<std::ptrdiff_t>(i), units[i]) !=
        units.begin() + static_cast<std::ptrdiff_t>(i)) {
      return invalid_argument("unit '" + units[i] + "' is named twice");
    }
    SB_ASSIGN_OR_RETURN(std::optional<Json> unit, storage->reference_item("ref_unit", units[i]));
    if (!unit) return not_found("unit '" + units[i] + "' does not exist; add it first (unit add)");
    if (unit->value("site", std::string()) != site) {
      return invalid_argument("unit '" + units[i] + "' belongs to site " + unit->value("site", std::string()) +
                              ", not to site " + site);
    }
  }
  EnrollCode code;
  random_bytes(code.secret);
  Hash fingerprint = server_fingerprint(server_key.public_key());
  std::copy_n(fingerprint.begin(), code.fingerprint.size(), code.fingerprint.begin());

  CodeRecord rec;
  rec.secret_hash = blake2b_256(code.secret);
  rec.site = site;
  rec.units = units;
  rec.created_ms = clock.now_ms();
  rec.expires_ms = rec.created_ms + valid_ms;
  SB_RETURN_IF_ERROR(storage->add_code(rec));
  return format_enroll_code(code);
}

// =================================================================================================

Service::Service(std::unique_ptr<Storage> storage, DeviceKey server_key, const Clock& clock, ServiceOptions options)
    : impl_(std::make_unique<Impl>(std::move(storage), std::move(server_key), clock, options)) {}
Service::~Service() = default;

const PublicKey& Service::server_key() const { return impl_->server_key.public_key(); }

Reply Service::hello() const {
  Json j = Json::object();
  j["protocol"] = kProtocolVersion;
  j["server_key"] = to_hex(server_key());
  j["fingerprint"] = format_fingerprint(server_key());
  Reply r;
  r.content_type = "application/json";
  r.body = j.dump();
  return r;
}

Reply Service::enroll(ByteView wire, const std::string& peer) { return impl_->enroll(wire, peer); }
Reply Service::sync(ByteView wire, const std::string& peer) { return impl_->sync(wire, peer); }

Result<Json> Service::put_reference(const std::string& kind, Json body) {
  return impl_->put_reference(kind, std::move(body));
}

Result<std::vector<Json>> Service::reference(const std::string& kind, const std::string& site) {
  if (!is_ref_kind(kind)) return invalid_argument("'" + kind + "' is not a kind of reference data");
  // Periods and products belong to every site.
  const bool shared = kind == "ref_period" || kind == "ref_product";
  return impl_->storage->reference(kind, shared ? std::string() : site);
}

Result<std::string> Service::create_code(const std::string& site, const std::vector<std::string>& units,
                                         std::int64_t valid_ms) {
  return impl_->create_code(site, units, valid_ms);
}

Result<std::vector<CodeRecord>> Service::codes() { return impl_->storage->codes(); }
Result<std::vector<DeviceRecord>> Service::devices() { return impl_->storage->devices(); }
Storage& Service::storage() { return *impl_->storage; }

}  // namespace shiftbook::server
