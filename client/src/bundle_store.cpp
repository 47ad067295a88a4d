// The store's side of bundles (store.h, "Bundles"): the keys that open a bundle's reply, kept from
// the export until they expire. A reply comes back days later, maybe twice, maybe after a later
// bundle's: the keys stay until kBundleKeepDays after the export or kBundleKeepCount later
// exports, whichever comes first. An expired bundle keeps its row without keys, so that its late
// reply is told "too old" rather than "never exported".
#include <string>

#include "shiftbook/kinds.h"
#include "store_impl.h"

namespace shiftbook::client {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

// Why the keys of a bundle are gone (or about to be), for people.
std::string dropped_text(const std::string& why) {
  return why == "age" ? "its keys are kept " + std::to_string(kBundleKeepDays) + " days after the export"
                      : "keys are kept for the " + std::to_string(kBundleKeepCount) + " latest exports only";
}

std::string day_text(std::int64_t ms) {
  return format_date(ms >= 0 ? ms / kDayMs : (ms - kDayMs + 1) / kDayMs);
}

// Drops the keys of the bundles that expired at `now`: older than kBundleKeepDays, or followed by
// kBundleKeepCount later exports. Their rows stay, saying why.
Status drop_expired(Db& db, std::int64_t now) {
  SB_ASSIGN_OR_RETURN(Stmt by_count, db.prepare("UPDATE bundles SET dropped_why = 'count' WHERE dropped_why IS NULL "
                                                "AND number <= (SELECT MAX(number) FROM bundles) - ?"));
  SB_RETURN_IF_ERROR(by_count.bind(1, kBundleKeepCount).run());
  SB_ASSIGN_OR_RETURN(Stmt by_age, db.prepare("UPDATE bundles SET dropped_why = 'age' WHERE dropped_why IS NULL "
                                              "AND exported_ms < ?"));
  SB_RETURN_IF_ERROR(by_age.bind(1, now - kBundleKeepDays * kDayMs).run());
  return db.exec("DELETE FROM bundle_parts WHERE bundle IN (SELECT number FROM bundles WHERE dropped_why IS NOT NULL)");
}

Status insert_part(Db& db, std::int64_t number, std::size_t index, const BundlePart& p) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO bundle_parts(bundle, part, key, request_header, first_seq, "
                                          "head_seq, head_hash, head_sig) VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
  st.bind(1, number)
      .bind(2, static_cast<std::int64_t>(index))
      .bind_blob(3, p.context.key)
      .bind_blob(4, p.context.request_header)
      .bind(5, static_cast<std::int64_t>(p.first_seq))
      .bind(6, static_cast<std::int64_t>(p.head ? p.head->seq : 0));
  if (p.head) {
    st.bind_blob(7, p.head->hash).bind_blob(8, p.head->signature);
  } else {
    st.bind_null(7).bind_null(8);
  }
  return st.run();
}

// The parts of bundle `number`, in order, with their keys.
Result<std::vector<BundlePart>> load_parts(Db& db, std::int64_t number, const PublicKey& me) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT part, key, request_header, first_seq, head_seq, head_hash, head_sig "
                                          "FROM bundle_parts WHERE bundle = ? ORDER BY part"));
  st.bind(1, number);
  std::vector<BundlePart> parts;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    const Bytes key = st.blob(1), header = st.blob(2);
    BundlePart p;
    if (st.int64(0) != static_cast<std::int64_t>(parts.size()) || key.size() != p.context.key.size() ||
        header.size() != p.context.request_header.size()) {
      return data_loss("the stored keys of an exported bundle are damaged; export a new bundle");
    }
    std::copy(key.begin(), key.end(), p.context.key.begin());
    std::copy(header.begin(), header.end(), p.context.request_header.begin());
    p.first_seq = static_cast<std::uint64_t>(st.int64(3));
    if (st.int64(4) > 0) {
      const Bytes sig = st.blob(6);
      SignedHead h;
      h.device = me;
      h.seq = static_cast<std::uint64_t>(st.int64(4));
      h.hash = st.blob32(5);
      if (st.blob(5).size() != h.hash.size() || sig.size() != h.signature.size()) {
        return data_loss("the stored head of an exported bundle is damaged; export a new bundle");
      }
      std::copy(sig.begin(), sig.end(), h.signature.begin());
      p.head = h;
    }
    parts.push_back(std::move(p));
  }
  return parts;
}

}  // namespace

