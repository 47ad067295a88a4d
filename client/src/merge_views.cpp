// What the merge rules found in the terminal's units, for the shift leader (docs/READING.md,
// "Conflicts" and "Anomalies"): the forks of entries (conflicts table, projection.cpp) and the
// anomalies of docs/ANOMALIES.md found over the entries the terminal shows, with the same
// identifiers head office's server gives them.
#include <map>
#include <string>
#include <vector>

#include "shiftbook/anomalies.h"
#include "shiftbook/client/store.h"
#include "shiftbook/kinds.h"
#include "store_impl.h"
#include "views.h"

namespace shiftbook::client {
namespace {

// The reference people type for an event the store holds, by its hash.
Result<std::string> ref_of_hash(Db& db, EventRefs& refs, const Hash& h) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT device, seq FROM events WHERE hash = ?"));
  st.bind_blob(1, h);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return hash_ref(h).substr(0, kMinHashRefDigits);
  return refs.ref(st.blob32(0), st.int64(1), h);
}

// One child of a fork: its reference, whose it is, and what it made of the entry.
Result<Json> child_json(Db& db, EventRefs& refs, std::int64_t arrival, const Hash& winner) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT v.hash, v.device, v.seq, v.kind, v.after_ms, ev.author, ev.raw "
                                          "FROM versions v JOIN events ev ON ev.arrival = v.arrival WHERE v.arrival = ?"));
  st.bind(1, arrival);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return internal_error("a version of a conflict is missing");
  const Hash hash = st.blob32(0);
  Json c{{"id", to_hex(hash)}, {"kind", st.text(3)}, {"author", st.text(5)}, {"wins", hash == winner}};
  SB_RETURN_IF_ERROR(add_ref_fields(c, refs, st.blob32(1), st.int64(2), hash));
  if (!st.is_null(4)) c["trusted_after_ms"] = st.int64(4);
  SB_ASSIGN_OR_RETURN(Event e, decode_event(st.blob(6)));
  if (auto reason = e.body.find("reason"); reason != e.body.end() && reason->is_string()) c["reason"] = *reason;
  if (auto entry = e.body.find("entry"); entry != e.body.end()) c["entry"] = *entry;
  return c;
}

}  // namespace

Result<Json> Store::conflicts(bool include_resolved) const {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(db));
  EventRefs refs(db, impl_->key.public_key());
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(
      std::string("SELECT c.entry_arrival, c.fork, c.device, c.seq, c.winner, c.resolution, c.resolved, c.on_path, "
                  "e.id, e.device, e.seq, e.kind, e.worker, e.day, s.unit "
                  "FROM conflicts c JOIN entries e ON e.arrival = c.entry_arrival JOIN shifts s ON s.id = e.shift") +
      (include_resolved ? "" : " WHERE c.resolved = 0") + " ORDER BY e.day, c.entry_arrival, c.seq"));
  Json out = Json::array();
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    const std::int64_t entry_arrival = st.int64(0);
    const Hash fork = st.blob32(1), winner = st.blob32(4);
    Json c{{"entry_id", to_hex(st.blob32(8))}, {"kind", st.text(11)}, {"unit", st.text(14)},
           {"date", format_date(st.int64(13))}, {"fork_id", to_hex(fork)}, {"winner_id", to_hex(winner)},
           {"chosen_by", st.is_null(5) ? "rule" : "resolution"}, {"resolved", st.int64(6) != 0},
           {"on_path", st.int64(7) != 0}};
    if (!st.is_null(12)) c["worker"] = st.text(12);
    SB_ASSIGN_OR_RETURN(c["entry"], refs.ref(st.blob32(9), st.int64(10), st.blob32(8)));
    SB_ASSIGN_OR_RETURN(c["fork"], refs.ref(st.blob32(2), st.int64(3), fork));
    SB_ASSIGN_OR_RETURN(c["winner"], ref_of_hash(db, refs, winner));
    Json children = Json::array();
    SB_ASSIGN_OR_RETURN(Stmt ch, db.prepare("SELECT arrival FROM versions WHERE entry_arrival = ? AND supersedes = ? "
                                            "ORDER BY hash"));
    ch.bind(1, entry_arrival).bind_blob(2, fork);
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool more, ch.step());
      if (!more) break;
      SB_ASSIGN_OR_RETURN(Json child, child_json(db, refs, ch.int64(0), winner));
      children.push_back(std::move(child));
    }
    c["children"] = std::move(children);
    out.push_back(std::move(c));
  }
  return Json{{"conflicts", std::move(out)}};
}

