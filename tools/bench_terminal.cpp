// Terminals made inside the benchmark (bench_terminal.h). With bench_browser.cpp, one of the two
// files of the benchmark that include httplib.h: its exceptions end here.
#include "bench_terminal.h"

#include <httplib.h>

#include <cstring>
#include <exception>
#include <utility>

#include "shiftbook/clock.h"
#include "shiftbook/envelope.h"
#include "shiftbook/kinds.h"

namespace shiftbook::bench {

// ---- ChainMaker --------------------------------------------------------------------------------

ChainMaker::ChainMaker(const DeviceKey& key, std::string unit, std::int64_t day, std::int64_t start_ms)
    : device_(key.public_key()),
      unit_(std::move(unit)),
      day_(day),
      hlc_(hlc_pack(static_cast<std::uint64_t>(start_ms), 0)) {}

Result<Bytes> ChainMaker::next() {
  Event e;
  e.device = device_;
  e.seq = seq_ + 1;
  e.hlc = ++hlc_;
  e.prev = prev_;
  e.author = "L1";
  if (e.seq == 1) {
    e.kind = std::string(kind::kShiftOpen);
    e.body = Json{{"unit", unit_}, {"date", format_date(day_)}};
  } else {
    e.kind = std::string(kind::kOutput);
    e.body = Json{{"shift", shift_ref_},
                  {"product", "P1"},
                  {"quantity", static_cast<std::int64_t>(e.seq % 1000 + 1)},
                  {"quota_version", 1}};
  }
  SB_ASSIGN_OR_RETURN(SealedEvent sealed, seal_event(std::move(e)));
  seq_ = sealed.event.seq;
  prev_ = sealed.event.hash;
  if (seq_ == 1) shift_ref_ = hash_ref(prev_);
  return std::move(sealed.bytes);
}

Result<DeviceKey> seeded_key(const std::string& label, std::uint64_t n) {
  Bytes seed_input(label.begin(), label.end());
  seed_input.push_back(0);
  put_u64(seed_input, n);
  const Hash seed = blake2b_256(seed_input);
  return DeviceKey::from_seed(seed);
}

Message sync_request(const DeviceKey& key, std::uint64_t cursor, std::size_t pull_max, std::int64_t client_ms,
                     std::vector<Bytes> events, const Hash& last_hash) {
  Message m;
  m.header = Json{{"type", "sync"},
                  {"v", kProtocolVersion},
                  {"cursor", static_cast<std::int64_t>(cursor)},
                  {"pull_max", static_cast<std::int64_t>(pull_max)},
                  {"client_ms", client_ms}};
  if (!events.empty()) {
    // The seq of the last event sits at bytes 37..44 of its encoding (event.h).
    const std::uint64_t last_seq = get_u64(events.back().data() + 37);
    const SignedHead head = sign_head(key, last_seq, last_hash);
    m.header["head"] = Json{{"seq", static_cast<std::int64_t>(head.seq)},
                            {"hash", to_hex(head.hash)},
                            {"sig", to_hex(head.signature)}};
  }
  m.events = std::move(events);
  return m;
}

// ---- WireTerminal ------------------------------------------------------------------------------

struct WireTerminal::Http {
  Http(const std::string& host, int port) : client(host, port) {
    client.set_tcp_nodelay(true);
    client.set_keep_alive(true);
    client.set_connection_timeout(30, 0);
    client.set_read_timeout(300, 0);
    client.set_write_timeout(300, 0);
  }
  httplib::Client client;
};

WireTerminal::WireTerminal(DeviceKey key, const std::string& host, int port)
    : key_(std::move(key)), http_(std::make_unique<Http>(host, port)) {}
WireTerminal::~WireTerminal() = default;
WireTerminal::WireTerminal(WireTerminal&&) noexcept = default;

void WireTerminal::disconnect() { http_->client.stop(); }

namespace {

std::string field_text(const Json& h, const char* name) {
  auto it = h.find(name);
  return it != h.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<std::string> exchange(httplib::Client& client, const char* method, const char* path, ByteView body) {
  try {
    httplib::Result res = std::strcmp(method, "GET") == 0
                              ? client.Get(path)
                              : client.Post(path, reinterpret_cast<const char*>(body.data()), body.size(),
                                            "application/octet-stream");
    if (!res) return unavailable(std::string(method) + " " + path + " failed: " + httplib::to_string(res.error()));
    if (res->status != 200) {
      return failed_precondition(std::string(method) + " " + path + " answered HTTP " + std::to_string(res->status) +
                                 ": " + res->body);
    }
    return std::move(res->body);
  } catch (const std::exception& e) {
    return unavailable(std::string(method) + " " + path + " failed: " + e.what());
  }
}

// Seals `m` for `server`, posts it and opens and decodes the answer.
Result<Message> round_trip(httplib::Client& client, const DeviceKey& key, const PublicKey& server, const char* path,
                           const Message& m) {
  SealedRequest sealed;
  {
    SB_ASSIGN_OR_RETURN(Bytes plain, encode_message(m));
    SB_ASSIGN_OR_RETURN(sealed, seal_request(key, server, plain));
  }
  SB_ASSIGN_OR_RETURN(std::string body, exchange(client, "POST", path, sealed.wire));
  auto opened = open_response(sealed.context, as_bytes(body));
  if (!opened.is_ok()) return unauthenticated("the answer to " + std::string(path) + " did not open with the pinned key");
  SB_ASSIGN_OR_RETURN(Message answer, decode_message(*opened));
  if (field_text(answer.header, "type") == "error") {
    return failed_precondition("the server refused " + std::string(path) + ": " + field_text(answer.header, "code") +
                               ": " + field_text(answer.header, "message"));
  }
  return answer;
}

template <std::size_t N>
Result<std::array<std::uint8_t, N>> hex_of(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string()) return data_loss(std::string("the answer has no '") + name + "'");
  return array_from_hex<N>(it->get<std::string>());
}

Result<std::int64_t> int_of(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_number_integer()) return data_loss(std::string("the answer has no '") + name + "'");
  return it->get<std::int64_t>();
}

}  // namespace

