// What the fuzz targets and the seed-corpus generator share: a way to stop on a broken property
// (libFuzzer keeps the input as a crash), the fixed keys, the chains the fuzzed head office and
// terminals already hold, and the placeholders a seed may carry where a signature or hash would go
// (the message target fills them in, so that mutated messages still verify and reach the checks
// behind the signatures). Everything here is deterministic. One thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/bytes.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/status.h"

// Every target defines this; libFuzzer's main or replay_main.cpp calls it.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace shiftbook::fuzz {

// Prints "fuzz: <what>" and aborts: a property of the code under test does not hold.
[[noreturn]] void fail(const std::string& what);
inline void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}
// For the harness's own setup, which must not fail.
void must(const Status& s, const std::string& what);
template <typename T>
T must(Result<T> r, const std::string& what) {
  must(r.status(), what);
  return std::move(r).value();
}

// A field of a JSON map as text or as a whole number; nullopt when `j` is not a map or the field
// is absent or of another type (the harness reads fuzzed JSON and must never throw).
std::optional<std::string> text_field(const Json& j, const char* key);
std::optional<std::int64_t> int_field(const Json& j, const char* key);

// Calls crypto_init once.
void init_crypto();

// N consecutive byte values from `first`: how tools/golden.cpp makes its seeds, secrets and nonces.
template <std::size_t N>
std::array<std::uint8_t, N> counting(std::uint8_t first) {
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<std::uint8_t>(first + i);
  return out;
}

// ---- Fixed identities (the seeds of tools/golden.cpp where it has them)
// The server: Ed25519 seed 0x20..0x3f (docs/PROTOCOL.md, "Worked examples").
const DeviceKey& server_key();
// Terminal A, enrolled for site S1, units U1 and U2: seed 0x00..0x1f (the golden device).
const DeviceKey& terminal_a();
// Terminal B, not enrolled with the fuzzed head office (enroll requests come from it): seed 0xc0..
const DeviceKey& terminal_b();
// Site S1's signer, derived from the server key.
const DeviceKey& site_signer();
// The one of the keys above whose public key is `key`, or null.
const DeviceKey* known_key(const PublicKey& key);

inline constexpr std::string_view kSite = "S1";
inline constexpr std::int64_t kNowMs = 1'794'816'000'000;  // 2026-11-16 08:00 UTC, in period 2026-11
// An enrollment code made for server_key() (secret 0xa0..0xa7, as tools/golden.cpp makes it).
std::string enroll_code_text();

// ---- Chains already held: by the head office (terminal A's) and by the terminal (both)
// Terminal A: shift_open of U1 (seq 1) and hours of worker W1 in it (seq 2), author L1.
const std::vector<SealedEvent>& chain_a();
// Site S1's reference data as the signer's chain: the site, period 2026-11, products P1 and P2,
// units U1 and U2, worker W1, leader L1, a quota for U1/P1.
const std::vector<SealedEvent>& signer_chain();
// The reference items of signer_chain as (kind, body), for the head office's put_reference.
std::vector<std::pair<std::string, Json>> reference_items();

// A sealed event of `key` following `previous` (null for seq 1) in its chain, at kNowMs + seq s.
SealedEvent next_event(const DeviceKey& key, const SealedEvent* previous, const std::string& author,
                       const std::string& kind, Json body);

// ---- Placeholders in seeds (filled in by the message target, see world.h)
inline constexpr std::string_view kSignHere = "sign";   // a "sig" field: the signature it needs
inline constexpr std::string_view kLastHash = "last";   // a head's "hash": its device's last event
inline constexpr std::string_view kValidCode = "valid"; // an enroll "code": the open code's secret
// An event's prev of 32 0xff bytes: the hash of its device's event seq - 1 (in the message or held).
inline constexpr std::uint8_t kPrevByte = 0xff;
bool is_prev_placeholder(const Hash& prev);
// An event like `e` with the placeholder prev, encoded (for seeds).
Bytes with_prev_placeholder(Event e);

// ---- Files
// A folder made once per process for the targets' stores, removed at exit: under
// $SHIFTBOOK_FUZZ_WORK when set (tools/fuzz), else /dev/shm when there is one (a store's fsync
// costs nothing there), else the temp folder.
const std::string& work_dir();
Bytes read_file(const std::string& path);
// Makes `to` (mode 0700) a copy of the regular files of `from`, and nothing else.
void replace_folder(const std::string& from, const std::string& to);
void remove_folder(const std::string& path);

}  // namespace shiftbook::fuzz
