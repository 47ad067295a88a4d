// The PostgreSQL backend of the server's storage (storage.h, docs/POSTGRES.md): the chains.
// Appends (positions from the locked counter row, then the checks, then the events in one binary
// COPY, the head, the receipt), lookups by hash, receipts, chain ends, the pull (one snapshot: the
// wanted pushes, their events, the highest committed position), quarantine, the audit's reads.
// The backend's invariants are in storage_postgres_impl.h.
#include <set>
#include <utility>

#include "storage_postgres_impl.h"

namespace shiftbook::server::postgres {
namespace {

using rows::hash_key;
using rows::i64;
using rows::u64;
using rows::view;

constexpr int kEventColumns = 11;
constexpr int kHeadsPage = 512;  // heads rows a pull reads per statement

Result<std::map<std::int64_t, PublicKey>> chains_of(pg::Conn& conn, const std::vector<PublicKey>& devices) {
  std::vector<ByteView> keys;
  for (const auto& d : devices) keys.push_back(view(d));
  SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("SELECT id, device FROM chains WHERE device = ANY($1)",
                                             pg::Params().bytes_array(keys), "finding the devices' chains"));
  std::map<std::int64_t, PublicKey> out;
  for (int i = 0; i < r.size(); ++i) out.emplace(r[i].int64(0), r[i].blob32(1));
  return out;
}

}  // namespace

Result<std::vector<Hash>> PgStorage::hashes(const PublicKey& device, std::uint64_t from, std::uint64_t to) {
  SB_RETURN_IF_ERROR(rows::check_hash_range(device, from, to));
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query("SELECT e.hash FROM chains c JOIN events e ON e.chain = c.id "
                                                     "WHERE c.device = $1 AND e.seq BETWEEN $2 AND $3 ORDER BY e.seq",
                                                     pg::Params().bytes(view(device)).u64(from).u64(to),
                                                     "reading a chain's hashes"));
  std::vector<Hash> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(r[i].blob32(0));
  if (out.size() != to - from + 1) return rows::hashes_not_all_held(device, from, to, out.size());
  return out;
}

Result<std::optional<EventInfo>> PgStorage::event_info(const Hash& hash) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query(std::string(rows::kEventInfoColumns) +
                                                         "WHERE e.hash_key = $1 AND e.hash = $2",
                                                     pg::Params().i64(hash_key(hash)).bytes(view(hash)),
                                                     "finding an event by hash"));
  if (r.empty()) return std::optional<EventInfo>();
  return std::optional<EventInfo>(rows::event_info_from(r[0]));
}

Result<std::optional<Bytes>> PgStorage::event_raw(const Hash& hash) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query("SELECT raw FROM events WHERE hash_key = $1 AND hash = $2",
                                                     pg::Params().i64(hash_key(hash)).bytes(view(hash)),
                                                     "reading an event by hash"));
  if (r.empty()) return std::optional<Bytes>();
  return std::optional<Bytes>(r[0].blob(0));
}

Result<std::optional<Receipt>> PgStorage::receipt(const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query(std::string(rows::kReceiptColumns) + "WHERE device = $1",
                                                     pg::Params().bytes(view(device)), "reading the receipt"));
  if (r.empty()) return std::optional<Receipt>();
  SB_ASSIGN_OR_RETURN(Receipt got, rows::receipt_from(r[0], device));
  return std::optional<Receipt>(got);
}

Result<std::pair<std::uint64_t, Hash>> PgStorage::chain_end(const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query("SELECT seq, hash FROM chains WHERE device = $1",
                                                     pg::Params().bytes(view(device)), "reading the chain's end"));
  if (r.empty()) return std::pair<std::uint64_t, Hash>(0, Hash{});
  return std::pair<std::uint64_t, Hash>(u64(r[0].int64(0)), r[0].blob32(1));
}

// ---- append -------------------------------------------------------------------------------------

