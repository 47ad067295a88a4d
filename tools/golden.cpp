// shiftbook-golden: prints the golden vectors of docs/EVENTS.md (canonical values, two chained
// events of a device whose key comes from a fixed seed, their hashes and signed heads) and of
// docs/PROTOCOL.md (one sync request and its response through the envelope, a receipt, a
// delegation, an enrollment code), or writes them as the hex files tests/sync/golden/*.hex that
// the tests compare byte for byte.
//   shiftbook-golden              the "Golden examples" section of docs/EVENTS.md, as markdown
//   shiftbook-golden --protocol   the "Worked examples" section of docs/PROTOCOL.md, as markdown
//   shiftbook-golden --write DIR  one lower-case hex file per vector into DIR
// Everything here is deterministic: Ed25519 signatures depend only on the key and the message, and
// the envelope's ephemeral secret and nonces come from fixed bytes (envelope.h, detail::).
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "shiftbook/bytes.h"
#include "shiftbook/canonical.h"
#include "shiftbook/clock.h"
#include "shiftbook/crypto.h"
#include "shiftbook/envelope.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"

namespace {

using namespace shiftbook;

// The canonical value examples: file stem and the value as JSON text.
const std::vector<std::pair<std::string, std::string>> kValues = {
    {"value_false", "false"},
    {"value_true", "true"},
    {"value_int_1440", "1440"},
    {"value_int_minus_1", "-1"},
    {"value_string", "\"Zo\xc3\xab\""},
    {"value_list", "[360, \"W1\"]"},
    {"value_map", "{\"a\": 1, \"B\": true, \"\xc3\xa9\": []}"},
};

// 2026-11-16T14:05:00Z and 14:20:00Z.
constexpr std::uint64_t kWall1 = 1'794'837'900'000;
constexpr std::uint64_t kWall2 = 1'794'838'800'000;
// A stand-in for the hash of the shift's shift_open event.
const std::string kShiftRef(64, 'a');

DeviceKey seed_key() {
  std::array<std::uint8_t, 32> seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i);
  std::array<std::uint8_t, 32> pk{};
  std::array<std::uint8_t, 64> sk{};
  crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
  auto key = DeviceKey::from_secret(sk);
  sodium_memzero(sk.data(), sk.size());
  if (!key.is_ok()) {
    std::cerr << "shiftbook-golden: " << key.status().to_string() << "\n";
    std::exit(1);
  }
  return std::move(key).value();
}

struct Vectors {
  std::vector<std::pair<std::string, Bytes>> files;  // stem -> bytes, in print order
  SealedEvent first;
  SealedEvent second;
};

SealedEvent must_seal(Event e) {
  auto sealed = seal_event(std::move(e));
  if (!sealed.is_ok()) {
    std::cerr << "shiftbook-golden: " << sealed.status().to_string() << "\n";
    std::exit(1);
  }
  return std::move(sealed).value();
}

Vectors make_vectors() {
  Vectors v;
  for (const auto& [stem, text] : kValues) {
    auto bytes = encode_value(Json::parse(text));
    if (!bytes.is_ok()) std::exit(1);
    v.files.emplace_back(stem, *bytes);
  }
  DeviceKey key = seed_key();
  v.files.emplace_back("device_public", Bytes(key.public_key().begin(), key.public_key().end()));

  Event hours;
  hours.device = key.public_key();
  hours.seq = 1;
  hours.hlc = hlc_pack(kWall1, 0);
  hours.author = "L1";
  hours.kind = std::string(kind::kHours);
  hours.body = {{"shift", kShiftRef}, {"worker", "W1"}, {"start", 360}, {"end", 840}, {"special", false}};
  v.first = must_seal(hours);

  Event corr;
  corr.device = key.public_key();
  corr.seq = 2;
  corr.hlc = hlc_pack(kWall2, 0);
  corr.prev = v.first.event.hash;
  corr.author = "L1";
  corr.kind = std::string(kind::kCorrection);
  Json entry = hours.body;
  entry["end"] = 900;
  corr.body = {{"target", hash_ref(v.first.event.hash)}, {"reason", "ended at 15:00"}, {"entry", entry}};
  v.second = must_seal(corr);

  int n = 1;
  for (const SealedEvent* s : {&v.first, &v.second}) {
    std::string p = "event" + std::to_string(n++);
    const Event& e = s->event;
    SignedHead head = sign_head(key, e.seq, e.hash);
    v.files.emplace_back(p + "_" + e.kind, s->bytes);
    v.files.emplace_back(p + "_hash", Bytes(e.hash.begin(), e.hash.end()));
    v.files.emplace_back(p + "_head_message", head_message(head.device, head.seq, head.hash));
    v.files.emplace_back(p + "_head_signature", Bytes(head.signature.begin(), head.signature.end()));
  }
  return v;
}

