// Fuzz target "message": the plaintext inside an envelope, as either side reads it.
//
// The input is a message (protocol.h). decode_message must either refuse it or give back exactly
// the input when encoded again. A decoded message then has its placeholders filled in
// (fuzz_support.h: "sign" signatures, "last" head hashes, 0xff prev hashes, the "valid" code), so
// that a mutated message still verifies and reaches the rules behind the signatures, and goes
// to every reader of its type (world.h):
//   sync       the head office's /v1/sync as terminal A's request (push rules, pull), and the
//              enrolled terminal's Store::accept_sync as the server's answer
//   enroll     the head office's /v1/enroll as terminal B's request
//   enrolled   the new terminal's enroll driver (client::enroll), answered through the Loopback
//   error, revoked   the enrolled terminal's sync driver (client::sync), likewise
//   any other  both endpoints of the head office, and Store::accept_sync: all must refuse it
// Besides not crashing, every answer of the head office must be well formed and never "internal",
// and accept_sync refuses only with data_loss or unauthenticated (store.h).
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>

#include "fuzz_support.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"
#include "world.h"

namespace {

using namespace shiftbook;
using namespace shiftbook::fuzz;

struct World {
  HeadOffice head_office;
  Terminals terminals;
};

World& world() {
  init_crypto();
  static World w;
  return w;
}

// Fills the placeholders of one message, knowing the events the world holds.
class Filler {
 public:
  Filler() {
    for (const auto* chain : {&chain_a(), &signer_chain()}) {
      for (const SealedEvent& e : *chain) held_[{e.event.device, e.event.seq}] = e.event.hash;
    }
  }

  // Placeholder prevs become the hash of the device's event seq - 1, from earlier in the
  // message or from what the world holds; such events are encoded again.
  void events(std::vector<Bytes>& events) {
    for (Bytes& raw : events) {
      auto decoded = decode_event(raw);
      if (!decoded.is_ok()) continue;
      Event& e = decoded.value();
      if (e.seq > 1 && is_prev_placeholder(e.prev)) {
        auto it = held_.find({e.device, e.seq - 1});
        if (it != held_.end()) {
          e.prev = it->second;
          auto sealed = seal_event(e);
          check(sealed.is_ok(), "an event that decoded does not encode again: " + sealed.status().to_string());
          raw = sealed->bytes;
          e.hash = sealed->event.hash;
        }
      }
      held_[{e.device, e.seq}] = e.hash;
      last_[e.device] = e.hash;
    }
  }

  // A head {seq, hash, sig} of `key`'s chain: "last" and "sign" filled in.
  void head(Json& h, const DeviceKey& key) {
    if (!h.is_object()) return;
    auto last = last_.find(key.public_key());
    if (text_field(h, "hash") == kLastHash && last != last_.end()) h["hash"] = to_hex(last->second);
    auto seq = int_field(h, "seq");
    auto hash = parse_hex<32>(h, "hash");
    if (text_field(h, "sig") == kSignHere && seq && *seq >= 0 && hash) {
      h["sig"] = to_hex(sign_head(key, static_cast<std::uint64_t>(*seq), *hash).signature);
    }
  }

  void receipt(Json& r, const PublicKey& me) {
    auto seq = int_field(r, "seq");
    auto hash = parse_hex<32>(r, "hash");
    auto ms = int_field(r, "server_ms");
    if (text_field(r, "sig") == kSignHere && seq && *seq >= 0 && hash && ms) {
      r["sig"] = to_hex(sign_receipt(server_key(), me, static_cast<std::uint64_t>(*seq), *hash, *ms).signature);
    }
  }

  void delegation(Json& d) {
    auto site = text_field(d, "site");
    auto key = parse_hex<32>(d, "key");
    if (text_field(d, "sig") == kSignHere && site && key) {
      d["sig"] = to_hex(sign_delegation(server_key(), *site, *key).signature);
    }
  }

