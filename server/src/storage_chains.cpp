// The SQLite backend of the server's storage (storage.h): the chains. Appends (one transaction:
// events, head and receipt, the reference items and revocations they carry), lookups by hash (hash_index for older events, an in-memory map of the
// recent ones) for what storage.h says of an event or for its bytes, receipts, chain ends, and
// the pull, which walks one row per push. The backend's invariants are in storage_sqlite_impl.h.
#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include <sqlite3.h>

#include "storage_sqlite_impl.h"

namespace shiftbook::server::sqlite {
namespace {

using rows::hash_key;

constexpr std::size_t kEventColumns = 11;
constexpr std::size_t kInsertRows = 64;  // 704 parameters: under SQLite's limit (32,766 since 3.32, 999 before)

// INSERT INTO events(...) VALUES (?, ...), ... with `rows` rows.
std::string events_insert_sql(std::size_t rows) {
  std::string sql = "INSERT INTO events(pos, chain, seq, hash, hash_key, hlc, kind, unit, site, raw, received_ms) VALUES";
  for (std::size_t r = 0; r < rows; ++r) sql += r == 0 ? "(?,?,?,?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?,?,?,?)";
  return sql;
}

}  // namespace

Result<std::vector<Hash>> SqliteStorage::hashes(const PublicKey& device, std::uint64_t from, std::uint64_t to) {
  SB_RETURN_IF_ERROR(rows::check_hash_range(device, from, to));
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT e.hash FROM chains c JOIN events e ON e.chain = c.id "
                                                  "WHERE c.device = ? AND e.seq BETWEEN ? AND ? ORDER BY e.seq"));
  st.bind_blob(1, view(device)).bind(2, i64(from)).bind(3, i64(to));
  std::vector<Hash> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(st.blob32(0));
  }
  if (out.size() != to - from + 1) return rows::hashes_not_all_held(device, from, to, out.size());
  return out;
}

Result<std::optional<Receipt>> SqliteStorage::receipt(const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare(std::string(rows::kReceiptColumns) + "WHERE device = ?"));
  st.bind_blob(1, view(device));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<Receipt>();
  SB_ASSIGN_OR_RETURN(Receipt r, rows::receipt_from(st, device));
  return std::optional<Receipt>(r);
}

Result<std::pair<std::uint64_t, Hash>> SqliteStorage::chain_end(const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  SB_ASSIGN_OR_RETURN(Stmt st, lease.db().prepare("SELECT seq, hash FROM chains WHERE device = ?"));
  st.bind_blob(1, view(device));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::pair<std::uint64_t, Hash>(0, Hash{});
  return std::pair<std::uint64_t, Hash>(u64(st.int64(0)), st.blob32(1));
}

Status SqliteStorage::append(const AppendBatch& batch) {
  SB_RETURN_IF_ERROR(rows::check_append(batch));
  std::lock_guard<std::mutex> lock(write_mu_);
  {
    SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
    SB_RETURN_IF_ERROR(write_batch(batch));
    if (options_.before_commit) options_.before_commit();
    SB_RETURN_IF_ERROR(tx.commit());
  }
  // The append stands whatever happens here: a failed move is simply tried again after the next.
  (void)index_recent_hashes();
  return Status::ok();
}

// Lookups by hash: events up to hash_indexed_upto through hash_index, later ones through
// recent_, which first catches up with what was appended since (by this process or another).
// A lookup holds recent_mu_ from before its snapshot to its end, and index_recent_hashes drops
// moved entries from recent_ only under that mutex and after its commit: every snapshot a
// lookup reads finds each event in hash_index or in recent_.
Result<bool> SqliteStorage::read_by_hash(const Hash& hash, const char* select,
                                         const std::function<void(const Stmt&)>& read) {
  std::lock_guard<std::mutex> lock(recent_mu_);
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  Db& db = lease.db();
  SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
  SB_RETURN_IF_ERROR(catch_up_recent(db));
  const std::int64_t key = hash_key(hash);
  std::vector<std::uint64_t> candidates;
  const auto [first, last] = recent_.equal_range(key);
  for (auto it = first; it != last; ++it) candidates.push_back(it->second);
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT pos FROM hash_index WHERE hash_key = ?"));
    st.bind(1, key);
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      candidates.push_back(u64(st.int64(0)));
    }
  }
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(select));
  for (std::uint64_t pos : candidates) {
    st.bind(1, i64(pos));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row && st.blob32(0) == hash) {
      read(st);
      return true;
    }
    st.reset();
  }
  return false;
}