Status WireTerminal::enroll(const std::string& code_text) {
  SB_ASSIGN_OR_RETURN(EnrollCode code, parse_enroll_code(code_text));
  SB_ASSIGN_OR_RETURN(std::string hello, exchange(http_->client, "GET", "/v1/hello", {}));
  Json doc = Json::parse(hello, nullptr, false);
  if (!doc.is_object()) return data_loss("/v1/hello did not answer JSON");
  SB_ASSIGN_OR_RETURN(server_, hex_of<32>(doc, "server_key"));
  if (!code_matches_server(code, server_)) return unauthenticated("the server is not the one the code was made for");
  Message request;
  request.header = Json{{"type", "enroll"}, {"v", kProtocolVersion}, {"code", to_hex(code.secret)}};
  SB_ASSIGN_OR_RETURN(Message answer, round_trip(http_->client, key_, server_, "/v1/enroll", request));
  auto signer = answer.header.find("signer");
  if (field_text(answer.header, "type") != "enrolled" || signer == answer.header.end() || !signer->is_object()) {
    return data_loss("the enrollment answer is not an 'enrolled' message with a signer");
  }
  Delegation d;
  d.site = field_text(*signer, "site");
  SB_ASSIGN_OR_RETURN(d.signer, hex_of<32>(*signer, "key"));
  SB_ASSIGN_OR_RETURN(d.signature, hex_of<64>(*signer, "sig"));
  if (!verify_delegation(server_, d)) return unauthenticated("the site signer's delegation does not verify");
  signer_ = d.signer;
  return Status::ok();
}

Result<Message> WireTerminal::sync(const Message& request) {
  return round_trip(http_->client, key_, server_, "/v1/sync", request);
}

