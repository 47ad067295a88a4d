// Re-checking the log, and exporting it so that anyone can re-check it elsewhere (docs/EXPORT.md).
// verify streams the events in (device, seq) order, one row at a time, and holds only the previous
// event of the device in hand, so it runs in constant memory whatever the size of the log. Both
// read inside one read transaction: they see the store as of one moment, and writers are not held up.
#include <algorithm>
#include <optional>
#include <utility>

#include "store_impl.h"

namespace shiftbook::client {
namespace {

// "7f3a9c21" for a device column, whatever its length: a damaged column must still be nameable.
std::string short_hex(const Bytes& device) {
  return to_hex(ByteView(device.data(), std::min<std::size_t>(device.size(), 4)));
}

std::string device_label(const Bytes& device) { return "device " + short_hex(device); }

bool same(const Bytes& column, ByteView value) {
  return std::equal(column.begin(), column.end(), value.begin(), value.end());
}

// Columns of: SELECT device, seq, hlc, author, kind, hash, raw FROM events.
// Checks one stored event against its own bytes and against the event before it on the same
// device (null for the device's first row). Returns the problem, or ok with `out` set.
Status check_event(const Stmt& row, const Event* previous, Event& out) {
  const Bytes device = row.blob(0);
  const std::int64_t seq = row.int64(1);
  const std::string name = "event " + std::to_string(seq) + " of " + device_label(device);
  auto decoded = decode_event(row.blob(6));
  if (!decoded.is_ok()) return data_loss(name + ": its bytes are damaged: " + decoded.status().message());
  Event& e = decoded.value();
  // decode_event sets the hash to BLAKE2b-256 of exactly the stored bytes.
  if (!same(row.blob(5), e.hash)) return data_loss(name + ": hash does not match its content");
  std::string differ;
  auto note = [&](bool equal, const char* column) {
    if (!equal) differ += std::string(differ.empty() ? "" : ", ") + column;
  };
  note(same(device, e.device), "device");
  note(seq == static_cast<std::int64_t>(e.seq), "seq");
  note(row.int64(2) == static_cast<std::int64_t>(e.hlc), "hlc");
  note(row.text(3) == e.author, "author");
  note(row.text(4) == e.kind, "kind");
  if (!differ.empty()) return data_loss(name + ": its stored fields do not match its signed content (" + differ + ")");
  // A gap is named by the first missing event, which is what the reader will look for.
  const std::uint64_t expected = previous ? previous->seq + 1 : 1;
  if (e.seq > expected) {
    std::string before = previous ? "goes from event " + std::to_string(previous->seq) + " to" : "starts at";
    return data_loss(event_name(e.device, expected) + " is missing: the log " + before + " event " +
                     std::to_string(e.seq));
  }
  SB_RETURN_IF_ERROR(check_link(previous, e));
  out = std::move(e);
  return Status::ok();
}

// Checks the heads row of the device whose last stored event is `last`. Read errors are returned;
// a problem with the head is put in `problem`.
Status check_head(Stmt& heads, const Event& last, Status& problem) {
  heads.reset();
  heads.bind_blob(1, last.device);
  SB_ASSIGN_OR_RETURN(bool row, heads.step());
  const std::string device = "device " + short_device(last.device);
  const std::string last_seq = std::to_string(last.seq);
  if (!row) {
    problem = data_loss(device + ": the log holds events 1 to " + last_seq +
                        " but no signed chain head vouches for them: the head was removed");
    return Status::ok();
  }
  SignedHead head;
  head.device = last.device;
  head.seq = static_cast<std::uint64_t>(heads.int64(0));
  const Bytes hash = heads.blob(1);
  const Bytes signature = heads.blob(2);
  if (head.seq != last.seq) {
    problem = data_loss(device + ": the signed head names event " + std::to_string(head.seq) +
                        " but the log ends at event " + last_seq + ": events are missing or were added");
    return Status::ok();
  }
  if (!same(hash, last.hash)) {
    problem = data_loss(device + ": the signed head and the log disagree about event " + last_seq +
                        ": it was replaced, or the head was altered");
    return Status::ok();
  }
  if (signature.size() != head.signature.size()) {
    problem = data_loss(device + ": the signature over its chain head is not valid");
    return Status::ok();
  }
  head.hash = last.hash;
  std::copy(signature.begin(), signature.end(), head.signature.begin());
  if (!verify_head(head)) problem = data_loss(device + ": the signature over its chain head is not valid");
  return Status::ok();
}

}  // namespace

namespace {

// Every event, chain link and signed head, and the receipt each shift_open names (checked with
// `server`, the pinned key; null when not enrolled), in one read snapshot.
Result<VerifyReport> verify_chains(Db& db, const PublicKey* server) {
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(db));
  SB_ASSIGN_OR_RETURN(Stmt events, db.prepare("SELECT device, seq, hlc, author, kind, hash, raw FROM events "
                                              "ORDER BY device, seq"));
  SB_ASSIGN_OR_RETURN(Stmt heads, db.prepare("SELECT seq, hash, signature FROM heads WHERE device = ?"));
  VerifyReport report;
  std::optional<Event> previous;  // the last event checked, of the device being read
  Bytes device;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, events.step());
    Bytes next_device = row ? events.blob(0) : Bytes();
    if (previous && (!row || next_device != device)) {
      SB_RETURN_IF_ERROR(check_head(heads, *previous, report.problem));
      if (!report.problem.is_ok()) return report;
      ++report.heads_checked;
      previous.reset();
    }
    if (!row) break;
    if (report.devices == 0 || next_device != device) {
      device = std::move(next_device);
      ++report.devices;
    }
    Event e;
    report.problem = check_event(events, previous ? &*previous : nullptr, e);
    if (!report.problem.is_ok()) return report;
    report.problem = check_shift_open_receipt(db, e, server);
    if (!report.problem.is_ok() && report.problem.code() != Code::kDataLoss) return report.problem;
    if (!report.problem.is_ok()) return report;
    ++report.events;
    previous = std::move(e);
  }
  // A head whose device has no events at all: every event it vouches for is gone.
  SB_ASSIGN_OR_RETURN(Stmt orphans, db.prepare("SELECT device, seq FROM heads WHERE device NOT IN "
                                               "(SELECT device FROM events) ORDER BY device LIMIT 1"));
  SB_ASSIGN_OR_RETURN(bool orphan, orphans.step());
  if (orphan) {
    report.problem = data_loss(device_label(orphans.blob(0)) + ": the signed head names event " +
                               std::to_string(orphans.int64(1)) +
                               " but the log holds no events of it: events are missing");
  }
  return report;
}