  void notice(Json& n, const PublicKey& me) {
    auto ms = int_field(n, "revoked_ms");
    auto reason = text_field(n, "reason");
    if (text_field(n, "sig") == kSignHere && ms && reason) {
      n["sig"] = to_hex(sign_revocation(server_key(), me, *ms, *reason).signature);
    }
  }

 private:
  template <std::size_t N>
  static std::optional<std::array<std::uint8_t, N>> parse_hex(const Json& j, const char* key) {
    auto text = text_field(j, key);
    if (!text) return std::nullopt;
    auto v = array_from_hex<N>(*text);
    if (!v.is_ok()) return std::nullopt;
    return *v;
  }

  std::map<std::pair<PublicKey, std::uint64_t>, Hash> held_;
  std::map<PublicKey, Hash> last_;
};

void fill(Message& m, const PublicKey& me, const std::string& open_code) {
  Filler f;
  f.events(m.events);
  Json& h = m.header;
  if (auto it = h.find("head"); it != h.end()) f.head(*it, terminal_a());
  if (auto it = h.find("receipt"); it != h.end()) f.receipt(*it, me);
  if (auto it = h.find("heads"); it != h.end() && it->is_array()) {
    for (Json& head : *it) {
      auto device = text_field(head, "device");
      auto key = device ? array_from_hex<32>(*device) : Result<PublicKey>(invalid_argument("no device"));
      const DeviceKey* signer = key.is_ok() ? known_key(*key) : nullptr;
      if (signer) f.head(head, *signer);
    }
  }
  if (auto it = h.find("signer"); it != h.end()) f.delegation(*it);
  if (auto it = h.find("notice"); it != h.end()) f.notice(*it, me);
  if (text_field(h, "code") == kValidCode) h["code"] = open_code;
}

// With SHIFTBOOK_FUZZ_VERBOSE set, one line per reader saying what it answered: to see which
// seeds reach which rules.
void say(const std::string& reader, const std::string& outcome) {
  static const bool verbose = std::getenv("SHIFTBOOK_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "message: %s: %s\n", reader.c_str(), outcome.c_str());
}

std::string said(const ServerAnswer& a) {
  if (!a.message) return "HTTP " + std::to_string(a.http_status) + " " + a.json_code;
  return a.message->header.dump().substr(0, 300);
}

Bytes encoded(const Message& m) {
  auto bytes = encode_message(m);
  check(bytes.is_ok(), "a filled-in message does not encode: " + bytes.status().to_string());
  return std::move(bytes).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  auto decoded = decode_message(input);
  if (!decoded.is_ok()) return 0;
  auto again = encode_message(*decoded);
  check(again.is_ok() && Bytes(input.begin(), input.end()) == *again,
        "decode_message took bytes that encode_message does not give back: a message has two encodings");

  World& w = world();
  Message m = std::move(decoded).value();
  fill(m, w.terminals.enrolled_device(), w.head_office.open_code());
  const std::string type = text_field(m.header, "type").value_or("");
  if (type == "sync") {
    say("head office /v1/sync", said(w.head_office.sync(terminal_a(), m)));
  } else if (type == "enroll") {
    say("head office /v1/enroll", said(w.head_office.enroll(terminal_b(), m)));
    return 0;
  } else if (type == "enrolled") {
    say("terminal enroll", w.terminals.enroll(encoded(m)).to_string());
    return 0;
  } else if (type == "error" || type == "revoked") {
    say("terminal sync", w.terminals.sync(encoded(m)).to_string());
    return 0;
  }
  if (type != "sync") {
    // A message of no type the protocol has: both endpoints must refuse it, and say so.
    say("head office /v1/sync", said(w.head_office.sync(terminal_a(), m)));
    say("head office /v1/enroll", said(w.head_office.enroll(terminal_b(), m)));
  }
  Status accepted = w.terminals.accept(m);
  say("terminal accept_sync", accepted.is_ok() ? "ok" : accepted.to_string());
  check(accepted.is_ok() || accepted.code() == Code::kDataLoss || accepted.code() == Code::kUnauthenticated,
        "accept_sync refused an answer with " + accepted.to_string() + " (store.h: data_loss or unauthenticated)");
  return 0;
}
