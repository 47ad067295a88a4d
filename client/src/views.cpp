// The store's read commands other than summaries: list, show, shift list and status, in the JSON
// shapes of docs/READING.md. Everything here is read from the derived tables and the events; the
// only write is status clearing a login that has gone idle. Every entry, shift and version carries
// the reference a person types for it (event_ref.h): a number only for this terminal's own.
#include "views.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "shiftbook/kinds.h"
#include "store_impl.h"

namespace shiftbook::client {
namespace {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kDayMs = 86'400'000;

// Bodies were validated when they were applied; these read a field without trusting that a
// damaged store still holds what validation saw.
std::string text_field(const Json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t int_field(const Json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

// "2026-11-16T08:00:00.000Z" for milliseconds since 1970 (UTC).
std::string iso_time(std::uint64_t ms) {
  const auto day = static_cast<std::int64_t>(ms / kDayMs);
  const auto in_day = static_cast<long long>(ms % kDayMs);
  char buf[24];
  std::snprintf(buf, sizeof buf, "T%02lld:%02lld:%02lld.%03lldZ", in_day / 3'600'000, in_day / 60'000 % 60,
                in_day / 1000 % 60, in_day % 1000);
  return format_date(day) + buf;
}

// The columns entry_json reads, in its order; a query adds its WHERE and ORDER BY. `cv` is the
// version a confirmation confirms, when the terminal holds it (for its reference).
const std::string kEntrySelect = std::string(
    "SELECT e.id, e.seq, e.device, e.kind, ev.author, e.head, e.head_seq, e.versions, e.void, e.shift, "
    "s.seq, s.unit, e.day, e.body, cf.target IS NOT NULL, coalesce(p.decimals, 0), s.device, "
    "e.confirms, cv.device, cv.seq, "
    "(SELECT count(*) FROM conflicts c WHERE c.entry_arrival = e.arrival), "
    "(SELECT count(*) FROM conflicts c WHERE c.entry_arrival = e.arrival AND c.resolved = 0) "
    "FROM entries e JOIN events ev ON ev.arrival = e.arrival JOIN shifts s ON s.id = e.shift "
    "LEFT JOIN products p ON p.id = e.product LEFT JOIN events cve ON cve.hash = e.confirms "
    "LEFT JOIN versions cv ON cv.arrival = cve.arrival") + kConfirmedJoin;

// Within a date, this terminal's entries (or shifts) first, then each other terminal's together,
// each in its own order: numbers of different terminals do not interleave.
const std::string kByTerminal = " = ? DESC, ";

Result<Json> entry_json(const Stmt& st, EventRefs& refs) {
  const PublicKey device = st.blob32(2);
  const auto seq = static_cast<std::uint64_t>(st.int64(1));
  const Bytes raw = st.blob(13);
  auto decoded = decode_value(raw);
  if (!decoded.is_ok()) {
    return data_loss("the stored body of " + event_name(device, seq) + " is damaged: " + decoded.status().message());
  }
  const Json& body = *decoded;
  const std::string entry_kind = st.text(3);
  Json out{{"seq", st.int64(1)},       {"id", to_hex(st.blob32(0))},   {"device", to_hex(device)},
           {"kind", entry_kind},       {"author", st.text(4)},         {"head", to_hex(st.blob32(5))},
           {"head_seq", st.int64(6)},  {"versions", st.int64(7)},      {"void", st.int64(8) != 0},
           {"shift", to_hex(st.blob32(9))}, {"shift_seq", st.int64(10)}, {"unit", st.text(11)},
           {"date", format_date(st.int64(12))}, {"conflicts", st.int64(20)}, {"open_conflicts", st.int64(21)}};
  SB_RETURN_IF_ERROR(add_ref_fields(out, refs, device, st.int64(1), st.blob32(0)));
  SB_ASSIGN_OR_RETURN(out["shift_ref"], refs.ref(st.blob32(16), st.int64(10), st.blob32(9)));
  if (entry_kind == kind::kHours) {
    const std::int64_t start = int_field(body, "start");
    const std::int64_t end = int_field(body, "end");
    out["worker"] = text_field(body, "worker");
    out["start"] = start;
    out["end"] = end;
    out["start_time"] = format_minutes(start);
    out["end_time"] = format_minutes(end);
    out["minutes"] = end - start;
    auto special = body.find("special");
    out["special"] = special != body.end() && special->is_boolean() && special->get<bool>();
    out["confirmed"] = st.int64(14) != 0;
  } else if (entry_kind == kind::kOutput) {
    const std::int64_t quantity = int_field(body, "quantity");
    out["product"] = text_field(body, "product");
    out["quantity"] = quantity;
    out["quantity_text"] = format_quantity(quantity, static_cast<int>(st.int64(15)));
    if (body.contains("quota_version")) out["quota_version"] = int_field(body, "quota_version");
  } else if (entry_kind == kind::kBonus) {
    out["worker"] = text_field(body, "worker");
    out["type"] = text_field(body, "type");
    if (body.contains("note")) out["note"] = text_field(body, "note");
  } else if (entry_kind == kind::kConfirm) {
    out["worker"] = text_field(body, "worker");
    out["confirms"] = text_field(body, "entry");
    if (!st.is_null(18)) {
      SB_ASSIGN_OR_RETURN(out["confirms_ref"], refs.ref(st.blob32(18), st.int64(19), st.blob32(17)));
    }
  }
  return out;
}

bool is_entry_kind(const std::string& k) {
  return k == kind::kHours || k == kind::kOutput || k == kind::kBonus || k == kind::kConfirm;
}

}  // namespace

Status add_ref_fields(Json& out, EventRefs& refs, const PublicKey& device, std::int64_t seq, const Hash& hash) {
  SB_ASSIGN_OR_RETURN(out["ref"], refs.ref(device, seq, hash));
  out["device_short"] = short_device(device);
  out["mine"] = refs.mine(device);
  return Status::ok();
}

Result<Json> shift_json(const Stmt& st, int first, EventRefs& refs) {
  const bool open = st.is_null(first + 6);
  const PublicKey device = st.blob32(first + 8);
  Json out{{"seq", st.int64(first + 1)},
           {"id", to_hex(st.blob32(first))},
           {"device", to_hex(device)},
           {"unit", st.text(first + 2)},
           {"date", format_date(st.int64(first + 3))},
           {"opened_by", st.text(first + 5)},
           {"open", open}};
  SB_RETURN_IF_ERROR(add_ref_fields(out, refs, device, st.int64(first + 1), st.blob32(first)));
  if (!st.is_null(first + 4)) out["name"] = st.text(first + 4);
  if (!open) {
    out["closed_seq"] = st.int64(first + 6);
    out["closed_by"] = st.text(first + 7);
  }
  return out;
}

Result<Json> Store::list_entries(const ListFilter& filter) const {
  if (filter.kind && !is_entry_kind(*filter.kind)) {
    return invalid_argument("'" + *filter.kind + "' is not a kind of entry; use hours, output, bonus or confirm");
  }
  // Only the filters given become conditions, so that SQLite can use the indexes on shift and worker.
  std::string sql = kEntrySelect + "WHERE 1";
  if (filter.shift) sql += " AND e.shift = ?";
  if (filter.worker) sql += " AND e.worker = ?";
  if (filter.kind) sql += " AND e.kind = ?";
  if (filter.device) sql += " AND e.device = ?";
  if (!filter.include_void) sql += " AND e.void = 0";
  sql += " ORDER BY e.day, e.device" + kByTerminal + "e.device, e.seq";
  const PublicKey& me = impl_->key.public_key();
  SB_ASSIGN_OR_RETURN(Stmt st, impl_->db.prepare(sql));
  int n = 0;
  if (filter.shift) st.bind_blob(++n, *filter.shift);
  if (filter.worker) st.bind(++n, *filter.worker);
  if (filter.kind) st.bind(++n, *filter.kind);
  if (filter.device) st.bind_blob(++n, *filter.device);
  st.bind_blob(++n, me);
  EventRefs refs(impl_->db, me);
  Json entries = Json::array();
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    SB_ASSIGN_OR_RETURN(Json entry, entry_json(st, refs));
    entries.push_back(std::move(entry));
  }
  Json out{{"entries", std::move(entries)}};
  // A revoked terminal holds only its own entries: list says so.
  SB_ASSIGN_OR_RETURN(std::optional<SyncState> sync, impl_->load_sync_state());
  if (sync && sync->revoked) {
    out["revoked"] = Json{{"revoked_ms", sync->revoked->revoked_ms}, {"reason", sync->revoked->reason}};
  }
  return out;
}

Result<PublicKey> Store::find_device(const std::string& prefix) const {
  const auto bad = [&](const std::string& why) {
    return invalid_argument("'" + prefix + "' names no terminal (" + why + "); give 8 or more hex digits of its "
                            "device id, as 'shiftbook list' shows it");
  };
  if (prefix.size() < 8 || prefix.size() > 64) return bad("it is not 8 to 64 hex digits");
  std::string lower = prefix;
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  auto lo = from_hex(lower + std::string(64 - lower.size(), '0'));
  auto hi = from_hex(lower + std::string(64 - lower.size(), 'f'));
  if (!lo.is_ok() || !hi.is_ok()) return bad("it is not 8 to 64 hex digits");
  const PublicKey& me = impl_->key.public_key();
  if (to_hex(me).rfind(lower, 0) == 0) return me;
  // Every device whose events the store holds has a signed head.
  SB_ASSIGN_OR_RETURN(Stmt st, impl_->db.prepare("SELECT device FROM heads WHERE device BETWEEN ? AND ? LIMIT 2"));
  st.bind_blob(1, *lo).bind_blob(2, *hi);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("no terminal whose events this one holds has a device id starting " + prefix);
  const PublicKey device = st.blob32(0);
  SB_ASSIGN_OR_RETURN(bool second, st.step());
  if (second) return bad("several terminals' ids start so; give more digits");
  return device;
}

Result<Json> Store::show_entry(const std::string& entry_ref) const {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(db));
  SB_ASSIGN_OR_RETURN(Hash version, impl_->resolve_event(entry_ref));
  SB_ASSIGN_OR_RETURN(Hash entry_id, impl_->entry_of(version));
  EventRefs refs(db, impl_->key.public_key());
  Json out;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(kEntrySelect + "WHERE e.arrival = (SELECT arrival FROM events WHERE hash = ?)"));
    st.bind_blob(1, entry_id);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return not_found("entry " + entry_ref + " is not on this terminal");
    SB_ASSIGN_OR_RETURN(out["entry"], entry_json(st, refs));
  }
  // In the order the terminal stored them, which puts the original first and every correction
  // after the version it names, also when the versions come from several terminals.
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT v.device, v.seq, ev.raw FROM versions v "
                                          "JOIN events ev ON ev.arrival = v.arrival "
                                          "WHERE v.entry_arrival = (SELECT arrival FROM events WHERE hash = ?) "
                                          "ORDER BY v.arrival"));
  st.bind_blob(1, entry_id);
  Json versions = Json::array();
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    const Bytes raw = st.blob(2);
    auto e = decode_event(raw);
    if (!e.is_ok()) {
      return data_loss(event_name(st.blob32(0), static_cast<std::uint64_t>(st.int64(1))) +
                       " is damaged: " + e.status().message());
    }
    Json v{{"seq", e->seq},
           {"hash", to_hex(e->hash)},
           {"device", to_hex(e->device)},
           {"kind", e->kind},
           {"author", e->author},
           {"hlc", e->hlc},
           {"time", iso_time(hlc_ms(e->hlc))},
           {"body", e->body}};
    SB_RETURN_IF_ERROR(add_ref_fields(v, refs, e->device, static_cast<std::int64_t>(e->seq), e->hash));
    if (e->body.contains("reason")) v["reason"] = text_field(e->body, "reason");
    versions.push_back(std::move(v));
  }
  out["versions"] = std::move(versions);
  return out;
}