Result<std::optional<EventInfo>> SqliteStorage::event_info(const Hash& hash) {
  std::optional<EventInfo> out;
  static const std::string kSelect = std::string(rows::kEventInfoColumns) + "WHERE e.pos = ?";
  auto found = read_by_hash(hash, kSelect.c_str(), [&](const Stmt& st) { out = rows::event_info_from(st); });
  if (!found.is_ok()) return found.status();
  return out;
}

Result<std::optional<Bytes>> SqliteStorage::event_raw(const Hash& hash) {
  std::optional<Bytes> out;
  auto found = read_by_hash(hash, "SELECT e.hash, e.raw FROM events e WHERE e.pos = ?",
                            [&](const Stmt& st) { out = st.blob(1); });
  if (!found.is_ok()) return found.status();
  return out;
}

Status SqliteStorage::catch_up_recent(Db& db) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT pos, hash_key FROM events WHERE pos > ? ORDER BY pos"));
  st.bind(1, i64(loaded_upto_));
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    loaded_upto_ = u64(st.int64(0));
    recent_.emplace(st.int64(1), loaded_upto_);
  }
  return Status::ok();
}

// The last position handed out, or skipped to (skip_positions): the next append's come after it.
constexpr const char* kLastPositionSql =
    "SELECT max(coalesce((SELECT max(pos) FROM events), 0), "
    "coalesce((SELECT value FROM meta WHERE key = 'positions_from'), 0))";

Result<std::uint64_t> SqliteStorage::skip_positions(std::uint64_t gap) {
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
  SB_ASSIGN_OR_RETURN(std::int64_t last_pos, writer_.query_int(kLastPositionSql));
  const std::int64_t skipped_to = last_pos + i64(gap);
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO meta(key, value) VALUES('positions_from', ?) "
                                                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    SB_RETURN_IF_ERROR(st.bind(1, skipped_to).run());
  }
  SB_RETURN_IF_ERROR(tx.commit());
  return u64(skipped_to) + 1;
}

// Moves the hashes of events after hash_indexed_upto into hash_index, in key order, once there
// are options_.hash_batch_events of them: each page of the index is written once per move.
Status SqliteStorage::index_recent_hashes() {
  SB_ASSIGN_OR_RETURN(std::int64_t newest, writer_.query_int("SELECT max(pos) FROM events"));
  {
    std::lock_guard<std::mutex> lock(recent_mu_);
    if (u64(newest) < indexed_upto_ + options_.hash_batch_events) return Status::ok();
  }
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(writer_));
  // Another process (an admin command) may have moved some already.
  SB_ASSIGN_OR_RETURN(std::int64_t from, writer_.query_int("SELECT value FROM meta WHERE key = 'hash_indexed_upto'"));
  SB_ASSIGN_OR_RETURN(std::int64_t upto, writer_.query_int("SELECT max(pos) FROM events"));
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO hash_index(hash_key, pos) SELECT hash_key, pos FROM events "
                                                 "WHERE pos > ? AND pos <= ? ORDER BY hash_key, pos"));
    SB_RETURN_IF_ERROR(st.bind(1, from).bind(2, upto).run());
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO meta(key, value) VALUES('hash_indexed_upto', ?) "
                                                 "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
    SB_RETURN_IF_ERROR(st.bind(1, upto).run());
  }
  SB_RETURN_IF_ERROR(tx.commit());
  std::lock_guard<std::mutex> lock(recent_mu_);
  indexed_upto_ = u64(upto);
  loaded_upto_ = std::max(loaded_upto_, indexed_upto_);
  std::erase_if(recent_, [&](const auto& entry) { return entry.second <= indexed_upto_; });
  return Status::ok();
}