// The first row of `table` in one of the two temp copies and not the other, as "entry 5 of device
// 7f3a9c21" (or the shift / version), or empty when the two agree.
Result<std::string> first_difference(Db& db, const std::string& table, const char* what) {
  for (const auto& [a, b] : {std::pair<std::string, std::string>{"main." + table, "temp.kept_" + table},
                             std::pair<std::string, std::string>{"temp.kept_" + table, "main." + table}}) {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT device, seq FROM (SELECT * FROM " + a + " EXCEPT SELECT * FROM " +
                                            b + ") ORDER BY device, seq LIMIT 1"));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) return std::string(what) + " " + std::to_string(st.int64(1)) + " of " + device_label(st.blob(0));
  }
  return std::string();
}

}  // namespace

// The derived tables (what list and summary read; on an enrolled terminal also the reference data
// and leaders, which come from the site signer's events) must be exactly what replaying the
// events gives: a copy of them is kept, the events are replayed, the two are compared row by row,
// and everything is rolled back. Nothing is written.
Status Store::Impl::check_derived() {
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(std::optional<SiteScope> scope, site_scope());
  static constexpr const char* kTables[][2] = {{"shifts", "shift"},
                                               {"entries", "entry"},
                                               {"versions", "version"},
                                               {"conflicts", "conflict at version"},
                                               {"resolutions", "resolution"},
                                               {"anomaly_notes", "anomaly decision"}};
  static constexpr const char* kReferenceTables[] = {"sites", "units", "periods", "products", "workers", "quotas",
                                                     "leaders"};
  for (const auto& t : kTables) {
    SB_RETURN_IF_ERROR(db.exec(std::string("CREATE TEMP TABLE kept_") + t[0] + " AS SELECT * FROM main." + t[0]));
  }
  if (scope) {
    for (const char* t : kReferenceTables) {
      SB_RETURN_IF_ERROR(db.exec(std::string("CREATE TEMP TABLE kept_") + t + " AS SELECT * FROM main." + t));
    }
  }
  // The chains verified, so an event that does not replay was signed with its device's key by
  // something other than shiftbook.
  Status replayed = replay_events(scope ? &*scope : nullptr);
  if (!replayed.is_ok()) return data_loss("the signed log does not replay: " + replayed.message());
  for (const auto& t : kTables) {
    SB_ASSIGN_OR_RETURN(std::string diff, first_difference(db, t[0], t[1]));
    if (!diff.empty()) {
      return data_loss(diff + ": what the terminal shows (list, summary) does not match its signed events; "
                       "the store was changed outside shiftbook. 'shiftbook rebuild' restores it from the events");
    }
  }
  if (scope) {
    for (const char* t : kReferenceTables) {
      const std::string main_table = std::string("main.") + t, kept = std::string("temp.kept_") + t;
      SB_ASSIGN_OR_RETURN(std::int64_t differ,
                          db.query_int("SELECT count(*) FROM (SELECT * FROM (SELECT * FROM " + main_table +
                                       " EXCEPT SELECT * FROM " + kept + ") UNION ALL SELECT * FROM (SELECT * FROM " +
                                       kept + " EXCEPT SELECT * FROM " + main_table + "))"));
      if (differ > 0) {
        return data_loss(std::string("the terminal's ") + (std::string_view(t) == "leaders" ? "shift leaders" : t) +
                         " do not match head office's signed reference events; the store was changed outside "
                         "shiftbook. 'shiftbook rebuild' restores them from the events");
      }
    }
  }
  return Status::ok();  // the transaction rolls back: the replay and the copies vanish
}