Result<SyncAnswerRead> WireTerminal::read_answer(const Message& answer, std::uint64_t pushed_seq,
                                                 const Hash& pushed_hash) const {
  if (field_text(answer.header, "type") != "sync") {
    return data_loss("expected a 'sync' answer, got '" + field_text(answer.header, "type") + "'");
  }
  SyncAnswerRead out;
  auto receipt = answer.header.find("receipt");
  if (receipt == answer.header.end() || !receipt->is_object()) return data_loss("the answer has no receipt");
  out.receipt.device = key_.public_key();
  SB_ASSIGN_OR_RETURN(std::int64_t seq, int_of(*receipt, "seq"));
  out.receipt.seq = static_cast<std::uint64_t>(seq);
  SB_ASSIGN_OR_RETURN(out.receipt.hash, hex_of<32>(*receipt, "hash"));
  SB_ASSIGN_OR_RETURN(out.receipt.server_ms, int_of(*receipt, "server_ms"));
  SB_ASSIGN_OR_RETURN(out.receipt.signature, hex_of<64>(*receipt, "sig"));
  if (!verify_receipt(server_, out.receipt)) return unauthenticated("the receipt does not verify with the server key");
  if (pushed_seq > 0 && (out.receipt.seq != pushed_seq || out.receipt.hash != pushed_hash)) {
    return data_loss("the receipt names seq " + std::to_string(out.receipt.seq) + ", not the pushed head at seq " +
                     std::to_string(pushed_seq));
  }
  SB_ASSIGN_OR_RETURN(std::int64_t cursor, int_of(answer.header, "cursor"));
  out.cursor = static_cast<std::uint64_t>(cursor);
  auto more = answer.header.find("more");
  if (more == answer.header.end() || !more->is_boolean()) return data_loss("the answer has no 'more'");
  out.more = more->get<bool>();
  auto heads = answer.header.find("heads");
  if (heads == answer.header.end() || !heads->is_array()) return data_loss("the answer has no 'heads'");
  for (const Json& h : *heads) {
    SignedHead head;
    SB_ASSIGN_OR_RETURN(head.device, hex_of<32>(h, "device"));
    SB_ASSIGN_OR_RETURN(std::int64_t head_seq, int_of(h, "seq"));
    head.seq = static_cast<std::uint64_t>(head_seq);
    SB_ASSIGN_OR_RETURN(head.hash, hex_of<32>(h, "hash"));
    SB_ASSIGN_OR_RETURN(head.signature, hex_of<64>(h, "sig"));
    if (!verify_head(head)) return unauthenticated("the head of device " + short_device(head.device) + " does not verify");
    out.heads[head.device] = head;
  }
  // The device of an event sits at bytes 5..36 of its encoding (event.h): counted without decoding.
  for (const Bytes& raw : answer.events) {
    if (raw.size() < 37) return data_loss("a pulled event is truncated");
    PublicKey device;
    std::memcpy(device.data(), raw.data() + 5, device.size());
    ++out.events_by_device[device];
  }
  out.events = answer.events.size();
  return out;
}

// ---- enrolling many, pushing a whole chain ----------------------------------------------------------

Result<EnrolledTerminals> enroll_terminals(Launcher& launcher, const std::string& dir, const std::string& scratch,
                                           const std::string& label, const std::vector<std::string>& units) {
  std::vector<std::string> codes;
  for (const std::string& unit : units) {
    SB_ASSIGN_OR_RETURN(std::string code, create_code(launcher, dir, scratch, unit));
    codes.push_back(std::move(code));
  }
  EnrolledTerminals out;
  SB_ASSIGN_OR_RETURN(out.server, ServerChild::start(dir, scratch));
  for (std::size_t t = 0; t < codes.size(); ++t) {
    SB_ASSIGN_OR_RETURN(DeviceKey key, seeded_key(label, t));
    WireTerminal w(std::move(key), "127.0.0.1", out.server->port());
    SB_RETURN_IF_ERROR(w.enroll(codes[t]).with_context("terminal " + std::to_string(t) + ": "));
    w.disconnect();  // a kept-alive connection would hold one of the server's threads
    out.terminals.push_back(std::move(w));
  }
  return out;
}


Result<std::uint64_t> push_chain(WireTerminal& w, const std::function<Result<std::optional<ChainLink>>()>& next) {
  SystemClock clock;
  std::uint64_t cursor = 0, pushed = 0;
  for (bool ended = false; !ended;) {
    std::vector<Bytes> batch;
    std::size_t bytes = 0;
    Hash last{};
    while (bytes < kMaxPushBytes - 1024) {
      SB_ASSIGN_OR_RETURN(std::optional<ChainLink> link, next());
      if (!link) {
        ended = true;
        break;
      }
      bytes += link->bytes.size();
      last = link->hash;
      batch.push_back(std::move(link->bytes));
    }
    if (batch.empty()) break;
    pushed += batch.size();
    const Message request = sync_request(w.key(), cursor, kMinPullBytes, clock.now_ms(), std::move(batch), last);
    SB_ASSIGN_OR_RETURN(Message answer, w.sync(request));
    SB_ASSIGN_OR_RETURN(SyncAnswerRead read, w.read_answer(answer, pushed, last));
    cursor = read.cursor;
  }
  w.disconnect();
  return pushed;
}

}  // namespace shiftbook::bench
