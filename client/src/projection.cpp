// The derived tables (shifts, entries, versions) as a function of the events: apply_event folds
// one event in, project_event decides who folds which event (the site signer's go to the
// reference tables), and replay_events rebuilds everything in the order the events were stored.
// The projection is the only writer of those tables. An event is applied with its canonical
// bytes beside it, so the body stored for an entry is a slice of them, never encoded again.
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "shiftbook/kinds.h"
#include "shiftbook/merge.h"
#include "store_impl.h"

namespace shiftbook::client {
namespace {

constexpr std::string_view kResolutionKind = "resolution";
constexpr std::string_view kAnomalyNoteKind = "anomaly_note";

// Binds the eight columns of an entry row that come from its current body, in the order worker,
// start_abs, end_abs, special, product, quantity, bonus_type, quota_version, from parameter
// `first` on.
void bind_entry_fields(Stmt& st, int first, std::string_view kind, const Json& body, std::int64_t day) {
  if (auto w = body.find("worker"); w != body.end()) st.bind(first, w->get_ref<const std::string&>());
  else st.bind_null(first);
  if (kind == kind::kHours) {
    st.bind(first + 1, day * kMinutesPerDay + body["start"].get<std::int64_t>())
        .bind(first + 2, day * kMinutesPerDay + body["end"].get<std::int64_t>())
        .bind(first + 3, body["special"].get<bool>() ? 1 : 0);
  } else {
    st.bind_null(first + 1).bind_null(first + 2).bind_null(first + 3);
  }
  if (kind == kind::kOutput) {
    st.bind(first + 4, body["product"].get_ref<const std::string&>()).bind(first + 5, body["quantity"].get<std::int64_t>());
  } else {
    st.bind_null(first + 4).bind_null(first + 5);
  }
  if (kind == kind::kBonus) st.bind(first + 6, body["type"].get_ref<const std::string&>()); else st.bind_null(first + 6);
  auto quota = kind == kind::kOutput ? body.find("quota_version") : body.end();
  if (quota != body.end()) st.bind(first + 7, quota->get<std::int64_t>()); else st.bind_null(first + 7);
}

// Writes an entry's fields from the body of a correction (its canonical bytes encoded here: a
// correction's entry is a part of its body). `entry` is the entry's arrival.
Status write_entry_fields(Db& db, std::int64_t entry, std::string_view kind, const Json& body, std::int64_t day) {
  SB_ASSIGN_OR_RETURN(Bytes canonical, encode_value(body));
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("UPDATE entries SET worker = ?, start_abs = ?, end_abs = ?, special = ?, "
                                          "product = ?, quantity = ?, bonus_type = ?, quota_version = ?, body = ? "
                                          "WHERE arrival = ?"));
  bind_entry_fields(st, 1, kind, body, day);
  st.bind_blob(9, canonical).bind(10, entry);
  return st.run();
}

// The canonical bytes of an event's body: the tail of its encoding (event.h), which decode_event
// or seal_event made sure is exactly the one encoding of e.body.
Result<ByteView> body_bytes(const Event& e, ByteView raw) {
  const std::size_t at = 5 + 32 + 8 + 8 + 32 + 4 + e.author.size() + 4 + e.kind.size();
  if (raw.size() <= at || raw[at] != 0x06) {
    return internal_error(event_name(e.device, e.seq) + " was applied without its own encoding");
  }
  return raw.subspan(at);
}

// An entry as a version names it: its arrival (the key of entries) and its id (the hash).
struct EntryKey {
  std::int64_t arrival = 0;
  Hash id{};
};

// The version of event `e`, stored as `arrival`, of entry `entry`.
Status insert_version(Db& db, const Event& e, std::int64_t arrival, const EntryKey& entry, const Hash* supersedes,
                      std::optional<std::int64_t> after_ms) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO versions(arrival, hash, entry_arrival, entry, device, seq, "
                                          "kind, supersedes, after_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st.bind(1, arrival).bind_blob(2, e.hash).bind(3, entry.arrival).bind_blob(4, entry.id).bind_blob(5, e.device)
      .bind(6, static_cast<std::int64_t>(e.seq)).bind(7, e.kind);
  if (supersedes) st.bind_blob(8, *supersedes); else st.bind_null(8);
  if (after_ms) st.bind(9, *after_ms); else st.bind_null(9);
  return st.run();
}

// The trusted after time of the version `e` (docs/MERGE.md section 3): the server time of the
// receipt named by its device's latest shift_open at or before it. The terminal holds every event
// of a device before its later ones (chains arrive in seq order), so this is read once, when the
// version is applied, and never changes. With a memo, the device's latest shift_open is asked of
// SQLite once and then followed as the device's shift_opens are applied.
Result<std::optional<std::int64_t>> trusted_after_of(Db& db, ProjectionMemo* memo, const Event& e) {
  if (memo) {
    auto it = memo->latest_shift.find(e.device);
    if (it != memo->latest_shift.end() && it->second.seq <= e.seq) return it->second.receipt_ms;
  }
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT seq, receipt_ms FROM shifts WHERE device = ? AND seq <= ? "
                                          "ORDER BY seq DESC LIMIT 1"));
  st.bind_blob(1, e.device).bind(2, static_cast<std::int64_t>(e.seq));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  ProjectionMemo::LatestShift latest;
  if (row) {
    latest.seq = static_cast<std::uint64_t>(st.int64(0));
    if (!st.is_null(1)) latest.receipt_ms = st.int64(1);
  }
  if (memo) memo->latest_shift[e.device] = latest;
  return latest.receipt_ms;
}