Status SqliteStorage::write_batch(const AppendBatch& b) {
  const PublicKey& device = b.device;
  if (b.unchanged) {
    ReadChains now{b.unchanged->site, {}};
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("SELECT d.key, coalesce(c.seq, 0) FROM devices d "
                                                 "LEFT JOIN chains c ON c.device = d.key WHERE d.site = ?"));
    st.bind(1, now.site);
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      now.ends[st.blob32(0)] = u64(st.int64(1));
    }
    if (now != *b.unchanged) return rows::site_changed(now.site);
  }
  std::int64_t chain = 0;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("SELECT id, seq FROM chains WHERE device = ?"));
    st.bind_blob(1, view(device));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    const std::uint64_t held = row ? u64(st.int64(1)) : 0;
    if (held + 1 != b.expected_seq) return rows::chain_moved(device, held, b.expected_seq);
    if (row) chain = st.int64(0);
  }
  SB_RETURN_IF_ERROR(not_revoked(device));
  if (chain == 0) {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO chains(device, seq, hash, hlc) VALUES(?, 0, ?, 0) "
                                                 "RETURNING id"));
    st.bind_blob(1, view(device)).bind_blob(2, view(Hash{}));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return internal_error("storing the first events of device " + short_device(device) + ": no chain id");
    chain = st.int64(0);
  }
  // Positions are given explicitly, after the last one: an append's events are consecutive.
  // The batch's bytes are bound as they are (unowned): each insert runs, and is reset, before the
  // next binds. Events go kInsertRows to a statement, so that a statement's fixed cost (its start,
  // its end, its journal bookkeeping) is paid once per many events; the rest one at a time.
  SB_ASSIGN_OR_RETURN(std::int64_t last_pos, writer_.query_int(kLastPositionSql));
  const std::int64_t first_pos = last_pos + 1;
  std::int64_t bytes = 0;
  static const std::string kInsertMany = events_insert_sql(kInsertRows);
  static const std::string kInsertOne = events_insert_sql(1);
  // A SQLite built with a lower limit on a statement's parameters gets one row a statement.
  const bool many = static_cast<std::size_t>(sqlite3_limit(writer_.handle(), SQLITE_LIMIT_VARIABLE_NUMBER, -1)) >=
                    kInsertRows * kEventColumns;
  const std::size_t count = b.events.size();
  for (std::size_t at = 0; at < count;) {
    const std::size_t rows = many && count - at >= kInsertRows ? kInsertRows : 1;
    SB_ASSIGN_OR_RETURN(Stmt insert, writer_.prepare(rows == 1 ? kInsertOne : kInsertMany));
    for (std::size_t r = 0; r < rows; ++r) {
      const NewEvent& n = b.events[at + r];
      const Event& e = n.event;
      const int base = static_cast<int>(r * kEventColumns);
      insert.bind(base + 1, ++last_pos)
          .bind(base + 2, chain)
          .bind(base + 3, i64(e.seq))
          .bind_blob_unowned(base + 4, view(e.hash))
          .bind(base + 5, hash_key(e.hash))
          .bind(base + 6, i64(e.hlc))
          .bind_unowned(base + 7, e.kind)
          .bind_unowned(base + 8, n.unit)
          .bind_unowned(base + 9, n.site)
          .bind_blob_unowned(base + 10, n.raw)
          .bind(base + 11, b.receipt.server_ms);
      bytes += static_cast<std::int64_t>(n.raw.size());
    }
    if (Status s = insert.run(); !s.is_ok()) {
      const std::string which = rows == 1 ? event_name(device, b.events[at].event.seq)
                                          : "seqs " + std::to_string(b.events[at].event.seq) + " to " +
                                                std::to_string(b.events[at + rows - 1].event.seq) + " of device " +
                                                short_device(device);
      return s.with_context("storing " + which + ": ");
    }
    at += rows;
  }
  for (const NewEvent& n : b.events) {
    if (!n.ref_key.empty()) SB_RETURN_IF_ERROR(put_reference(n));
    if (n.revokes) SB_RETURN_IF_ERROR(mark_revoked(*n.revokes, b.receipt.server_ms));
  }
  const Event& last = b.events.back().event;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("UPDATE chains SET seq = ?, hash = ?, hlc = ? WHERE id = ?"));
    SB_RETURN_IF_ERROR(st.bind(1, i64(last.seq)).bind_blob(2, view(last.hash)).bind(3, i64(last.hlc))
                           .bind(4, chain).run());
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO heads(last_pos, first_pos, chain, seq, hash, signature, "
                                                 "bytes, receipt_ms, receipt_sig) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    SB_RETURN_IF_ERROR(st.bind(1, last_pos).bind(2, first_pos).bind(3, chain).bind(4, i64(b.head.seq))
                           .bind_blob(5, view(b.head.hash)).bind_blob(6, view(b.head.signature)).bind(7, bytes)
                           .bind(8, b.receipt.server_ms).bind_blob(9, view(b.receipt.signature)).run());
  }
  SB_ASSIGN_OR_RETURN(Stmt st, writer_.prepare("INSERT INTO receipts(device, seq, hash, server_ms, signature) "
                                               "VALUES(?, ?, ?, ?, ?) ON CONFLICT(device) DO UPDATE SET "
                                               "seq = excluded.seq, hash = excluded.hash, "
                                               "server_ms = excluded.server_ms, signature = excluded.signature"));
  return st.bind_blob(1, view(device)).bind(2, i64(b.receipt.seq)).bind_blob(3, view(b.receipt.hash))
      .bind(4, b.receipt.server_ms).bind_blob(5, view(b.receipt.signature)).run();
}

