// Head office's logic (service.h), first part: construction, hello, what every request shares
// (reading message headers, sealing answers and refusals), and the sync round trip: reading the
// request, the push (service_push.cpp), the pull, the answer and its log line. Enrollment is in
// service_enroll.cpp, administration in service_admin.cpp; the invariants are in service_impl.h.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <optional>
#include <sstream>
#include <utility>

#include "service_impl.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
using namespace detail;

namespace detail {

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

std::optional<Refusal> check_version(const Json& header) {
  auto v = int_field(header, "v");
  if (!v.is_ok()) return refuse(ProtocolError::kMalformed, v.status().message());
  if (*v < kOldestProtocolVersion || *v > kProtocolVersion) {
    return refuse(ProtocolError::kVersion, "this server speaks protocol versions " +
                                               std::to_string(kOldestProtocolVersion) + " to " +
                                               std::to_string(kProtocolVersion) + ", the request is version " +
                                               std::to_string(*v));
  }
  return std::nullopt;
}

}  // namespace detail

namespace {

std::string elapsed_ms(std::chrono::steady_clock::time_point started) {
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << ms << " ms";
  return out.str();
}

// A refusal's message as the answer carries it: at most 1024 bytes, cut at a character boundary.
// Messages echo what they refuse (a field name, a type), which may be as long as a canonical
// string may be; the whole message would then not encode, and the terminal would hear
// "internal" instead of the refusal (tests/fuzz/regressions/message/).
std::string bounded_message(const std::string& message) {
  constexpr std::size_t kMaxBytes = 1024;
  if (message.size() <= kMaxBytes) return message;
  std::size_t cut = kMaxBytes - 3;
  while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xc0) == 0x80) --cut;
  return message.substr(0, cut) + "...";
}