Status apply_shift_open(Db& db, ProjectionMemo* memo, const Event& e) {
  SB_ASSIGN_OR_RETURN(std::int64_t day, parse_date(e.body["date"].get_ref<const std::string&>()));
  SB_ASSIGN_OR_RETURN(std::optional<Receipt> receipt, shift_open_receipt(e.body, e.device));
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO shifts(id, device, seq, unit, day, name, opened_by, receipt_ms) "
                                          "VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
  st.bind_blob(1, e.hash).bind_blob(2, e.device).bind(3, static_cast<std::int64_t>(e.seq))
      .bind(4, e.body["unit"].get_ref<const std::string&>()).bind(5, day);
  if (auto name = e.body.find("name"); name != e.body.end()) st.bind(6, name->get_ref<const std::string&>());
  else st.bind_null(6);
  st.bind(7, e.author);
  if (receipt) st.bind(8, receipt->server_ms); else st.bind_null(8);
  SB_RETURN_IF_ERROR(st.run());
  if (memo) {
    memo->shift_day[e.hash] = day;
    memo->latest_shift[e.device] = ProjectionMemo::LatestShift{
        e.seq, receipt ? std::optional<std::int64_t>(receipt->server_ms) : std::nullopt};
  }
  return Status::ok();
}

Status apply_shift_close(Db& db, const Event& e) {
  SB_ASSIGN_OR_RETURN(Hash shift, parse_hash_ref(e.body["shift"].get<std::string>()));
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("UPDATE shifts SET closed_seq = ?, closed_by = ? WHERE id = ? AND closed_seq IS NULL"));
  SB_RETURN_IF_ERROR(st.bind(1, static_cast<std::int64_t>(e.seq)).bind(2, e.author).bind_blob(3, shift).run());
  if (db.changes() != 1) return failed_precondition(event_name(e.device, e.seq) + " closes a shift that is not open");
  return Status::ok();
}

// The day of shift `id`: from the memo, else from the shifts table; nullopt when it is not held.
Result<std::optional<std::int64_t>> shift_day(Db& db, ProjectionMemo* memo, const Hash& id) {
  if (memo) {
    auto it = memo->shift_day.find(id);
    if (it != memo->shift_day.end()) return std::optional<std::int64_t>(it->second);
  }
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT day FROM shifts WHERE id = ?"));
  st.bind_blob(1, id);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<std::int64_t>();
  if (memo) memo->shift_day.emplace(id, st.int64(0));
  return std::optional<std::int64_t>(st.int64(0));
}

