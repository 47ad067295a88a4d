// Recording: the shift leader's commands, each checked against the reference data and the
// terminal's own entries, then appended as one signed event in one transaction.
#include <ctime>
#include <cstdlib>

#include "event_ref.h"
#include "shiftbook/kinds.h"
#include "store_impl.h"

namespace shiftbook::client {
namespace {

// Today's date in a site's time zone, as days since 1970-01-01.
std::int64_t local_day(const std::string& tz, std::int64_t now_ms) {
  const char* old = std::getenv("TZ");
  std::string saved = old ? old : "";
  ::setenv("TZ", tz.c_str(), 1);
  ::tzset();
  std::time_t t = static_cast<std::time_t>(now_ms / 1000);
  std::tm local{};
  ::localtime_r(&t, &local);
  if (old) ::setenv("TZ", saved.c_str(), 1); else ::unsetenv("TZ");
  ::tzset();
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &local);
  auto day = parse_date(buf);
  return day.is_ok() ? *day : now_ms / 86'400'000;
}

// A time of a shift date as people read it: minutes past 24:00 are the next morning
// (1800 is "06:00 next day", not "30:00").
std::string clock_text(std::int64_t minutes) {
  if (minutes > kMinutesPerDay) return format_minutes(minutes - kMinutesPerDay) + " next day";
  return format_minutes(minutes);
}

// "an hours entry", "an output entry", "a bonus entry": the article for a kind's name.
std::string with_article(const std::string& kind) {
  const bool vowel_sound = kind == kind::kHours || kind.find_first_of("aeiou") == 0;
  return (vowel_sound ? "an " : "a ") + kind;
}

Status require_worker(Db& db, const std::string& worker, const std::string& unit) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT w.site = u.site FROM workers w, units u WHERE w.id = ? AND u.id = ?"));
  st.bind(1, worker).bind(2, unit);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("worker '" + worker + "' is not on the roster; check the worker id or import the roster");
  if (st.int64(0) == 0) return invalid_argument("worker '" + worker + "' is not on the roster of this unit's site");
  return Status::ok();
}

struct ShiftRow {
  Hash id{};
  std::string unit;
  std::int64_t day = 0;
};

Result<ShiftRow> load_shift(Db& db, const Hash& id) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT unit, day FROM shifts WHERE id = ?"));
  st.bind_blob(1, id);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("that shift is not on this terminal");
  return ShiftRow{id, st.text(0), st.int64(1)};
}

// The rules for one worker's hours on this terminal: no overlap with their other hours, and no
// more than 24 hours on one shift date. `except` is the entry being corrected; `me` this terminal,
// for naming an overlapping entry the way list does.
Status check_hours(Db& db, const PublicKey& me, const std::string& worker, std::int64_t day, std::int64_t start,
                   std::int64_t end, const Hash* except) {
  const std::int64_t abs_start = day * kMinutesPerDay + start;
  const std::int64_t abs_end = day * kMinutesPerDay + end;
  Hash none{};
  const Hash& skip = except ? *except : none;
  {
    // Hours last at most a day, so hours that end after abs_start started less than a day before
    // it: both bounds on start_abs keep the search to a range of entries_worker_time.
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT seq, day, start_abs, end_abs, device, id FROM entries WHERE kind = 'hours' "
                                            "AND void = 0 AND worker = ? AND start_abs > ? AND start_abs < ? "
                                            "AND end_abs > ? AND id != ? ORDER BY start_abs LIMIT 1"));
    st.bind(1, worker).bind(2, abs_start - kMinutesPerDay).bind(3, abs_end).bind(4, abs_start).bind_blob(5, skip);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) {
      std::int64_t other_day = st.int64(1);
      EventRefs refs(db, me);
      const PublicKey device = st.blob32(4);
      SB_ASSIGN_OR_RETURN(std::string ref, refs.ref(device, st.int64(0), st.blob32(5)));
      if (!refs.mine(device)) ref += " of terminal " + short_device(device);
      return invalid_argument("worker '" + worker + "' already has hours from " +
                              clock_text(st.int64(2) - other_day * kMinutesPerDay) + " to " +
                              clock_text(st.int64(3) - other_day * kMinutesPerDay) + " on " +
                              format_date(other_day) + " (entry " + ref +
                              ") that overlap these; correct that entry instead");
    }
  }
  // Hours of a shift date start on that date (00:00 to 23:59), so the same index range finds them.
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT coalesce(sum(end_abs - start_abs), 0) FROM entries WHERE kind = 'hours' "
                                          "AND void = 0 AND worker = ? AND start_abs >= ? AND start_abs < ? "
                                          "AND day = ? AND id != ?"));
  st.bind(1, worker).bind(2, day * kMinutesPerDay).bind(3, (day + 1) * kMinutesPerDay).bind(4, day).bind_blob(5, skip);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  std::int64_t already = row ? st.int64(0) : 0;
  if (already + (end - start) > kMinutesPerDay) {
    return invalid_argument("worker '" + worker + "' would have " + format_minutes(already + end - start) +
                            " hours on " + format_date(day) + ", more than a day has");
  }
  return Status::ok();
}

