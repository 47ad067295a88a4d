// What the storage tests share: chains of sealed events grown by hand, appends of their events
// with a head and a receipt, a fresh store of the backend under test (SQLite in a temp folder, or
// a PostgreSQL schema), and pulls rendered as short strings ("A1 A2 | heads A2 | end"). Used from
// one test thread.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shiftbook/clock.h"
#include "shiftbook/event.h"
#include "shiftbook/protocol.h"
#include "storage.h"
#include "support/fixture.h"
#include "support/postgres_schema.h"

namespace shiftbook::storage_world {

using namespace shiftbook;
using server::AppendBatch;
using server::CodeRecord;
using server::NewEvent;
using server::PullBatch;
using server::ReadChains;
using server::Storage;
using testing::exec_sql;
using testing::query_int;
using testing::kSampleNowMs;
using testing::TempDir;
using testing::postgres_schemas;
using testing::postgres_test_url;

inline constexpr std::int64_t kNow = kSampleNowMs;

// One device's chain, grown with sealed events.
struct Chain {
  DeviceKey key = DeviceKey::generate();
  std::vector<SealedEvent> events;
  const PublicKey& device() const { return key.public_key(); }

  // Seals `n` more events of `kind`; each body carries `pad` bytes of filler.
  void grow(int n, const std::string& kind = "hours", std::size_t pad = 0, Json body = Json::object()) {
    for (int i = 0; i < n; ++i) {
      Event e;
      e.device = device();
      e.seq = events.size() + 1;
      e.hlc = hlc_pack(static_cast<std::uint64_t>(kNow) + e.seq, 0);
      e.prev = events.empty() ? Hash{} : events.back().event.hash;
      e.author = "L1";
      e.kind = kind;
      e.body = body.empty() ? Json{{"n", static_cast<std::int64_t>(e.seq)}, {"pad", std::string(pad, 'x')}} : body;
      auto sealed = seal_event(e);
      REQUIRE_MESSAGE(sealed.is_ok(), sealed.status().to_string());
      events.push_back(std::move(sealed).value());
    }
  }
  const Hash& hash(std::uint64_t seq) const { return events.at(seq - 1).event.hash; }
};

inline const DeviceKey& server_key() {
  static const DeviceKey key = DeviceKey::generate();
  return key;
}

// Events from..to of `c` as one append, with its head and a receipt.
inline AppendBatch batch_of(const Chain& c, std::uint64_t from, std::uint64_t to, const std::string& unit = "U1",
                     const std::string& site = "S1", const std::string& ref_key = {}) {
  AppendBatch b;
  b.device = c.device();
  b.expected_seq = from;
  for (std::uint64_t s = from; s <= to; ++s) {
    const SealedEvent& se = c.events.at(s - 1);
    b.events.push_back(NewEvent{se.event, se.bytes, unit, site, ref_key});
  }
  b.head = sign_head(c.key, to, c.hash(to));
  b.receipt = sign_receipt(server_key(), c.device(), to, c.hash(to), kNow + static_cast<std::int64_t>(to));
  return b;
}

// ---- the backend under test
// The storage tests run against SQLite, and against PostgreSQL too when SHIFTBOOK_TEST_POSTGRES
// holds a connection URL (tools/test starts a throwaway cluster and sets it): STORAGE_TEST_CASE
// runs its body once per backend, and make_storage gives each run a fresh store: a file in the
// test's folder, or a PostgreSQL schema of its own, dropped when the test program exits.
enum class Backend { kSqlite, kPostgres };

inline Backend& current_backend() {
  static Backend backend = Backend::kSqlite;
  return backend;
}

// The URL of the test's store (made on first use: an empty schema, or a path in `dir`).
inline std::string store_url(const TempDir& dir) {
  static std::map<std::string, std::string> urls;  // dir -> url, for the PostgreSQL run
  if (current_backend() == Backend::kSqlite) return "sqlite:" + dir.file("hq.db");
  auto it = urls.find(dir.path());
  if (it == urls.end()) it = urls.emplace(dir.path(), postgres_schemas().make()).first;
  return it->second;
}

// Creates the test's store.
inline std::unique_ptr<Storage> make_storage(const TempDir& dir, const server::StorageOptions& options = {}) {
  auto s = server::open_storage(store_url(dir), true, options);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  return std::move(s).value();
}

// Opens the test's store again, as another process would.
inline std::unique_ptr<Storage> open_again(const TempDir& dir, const server::StorageOptions& options = {}) {
  auto s = server::open_storage(store_url(dir), false, options);
  REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
  return std::move(s).value();
}

inline const char* backend_name() { return current_backend() == Backend::kSqlite ? "sqlite" : "postgres"; }

// Runs `body` against each backend under test, naming it in any failure's message.
inline void for_each_backend(void (*body)()) {
  std::vector<Backend> backends{Backend::kSqlite};
  if (!postgres_test_url().empty()) backends.push_back(Backend::kPostgres);
  for (Backend b : backends) {
    current_backend() = b;
    const std::string name = backend_name();
    INFO("backend: " << name);
    body();
  }
  current_backend() = Backend::kSqlite;
}

#define STORAGE_TEST_CASE_BODY(name, body)                                      \
  static void body();                                                           \
  TEST_CASE(name) { ::shiftbook::storage_world::for_each_backend(&body); }      \
  static void body()
// A test case of the storage contract: its body runs once per backend (see for_each_backend).
#define STORAGE_TEST_CASE(name) STORAGE_TEST_CASE_BODY(name, DOCTEST_ANONYMOUS(storage_test_body_))

inline void append_ok(Storage& st, const AppendBatch& b) {
  Status s = st.append(b);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
}

// "A1 A2 B1 | heads A2 B1 | more": events by device letter and seq, heads, and `more`.
inline std::string render(const PullBatch& p, const std::map<PublicKey, char>& names) {
  std::string out;
  for (const auto& pe : p.events) {
    auto e = decode_event(pe.raw);
    REQUIRE(e.is_ok());
    out += names.at(e->device) + std::to_string(e->seq) + " ";
  }
  out += "| heads";
  for (const auto& h : p.heads) {
    CHECK(verify_head(h));
    out += std::string(" ") + names.at(h.device) + std::to_string(h.seq);
  }
  return out + (p.more ? " | more" : " | end");
}

inline PullBatch pull_ok(Storage& st, const std::vector<PublicKey>& devices, std::uint64_t cursor, std::size_t max) {
  auto p = st.pull(devices, cursor, max);
  REQUIRE_MESSAGE(p.is_ok(), p.status().to_string());
  return std::move(p).value();
}

inline Hash secret_hash(const std::string& secret) { return blake2b_256(as_bytes(secret)); }

inline void add_code(Storage& st, const std::string& secret, std::vector<std::string> units, std::int64_t expires_ms) {
  CodeRecord c;
  c.secret_hash = secret_hash(secret);
  c.site = "S1";
  c.units = std::move(units);
  c.created_ms = kNow;
  c.expires_ms = expires_ms;
  Status s = st.add_code(c);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
}

inline std::string code_name_of(const Status& s) { return std::string(code_name(s.code())); }

}  // namespace shiftbook::storage_world