// Called with the positions row locked: every append committed before is visible to these
// statements (READ COMMITTED takes each statement's snapshot when it starts).
Status PgStorage::check_append_state(pg::Conn& conn, const AppendBatch& b, std::int64_t& chain) {
  if (b.unchanged) {
    ReadChains now{b.unchanged->site, {}};
    SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("SELECT d.key, coalesce(c.seq, 0) FROM devices d "
                                               "LEFT JOIN chains c ON c.device = d.key WHERE d.site = $1",
                                               pg::Params().text(now.site), "reading the site's chains"));
    for (int i = 0; i < r.size(); ++i) now.ends[r[i].blob32(0)] = u64(r[i].int64(1));
    if (now != *b.unchanged) return rows::site_changed(now.site);
  }
  SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("SELECT c.id, c.seq, coalesce(d.revoked_ms, 0) FROM (SELECT $1::bytea AS key) k "
                                             "LEFT JOIN chains c ON c.device = k.key LEFT JOIN devices d ON d.key = k.key",
                                             pg::Params().bytes(view(b.device)), "reading the device's chain"));
  const bool has_chain = !r[0].is_null(0);
  const std::uint64_t held = has_chain ? u64(r[0].int64(1)) : 0;
  if (held + 1 != b.expected_seq) return rows::chain_moved(b.device, held, b.expected_seq);
  if (r[0].int64(2) != 0) return rows::revoked_before_push(b.device);
  chain = has_chain ? r[0].int64(0) : 0;
  return Status::ok();
}

Status PgStorage::mark_revoked(pg::Conn& conn, const Revocation& rv, std::int64_t server_ms) {
  SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("UPDATE devices SET revoked_ms = $1, revoke_reason = $2 "
                                             "WHERE key = $3 AND revoked_ms = 0 RETURNING 1",
                                             pg::Params().i64(server_ms).text(rv.reason).bytes(view(rv.device)),
                                             "revoking the device"));
  if (!r.empty()) return Status::ok();
  SB_ASSIGN_OR_RETURN(pg::Rows held, conn.query("SELECT 1 FROM devices WHERE key = $1", pg::Params().bytes(view(rv.device)),
                                                "finding the revoked device"));
  return held.empty() ? rows::not_enrolled(rv.device) : rows::revoked_already(rv.device);
}

Status PgStorage::append(const AppendBatch& b) {
  SB_RETURN_IF_ERROR(rows::check_append(b));
  // The events' rows are built before the positions are taken, so that the lock is held for as
  // short a time as can be: the position and chain of each row are patched in afterwards.
  pg::CopyRows copy;
  std::vector<std::pair<std::size_t, std::size_t>> patch;  // offsets of each row's pos and chain
  patch.reserve(b.events.size());
  std::int64_t bytes = 0;
  for (const NewEvent& n : b.events) {
    const Event& e = n.event;
    copy.row(kEventColumns);
    const std::size_t pos_at = copy.i64(0);
    const std::size_t chain_at = copy.i64(0);
    copy.i64(i64(e.seq));
    copy.bytes(view(e.hash));
    copy.i64(hash_key(e.hash));
    copy.i64(i64(e.hlc));
    copy.text(e.kind);
    copy.text(n.unit);
    copy.text(n.site);
    copy.bytes(n.raw);
    copy.i64(b.receipt.server_ms);
    patch.emplace_back(pos_at, chain_at);
    bytes += static_cast<std::int64_t>(n.raw.size());
  }
  std::vector<std::pair<std::string, Bytes>> references;  // ref_key -> body, for reference events
  for (const NewEvent& n : b.events) {
    if (n.ref_key.empty()) continue;
    SB_ASSIGN_OR_RETURN(Bytes body, encode_value(n.event.body));
    references.emplace_back(n.ref_key, std::move(body));
  }

  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  pg::Conn& conn = lease.conn();
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(conn));
  // The lock that makes position order commit order (docs/POSTGRES.md, "Positions").
  const auto count = static_cast<std::int64_t>(b.events.size());
  SB_ASSIGN_OR_RETURN(pg::Rows taken, conn.query("UPDATE positions SET last_pos = last_pos + $1 RETURNING last_pos",
                                                 pg::Params().i64(count), "taking positions"));
  const std::int64_t last_pos = taken[0].int64(0);
  const std::int64_t first_pos = last_pos - count + 1;
  std::int64_t chain = 0;
  SB_RETURN_IF_ERROR(check_append_state(conn, b, chain));
  if (chain == 0) {
    SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("INSERT INTO chains(device, seq, hash, hlc) VALUES($1, 0, $2, 0) RETURNING id",
                                               pg::Params().bytes(view(b.device)).bytes(view(Hash{})),
                                               "storing the device's first events"));
    chain = r[0].int64(0);
  }
  for (std::size_t i = 0; i < patch.size(); ++i) {
    copy.patch_i64(patch[i].first, first_pos + static_cast<std::int64_t>(i));
    copy.patch_i64(patch[i].second, chain);
  }
  SB_RETURN_IF_ERROR(conn.copy_in("COPY events(pos, chain, seq, hash, hash_key, hlc, kind, unit, site, raw, received_ms) "
                                  "FROM STDIN (FORMAT binary)",
                                  copy.finish(),
                                  "storing seqs " + std::to_string(b.expected_seq) + " to " +
                                      std::to_string(b.events.back().event.seq) + " of device " + short_device(b.device)));
  std::size_t ref = 0;
  for (const NewEvent& n : b.events) {
    if (!n.ref_key.empty()) {
      SB_RETURN_IF_ERROR(conn.run("INSERT INTO reference(kind, ref_key, site, body) VALUES($1, $2, $3, $4) "
                                  "ON CONFLICT (kind, ref_key) DO UPDATE SET site = excluded.site, body = excluded.body",
                                  pg::Params().text(n.event.kind).text(n.ref_key).text(n.site).bytes(references[ref++].second),
                                  "storing a reference item"));
    }
    if (n.revokes) SB_RETURN_IF_ERROR(mark_revoked(conn, *n.revokes, b.receipt.server_ms));
  }
  const Event& last = b.events.back().event;
  // The chain's end, the push's heads row and the device's latest receipt, in one statement.
  SB_RETURN_IF_ERROR(conn.run(
      "WITH c AS (UPDATE chains SET seq = $1, hash = $2, hlc = $3 WHERE id = $4), "
      "h AS (INSERT INTO heads(last_pos, first_pos, chain, seq, hash, signature, bytes, receipt_ms, receipt_sig) "
      "VALUES($5, $6, $4, $1, $2, $7, $8, $9, $10)) "
      "INSERT INTO receipts(device, seq, hash, server_ms, signature) VALUES($11, $1, $2, $9, $10) "
      "ON CONFLICT (device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, server_ms = excluded.server_ms, "
      "signature = excluded.signature",
      pg::Params()
          .u64(last.seq)
          .bytes(view(last.hash))
          .u64(last.hlc)
          .i64(chain)
          .i64(last_pos)
          .i64(first_pos)
          .bytes(view(b.head.signature))
          .i64(bytes)
          .i64(b.receipt.server_ms)
          .bytes(view(b.receipt.signature))
          .bytes(view(b.device)),
      "storing the push's head and receipt"));
  if (options_.before_commit) options_.before_commit();
  return tx.commit();
}