Result<Json> Store::anomalies() const {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(db));
  AnomalyFacts facts;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT head, worker, day, start_abs, end_abs FROM entries "
                                            "INDEXED BY entries_hours WHERE kind = 'hours' AND void = 0"));
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      facts.hours.push_back(HoursFact{st.blob32(0), st.text(1), st.int64(2), st.int64(3), st.int64(4)});
    }
  }
  {
    // Only the output a quota of another version is in force for: find_stale_quotas flags each of
    // those on its own and passes over every other, so this gives the same anomalies without
    // holding every output of the store in memory. Each quota (CROSS JOIN keeps it the outer
    // loop) looks up its product's output logged against a lower, then a higher version in
    // entries_output_quota: nothing is read of the output that is up to date.
#define SB_STALE_OUTPUT(OP)                                                                                       \
  "SELECT e.head, s.unit, e.product, e.day, e.quota_version "                                                    \
  "FROM quotas q CROSS JOIN periods p CROSS JOIN entries e INDEXED BY entries_output_quota CROSS JOIN shifts s " \
  "WHERE p.id = q.period AND e.product = q.product AND e.quota_version " OP " q.version "                        \
  "AND e.day BETWEEN p.start_day AND p.end_day AND s.id = e.shift AND s.unit = q.unit "                          \
  "AND e.kind = 'output' AND e.void = 0 AND e.quota_version IS NOT NULL"
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(SB_STALE_OUTPUT("<") " UNION ALL " SB_STALE_OUTPUT(">")));
#undef SB_STALE_OUTPUT
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      OutputFact o{st.blob32(0), st.text(1), st.text(2), st.int64(3), std::nullopt};
      if (!st.is_null(4)) o.quota_version = st.int64(4);
      facts.outputs.push_back(std::move(o));
    }
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT id, start_day, end_day FROM periods"));
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      facts.periods.push_back(PeriodFact{st.text(0), st.int64(1), st.int64(2)});
    }
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT unit, period, product, version FROM quotas"));
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      facts.quotas.push_back(QuotaFact{st.text(0), st.text(1), st.text(2), st.int64(3)});
    }
  }
  // Head office's decisions, read once: the latest (highest seq) of each anomaly.
  std::map<std::string, std::string> decided;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT anomaly, reason FROM anomaly_notes ORDER BY seq"));
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      decided[st.text(0)] = st.text(1);
    }
  }
  EventRefs refs(db, impl_->key.public_key());
  Json out = Json::array();
  for (const Anomaly& a : find_anomalies(facts)) {
    Json events = Json::array();
    for (const Hash& h : a.events) {
      SB_ASSIGN_OR_RETURN(std::string ref, ref_of_hash(db, refs, h));
      events.push_back(Json{{"id", to_hex(h)}, {"ref", ref}});
    }
    Json item{{"kind", a.kind}, {"id", a.id}, {"subject", a.subject}, {"detail", a.detail},
              {"events", std::move(events)}, {"decided", nullptr}};
    if (auto d = decided.find(a.id); d != decided.end()) item["decided"] = Json{{"reason", d->second}};
    out.push_back(std::move(item));
  }
  return Json{{"anomalies", std::move(out)}};
}

}  // namespace shiftbook::client