Result<int> product_decimals(Db& db, const std::string& product) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT decimals FROM products WHERE id = ?"));
  st.bind(1, product);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("product '" + product + "' is not in the reference data; check the product id");
  return static_cast<int>(st.int64(0));
}

// The version of the quota in force for a unit, product and date, if head office set one.
Result<std::optional<std::int64_t>> quota_version(Db& db, const std::string& unit, const std::string& product,
                                                  std::int64_t day) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT q.version FROM quotas q JOIN periods p ON p.id = q.period "
                                          "WHERE q.unit = ? AND q.product = ? AND p.start_day <= ? AND p.end_day >= ?"));
  st.bind(1, unit).bind(2, product).bind(3, day).bind(4, day);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(st.int64(0));
}

// Domain checks of a body against the reference data and the terminal's other entries.
Status check_entry(Db& db, const PublicKey& me, std::string_view kind, const Json& body, const ShiftRow& shift,
                   const Hash* except) {
  if (kind == kind::kHours) {
    const std::string worker = body["worker"].get<std::string>();
    SB_RETURN_IF_ERROR(require_worker(db, worker, shift.unit));
    return check_hours(db, me, worker, shift.day, body["start"].get<std::int64_t>(), body["end"].get<std::int64_t>(),
                       except);
  }
  if (kind == kind::kOutput) return product_decimals(db, body["product"].get<std::string>()).status();
  if (kind == kind::kBonus) return require_worker(db, body["worker"].get<std::string>(), shift.unit);
  return Status::ok();
}

struct EntryRow {
  Hash id{};
  std::string kind;
  Hash head{};
  std::int64_t seq = 0;
  bool is_void = false;
  Hash shift{};
  Json body;
};

Result<EntryRow> load_entry(Db& db, const Hash& id) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT kind, head, seq, void, shift, body FROM entries "
                                          "WHERE arrival = (SELECT arrival FROM events WHERE hash = ?)"));
  st.bind_blob(1, id);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("no such entry");
  EntryRow e;
  e.id = id;
  e.kind = st.text(0);
  e.head = st.blob32(1);
  e.seq = st.int64(2);
  e.is_void = st.int64(3) != 0;
  e.shift = st.blob32(4);
  Bytes body = st.blob(5);
  SB_ASSIGN_OR_RETURN(e.body, decode_value(body));
  return e;
}

}  // namespace

Result<Recorded> Store::open_shift(const std::string& unit, std::optional<std::int64_t> day,
                                   std::optional<std::string> name) {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(Session s, impl_->require_session(true));
  std::string tz;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT s.tz FROM units u JOIN sites s ON s.id = u.site WHERE u.id = ?"));
    st.bind(1, unit);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return not_found("unit '" + unit + "' is not in the reference data; import it with 'shiftbook ref import'");
    tz = st.text(0);
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT seq FROM shifts WHERE device = ? AND unit = ? AND closed_seq IS NULL"));
    st.bind_blob(1, impl_->key.public_key()).bind(2, unit);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) {
      return failed_precondition("a shift of unit " + unit + " is already open (shift " + std::to_string(st.int64(0)) +
                                 "); close it with 'shiftbook shift close' first");
    }
  }
  Json body = {{"unit", unit}, {"date", format_date(day ? *day : local_day(tz, impl_->clock->now_ms()))}};
  if (name) body["name"] = *name;
  // Trusted time: the server signed this receipt's time before the shift was opened, so the shift
  // and everything recorded in it come after it, whatever this terminal's clock says.
  SB_ASSIGN_OR_RETURN(std::optional<SyncState> sync, impl_->load_sync_state());
  if (sync && sync->receipt) body["receipt"] = receipt_field(*sync->receipt);
  SB_RETURN_IF_ERROR(validate_body(kind::kShiftOpen, body));
  SB_ASSIGN_OR_RETURN(Recorded r, impl_->append_local(s.leader, kind::kShiftOpen, std::move(body)));
  SB_RETURN_IF_ERROR(tx.commit());
  return r;
}