// A new entry (hours, output, bonus, confirm): one row written whole. Everything it names is
// looked up before anything is written, so a refusal (failed_precondition) writes nothing.
Status apply_new_entry(Db& db, ProjectionMemo* memo, const Event& e, ByteView raw, std::int64_t arrival) {
  Hash shift_id{};
  std::optional<Hash> confirms;
  if (e.kind == kind::kConfirm) {
    // A confirmation belongs to the shift of the hours it confirms.
    SB_ASSIGN_OR_RETURN(Hash target, parse_hash_ref(e.body["entry"].get_ref<const std::string&>()));
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT e.shift FROM versions v JOIN entries e ON e.arrival = v.entry_arrival "
                                            "WHERE v.arrival = (SELECT arrival FROM events WHERE hash = ?)"));
    st.bind_blob(1, target);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return failed_precondition(event_name(e.device, e.seq) + " confirms an entry this terminal does not hold");
    shift_id = st.blob32(0);
    confirms = target;
  } else {
    SB_ASSIGN_OR_RETURN(shift_id, parse_hash_ref(e.body["shift"].get_ref<const std::string&>()));
  }
  SB_ASSIGN_OR_RETURN(std::optional<std::int64_t> day, shift_day(db, memo, shift_id));
  if (!day) return failed_precondition(event_name(e.device, e.seq) + " names a shift this terminal does not hold");
  SB_ASSIGN_OR_RETURN(ByteView canonical, body_bytes(e, raw));
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO entries(id, device, seq, kind, head, head_seq, versions, void, "
                                            "shift, day, confirms, body, worker, start_abs, end_abs, special, product, "
                                            "quantity, bonus_type, quota_version, arrival) VALUES(?, ?, ?, ?, ?, ?, 1, 0, "
                                            "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    st.bind_blob(1, e.hash).bind_blob(2, e.device).bind(3, static_cast<std::int64_t>(e.seq)).bind(4, e.kind)
        .bind_blob(5, e.hash).bind(6, static_cast<std::int64_t>(e.seq)).bind_blob(7, shift_id).bind(8, *day);
    if (confirms) st.bind_blob(9, *confirms); else st.bind_null(9);
    st.bind_blob(10, canonical);
    bind_entry_fields(st, 11, e.kind, e.body, *day);
    st.bind(19, arrival);
    SB_RETURN_IF_ERROR(st.run());
  }
  SB_ASSIGN_OR_RETURN(std::optional<std::int64_t> after, trusted_after_of(db, memo, e));
  return insert_version(db, e, arrival, EntryKey{arrival, e.hash}, nullptr, after);
}

// The version a correction or void names, read before anything else of its body is trusted (a
// correction's body is checked in full once the kind of its entry is known).
Result<Hash> target_of(const Event& e) {
  auto it = e.body.find("target");
  if (it == e.body.end() || !it->is_string()) {
    return invalid_argument(event_name(e.device, e.seq) + ": " + e.kind + " field 'target' is missing or not text");
  }
  auto h = parse_hash_ref(it->get<std::string>());
  if (!h.is_ok()) return invalid_argument(event_name(e.device, e.seq) + ": " + e.kind + " field 'target' is not an entry hash");
  return h;
}

// A correction replaces an entry's fields but never moves it to another shift, nor output to
// another product (its quantity is in that product's unit) or quota version.
// The one rule of what a correction keeps (kinds.h), which the server checks too.
Status check_kept_fields(const Event& e, std::string_view entry_kind, const Json& current) {
  return check_correction_keeps(entry_kind, current, e.body.at("entry")).with_context(event_name(e.device, e.seq) + ": ");
}

// The entry a version belongs to, as the projection reads it to supersede or re-merge it.
struct HeldEntry {
  EntryKey key;
  std::string kind;
  std::int64_t day = 0;
  Hash head{};
  bool is_void = false;
  Json body;
};

// The entry that holds version `version`, when the terminal holds it.
Result<std::optional<HeldEntry>> entry_holding(Db& db, const Hash& version) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT e.arrival, e.id, e.kind, e.day, e.head, e.void, e.body FROM versions v "
                                          "JOIN entries e ON e.arrival = v.entry_arrival "
                                          "WHERE v.arrival = (SELECT arrival FROM events WHERE hash = ?)"));
  st.bind_blob(1, version);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<HeldEntry>();
  HeldEntry h;
  h.key = EntryKey{st.int64(0), st.blob32(1)};
  h.kind = st.text(2);
  h.day = st.int64(3);
  h.head = st.blob32(4);
  h.is_void = st.int64(5) != 0;
  SB_ASSIGN_OR_RETURN(h.body, decode_value(st.blob(6)));
  return std::optional<HeldEntry>(std::move(h));
}

// The body a correction of `target` is checked against: the target's own (a root's body, a
// correction's entry), which is what the server checked it against. nullopt for a void.
Result<std::optional<Json>> body_of_version(Db& db, const Hash& target) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT raw FROM events WHERE hash = ?"));
  st.bind_blob(1, target);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return internal_error("version " + hash_ref(target) + " is in the versions table but not stored");
  SB_ASSIGN_OR_RETURN(Event e, decode_event(st.blob(0)));
  SB_ASSIGN_OR_RETURN(std::optional<Version> v, version_of(e));
  if (!v || v->kind == VersionKind::kVoid) return std::optional<Json>();
  return std::optional<Json>(std::move(v->body));
}

