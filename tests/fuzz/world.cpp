#include "world.h"

#include <array>
#include <utility>

#include "fuzz_support.h"
#include "shiftbook/envelope.h"
#include "shiftbook/kinds.h"
#include "sync_client.h"

namespace shiftbook::fuzz {
namespace {

constexpr const char* kPeer = "fuzz";
constexpr std::int64_t kCodeValidMs = 30LL * 24 * 60 * 60 * 1000;

std::string type_of(const Message& m) { return text_field(m.header, "type").value_or(""); }

// What a request can change in the head office's store: a push taken (the receipt moves past
// chain_a), a device flagged (equivocation), a device enrolled (only terminal B can be).
bool changed_store(const Message& answer) {
  const std::string type = type_of(answer);
  if (type == "sync") {
    auto receipt = answer.header.find("receipt");
    return receipt == answer.header.end() ||
           int_field(*receipt, "seq") != static_cast<std::int64_t>(chain_a().size());
  }
  if (type == "error") return text_field(answer.header, "code") == "equivocation";
  return type == "enrolled";
}

std::string code_secret(const std::string& code_text) {
  EnrollCode code = must(parse_enroll_code(code_text), "reading the code the head office made");
  return to_hex(code.secret);
}

// The push of `chain` with its signed head, as terminal A sends it.
Message push_of(const DeviceKey& key, const std::vector<SealedEvent>& chain) {
  SignedHead head = sign_head(key, chain.back().event.seq, chain.back().event.hash);
  Message m;
  m.header = {{"type", "sync"},
              {"v", kProtocolVersion},
              {"cursor", 0},
              {"pull_max", static_cast<std::int64_t>(kMinPullBytes)},
              {"client_ms", kNowMs},
              {"head", {{"seq", head.seq}, {"hash", to_hex(head.hash)}, {"sig", to_hex(head.signature)}}}};
  for (const SealedEvent& e : chain) m.events.push_back(e.bytes);
  return m;
}

}  // namespace

// ---- HeadOffice -----------------------------------------------------------------------------------

HeadOffice::HeadOffice() : dir_(work_dir() + "/head-office"), pristine_(work_dir() + "/head-office.pristine") {
  clock_.set(kNowMs);
  auto storage = must(server::open_sqlite_storage(dir_ + "/server.db", true), "creating the head office's store");
  server::ServiceOptions options;
  options.enroll_window_ms = 0;  // failed enrollments are never held against the next input
  service_ = std::make_unique<server::Service>(
      std::move(storage), must(DeviceKey::from_secret(server_key().secret()), "the server key"), clock_, options);
  for (auto& [kind, body] : reference_items()) must(service_->put_reference(kind, body).status(), kind);
  const std::string code_a = code_secret(must(service_->create_code(std::string(kSite), {"U1", "U2"}, kCodeValidMs),
                                              "a code for terminal A"));
  open_code_ = code_secret(
      must(service_->create_code(std::string(kSite), {"U1"}, kCodeValidMs), "the open enrollment code"));
  Message enroll_a;
  enroll_a.header = {{"type", "enroll"}, {"v", kProtocolVersion}, {"code", code_a}};
  ServerAnswer enrolled = enroll(terminal_a(), enroll_a);
  check(enrolled.message && type_of(*enrolled.message) == "enrolled", "terminal A could not enroll");
  ServerAnswer pushed = sync(terminal_a(), push_of(terminal_a(), chain_a()));
  check(pushed.message && type_of(*pushed.message) == "sync", "the head office refused terminal A's chain: " +
                                                                  (pushed.message ? pushed.message->header.dump() : ""));
  service_.reset();
  replace_folder(dir_, pristine_);
  open();
  built_ = true;
}

void HeadOffice::open() {
  auto storage = must(server::open_sqlite_storage(dir_ + "/server.db", false), "opening the head office's store");
  server::ServiceOptions options;
  options.enroll_window_ms = 0;
  service_ = std::make_unique<server::Service>(
      std::move(storage), must(DeviceKey::from_secret(server_key().secret()), "the server key"), clock_, options);
}

void HeadOffice::restore() {
  service_.reset();
  replace_folder(pristine_, dir_);
  open();
}

ServerAnswer HeadOffice::sync(const DeviceKey& device, const Message& m) { return post(false, device, m); }
ServerAnswer HeadOffice::enroll(const DeviceKey& device, const Message& m) { return post(true, device, m); }

ServerAnswer HeadOffice::post(bool enroll, const DeviceKey& device, const Message& m) {
  // Fixed ephemeral secret and nonce: the same input gives the same bytes in every run.
  std::array<std::uint8_t, 32> ephemeral{};
  ephemeral.fill(0x40);
  const std::array<std::uint8_t, 24> nonce{};
  Bytes plain = must(encode_message(m), "encoding the fuzzed request again");
  SealedRequest sealed = must(detail::seal_request_with(device, server_key().public_key(), plain, ephemeral, nonce),
                              "sealing the request");
  server::Reply reply = enroll ? service_->enroll(sealed.wire, kPeer) : service_->sync(sealed.wire, kPeer);
  ServerAnswer out;
  out.http_status = reply.http_status;
  if (reply.http_status != 200) {
    Json doc = Json::parse(reply.body, nullptr, false);
    check(doc.is_object() && doc.contains("error") && doc["error"].is_object() && doc["error"].contains("code") &&
              doc["error"]["code"].is_string(),
          "the head office answered HTTP " + std::to_string(reply.http_status) + " without a JSON error: " +
              reply.log_line);
    out.json_code = doc["error"]["code"].get<std::string>();
    check(out.json_code != "internal", "the head office failed (HTTP " + std::to_string(reply.http_status) +
                                           "): " + reply.log_line);
    return out;
  }
  auto opened = open_response(sealed.context, as_bytes(reply.body));
  check(opened.is_ok(), "the head office's answer does not open: " + opened.status().to_string());
  auto answer = decode_message(*opened);
  check(answer.is_ok(), "the head office's answer is not a message: " + answer.status().to_string());
  const std::string type = type_of(*answer);
  check(type == "sync" || type == "error" || type == "revoked" || type == "enrolled",
        "the head office answered with a message of type '" + type + "'");
  if (type == "error") {
    check(text_field(answer->header, "code") != "internal",
          "the head office failed on a request: " + reply.log_line);
  }
  out.message = std::move(answer).value();
  if (built_ && changed_store(*out.message)) restore();
  return out;
}

// ---- Terminals ------------------------------------------------------------------------------------

Terminals::Terminals() {
  clock_.set(kNowMs);
  enrolled_held_.dir = work_dir() + "/terminal";
  enrolled_held_.pristine = work_dir() + "/terminal.pristine";
  new_held_.dir = work_dir() + "/new-terminal";
  new_held_.pristine = work_dir() + "/new-terminal.pristine";

  new_held_.store = must(client::Store::init(new_held_.dir, clock_), "a new terminal store");
  snapshot(new_held_);

  auto store = must(client::Store::init(enrolled_held_.dir, clock_), "the enrolled terminal's store");
  const PublicKey server = server_key().public_key();
  must(store->enroll(loopback_.url(), server, std::string(kSite), {"U1", "U2"}, kNowMs,
                     sign_delegation(server_key(), kSite, site_signer().public_key())),
       "enrolling the terminal");
  Message answer;
  const Receipt receipt = sign_receipt(server_key(), store->device(), 0, Hash{}, kNowMs);
  Json heads = Json::array();
  for (const auto* chain : {&signer_chain(), &chain_a()}) {
    const Event& last = chain->back().event;
    const DeviceKey* key = known_key(last.device);
    SignedHead h = sign_head(*key, last.seq, last.hash);
    heads.push_back({{"device", to_hex(h.device)}, {"seq", h.seq}, {"hash", to_hex(h.hash)},
                     {"sig", to_hex(h.signature)}});
    for (const SealedEvent& e : *chain) answer.events.push_back(e.bytes);
  }
  answer.header = {{"type", "sync"}, {"receipt", receipt_field(receipt)}, {"cursor", 11}, {"more", false},
                   {"heads", heads}};
  auto accepted = must(store->accept_sync(client::PushBatch{}, answer), "the terminal's first pull");
  check(accepted.pulled == answer.events.size(), "the terminal did not take its first pull whole");
  enrolled_held_.store = std::move(store);
  snapshot(enrolled_held_);
  enrolled_ = enrolled_held_.store.get();
}

void Terminals::snapshot(Held& h) {
  h.store.reset();
  replace_folder(h.dir, h.pristine);
  h.store = must(client::Store::open(h.dir, clock_), "reopening a terminal store");
}

void Terminals::restore(Held& h) {
  h.store.reset();
  replace_folder(h.pristine, h.dir);
  h.store = must(client::Store::open(h.dir, clock_), "reopening a terminal store");
  if (&h == &enrolled_held_) enrolled_ = h.store.get();
}

Status Terminals::accept(const Message& answer) {
  auto accepted = enrolled_->accept_sync(client::PushBatch{}, answer);
  if (accepted.is_ok()) restore(enrolled_held_);
  return accepted.status();
}

Status Terminals::sync(const Bytes& answer) {
  loopback_.answer_with(answer);
  client::SyncReport report;
  client::SyncOptions options;
  options.max_round_trips = 3;
  Status s = client::sync(*enrolled_, loopback_, clock_, report, {}, options);
  // Whatever it returns, the driver may have changed the store: a round trip before the last one
  // may have been taken, and a revocation drops what the terminal holds.
  restore(enrolled_held_);
  return s;
}

Status Terminals::enroll(const Bytes& answer) {
  loopback_.answer_with(answer);
  client::EnrollReport report;
  Status s = client::enroll(*new_held_.store, loopback_, enroll_code_text(), report);
  if (s.is_ok()) restore(new_held_);
  return s;
}

}  // namespace shiftbook::fuzz