const Bytes& file(const Vectors& v, const std::string& stem) {
  for (const auto& [name, bytes] : v.files) {
    if (name == stem) return bytes;
  }
  std::exit(1);
}

// Hex wrapped at 64 digits a line, so the doc stays readable; tests compare it without whitespace.
std::string wrapped(ByteView b) {
  std::string hex = to_hex(b), out;
  for (std::size_t i = 0; i < hex.size(); i += 64) out += hex.substr(i, 64) + "\n";
  return out;
}

std::string hex_of(ByteView b, std::size_t from, std::size_t n) { return to_hex(b.subspan(from, n)); }

// The first event, field by field, with the body split into its keys and values.
void print_fields(const SealedEvent& s) {
  ByteView b = s.bytes;
  const Event& e = s.event;
  std::size_t pos = 0;
  auto row = [&](std::size_t n, const std::string& what) {
    std::string line = hex_of(b, pos, n);
    if (!what.empty()) line += std::string(line.size() < 66 ? 66 - line.size() : 1, ' ') + what;
    std::printf("%s\n", line.c_str());
    pos += n;
  };
  row(5, "magic \"SBEV\", format version 1");
  row(32, "device: Ed25519 public key");
  row(8, "seq " + std::to_string(e.seq));
  row(8, "hlc: ms " + std::to_string(hlc_ms(e.hlc)) + ", counter " + std::to_string(hlc_counter(e.hlc)));
  row(32, "prev: zeros, first event");
  row(4, "author length " + std::to_string(e.author.size()));
  row(e.author.size(), "author \"" + e.author + "\"");
  row(4, "kind length " + std::to_string(e.kind.size()));
  row(e.kind.size(), "kind \"" + e.kind + "\"");
  row(5, "body: map (0x06) of " + std::to_string(e.body.size()) + " keys");
  for (auto it = e.body.begin(); it != e.body.end(); ++it) {
    row(4 + it.key().size(), "key \"" + it.key() + "\"");
    auto value = encode_value(it.value());
    if (!value.is_ok()) std::exit(1);
    std::size_t n = value->size();
    if (n > 33) {
      // A long string: tag and length on one row, then the text 32 bytes a row.
      row(5, "string of " + std::to_string(n - 5) + " bytes:");
      const std::string text = it.value().get<std::string>();
      for (std::size_t at = 0; at < text.size(); at += 32) row(std::min<std::size_t>(32, text.size() - at), "");
    } else {
      row(n, it.value().dump());
    }
  }
}