// Calls `take` with each row of `sql` (its one parameter an entry's arrival) and the event whose
// canonical bytes are in column `raw_column`, decoded.
template <typename Take>
Status each_event_row(Db& db, const char* sql, std::int64_t arrival, int raw_column, Take take) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(sql));
  st.bind(1, arrival);
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return Status::ok();
    SB_ASSIGN_OR_RETURN(Event e, decode_event(st.blob(raw_column)));
    SB_RETURN_IF_ERROR(take(e, st));
  }
}

// Computes the entry again from every version the terminal holds of it and the site signer's
// resolutions of its forks (merge_entry, docs/MERGE.md), and writes what it shows: the current
// version's fields, the version it shows and the entry's conflicts. Used whenever a version
// arrives that is not a plain successor of the shown one, and when a resolution arrives.
Status remerge_entry(Db& db, const HeldEntry& entry) {
  std::vector<Version> versions;
  std::map<Hash, std::uint64_t> seq_of;
  std::map<Hash, PublicKey> device_of;
  SB_RETURN_IF_ERROR(each_event_row(db,
                                    "SELECT v.after_ms, ev.raw FROM versions v "
                                    "JOIN events ev ON ev.arrival = v.arrival WHERE v.entry_arrival = ?",
                                    entry.key.arrival, 1, [&](const Event& e, const Stmt& st) -> Status {
    SB_ASSIGN_OR_RETURN(std::optional<Version> v, version_of(e));
    if (!v) return internal_error(event_name(e.device, e.seq) + " is in the versions table but is no version");
    if (!st.is_null(0)) v->trusted_after_ms = st.int64(0);
    seq_of[v->hash] = v->seq;
    device_of[v->hash] = v->device;
    versions.push_back(std::move(*v));
    return Status::ok();
  }));
  std::vector<Resolution> resolutions;
  SB_RETURN_IF_ERROR(each_event_row(db,
                                    "SELECT ev.raw FROM resolutions r JOIN events ev ON ev.arrival = r.arrival "
                                    "WHERE r.fork IN (SELECT hash FROM versions WHERE entry_arrival = ?)",
                                    entry.key.arrival, 0, [&](const Event& e, const Stmt&) -> Status {
    SB_ASSIGN_OR_RETURN(Resolution r, resolution_of(e));
    resolutions.push_back(std::move(r));
    return Status::ok();
  }));
  SB_ASSIGN_OR_RETURN(EntryState s, merge_entry(versions, resolutions));
  // What the entry shows: the last version of the winning path that is not a void (for a void
  // entry, the version it voided), and how many such versions the path has.
  Hash shown = s.current;
  if (s.is_void) {
    for (const Version& v : versions) {
      if (v.hash == s.current) shown = *v.target;
    }
  }
  const std::int64_t path_versions = static_cast<std::int64_t>(s.path_length) - (s.is_void ? 1 : 0);
  {
    SB_ASSIGN_OR_RETURN(Stmt up, db.prepare("UPDATE entries SET head = ?, head_seq = ?, versions = ?, void = ? "
                                            "WHERE arrival = ?"));
    SB_RETURN_IF_ERROR(up.bind_blob(1, shown).bind(2, static_cast<std::int64_t>(seq_of.at(shown))).bind(3, path_versions)
                           .bind(4, s.is_void ? 1 : 0).bind(5, entry.key.arrival).run());
  }
  SB_RETURN_IF_ERROR(write_entry_fields(db, entry.key.arrival, entry.kind, s.body, entry.day));
  {
    SB_ASSIGN_OR_RETURN(Stmt del, db.prepare("DELETE FROM conflicts WHERE entry_arrival = ?"));
    SB_RETURN_IF_ERROR(del.bind(1, entry.key.arrival).run());
  }
  for (const Conflict& c : s.conflicts) {
    SB_ASSIGN_OR_RETURN(Stmt ins, db.prepare("INSERT INTO conflicts(entry_arrival, fork, device, seq, children, winner, "
                                             "resolution, resolved, on_path) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins.bind(1, entry.key.arrival).bind_blob(2, c.fork).bind_blob(3, device_of.at(c.fork))
        .bind(4, static_cast<std::int64_t>(seq_of.at(c.fork))).bind(5, static_cast<std::int64_t>(c.children.size()))
        .bind_blob(6, c.winner);
    if (c.resolution) ins.bind_blob(7, *c.resolution); else ins.bind_null(7);
    ins.bind(8, c.resolved ? 1 : 0).bind(9, c.on_current_path ? 1 : 0);
    SB_RETURN_IF_ERROR(ins.run());
  }
  return Status::ok();
}

// A correction or void. The common case, a successor of the version the entry shows, is written
// directly; anything else (a second child of a version: a fork, or a version below a void) is
// kept in the versions table and the entry merged again from all its versions.
Status apply_supersede(Db& db, ProjectionMemo* memo, const Event& e, std::int64_t arrival) {
  SB_ASSIGN_OR_RETURN(Hash target, target_of(e));
  SB_ASSIGN_OR_RETURN(std::optional<HeldEntry> held, entry_holding(db, target));
  if (!held) return failed_precondition(event_name(e.device, e.seq) + " supersedes an entry this terminal does not hold");
  const HeldEntry& entry = *held;
  const bool successor = entry.head == target && !entry.is_void;
  if (e.kind == kind::kCorrection) {
    SB_RETURN_IF_ERROR(validate_body(e.kind, e.body, entry.kind).with_context(event_name(e.device, e.seq) + ": "));
    std::optional<Json> target_body;
    if (successor) {
      target_body = entry.body;
    } else {
      SB_ASSIGN_OR_RETURN(target_body, body_of_version(db, target));
    }
    // A correction of a void (which only a broken terminal makes) has nothing to keep: it is
    // past the void, and never shown.
    if (target_body) SB_RETURN_IF_ERROR(check_kept_fields(e, entry.kind, *target_body));
  } else if (!is_voidable_kind(entry.kind)) {
    return failed_precondition(event_name(e.device, e.seq) + " voids an entry of a kind that cannot be voided");
  }
  SB_ASSIGN_OR_RETURN(std::optional<std::int64_t> after, trusted_after_of(db, memo, e));
  SB_RETURN_IF_ERROR(insert_version(db, e, arrival, entry.key, &target, after));
  if (!successor) return remerge_entry(db, entry);
  if (e.kind == kind::kVoid) {
    SB_ASSIGN_OR_RETURN(Stmt up, db.prepare("UPDATE entries SET void = 1 WHERE arrival = ?"));
    return up.bind(1, entry.key.arrival).run();
  }
  SB_ASSIGN_OR_RETURN(Stmt up, db.prepare("UPDATE entries SET head = ?, head_seq = ?, versions = versions + 1 "
                                          "WHERE arrival = ?"));
  SB_RETURN_IF_ERROR(up.bind_blob(1, e.hash).bind(2, static_cast<std::int64_t>(e.seq)).bind(3, entry.key.arrival).run());
  return write_entry_fields(db, entry.key.arrival, entry.kind, e.body.at("entry"), entry.day);
}

// The site signer's decision of a fork: indexed by its fork, and the entry holding the fork (when
// the terminal holds it) merged again.
Status apply_resolution(Db& db, const Event& e, std::int64_t arrival) {
  SB_ASSIGN_OR_RETURN(Resolution r, resolution_of(e));
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO resolutions(arrival, fork, device, seq) VALUES(?, ?, ?, ?)"));
    SB_RETURN_IF_ERROR(st.bind(1, arrival).bind_blob(2, r.fork).bind_blob(3, e.device)
                           .bind(4, static_cast<std::int64_t>(e.seq)).run());
  }
  SB_ASSIGN_OR_RETURN(std::optional<HeldEntry> held, entry_holding(db, r.fork));
  if (!held) return Status::ok();
  return remerge_entry(db, *held);
}

// Head office's decision of an anomaly (the body was checked when it was pulled).
Status apply_anomaly_note(Db& db, const Event& e, std::int64_t arrival) {
  auto anomaly = e.body.find("anomaly");
  auto reason = e.body.find("reason");
  if (anomaly == e.body.end() || !anomaly->is_string() || reason == e.body.end() || !reason->is_string()) {
    return data_loss(event_name(e.device, e.seq) + ": a head-office anomaly_note whose body does not read; run "
                     "'shiftbook verify'");
  }
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO anomaly_notes(arrival, anomaly, reason, device, seq) "
                                          "VALUES(?, ?, ?, ?, ?)"));
  return st.bind(1, arrival).bind(2, anomaly->get_ref<const std::string&>()).bind(3, reason->get_ref<const std::string&>())
      .bind_blob(4, e.device).bind(5, static_cast<std::int64_t>(e.seq)).run();
}

}  // namespace