// ---- pull ---------------------------------------------------------------------------------------

// One snapshot: the wanted chains' pushes after the cursor, in position order while they fit,
// their events, and the highest position committed in the snapshot (every position up to it is
// committed: docs/POSTGRES.md, "Positions"), where the cursor goes when nothing more is wanted.
Result<PullBatch> PgStorage::pull(const std::vector<PublicKey>& devices, std::uint64_t cursor, std::size_t max_bytes) {
  PullBatch out;
  out.cursor = cursor;
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  pg::Conn& conn = lease.conn();
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(conn, pg::Tx::Kind::kSnapshot));
  SB_ASSIGN_OR_RETURN(auto wanted, chains_of(conn, devices));
  if (wanted.empty()) return out;
  std::vector<std::int64_t> chains;
  for (const auto& [id, key] : wanted) chains.push_back(id);

  rows::PullPlan plan(max_bytes);
  for (std::int64_t after = i64(cursor);;) {
    SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("SELECT last_pos, first_pos, chain, seq, hash, signature, bytes FROM heads "
                                               "WHERE chain = ANY($1) AND last_pos > $2 ORDER BY last_pos LIMIT $3",
                                               pg::Params().i64_array(chains).i64(after).i64(kHeadsPage),
                                               "reading pushes to pull"));
    bool stopped = false;
    for (int i = 0; i < r.size() && !stopped; ++i) {
      SignedHead h;
      h.device = wanted.at(r[i].int64(2));
      h.seq = u64(r[i].int64(3));
      h.hash = r[i].blob32(4);
      SB_ASSIGN_OR_RETURN(h.signature, rows::signature_column(r[i], 5, "the head at " + event_name(h.device, h.seq)));
      stopped = !plan.offer({r[i].int64(1), r[i].int64(0)}, static_cast<std::size_t>(r[i].int64(6)), r[i].int64(2), h);
      after = r[i].int64(0);
    }
    if (stopped || r.size() < kHeadsPage) break;
  }
  out.more = plan.more();
  if (out.more) {
    out.cursor = u64(plan.pushes().back().last_pos);
  } else {
    SB_ASSIGN_OR_RETURN(pg::Rows top, conn.query("SELECT last_pos FROM positions", pg::Params(), "reading the last position"));
    out.cursor = std::max(cursor, u64(top[0].int64(0)));
  }
  if (!plan.pushes().empty()) {
    std::vector<std::int64_t> firsts, lasts;
    for (const auto& p : plan.pushes()) {
      firsts.push_back(p.first_pos);
      lasts.push_back(p.last_pos);
    }
    SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("SELECT e.pos, e.raw FROM unnest($1::bigint[], $2::bigint[]) AS p(f, l) "
                                               "JOIN events e ON e.pos BETWEEN p.f AND p.l ORDER BY e.pos",
                                               pg::Params().i64_array(firsts).i64_array(lasts), "reading events to pull"));
    out.events.reserve(static_cast<std::size_t>(r.size()));
    for (int i = 0; i < r.size(); ++i) out.events.push_back(PulledEvent{u64(r[i].int64(0)), r[i].blob(1)});
  }
  SB_RETURN_IF_ERROR(tx.commit());
  if (out.events.size() != plan.event_count()) return rows::missing_push_events(cursor);
  out.heads = plan.heads();
  return out;
}