// Walks the heads table (one row per append) from `cursor` in position order, keeps the pushes
// of the wanted chains while they fit, then reads exactly their events by position. A call
// never rescans from the start, and reads the events of other devices not at all.
Result<PullBatch> SqliteStorage::pull(const std::vector<PublicKey>& devices, std::uint64_t cursor,
                                      std::size_t max_bytes) {
  PullBatch out;
  out.cursor = cursor;
  SB_ASSIGN_OR_RETURN(auto lease, readers_.acquire());
  Db& db = lease.db();
  SB_ASSIGN_OR_RETURN(ReadSnapshot snap, ReadSnapshot::begin(db));
  std::map<std::int64_t, PublicKey> wanted;  // chain id -> device
  for (const auto& key : devices) {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT id FROM chains WHERE device = ?"));
    st.bind_blob(1, view(key));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) wanted.emplace(st.int64(0), key);
  }
  if (wanted.empty()) return out;

  rows::PullPlan plan(max_bytes);
  std::uint64_t scanned = cursor;                  // every push up to here was looked at
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT last_pos, first_pos, chain, seq, hash, signature, bytes "
                                            "FROM heads WHERE last_pos > ? ORDER BY last_pos"));
    st.bind(1, i64(cursor));
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      const auto it = wanted.find(st.int64(2));
      if (it != wanted.end()) {
        SignedHead h;
        h.device = it->second;
        h.seq = u64(st.int64(3));
        h.hash = st.blob32(4);
        SB_ASSIGN_OR_RETURN(h.signature, signature_column(st, 5, "the head at " + event_name(h.device, h.seq)));
        if (!plan.offer({st.int64(1), st.int64(0)}, static_cast<std::size_t>(st.int64(6)), it->first, h)) break;
      }
      scanned = u64(st.int64(0));
    }
  }
  // Past the last push looked at when nothing more is wanted: the pushes in between are of
  // devices this caller does not see, and need not be walked again.
  out.more = plan.more();
  out.cursor = out.more ? u64(plan.pushes().back().last_pos) : scanned;

  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT pos, raw FROM events WHERE pos BETWEEN ? AND ? ORDER BY pos"));
  for (const auto& p : plan.pushes()) {
    st.bind(1, p.first_pos).bind(2, p.last_pos);
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      out.events.push_back(PulledEvent{u64(st.int64(0)), st.blob(1)});
    }
    st.reset();
  }
  if (out.events.size() != plan.event_count()) return rows::missing_push_events(cursor);
  out.heads = plan.heads();
  return out;
}
}  // namespace shiftbook::server::sqlite