Status Store::Impl::apply_event(const Event& e, ByteView raw, std::int64_t arrival) {
  // Kinds this version does not know are kept in the log and passed on, but change no state.
  if (!is_terminal_kind(e.kind)) return Status::ok();
  // The one check of a terminal event's body, for this terminal's events and pulled ones alike
  // (accept_sync relies on it): no event reaches the tables with a body of the wrong shape. A
  // correction is checked once its entry's kind is known.
  if (e.kind != kind::kCorrection) {
    // The event's name is made only for a refusal: this runs once for every event pulled.
    Status body = validate_body(e.kind, e.body);
    if (!body.is_ok()) return body.with_context(event_name(e.device, e.seq) + ": ");
  }
  if (e.kind == kind::kShiftOpen) return apply_shift_open(db, memo, e);
  if (e.kind == kind::kShiftClose) return apply_shift_close(db, e);
  if (e.kind == kind::kCorrection || e.kind == kind::kVoid) return apply_supersede(db, memo, e, arrival);
  return apply_new_entry(db, memo, e, raw, arrival);
}

}  // namespace shiftbook::client

namespace shiftbook::client {

Result<bool> Store::Impl::project_event(const Event& e, ByteView raw, std::int64_t arrival, const SiteScope* scope) {
  if (scope && e.device == scope->signer) {
    if (e.kind == kResolutionKind) {
      SB_RETURN_IF_ERROR(apply_resolution(db, e, arrival));
      return true;
    }
    if (e.kind == kAnomalyNoteKind) {
      SB_RETURN_IF_ERROR(apply_anomaly_note(db, e, arrival));
      return true;
    }
    SB_RETURN_IF_ERROR(apply_reference_event(e, *scope));
    return true;
  }
  // A revoked terminal has dropped the other terminals' events (sync_revoke.cpp): its own
  // correction, void or confirmation of one of their entries stays in the log, unshown, like theirs.
  if (e.device == key.public_key() && !(scope && scope->revoked)) {
    SB_RETURN_IF_ERROR(apply_event(e, raw, arrival));
    return true;
  }
  // Another terminal's event may rightly name what this terminal never receives (an entry of a
  // unit it is not enrolled for) or supersede a version another correction superseded first (a
  // fork, for the merge rules). It stays in the log. apply_event refuses those before it writes
  // (no savepoint needed: one per event made SQLite copy every page it touched to a
  // sub-journal); the count of changed rows holds it to that.
  const std::int64_t changes_before = sqlite3_total_changes64(db.handle());
  Status applied = apply_event(e, raw, arrival);
  if (applied.is_ok()) return true;
  if (applied.code() != Code::kFailedPrecondition) return applied;
  if (sqlite3_total_changes64(db.handle()) != changes_before) {
    return internal_error(event_name(e.device, e.seq) + " was refused after it changed the derived tables (" +
                          applied.message() + ")");
  }
  return false;
}

Status Store::Impl::replay_events(const SiteScope* scope) {
  SB_RETURN_IF_ERROR(db.exec("DELETE FROM versions; DELETE FROM entries; DELETE FROM shifts; DELETE FROM conflicts; "
                             "DELETE FROM resolutions; DELETE FROM anomaly_notes;"));
  if (scope) SB_RETURN_IF_ERROR(clear_reference());
  MemoScope memo_scope(*this);
  // The order of storing: what an event names (a shift, a corrected entry of another terminal)
  // was stored before it, whatever the order of the devices' keys.
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT raw, arrival FROM events ORDER BY arrival"));
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return Status::ok();
    const Bytes raw = st.blob(0);
    auto e = decode_event(raw);
    if (!e.is_ok()) return data_loss("a stored event is damaged: " + e.status().message() + "; run 'shiftbook verify'");
    SB_RETURN_IF_ERROR(project_event(*e, raw, st.int64(1), scope).status());
  }
}

Status Store::rebuild_derived() {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(std::optional<SiteScope> scope, impl_->site_scope());
  SB_RETURN_IF_ERROR(impl_->replay_events(scope ? &*scope : nullptr));
  return tx.commit();
}

}  // namespace shiftbook::client