void print_markdown(const Vectors& v) {
  std::printf("### Canonical values\n\n| value (JSON) | file | encoding (hex) |\n| --- | --- | --- |\n");
  for (const auto& [stem, text] : kValues) {
    std::printf("| `%s` | `%s.hex` | `%s` |\n", Json::parse(text).dump().c_str(), stem.c_str(),
                to_hex(file(v, stem)).c_str());
  }
  std::printf("\n### The device\n\nSeed: bytes 0x00, 0x01, ... 0x1f. Public key (`device_public.hex`):\n\n```\n%s```\n",
              wrapped(file(v, "device_public")).c_str());
  int n = 1;
  for (const SealedEvent* s : {&v.first, &v.second}) {
    const Event& e = s->event;
    std::string p = "event" + std::to_string(n);
    std::printf("\n### Event %d: %s, seq %llu\n\nBody: `%s`\n\n", n, e.kind.c_str(),
                static_cast<unsigned long long>(e.seq), e.body.dump().c_str());
    if (n == 1) {
      std::printf("Field by field:\n\n```\n");
      print_fields(*s);
      std::printf("```\n\n");
    }
    std::printf("Encoding, %zu bytes (`%s_%s.hex`):\n\n```\n%s```\n\n", s->bytes.size(), p.c_str(), e.kind.c_str(),
                wrapped(s->bytes).c_str());
    std::printf("Hash, BLAKE2b-256 of the encoding (`%s_hash.hex`):\n\n```\n%s```\n\n", p.c_str(),
                wrapped(file(v, p + "_hash")).c_str());
    std::printf("Head message for seq %llu (`%s_head_message.hex`):\n\n```\n%s```\n\n",
                static_cast<unsigned long long>(e.seq), p.c_str(), wrapped(file(v, p + "_head_message")).c_str());
    std::printf("Ed25519 signature of the head message (`%s_head_signature.hex`):\n\n```\n%s```\n", p.c_str(),
                wrapped(file(v, p + "_head_signature")).c_str());
    ++n;
  }
}

// ---- docs/PROTOCOL.md ------------------------------------------------------------------------

template <typename T>
T must(Result<T> r) {
  if (!r.is_ok()) {
    std::cerr << "shiftbook-golden: " << r.status().to_string() << "\n";
    std::exit(1);
  }
  return std::move(r).value();
}

// N consecutive byte values starting at `first`: the fixed seeds, secrets and nonces.
template <std::size_t N>
std::array<std::uint8_t, N> counting(std::uint8_t first) {
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<std::uint8_t>(first + i);
  return out;
}

constexpr std::uint64_t kOpenWall = 1'794'837'600'000;  // 2026-11-16T14:00:00Z, the shift opens
constexpr std::int64_t kClientMs = 1'794'839'400'000;    // 14:30:00Z, the terminal's clock at sync
constexpr std::int64_t kServerMs = 1'794'839'401'234;    // the server's clock when it answers

struct ProtocolExample {
  Json request_header, response_header;
  std::string code_text;
};

