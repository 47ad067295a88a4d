// The building blocks' ceilings (bench_ceilings.h).
#include "bench_ceilings.h"

#include <sodium.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <memory>

#include "bench_common.h"
#include "bench_pg.h"
#include "pg.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"

namespace shiftbook::bench {
namespace {

namespace pg = server::pg;

// A plain table of events (seq, hash, raw): what the database itself does with the bytes, without
// Shiftbook's columns, indexes and projections.
class PlainTable {
 public:
  virtual ~PlainTable() = default;
  // One transaction of events[from, from + n) (round robin over `events`), seqs continuing, the
  // BLAKE2b of each computed as it is inserted.
  virtual Status commit(const std::vector<Bytes>& events, std::size_t from, std::size_t n) = 0;
};

// In a fresh WAL database with synchronous=FULL.
class SqlitePlainTable : public PlainTable {
 public:
  static Result<std::unique_ptr<PlainTable>> open(const std::string& path) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
    std::unique_ptr<SqlitePlainTable> t(new SqlitePlainTable);
    if (sqlite3_open(path.c_str(), &t->db_) != SQLITE_OK) return unavailable("cannot open " + path);
    for (const char* sql : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                            "CREATE TABLE events (seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, raw BLOB NOT NULL)"}) {
      SB_RETURN_IF_ERROR(t->exec(sql));
    }
    if (sqlite3_prepare_v2(t->db_, "INSERT INTO events(seq, hash, raw) VALUES(?, ?, ?)", -1, &t->insert_, nullptr) !=
        SQLITE_OK) {
      return t->error();
    }
    return std::unique_ptr<PlainTable>(std::move(t));
  }
  ~SqlitePlainTable() override {
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }
  SqlitePlainTable(const SqlitePlainTable&) = delete;
  SqlitePlainTable& operator=(const SqlitePlainTable&) = delete;

  Status exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return error();
    return Status::ok();
  }
  Status commit(const std::vector<Bytes>& events, std::size_t from, std::size_t n) override {
    SB_RETURN_IF_ERROR(exec("BEGIN"));
    for (std::size_t i = 0; i < n; ++i) {
      const Bytes& raw = events[(from + i) % events.size()];
      const Hash h = blake2b_256(raw);
      sqlite3_bind_int64(insert_, 1, ++seq_);
      sqlite3_bind_blob(insert_, 2, h.data(), static_cast<int>(h.size()), SQLITE_STATIC);
      sqlite3_bind_blob(insert_, 3, raw.data(), static_cast<int>(raw.size()), SQLITE_STATIC);
      if (sqlite3_step(insert_) != SQLITE_DONE) return error();
      sqlite3_reset(insert_);
    }
    return exec("COMMIT");
  }

 private:
  SqlitePlainTable() = default;
  Status error() const { return internal_error(std::string("plain SQLite table: ") + sqlite3_errmsg(db_)); }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  std::int64_t seq_ = 0;
};

// In a fresh schema of the PostgreSQL server `server_url` names (dropped when done), sent as the
// server's backend sends events: COPY in binary format, one transaction, the server's default
// durability (synchronous_commit as the cluster has it, on unless changed).
class PgPlainTable : public PlainTable {
 public:
  static Result<std::unique_ptr<PlainTable>> open(const std::string& server_url) {
    std::unique_ptr<PgPlainTable> t(new PgPlainTable);
    SB_ASSIGN_OR_RETURN(t->schema_, PgSchema::make(server_url, "plain"));
    SB_ASSIGN_OR_RETURN(t->conn_, pg::Conn::connect(t->schema_->url()));
    SB_RETURN_IF_ERROR(t->conn_->exec("CREATE TABLE events (seq BIGINT PRIMARY KEY, hash BYTEA NOT NULL, raw BYTEA NOT NULL)"));
    return std::unique_ptr<PlainTable>(std::move(t));
  }
  Status commit(const std::vector<Bytes>& events, std::size_t from, std::size_t n) override {
    pg::CopyRows rows;
    for (std::size_t i = 0; i < n; ++i) {
      const Bytes& raw = events[(from + i) % events.size()];
      const Hash h = blake2b_256(raw);
      rows.row(3);
      rows.i64(++seq_);
      rows.bytes(h);
      rows.bytes(raw);
    }
    SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(*conn_));
    SB_RETURN_IF_ERROR(conn_->copy_in("COPY events (seq, hash, raw) FROM STDIN (FORMAT binary)", rows.finish(),
                                      "the plain insert"));
    return tx.commit();
  }

 private:
  PgPlainTable() = default;
  std::unique_ptr<PgSchema> schema_;  // dropped after the connection closes
  std::unique_ptr<pg::Conn> conn_;
  std::int64_t seq_ = 0;
};

// A plain table in a fresh SQLite file in `dir` (store "sqlite:") or a fresh PostgreSQL schema.
Result<std::unique_ptr<PlainTable>> open_plain(const std::string& dir, const std::string& name,
                                               const std::string& store) {
  if (is_postgres_store(store)) return PgPlainTable::open(store);
  return SqlitePlainTable::open(dir + "/" + name);
}

// The rate of one transaction inserting every event of `sample` into a fresh plain table.
Result<double> plain_insert_per_s(const std::vector<Bytes>& sample, const std::string& dir, const std::string& store) {
  SB_ASSIGN_OR_RETURN(auto table, open_plain(dir, "ceiling-insert.db", store));
  const auto start = Steady::now();
  SB_RETURN_IF_ERROR(table->commit(sample, 0, sample.size()));
  return static_cast<double>(sample.size()) / seconds_since(start);
}