Status Store::remember_bundle(const BundleRecord& bundle) {
  if (bundle.parts.empty()) return invalid_argument("a bundle holds at least one request");
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO bundles(id, exported_ms, parts, events, bytes) "
                                          "VALUES(?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING"));
  SB_RETURN_IF_ERROR(st.bind_blob(1, bundle.id)
                         .bind(2, bundle.exported_ms)
                         .bind(3, static_cast<std::int64_t>(bundle.parts.size()))
                         .bind(4, static_cast<std::int64_t>(bundle.events))
                         .bind(5, static_cast<std::int64_t>(bundle.bytes))
                         .run());
  if (db.changes() == 0) return already_exists("bundle " + short_bundle(bundle.id) + " was exported before");
  const std::int64_t number = sqlite3_last_insert_rowid(db.handle());
  for (std::size_t i = 0; i < bundle.parts.size(); ++i) SB_RETURN_IF_ERROR(insert_part(db, number, i, bundle.parts[i]));
  SB_RETURN_IF_ERROR(drop_expired(db, impl_->clock->now_ms()));
  return tx.commit();
}

Status Store::forget_bundle(const BundleId& id) {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(Stmt parts, db.prepare("DELETE FROM bundle_parts WHERE bundle = (SELECT number FROM bundles "
                                             "WHERE id = ?)"));
  SB_RETURN_IF_ERROR(parts.bind_blob(1, id).run());
  SB_ASSIGN_OR_RETURN(Stmt row, db.prepare("DELETE FROM bundles WHERE id = ?"));
  SB_RETURN_IF_ERROR(row.bind_blob(1, id).run());
  return tx.commit();
}

Result<BundleRecord> Store::bundle(const BundleId& id) const {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(db));
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT number, exported_ms, events, bytes, dropped_why, "
                                          "(SELECT MAX(number) FROM bundles) FROM bundles WHERE id = ?"));
  st.bind_blob(1, id);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  const std::string again = "; export a new bundle with 'shiftbook bundle export' and take it to head office";
  if (!row) {
    return failed_precondition("this reply answers bundle " + short_bundle(id) + ", which this terminal never "
                               "exported (or it was exported from a store that has been replaced since)" + again);
  }
  BundleRecord out;
  out.id = id;
  const std::int64_t number = st.int64(0);
  out.exported_ms = st.int64(1);
  out.events = static_cast<std::uint64_t>(st.int64(2));
  out.bytes = static_cast<std::uint64_t>(st.int64(3));
  // Expired now, even if no export since has dropped its keys yet.
  std::string why = st.is_null(4) ? "" : st.text(4);
  if (why.empty() && st.int64(5) - number >= kBundleKeepCount) why = "count";
  if (why.empty() && impl_->clock->now_ms() - out.exported_ms > kBundleKeepDays * kDayMs) why = "age";
  if (!why.empty()) {
    return failed_precondition("this reply answers bundle " + short_bundle(id) + ", exported on " +
                               day_text(out.exported_ms) + ", which is too old: " + dropped_text(why) + again);
  }
  st.reset();
  SB_ASSIGN_OR_RETURN(out.parts, load_parts(db, number, impl_->key.public_key()));
  if (out.parts.empty()) return data_loss("the stored keys of bundle " + short_bundle(id) + " are missing" + again);
  return out;
}

}  // namespace shiftbook::client