ProtocolExample add_protocol_vectors(Vectors& v) {
  ProtocolExample x;
  auto add = [&](const std::string& stem, ByteView b) { v.files.emplace_back(stem, Bytes(b.begin(), b.end())); };
  DeviceKey device = seed_key();
  DeviceKey server = must(DeviceKey::from_seed(counting<32>(0x20)));
  const auto ephemeral = counting<32>(0x40);
  const auto request_nonce = counting<24>(0x60);
  const auto response_nonce = counting<24>(0x78);
  add("server_public", server.public_key());
  add("server_fingerprint", server_fingerprint(server.public_key()));

  Event open;
  open.device = device.public_key();
  open.seq = 1;
  open.hlc = hlc_pack(kOpenWall, 0);
  open.author = "L1";
  open.kind = std::string(kind::kShiftOpen);
  open.body = {{"unit", "U1"}, {"date", "2026-11-16"}};
  SealedEvent event = must_seal(open);
  SignedHead head = sign_head(device, 1, event.event.hash);
  add("push_event_shift_open", event.bytes);
  add("push_event_hash", event.event.hash);
  add("push_head_signature", head.signature);

  Message request;
  request.header = {{"type", "sync"},
                    {"v", 1},  // a request of protocol version 1, which servers still take
                    {"cursor", 0},
                    {"pull_max", kDefaultPullBytes},
                    {"client_ms", kClientMs},
                    {"head", {{"seq", 1}, {"hash", to_hex(head.hash)}, {"sig", to_hex(head.signature)}}}};
  request.events.push_back(event.bytes);
  x.request_header = request.header;
  Bytes request_plain = must(encode_message(request));
  add("request_plaintext", request_plain);

  X25519Key server_x = must(x25519_from_ed25519(server.public_key()));
  add("server_x25519_public", server_x);
  add("device_x25519_public", must(x25519_from_ed25519(device.public_key())));
  add("ephemeral_public", must(x25519_public(ephemeral)));
  add("dh_ephemeral", must(x25519_shared(ephemeral, server_x)));
  add("dh_static", must(device.x25519_shared(server_x)));
  SealedRequest sealed =
      must(detail::seal_request_with(device, server.public_key(), request_plain, ephemeral, request_nonce));
  add("envelope_key", sealed.context.key);
  add("request_envelope", sealed.wire);

  Receipt receipt = sign_receipt(server, device.public_key(), 1, event.event.hash, kServerMs);
  add("receipt_message", receipt_message(server.public_key(), receipt));
  add("receipt_signature", receipt.signature);
  Message response;
  response.header = {{"type", "sync"},
                     {"receipt",
                      {{"seq", receipt.seq},
                       {"hash", to_hex(receipt.hash)},
                       {"server_ms", receipt.server_ms},
                       {"sig", to_hex(receipt.signature)}}},
                     {"cursor", 0},
                     {"more", false},
                     {"heads", Json::array()}};
  x.response_header = response.header;
  Bytes response_plain = must(encode_message(response));
  add("response_plaintext", response_plain);
  add("response_envelope", must(detail::seal_response_with(sealed.context, response_plain, response_nonce)));

  DeviceKey signer = derive_site_signer(server, "S1");
  Delegation delegation = sign_delegation(server, "S1", signer.public_key());
  add("site_signer_public", signer.public_key());
  add("delegation_message", delegation_message(server.public_key(), delegation));
  add("delegation_signature", delegation.signature);

  EnrollCode code;
  code.secret = counting<8>(0xa0);
  Hash fingerprint = server_fingerprint(server.public_key());
  std::copy(fingerprint.begin(), fingerprint.begin() + 10, code.fingerprint.begin());
  Bytes code_bytes(code.secret.begin(), code.secret.end());
  code_bytes.insert(code_bytes.end(), code.fingerprint.begin(), code.fingerprint.end());
  Hash check = blake2b_256(code_bytes);
  code_bytes.insert(code_bytes.end(), check.begin(), check.begin() + 2);
  add("enroll_code_bytes", code_bytes);
  x.code_text = format_enroll_code(code);
  return x;
}

// Rows of "hex   what", for byte layouts; a long field is wrapped at 32 bytes a row with the
// description on its first row.
class Rows {
 public:
  explicit Rows(ByteView b) : b_(b) {}
  void row(std::size_t n, const std::string& what) {
    for (std::size_t at = 0; at < n; at += 32) {
      std::string line = hex_of(b_, pos_ + at, std::min<std::size_t>(32, n - at));
      if (at == 0 && !what.empty()) line += std::string(line.size() < 66 ? 66 - line.size() : 1, ' ') + what;
      std::printf("%s\n", line.c_str());
    }
    pos_ += n;
  }
  std::size_t remaining() const { return b_.size() - pos_; }

 private:
  ByteView b_;
  std::size_t pos_ = 0;
};

void print_block(const char* title, const Vectors& v, const std::string& stem) {
  std::printf("%s (`%s.hex`):\n\n```\n%s```\n\n", title, stem.c_str(), wrapped(file(v, stem)).c_str());
}