Result<Json> Store::list_shifts(bool open_only) const {
  const PublicKey& me = impl_->key.public_key();
  SB_ASSIGN_OR_RETURN(Stmt st, impl_->db.prepare(std::string("SELECT ") + kShiftColumns + " FROM shifts s" +
                                                  (open_only ? " WHERE s.closed_seq IS NULL" : "") +
                                                  " ORDER BY s.day, s.device" + kByTerminal + "s.device, s.seq"));
  st.bind_blob(1, me);
  EventRefs refs(impl_->db, me);
  Json shifts = Json::array();
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    SB_ASSIGN_OR_RETURN(Json shift, shift_json(st, 0, refs));
    shifts.push_back(std::move(shift));
  }
  return Json{{"shifts", std::move(shifts)}};
}

Result<Json> Store::status() {
  Db& db = impl_->db;
  const PublicKey& me = impl_->key.public_key();
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  // Looking does not count as using the login (no refresh of its idle timer), but a login that
  // has gone idle is ended here as anywhere else, and that is committed below.
  auto session = impl_->require_session(false);
  if (!session.is_ok() && session.status().code() != Code::kFailedPrecondition) return session.status();
  Json leader = nullptr;
  if (session.is_ok()) {
    const std::int64_t left_ms =
        session->last_ms + static_cast<std::int64_t>(session->idle_minutes) * kMinuteMs - impl_->clock->now_ms();
    leader = Json{{"id", session->leader},
                  {"name", session->leader_name},
                  {"idle_minutes", session->idle_minutes},
                  {"ends_in_minutes", std::max<std::int64_t>(0, left_ms / kMinuteMs)}};
  }
  SB_ASSIGN_OR_RETURN(std::int64_t events, db.query_int("SELECT count(*) FROM events"));
  std::int64_t own_events = 0;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT count(*) FROM events WHERE device = ?"));
    st.bind_blob(1, me);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) own_events = st.int64(0);
  }
  Json reference = Json::object();
  for (const char* table : {"sites", "units", "periods", "products", "workers", "quotas"}) {
    SB_ASSIGN_OR_RETURN(reference[table], db.query_int(std::string("SELECT count(*) FROM ") + table));
  }
  SB_ASSIGN_OR_RETURN(Json open, list_shifts(true));
  SB_ASSIGN_OR_RETURN(Json sync, impl_->sync_status(own_events));
  SB_RETURN_IF_ERROR(tx.commit());
  return Json{{"device", to_hex(me)},
              {"device_short", short_device(me)},
              {"store", impl_->dir},
              {"schema_version", known_schema_version()},
              {"events", events},
              // Own events the server has not acknowledged with a receipt (all of them before
              // enrollment), the enrollment and the last sync: null until there are any.
              {"unsynced_events", std::move(sync["unsynced_events"])},
              {"enrollment", std::move(sync["enrollment"])},
              {"last_sync", std::move(sync["last_sync"])},
              // What the last sync attempts came to, head office's revocation of this terminal,
              // and the terminals of its site head office revoked; `now_ms` (this terminal's
              // clock) says how long ago each time was.
              {"sync_health", std::move(sync["sync_health"])},
              {"revoked", std::move(sync["revoked"])},
              {"revoked_terminals", std::move(sync["revoked_terminals"])},
              {"now_ms", impl_->clock->now_ms()},
              {"leader", std::move(leader)},
              {"open_shifts", std::move(open["shifts"])},
              {"reference", std::move(reference)}};
}

}  // namespace shiftbook::client