Result<std::uint64_t> PgStorage::events_after(const std::vector<PublicKey>& devices, std::uint64_t cursor) {
  std::vector<ByteView> keys;
  for (const auto& d : devices) keys.push_back(view(d));
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query("SELECT coalesce(sum(h.last_pos - h.first_pos + 1), 0)::bigint "
                                                     "FROM heads h JOIN chains c ON c.id = h.chain "
                                                     "WHERE c.device = ANY($1) AND h.last_pos > $2",
                                                     pg::Params().bytes_array(keys).u64(cursor), "counting events"));
  return u64(r[0].int64(0));
}

Result<std::uint64_t> PgStorage::skip_positions(std::uint64_t gap) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  // One statement: the counter's row lock orders it with appends, as a commit of its own.
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query("UPDATE positions SET last_pos = last_pos + $1 RETURNING last_pos",
                                                     pg::Params().u64(gap), "skipping positions"));
  return u64(r[0].int64(0)) + 1;
}

// ---- quarantine -----------------------------------------------------------------------------------

Result<QuarantineOutcome> PgStorage::quarantine(const QuarantineBatch& batch) {
  SB_RETURN_IF_ERROR(rows::check_quarantine(batch));
  QuarantineOutcome out;
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  pg::Conn& conn = lease.conn();
  SB_ASSIGN_OR_RETURN(pg::Tx tx, pg::Tx::begin(conn));
  // Two pushes of one device queue here.
  SB_RETURN_IF_ERROR(conn.run("SELECT pg_advisory_xact_lock($1)", pg::Params().i64(hash_key(batch.device)),
                              "waiting for another push of the device"));
  const std::uint64_t from = batch.events.front().event.seq;
  const std::uint64_t to = batch.events.back().event.seq;
  std::uint64_t held = 0;
  std::map<std::uint64_t, Hash> accepted, kept;
  {
    SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("SELECT seq FROM chains WHERE device = $1",
                                               pg::Params().bytes(view(batch.device)), "reading the device's chain"));
    if (!r.empty()) held = u64(r[0].int64(0));
  }
  {
    SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("SELECT e.seq, e.hash FROM chains c JOIN events e ON e.chain = c.id "
                                               "WHERE c.device = $1 AND e.seq BETWEEN $2 AND $3",
                                               pg::Params().bytes(view(batch.device)).u64(from).u64(to),
                                               "reading the device's events"));
    for (int i = 0; i < r.size(); ++i) accepted[u64(r[i].int64(0))] = r[i].blob32(1);
  }
  {
    SB_ASSIGN_OR_RETURN(pg::Rows r, conn.query("SELECT seq, hash FROM quarantine WHERE device = $1 AND seq BETWEEN $2 AND $3",
                                               pg::Params().bytes(view(batch.device)).u64(from).u64(to),
                                               "reading the device's quarantine"));
    for (int i = 0; i < r.size(); ++i) kept[u64(r[i].int64(0))] = r[i].blob32(1);
  }
  for (const NewEvent& n : batch.events) {
    const Event& e = n.event;
    std::optional<Hash> found;
    bool in_events = false;
    if (e.seq <= held) {
      auto it = accepted.find(e.seq);
      if (it == accepted.end()) return rows::missing_event(e.device, e.seq);
      found = it->second;
      in_events = true;
    } else if (auto it = kept.find(e.seq); it != kept.end()) {
      found = it->second;
    }
    if (found) {
      if (*found != e.hash) out.conflicts.push_back(QuarantineConflict{e.seq, *found, e.hash, in_events});
      continue;
    }
    SB_RETURN_IF_ERROR(conn.run("INSERT INTO quarantine(device, seq, hash, kind, raw, received_ms, head_seq, head_hash, "
                                "head_sig) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                                pg::Params()
                                    .bytes(view(batch.device))
                                    .u64(e.seq)
                                    .bytes(view(e.hash))
                                    .text(e.kind)
                                    .bytes(n.raw)
                                    .i64(batch.received_ms)
                                    .u64(batch.head.seq)
                                    .bytes(view(batch.head.hash))
                                    .bytes(view(batch.head.signature)),
                                "keeping " + event_name(e.device, e.seq) + " in quarantine"));
    out.added.push_back(e.seq);
  }
  SB_RETURN_IF_ERROR(tx.commit());
  return out;
}