void print_plaintext(const Vectors& v, const std::string& stem, const Json& header) {
  const Bytes& plain = file(v, stem);
  std::size_t header_bytes = must(encode_value(header)).size();
  std::printf("Header: `%s`\n\nField by field:\n\n```\n", header.dump().c_str());
  Rows rows(plain);
  rows.row(header_bytes, "header: canonical map, " + std::to_string(header_bytes) + " bytes");
  std::uint32_t count = get_u32(plain.data() + header_bytes);
  rows.row(4, "event count " + std::to_string(count));
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t n = get_u32(plain.data() + plain.size() - rows.remaining());
    rows.row(4, "event length " + std::to_string(n));
    rows.row(n, "the event's canonical bytes");
  }
  std::printf("```\n\n");
  print_block(("The whole plaintext, " + std::to_string(plain.size()) + " bytes").c_str(), v, stem);
}

void print_protocol_markdown(const Vectors& v, const ProtocolExample& x) {
  std::printf("### Inputs\n\n");
  std::printf("- Device: the device of docs/EVENTS.md, Ed25519 seed 0x00, 0x01, ... 0x1f; public key `%s`.\n",
              to_hex(file(v, "device_public")).c_str());
  std::printf("- Server: Ed25519 seed 0x20, 0x21, ... 0x3f; public key `%s` (`server_public.hex`).\n",
              to_hex(file(v, "server_public")).c_str());
  std::printf("- Ephemeral X25519 secret: 0x40 ... 0x5f. Request nonce: 0x60 ... 0x77. Response nonce: "
              "0x78 ... 0x8f.\n- Times: the shift opens at 2026-11-16T14:00:00Z; the terminal syncs at "
              "client_ms %lld; the server answers at server_ms %lld.\n\n",
              static_cast<long long>(kClientMs), static_cast<long long>(kServerMs));
  print_block("Server fingerprint, BLAKE2b-256(\"shiftbook server key v1\" 0x00 || server key)", v,
              "server_fingerprint");

  std::printf("### The pushed event and its head\n\nA `shift_open` of unit U1, seq 1, author L1 (encoded as in "
              "docs/EVENTS.md).\n\n");
  print_block("The event", v, "push_event_shift_open");
  print_block("Its hash", v, "push_event_hash");
  print_block("Signature of the head message for seq 1 (the `head.sig` of the request)", v, "push_head_signature");

  std::printf("### Sync request: the plaintext\n\n");
  print_plaintext(v, "request_plaintext", x.request_header);

  std::printf("### The envelope key\n\n");
  print_block("Server key as X25519, crypto_sign_ed25519_pk_to_curve25519 (S)", v, "server_x25519_public");
  print_block("Device key as X25519 (the public half of C)", v, "device_x25519_public");
  print_block("Ephemeral public key, X25519(e, 9)", v, "ephemeral_public");
  print_block("X25519(e, S)", v, "dh_ephemeral");
  print_block("X25519(C, S)", v, "dh_static");
  print_block("k = BLAKE2b-256(\"shiftbook envelope v1\" || X25519(e, S) || X25519(C, S) || device || ephemeral "
              "|| server)",
              v, "envelope_key");

  const Bytes& request = file(v, "request_envelope");
  std::printf("### Sync request: the envelope\n\nField by field:\n\n```\n");
  Rows rq(request);
  rq.row(5, "\"SBX\", version 1, 'Q' (request)");
  rq.row(32, "device: Ed25519 public key");
  rq.row(32, "ephemeral: X25519 public key");
  rq.row(24, "nonce");
  rq.row(request.size() - kRequestHeaderBytes - kEnvelopeTagBytes,
         "ciphertext, " + std::to_string(request.size() - kRequestHeaderBytes - kEnvelopeTagBytes) + " bytes");
  rq.row(kEnvelopeTagBytes, "Poly1305 tag");
  std::printf("```\n\n");
  print_block(("The whole request envelope, " + std::to_string(request.size()) + " bytes").c_str(), v,
              "request_envelope");

  std::printf("### Sync response\n\nThe server holds the event, signs a receipt for it, and has nothing to pull "
              "for this device.\n\n");
  print_plaintext(v, "response_plaintext", x.response_header);
  const Bytes& response = file(v, "response_envelope");
  std::printf("The envelope, field by field (additional data: its first 29 bytes followed by the request's 93 "
              "header bytes):\n\n```\n");
  Rows rs(response);
  rs.row(5, "\"SBX\", version 1, 'R' (response)");
  rs.row(24, "nonce");
  rs.row(response.size() - kResponseHeaderBytes - kEnvelopeTagBytes,
         "ciphertext, " + std::to_string(response.size() - kResponseHeaderBytes - kEnvelopeTagBytes) + " bytes");
  rs.row(kEnvelopeTagBytes, "Poly1305 tag");
  std::printf("```\n\n");
  print_block(("The whole response envelope, " + std::to_string(response.size()) + " bytes").c_str(), v,
              "response_envelope");

  std::printf("### The receipt\n\nSigned message, field by field:\n\n```\n");
  Rows rc(file(v, "receipt_message"));
  rc.row(5, "\"SBRC\", version 1");
  rc.row(32, "server key");
  rc.row(32, "device");
  rc.row(8, "seq 1");
  rc.row(32, "hash of event 1");
  rc.row(8, "server_ms " + std::to_string(kServerMs));
  std::printf("```\n\n");
  print_block("The receipt message", v, "receipt_message");
  print_block("Its Ed25519 signature by the server key (`receipt.sig`)", v, "receipt_signature");

  std::printf("### The delegation of site S1\n\n");
  print_block("The site signer's public key, from the seed BLAKE2b-256(key = server seed, \"shiftbook site "
              "signer v1\" 0x00 \"S1\")",
              v, "site_signer_public");
  std::printf("Signed message, field by field:\n\n```\n");
  Rows dl(file(v, "delegation_message"));
  dl.row(5, "\"SBDL\", version 1");
  dl.row(32, "server key");
  dl.row(32, "signer key");
  dl.row(4, "site length 2");
  dl.row(2, "site \"S1\"");
  std::printf("```\n\n");
  print_block("The delegation message", v, "delegation_message");
  print_block("Its Ed25519 signature by the server key (`signer.sig`)", v, "delegation_signature");

  std::printf("### An enrollment code\n\nSecret: bytes 0xa0 ... 0xa7; for the server above.\n\n```\n");
  Rows ec(file(v, "enroll_code_bytes"));
  ec.row(8, "secret");
  ec.row(10, "the server fingerprint's first 10 bytes");
  ec.row(2, "check: first 2 bytes of BLAKE2b-256 of the 18 bytes above");
  std::printf("```\n\n");
  print_block("The 20 bytes", v, "enroll_code_bytes");
  std::printf("Written: `%s`. Its secret half, as the enroll message carries it: `\"code\": \"%s\"`.\n",
              x.code_text.c_str(), to_hex(ByteView(file(v, "enroll_code_bytes")).first(8)).c_str());
}

int write_files(const Vectors& v, const std::string& dir) {
  for (const auto& [stem, bytes] : v.files) {
    std::string path = dir + "/" + stem + ".hex";
    std::ofstream out(path, std::ios::trunc);
    out << to_hex(bytes) << "\n";
    if (!out) {
      std::cerr << "shiftbook-golden: cannot write " << path << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (!crypto_init().is_ok()) return 1;
  std::vector<std::string> args(argv + 1, argv + argc);
  Vectors v = make_vectors();
  ProtocolExample protocol = add_protocol_vectors(v);
  if (args.empty()) {
    print_markdown(v);
    return 0;
  }
  if (args.size() == 1 && args[0] == "--protocol") {
    print_protocol_markdown(v, protocol);
    return 0;
  }
  if (args.size() == 2 && args[0] == "--write") return write_files(v, args[1]);
  std::cerr << "usage: shiftbook-golden [--protocol | --write DIR]\n";
  return 2;
}
