// shiftbook-golden: prints the golden vectors of docs/EVENTS.md (canonical values, two chained
// events of a device whose key comes from a fixed seed, their hashes and signed heads), or writes
// them as the hex files tests/sync/golden/*.hex that the tests compare byte for byte.
//   shiftbook-golden              the "Golden examples" section of docs/EVENTS.md, as markdown
//   shiftbook-golden --write DIR  one lower-case hex file per vector into DIR
// Everything here is deterministic: Ed25519 signatures depend only on the key and the message.
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
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"

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
  if (args.empty()) {
    print_markdown(v);
    return 0;
  }
  if (args.size() == 2 && args[0] == "--write") return write_files(v, args[1]);
  std::cerr << "usage: shiftbook-golden [--write DIR]\n";
  return 2;
}