Result<std::vector<QuarantinedEvent>> PgStorage::quarantined(const PublicKey* device) {
  pg::Params p;
  if (device) p.bytes(view(*device));
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query(std::string(rows::kQuarantineColumns) +
                                                         (device ? "WHERE device = $1 " : "") + "ORDER BY device, seq",
                                                     p, "reading quarantine"));
  std::vector<QuarantinedEvent> out;
  for (int i = 0; i < r.size(); ++i) {
    SB_ASSIGN_OR_RETURN(QuarantinedEvent q, rows::quarantined_from(r[i]));
    out.push_back(std::move(q));
  }
  return out;
}

Result<std::vector<ChainEvent>> PgStorage::chain_events(const PublicKey& device, std::uint64_t from, std::size_t limit) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query(std::string(rows::kChainEventColumns) +
                                                         "WHERE c.device = $1 AND e.seq >= $2 ORDER BY e.seq LIMIT $3",
                                                     pg::Params().bytes(view(device)).u64(from).u64(limit),
                                                     "reading a chain's events"));
  std::vector<ChainEvent> out;
  for (int i = 0; i < r.size(); ++i) {
    SB_ASSIGN_OR_RETURN(ChainEvent ce, rows::chain_event_from(r[i], device));
    out.push_back(std::move(ce));
  }
  return out;
}

Result<std::optional<Bytes>> PgStorage::last_event_of_kind(const PublicKey& device, const std::string& kind,
                                                           std::uint64_t at_most) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query("SELECT e.raw FROM chains c JOIN events e ON e.chain = c.id "
                                                     "WHERE c.device = $1 AND e.seq <= $2 AND e.kind = $3 "
                                                     "ORDER BY e.seq DESC LIMIT 1",
                                                     pg::Params().bytes(view(device)).u64(at_most).text(kind),
                                                     "reading a chain's last event of a kind"));
  if (r.empty()) return std::optional<Bytes>();
  return std::optional<Bytes>(r[0].blob(0));
}

// ---- the audit ------------------------------------------------------------------------------------

Result<std::vector<AuditPush>> PgStorage::pushes(std::uint64_t after_last_pos, std::size_t limit) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query(std::string(rows::kPushColumns) +
                                                         "WHERE h.last_pos > $1 ORDER BY h.last_pos LIMIT $2",
                                                     pg::Params().u64(after_last_pos).u64(limit), "reading pushes"));
  std::vector<AuditPush> out;
  for (int i = 0; i < r.size(); ++i) {
    SB_ASSIGN_OR_RETURN(AuditPush p, rows::push_from(r[i]));
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::vector<PulledEvent>> PgStorage::events_in(std::uint64_t first_pos, std::uint64_t last_pos) {
  SB_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  SB_ASSIGN_OR_RETURN(pg::Rows r, lease.conn().query("SELECT pos, raw FROM events WHERE pos BETWEEN $1 AND $2 ORDER BY pos",
                                                     pg::Params().u64(first_pos).u64(last_pos), "reading events"));
  std::vector<PulledEvent> out;
  for (int i = 0; i < r.size(); ++i) out.push_back(PulledEvent{u64(r[i].int64(0)), r[i].blob(1)});
  return out;
}

}  // namespace shiftbook::server::postgres