Result<Recorded> Store::close_shift(const std::string& shift_ref) {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(Session s, impl_->require_session(true));
  SB_ASSIGN_OR_RETURN(Hash shift, impl_->resolve_open_shift(shift_ref));
  SB_ASSIGN_OR_RETURN(Recorded r, impl_->append_local(s.leader, kind::kShiftClose, Json{{"shift", hash_ref(shift)}}));
  SB_RETURN_IF_ERROR(tx.commit());
  return r;
}

namespace {
// The shared path of log_hours, log_output and log_bonus.
Result<Recorded> record_entry(Store::Impl& impl, const std::string& shift_ref, std::string_view kind, Json body) {
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(impl.db));
  SB_ASSIGN_OR_RETURN(Session s, impl.require_session(true));
  SB_ASSIGN_OR_RETURN(Hash shift_id, impl.resolve_open_shift(shift_ref));
  SB_ASSIGN_OR_RETURN(ShiftRow shift, load_shift(impl.db, shift_id));
  body["shift"] = hash_ref(shift_id);
  if (kind == kind::kOutput) {
    SB_ASSIGN_OR_RETURN(auto version, quota_version(impl.db, shift.unit, body["product"].get<std::string>(), shift.day));
    if (version) body["quota_version"] = *version;
  }
  SB_RETURN_IF_ERROR(validate_body(kind, body));
  SB_RETURN_IF_ERROR(check_entry(impl.db, impl.key.public_key(), kind, body, shift, nullptr));
  SB_ASSIGN_OR_RETURN(Recorded r, impl.append_local(s.leader, kind, std::move(body)));
  SB_RETURN_IF_ERROR(tx.commit());
  return r;
}
}  // namespace

Result<Recorded> Store::log_hours(const std::string& shift_ref, const std::string& worker, std::int64_t start,
                                  std::int64_t end, bool special) {
  return record_entry(*impl_, shift_ref, kind::kHours,
                      Json{{"worker", worker}, {"start", start}, {"end", end}, {"special", special}});
}

Result<Recorded> Store::log_output(const std::string& shift_ref, const std::string& product, std::int64_t quantity) {
  return record_entry(*impl_, shift_ref, kind::kOutput, Json{{"product", product}, {"quantity", quantity}});
}

Result<Recorded> Store::log_bonus(const std::string& shift_ref, const std::string& worker, const std::string& type,
                                  std::optional<std::string> note) {
  Json body{{"worker", worker}, {"type", type}};
  if (note) body["note"] = *note;
  return record_entry(*impl_, shift_ref, kind::kBonus, std::move(body));
}

Result<Recorded> Store::confirm(const std::string& entry_ref, const std::string& worker, const std::string& pin) {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Hash version, impl_->resolve_event(entry_ref));
  SB_ASSIGN_OR_RETURN(Hash entry_id, impl_->entry_of(version));
  std::string pin_hash;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT pin_hash FROM workers WHERE id = ?"));
    st.bind(1, worker);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return not_found("worker '" + worker + "' is not on the roster");
    pin_hash = st.text(0);
  }
  // Refuse what cannot succeed before asking for the PIN to count, so a mistyped entry number
  // never costs the worker a try.
  auto check_target = [&]() -> Result<EntryRow> {
    SB_ASSIGN_OR_RETURN(EntryRow e, load_entry(db, entry_id));
    if (e.kind != kind::kHours) return invalid_argument("entry " + entry_ref + " is not an hours entry; only hours are confirmed");
    if (e.is_void) return failed_precondition("entry " + entry_ref + " is void; there is nothing to confirm");
    if (e.body["worker"].get<std::string>() != worker) {
      return permission_denied("entry " + entry_ref + " records the hours of another worker; only '" +
                               e.body["worker"].get<std::string>() + "' can confirm it");
    }
    return e;
  };
  SB_RETURN_IF_ERROR(check_target().status());
  SB_RETURN_IF_ERROR(impl_->require_session(false).status());
  SB_RETURN_IF_ERROR(impl_->check_pin("worker:" + worker, pin_hash, pin));

  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(Session s, impl_->require_session(true));
  SB_ASSIGN_OR_RETURN(EntryRow e, check_target());
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT seq, device, id FROM entries WHERE kind = 'confirm' AND void = 0 "
                                            "AND confirms = ?"));
    st.bind_blob(1, e.head);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) {
      EventRefs refs(db, impl_->key.public_key());
      const PublicKey device = st.blob32(1);
      SB_ASSIGN_OR_RETURN(std::string ref, refs.ref(device, st.int64(0), st.blob32(2)));
      if (!refs.mine(device)) ref += " of terminal " + short_device(device);
      return already_exists("worker '" + worker + "' already confirmed these hours (entry " + ref + ")");
    }
  }
  SB_ASSIGN_OR_RETURN(Recorded r, impl_->append_local(s.leader, kind::kConfirm,
                                                      Json{{"entry", hash_ref(e.head)}, {"worker", worker}}));
  SB_RETURN_IF_ERROR(tx.commit());
  return r;
}