Result<VerifyReport> Store::verify() const {
  SB_ASSIGN_OR_RETURN(std::optional<SyncState> sync, impl_->load_sync_state());
  const PublicKey* server = sync ? &sync->enrollment.server_key : nullptr;
  SB_ASSIGN_OR_RETURN(VerifyReport report, verify_chains(impl_->db, server));
  if (!report.problem.is_ok()) return report;
  report.log_ok = true;
  Status derived = impl_->check_derived();
  if (derived.code() == Code::kDataLoss) {
    report.problem = derived;
  } else if (!derived.is_ok()) {
    return derived;
  }
  return report;
}

Status Store::export_log(std::ostream& out) const {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(db));
  SB_ASSIGN_OR_RETURN(Stmt events, db.prepare("SELECT device, seq, raw FROM events ORDER BY device, seq"));
  auto written = [&]() -> Status {
    if (out) return Status::ok();
    return internal_error("writing the export failed (is the disk full, or the output closed?)");
  };
  try {
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, events.step());
      if (!row) break;
      auto decoded = decode_event(events.blob(2));
      if (!decoded.is_ok()) {
        return data_loss("event " + std::to_string(events.int64(1)) + " of " + device_label(events.blob(0)) +
                         ": its bytes are damaged (" + decoded.status().message() +
                         "); 'shiftbook verify' checks the whole store");
      }
      const Event& e = *decoded;
      // Every field comes from the signed bytes, never from the lookup columns beside them.
      Json line{{"type", "event"},        {"device", to_hex(e.device)}, {"seq", e.seq},
                {"hlc", e.hlc},           {"author", e.author},         {"kind", e.kind},
                {"prev", to_hex(e.prev)}, {"hash", to_hex(e.hash)},     {"body", e.body}};
      out << line.dump() << '\n';
      SB_RETURN_IF_ERROR(written());
    }
    SB_ASSIGN_OR_RETURN(Stmt heads, db.prepare("SELECT device, seq, hash, signature FROM heads ORDER BY device"));
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, heads.step());
      if (!row) break;
      Json line{{"type", "head"},
                {"device", to_hex(heads.blob(0))},
                {"seq", heads.int64(1)},
                {"hash", to_hex(heads.blob(2))},
                {"signature", to_hex(heads.blob(3))}};
      out << line.dump() << '\n';
      SB_RETURN_IF_ERROR(written());
    }
  } catch (const Json::exception& e) {
    return internal_error(std::string("cannot write the export as JSON: ") + e.what());
  }
  out.flush();
  return written();
}

}  // namespace shiftbook::client
