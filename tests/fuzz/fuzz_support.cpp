#include "fuzz_support.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "shiftbook/clock.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"

namespace shiftbook::fuzz {
namespace {

namespace fs = std::filesystem;

DeviceKey seeded(std::uint8_t first) {
  init_crypto();
  return must(DeviceKey::from_seed(counting<32>(first)), "a key from a fixed seed");
}

// Anna's PIN hash from docs/REFERENCE.md: fixed, so the chains are the same in every run.
constexpr const char* kPinHash =
    "$argon2id$v=19$m=65536,t=2,p=1$xPoxec1Mx9V522ticknnbg$U30xvBXWjaTuGG4WfbzR3KB7JVUxmz2aXvxRDf9O6P4";

// The folder of work_dir() once it is made, for fail() to remove.
const std::string* g_made_dir = nullptr;

// The folder of work_dir(), removed when the process ends normally.
struct WorkDir {
  WorkDir() {
    std::error_code ec;
    const char* chosen = std::getenv("SHIFTBOOK_FUZZ_WORK");
    fs::path base = chosen && *chosen                   ? fs::path(chosen)
                    : fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm")
                                                       : fs::temp_directory_path();
    std::string pattern = (base / "shiftbook-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) fail("cannot make a folder under " + base.string());
    path = pattern;
    g_made_dir = &path;
  }
  ~WorkDir() { remove_folder(path); }
  std::string path;
};

}  // namespace

void fail(const std::string& what) {
  // Long enough to name the input's part that broke the property; fuzzed text can run to pages.
  constexpr std::size_t kShown = 2000;
  const std::string shown = what.size() <= kShown ? what : what.substr(0, kShown) + "...";
  std::fprintf(stderr, "fuzz: %s\n", shown.c_str());
  std::fflush(stderr);
  // abort() skips the destructors that would remove the stores; the input is all a replay needs.
  if (g_made_dir) remove_folder(*g_made_dir);
  std::abort();
}

void must(const Status& s, const std::string& what) {
  if (!s.is_ok()) fail("harness setup failed: " + what + ": " + s.to_string());
}

std::optional<std::string> text_field(const Json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<std::int64_t> int_field(const Json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
    return std::nullopt;
  }
  return it->get<std::int64_t>();
}

void init_crypto() {
  static const bool done = [] {
    must(crypto_init(), "crypto_init");
    return true;
  }();
  (void)done;
}

const DeviceKey& server_key() {
  static const DeviceKey key = seeded(0x20);
  return key;
}
const DeviceKey& terminal_a() {
  static const DeviceKey key = seeded(0x00);
  return key;
}
const DeviceKey& terminal_b() {
  static const DeviceKey key = seeded(0xc0);
  return key;
}
const DeviceKey& site_signer() {
  static const DeviceKey key = derive_site_signer(server_key(), std::string(kSite));
  return key;
}

const DeviceKey* known_key(const PublicKey& key) {
  for (const DeviceKey* k : {&server_key(), &terminal_a(), &terminal_b(), &site_signer()}) {
    if (k->public_key() == key) return k;
  }
  return nullptr;
}

std::string enroll_code_text() {
  EnrollCode code;
  code.secret = counting<8>(0xa0);
  Hash fp = server_fingerprint(server_key().public_key());
  std::copy(fp.begin(), fp.begin() + static_cast<std::ptrdiff_t>(code.fingerprint.size()), code.fingerprint.begin());
  return format_enroll_code(code);
}

SealedEvent next_event(const DeviceKey& key, const SealedEvent* previous, const std::string& author,
                       const std::string& kind, Json body) {
  Event e;
  e.device = key.public_key();
  e.seq = previous ? previous->event.seq + 1 : 1;
  e.hlc = hlc_pack(static_cast<std::uint64_t>(kNowMs) + e.seq * 1000, 0);
  e.prev = previous ? previous->event.hash : Hash{};
  e.author = author;
  e.kind = kind;
  e.body = std::move(body);
  return must(seal_event(std::move(e)), "sealing " + kind);
}

const std::vector<SealedEvent>& chain_a() {
  static const std::vector<SealedEvent> chain = [] {
    std::vector<SealedEvent> c;
    c.push_back(next_event(terminal_a(), nullptr, "L1", "shift_open", {{"unit", "U1"}, {"date", "2026-11-16"}}));
    c.push_back(next_event(terminal_a(), &c.back(), "L1", "hours",
                           {{"shift", hash_ref(c[0].event.hash)},
                            {"worker", "W1"},
                            {"start", 480},
                            {"end", 960},
                            {"special", false}}));
    return c;
  }();
  return chain;
}

std::vector<std::pair<std::string, Json>> reference_items() {
  return {
      {"ref_site", {{"id", "S1"}, {"name", "Plant One"}, {"tz", "UTC"}}},
      {"ref_period", {{"id", "2026-11"}, {"start", "2026-11-01"}, {"end", "2026-11-30"}}},
      {"ref_product", {{"id", "P1"}, {"name", "Bracket"}, {"unit", "pcs"}, {"decimals", 0}}},
      {"ref_product", {{"id", "P2"}, {"name", "Powder coat"}, {"unit", "kg"}, {"decimals", 3}}},
      {"ref_unit", {{"id", "U1"}, {"site", "S1"}, {"name", "Press shop"}}},
      {"ref_unit", {{"id", "U2"}, {"site", "S1"}, {"name", "Paint shop"}}},
      {"ref_worker", {{"id", "W1"}, {"site", "S1"}, {"name", "Anna"}, {"pin_hash", kPinHash}, {"active", true}}},
      {"ref_leader", {{"id", "L1"}, {"site", "S1"}, {"name", "Lena"}, {"pin_hash", kPinHash}, {"active", true}}},
      {"ref_quota", {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 500}, {"version", 1}}},
  };
}

const std::vector<SealedEvent>& signer_chain() {
  static const std::vector<SealedEvent> chain = [] {
    std::vector<SealedEvent> c;
    for (auto& [kind, body] : reference_items()) {
      c.push_back(next_event(site_signer(), c.empty() ? nullptr : &c.back(), "head-office", kind, body));
    }
    return c;
  }();
  return chain;
}

bool is_prev_placeholder(const Hash& prev) {
  for (std::uint8_t b : prev) {
    if (b != kPrevByte) return false;
  }
  return true;
}

Bytes with_prev_placeholder(Event e) {
  e.prev.fill(kPrevByte);
  return must(encode_event(e), "encoding an event with a placeholder prev");
}

const std::string& work_dir() {
  static const WorkDir dir;
  return dir.path;
}

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void replace_folder(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::remove_all(to, ec);
  if (!fs::create_directories(to, ec)) fail("cannot make " + to + ": " + ec.message());
  fs::permissions(to, fs::perms::owner_all, ec);
  for (const auto& entry : fs::directory_iterator(from, ec)) {
    if (!entry.is_regular_file()) continue;
    fs::copy_file(entry.path(), fs::path(to) / entry.path().filename(), fs::copy_options::overwrite_existing, ec);
    if (ec) fail("cannot copy " + entry.path().string() + ": " + ec.message());
  }
  if (ec) fail("cannot list " + from + ": " + ec.message());
}

void remove_folder(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

}  // namespace shiftbook::fuzz