// Calls `step` `n` times; returns the rate per second.
template <typename Step>
double rate(std::size_t n, Step step) {
  const auto start = Steady::now();
  for (std::size_t i = 0; i < n; ++i) step(i);
  return static_cast<double>(n) / seconds_since(start);
}

struct OneRun {
  double insert = 0, pg_insert = 0, blake2b = 0, verify = 0, encode = 0, decode = 0, xchacha = 0;
};

Result<OneRun> measure_once(const std::vector<Bytes>& sample, const std::vector<Event>& decoded,
                            const std::string& dir, const std::string& postgres_url) {
  OneRun r;
  SB_ASSIGN_OR_RETURN(r.insert, plain_insert_per_s(sample, dir, "sqlite:"));
  if (!postgres_url.empty()) {
    SB_ASSIGN_OR_RETURN(r.pg_insert, plain_insert_per_s(sample, dir, postgres_url));
  }
  volatile std::uint8_t sink = 0;  // keeps the loops from being optimised away
  r.blake2b = rate(sample.size(), [&](std::size_t i) { sink = sink ^ blake2b_256(sample[i])[0]; });

  const DeviceKey key = DeviceKey::generate();
  const SignedHead head = sign_head(key, 1000, blake2b_256(sample.front()));
  const std::size_t verifies = std::max<std::size_t>(200, std::min<std::size_t>(5000, sample.size() / 4));
  bool all_verified = true;
  r.verify = rate(verifies, [&](std::size_t) { all_verified = verify_head(head) && all_verified; });
  if (!all_verified) return internal_error("a signed head did not verify in the ceiling's loop");

  bool all_encoded = true;
  r.encode = rate(decoded.size(), [&](std::size_t i) {
    auto b = encode_event(decoded[i]);
    all_encoded = all_encoded && b.is_ok();
  });
  bool all_decoded = true;
  r.decode = rate(sample.size(), [&](std::size_t i) {
    auto e = decode_event(sample[i]);
    all_decoded = all_decoded && e.is_ok();
  });
  if (!all_encoded || !all_decoded) return internal_error("an event failed to encode or decode in the ceiling's loop");

  // 64 messages of 1 MiB, the size of a pulled batch.
  const std::size_t mib = 1 << 20;
  Bytes plain(mib, 0x5a), sealed(mib + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  std::array<std::uint8_t, crypto_aead_xchacha20poly1305_ietf_KEYBYTES> k{};
  std::array<std::uint8_t, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce{};
  random_bytes(k);
  const double messages = rate(64, [&](std::size_t i) {
    nonce[0] = static_cast<std::uint8_t>(i);
    unsigned long long len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.data(), &len, plain.data(), plain.size(), nullptr, 0, nullptr,
                                               nonce.data(), k.data());
  });
  r.xchacha = messages * static_cast<double>(mib) / 1e6;
  return r;
}

}  // namespace

double Ceilings::sync_floor_per_s(bool postgres) const {
  const double insert = postgres ? pg_insert_per_s : insert_per_s;
  if (insert <= 0) return 0;
  const double seconds = 1 / decode_per_s + 1 / insert + 2 * event_bytes / (xchacha_mb_s * 1e6);
  return 1 / seconds;
}

Result<Ceilings> measure_ceilings(const std::vector<Bytes>& sample, const std::string& dir, int runs,
                                  const std::string& postgres_url) {
  if (sample.empty()) return invalid_argument("the ceilings need sample events");
  std::vector<Event> decoded;
  decoded.reserve(sample.size());
  Ceilings c;
  c.events = sample.size();
  for (const Bytes& raw : sample) {
    SB_ASSIGN_OR_RETURN(Event e, decode_event(raw));
    decoded.push_back(std::move(e));
    c.event_bytes += static_cast<double>(raw.size()) / static_cast<double>(sample.size());
  }
  std::vector<double> insert, pg_insert, blake, verify, encode, decode, xchacha;
  for (int run = 0; run < runs; ++run) {
    SB_ASSIGN_OR_RETURN(OneRun r, measure_once(sample, decoded, dir, postgres_url));
    insert.push_back(r.insert);
    pg_insert.push_back(r.pg_insert);
    blake.push_back(r.blake2b);
    verify.push_back(r.verify);
    encode.push_back(r.encode);
    decode.push_back(r.decode);
    xchacha.push_back(r.xchacha);
  }
  c.insert_per_s = median(insert);
  c.pg_insert_per_s = median(pg_insert);
  c.blake2b_per_s = median(blake);
  c.verify_per_s = median(verify);
  c.encode_per_s = median(encode);
  c.decode_per_s = median(decode);
  c.xchacha_mb_s = median(xchacha);
  return c;
}

Result<double> single_writer_floor_ms(const std::vector<Bytes>& sample, const std::string& dir,
                                      const std::string& store, int terminals, int per_batch, double q, int runs) {
  if (sample.empty() || terminals < 1 || per_batch < 1) return invalid_argument("the single-writer floor needs work");
  std::vector<double> floors;
  for (int run = 0; run < runs; ++run) {
    SB_ASSIGN_OR_RETURN(auto table, open_plain(dir, "ceiling-writer.db", store));
    std::vector<double> done_ms;
    const auto start = Steady::now();
    for (int t = 0; t < terminals; ++t) {
      SB_RETURN_IF_ERROR(table->commit(sample, static_cast<std::size_t>(t) * static_cast<std::size_t>(per_batch),
                                       static_cast<std::size_t>(per_batch)));
      done_ms.push_back(ms_since(start));
    }
    floors.push_back(quantile(done_ms, q));
  }
  return median(floors);
}

}  // namespace shiftbook::bench