Json error_header(const Refusal& r) {
  Json h = Json::object();
  h["type"] = "error";
  h["code"] = std::string(protocol_error_name(r.error));
  h["message"] = bounded_message(r.message);
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

Result<SyncRequest> parse_sync_header(const Json& h, const PublicKey& device) {
  SB_RETURN_IF_ERROR(only_fields(h, {"type", "v", "cursor", "pull_max", "client_ms", "head"}));
  SyncRequest r;
  SB_ASSIGN_OR_RETURN(std::int64_t version, int_field(h, "v"));  // in range: check_version said so
  r.version = static_cast<int>(version);
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

}  // namespace

// ---- sealing answers ------------------------------------------------------------------------------

std::shared_ptr<const SiteSigner> Service::Impl::signer(const std::string& site) {
  std::lock_guard lock(signers_mu);
  auto it = signers.find(site);
  if (it != signers.end()) return it->second;
  DeviceKey key = derive_site_signer(server_key, site);
  Delegation d = sign_delegation(server_key, site, key.public_key());
  auto made = std::make_shared<const SiteSigner>(std::move(key), std::move(d));
  signers.emplace(site, made);
  return made;
}

Reply Service::Impl::sealed(const EnvelopeContext& ctx, const Message& m, std::string log_line) {
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

Reply Service::Impl::sealed_refusal(const EnvelopeContext& ctx, const Refusal& refusal, const std::string& prefix) {
  SyncAnswer a = refused_answer(refusal, prefix);
  return sealed(ctx, a.message, std::move(a.log_line));
}

Reply Service::Impl::envelope_refusal(const Status& s, const std::string& prefix) {
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

// ---- sync -----------------------------------------------------------------------------------------

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
  auto opened = open_request(server_key, wire);
  if (!opened.is_ok()) return envelope_refusal(opened.status(), prefix);
  SyncAnswer answer = answer_sync(**found, opened->plaintext, prefix);
  return sealed(opened->context, answer.message, answer.log_line + " " + elapsed_ms(started));
}

SyncAnswer Service::Impl::refused_answer(const Refusal& refusal, const std::string& prefix) {
  SyncAnswer a;
  a.message.header = error_header(refusal);
  a.log_line = prefix + " refused: " + std::string(protocol_error_name(refusal.error)) + ": " + refusal.message;
  if (!refusal.log_detail.empty()) a.log_line += " (" + refusal.log_detail + ")";
  return a;
}

std::variant<SyncRequest, Refusal> Service::Impl::read_sync_request(const Message& msg, const PublicKey& device) {
  if (msg.header.at("type") != "sync") {
    return refuse(ProtocolError::kMalformed,
                  "expected a sync message, got '" + msg.header.at("type").get<std::string>() + "'");
  }
  if (auto r = check_version(msg.header)) return *r;
  auto req = parse_sync_header(msg.header, device);
  if (!req.is_ok()) return refuse(ProtocolError::kMalformed, req.status().message());
  if (msg.events.empty() != !req->head.has_value()) {
    return refuse(ProtocolError::kMalformed, msg.events.empty() ? "a signed head was sent without events"
                                                                : "events were pushed without a signed head");
  }
  std::size_t pushed_bytes = 0;
  for (const Bytes& b : msg.events) pushed_bytes += b.size();
  if (pushed_bytes > kMaxPushBytes) {
    return refuse(ProtocolError::kLimit, "the push holds " + std::to_string(pushed_bytes) +
                                             " bytes of events, more than " + std::to_string(kMaxPushBytes) +
                                             "; push fewer at a time");
  }
  return std::move(*req);
}

SyncAnswer Service::Impl::answer_sync(const DeviceRecord& rec, ByteView plaintext, const std::string& prefix,
                                      std::uint64_t cursor_floor) {
  auto msg = decode_message(plaintext);
  if (!msg.is_ok()) return refused_answer(refuse(ProtocolError::kMalformed, msg.status().message()), prefix);
  auto read = read_sync_request(*msg, rec.key);
  if (auto* r = std::get_if<Refusal>(&read)) return refused_answer(*r, prefix);
  const SyncRequest* req = &std::get<SyncRequest>(read);
  if (rec.revoked_ms != 0) return answer_revoked(rec, *msg, *req, prefix);

  auto pushed = msg->events.empty() ? stored_receipt(rec) : push(rec, msg->events, *req->head, req->version);
  if (auto* r = std::get_if<Refusal>(&pushed)) return refused_answer(*r, prefix);
  const PushOutcome& outcome = std::get<PushOutcome>(pushed);

  std::string line = prefix + " pushed " + std::to_string(outcome.added);
  if (outcome.added > 0) {
    line += " (seq " + std::to_string(outcome.first) + ".." + std::to_string(outcome.last) + ")";
  } else if (!msg->events.empty()) {
    line += " (held already, up to seq " + std::to_string(outcome.receipt.seq) + ")";
  }
  SyncAnswer answer =
      answer_pull(rec, outcome.receipt, std::max(req->cursor, cursor_floor), req->pull_max, line);
  if (!answer.pulled) return answer;
  if (Status s = storage->note_sync(rec.key, clock.now_ms(), req->client_ms, answer.cursor); !s.is_ok()) {
    answer.log_line += " (last sync not noted: " + s.to_string() + ")";
  }
  return answer;
}

Result<std::vector<PublicKey>> Service::Impl::visible_to(const DeviceRecord& rec) {
  // The site's head-office chain and every other terminal sharing a unit.
  std::vector<PublicKey> visible{signer(rec.site)->key.public_key()};
  SB_ASSIGN_OR_RETURN(std::vector<PublicKey> peers, storage->devices_in_units(rec.units));
  for (const PublicKey& k : peers) {
    if (k != rec.key) visible.push_back(k);
  }
  return visible;
}

SyncAnswer Service::Impl::answer_pull(const DeviceRecord& rec, const Receipt& receipt, std::uint64_t cursor,
                                      std::size_t pull_max, const std::string& line) {
  auto visible = visible_to(rec);
  if (!visible.is_ok()) return refused_answer(internal_refusal(visible.status()), line);
  auto pulled = storage->pull(*visible, cursor, pull_max);
  if (!pulled.is_ok()) return refused_answer(internal_refusal(pulled.status()), line);

  SyncAnswer a;
  a.pulled = true;
  a.cursor = std::max(cursor, pulled->cursor);
  a.more = pulled->more;
  Message& out = a.message;
  out.header["type"] = "sync";
  out.header["receipt"] = receipt_json(receipt);
  out.header["cursor"] = static_cast<std::int64_t>(a.cursor);
  out.header["more"] = a.more;
  Json heads = Json::array();
  for (const SignedHead& h : pulled->heads) heads.push_back(head_json(h));
  out.header["heads"] = std::move(heads);
  out.events.reserve(pulled->events.size());
  for (PulledEvent& e : pulled->events) out.events.push_back(std::move(e.raw));
  a.log_line = line + " pulled " + std::to_string(out.events.size()) + " cursor " + std::to_string(a.cursor);
  if (a.more) a.log_line += " more";
  return a;
}

// =================================================================================================

Service::Service(std::unique_ptr<Storage> storage, DeviceKey server_key, const Clock& clock, ServiceOptions options)
    : impl_(std::make_unique<Impl>(std::move(storage), std::move(server_key), clock, options)) {}
Service::~Service() = default;

const PublicKey& Service::server_key() const { return impl_->server_key.public_key(); }

Reply Service::hello() const {
  Json j = Json::object();
  // "protocol" stays 1 for ever: terminals of version 1 check that it is 1. Later terminals read
  // "versions" and speak the highest one both sides know.
  j["protocol"] = kOldestProtocolVersion;
  Json versions = Json::array();
  for (int v = kOldestProtocolVersion; v <= kProtocolVersion; ++v) versions.push_back(v);
  j["versions"] = std::move(versions);
  j["server_key"] = to_hex(server_key());
  j["fingerprint"] = format_fingerprint(server_key());
  Reply r;
  r.content_type = "application/json";
  r.body = j.dump();
  return r;
}

Reply Service::enroll(ByteView wire, const std::string& peer) { return impl_->enroll(wire, peer); }
Reply Service::sync(ByteView wire, const std::string& peer) { return impl_->sync(wire, peer); }
Storage& Service::storage() { return *impl_->storage; }

const Clock& Service::clock() const { return impl_->clock; }

}  // namespace shiftbook::server