Result<Recorded> Store::correct(const std::string& entry_ref, const Json& changes, const std::string& reason) {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(Session s, impl_->require_session(true));
  SB_RETURN_IF_ERROR(check_text("reason", reason));
  SB_ASSIGN_OR_RETURN(Hash version, impl_->resolve_event(entry_ref));
  SB_ASSIGN_OR_RETURN(Hash entry_id, impl_->entry_of(version));
  SB_ASSIGN_OR_RETURN(EntryRow e, load_entry(db, entry_id));
  if (e.is_void) return failed_precondition("entry " + entry_ref + " is void and cannot be corrected");
  if (!is_correctable_kind(e.kind)) {
    return invalid_argument("entry " + entry_ref + " is " + with_article(e.kind) +
                            "; only hours, output and bonus entries can be corrected");
  }
  if (!changes.is_object() || changes.empty()) return invalid_argument("a correction must change at least one field");
  Json body = e.body;
  for (auto it = changes.begin(); it != changes.end(); ++it) {
    // The shift, the product and the quota version decide what the other fields mean (the date
    // of the hours, the unit of the quantity, the quota it was checked against): changing one
    // alone would silently reinterpret the rest.
    const bool fixed = it.key() == "shift" || it.key() == "quota_version" ||
                       (it.key() == "product" && e.kind == kind::kOutput);
    if (fixed) {
      return invalid_argument("a correction cannot change the " + it.key() + " of an entry; void it and record it again");
    }
    if (!body.contains(it.key()) && !(e.kind == kind::kBonus && it.key() == "note")) {
      return invalid_argument(with_article(e.kind) + " entry has no field '" + it.key() + "'");
    }
    body[it.key()] = it.value();
  }
  if (body == e.body) return invalid_argument("the correction changes nothing; the entry already says that");
  SB_RETURN_IF_ERROR(validate_body(e.kind, body));
  SB_ASSIGN_OR_RETURN(ShiftRow shift, load_shift(db, e.shift));
  SB_RETURN_IF_ERROR(check_entry(db, impl_->key.public_key(), e.kind, body, shift, &e.id));
  Json correction{{"target", hash_ref(e.head)}, {"reason", reason}, {"entry", body}};
  SB_RETURN_IF_ERROR(validate_body(kind::kCorrection, correction, e.kind));
  SB_ASSIGN_OR_RETURN(Recorded r, impl_->append_local(s.leader, kind::kCorrection, std::move(correction)));
  SB_RETURN_IF_ERROR(tx.commit());
  return r;
}

Result<Recorded> Store::void_entry(const std::string& entry_ref, const std::string& reason) {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(Session s, impl_->require_session(true));
  SB_RETURN_IF_ERROR(check_text("reason", reason));
  SB_ASSIGN_OR_RETURN(Hash version, impl_->resolve_event(entry_ref));
  SB_ASSIGN_OR_RETURN(Hash entry_id, impl_->entry_of(version));
  SB_ASSIGN_OR_RETURN(EntryRow e, load_entry(db, entry_id));
  if (e.is_void) return failed_precondition("entry " + entry_ref + " is already void");
  Json body{{"target", hash_ref(e.head)}, {"reason", reason}};
  SB_RETURN_IF_ERROR(validate_body(kind::kVoid, body));
  SB_ASSIGN_OR_RETURN(Recorded r, impl_->append_local(s.leader, kind::kVoid, std::move(body)));
  SB_RETURN_IF_ERROR(tx.commit());
  return r;
}

}  // namespace shiftbook::client
