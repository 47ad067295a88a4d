#include "support/crash_checks.h"

#include <sqlite3.h>

#include "shiftbook/canonical.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <utility>

namespace shiftbook::testing::crash {

namespace {

// One read-only connection; queries with at most one blob parameter.
class ReadOnlyDb {
 public:
  static Result<ReadOnlyDb> open(const std::string& path) {
    ReadOnlyDb db;
    if (sqlite3_open_v2(path.c_str(), &db.db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      return internal_error("cannot open " + path + " to read it: " + sqlite3_errmsg(db.db_));
    }
    // A writer may be committing right now; WAL readers do not wait for it, but recovering the
    // WAL index after a kill may take a moment's lock.
    sqlite3_busy_timeout(db.db_, 10'000);
    db.path_ = path;
    return db;
  }
  ReadOnlyDb() = default;
  ReadOnlyDb(ReadOnlyDb&& o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}
  ReadOnlyDb& operator=(ReadOnlyDb&&) = delete;
  ReadOnlyDb(const ReadOnlyDb&) = delete;
  ReadOnlyDb& operator=(const ReadOnlyDb&) = delete;
  ~ReadOnlyDb() { sqlite3_close(db_); }

  // Runs `sql` (binding `param` to ?1 when the query has one) and calls `row` for every row.
  Status each(const char* sql, ByteView param, const std::function<void(sqlite3_stmt*)>& row) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) return failure(sql);
    if (sqlite3_bind_parameter_count(st) > 0) {
      sqlite3_bind_blob(st, 1, param.data(), static_cast<int>(param.size()), SQLITE_TRANSIENT);
    }
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? Status::ok() : failure(sql);
  }

 private:
  Status failure(const char* sql) const {
    return internal_error("reading " + path_ + " (" + sql + "): " + sqlite3_errmsg(db_));
  }
  sqlite3* db_ = nullptr;
  std::string path_;
};

Bytes blob(sqlite3_stmt* st, int col) {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st, col));
  return Bytes(p, p + sqlite3_column_bytes(st, col));
}

template <std::size_t N>
std::array<std::uint8_t, N> fixed(sqlite3_stmt* st, int col) {
  std::array<std::uint8_t, N> out{};
  if (sqlite3_column_bytes(st, col) == static_cast<int>(N)) std::memcpy(out.data(), sqlite3_column_blob(st, col), N);
  return out;
}

std::uint64_t u64(sqlite3_stmt* st, int col) { return static_cast<std::uint64_t>(sqlite3_column_int64(st, col)); }

StoredEvent stored_event(sqlite3_stmt* st) { return StoredEvent{u64(st, 0), fixed<32>(st, 1), blob(st, 2)}; }

std::string number(std::uint64_t n) { return std::to_string(n); }

}  // namespace

Result<ServerView> read_server(const std::string& db_path, const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(ReadOnlyDb db, ReadOnlyDb::open(db_path));
  ServerView v;
  // One read transaction, so that the chain, its heads and the receipt are one moment's.
  SB_RETURN_IF_ERROR(db.each("BEGIN", {}, [](sqlite3_stmt*) {}));
  SB_RETURN_IF_ERROR(db.each("SELECT seq, hash FROM chains WHERE device = ?1", device, [&](sqlite3_stmt* st) {
    v.held = u64(st, 0);
    v.held_hash = fixed<32>(st, 1);
  }));
  SB_RETURN_IF_ERROR(db.each("SELECT e.seq, e.hash, e.raw FROM events e JOIN chains c ON c.id = e.chain "
                             "WHERE c.device = ?1 ORDER BY e.seq",
                             device, [&](sqlite3_stmt* st) { v.events.push_back(stored_event(st)); }));
  SB_RETURN_IF_ERROR(db.each("SELECT h.seq, h.hash, h.signature FROM heads h JOIN chains c ON c.id = h.chain "
                             "WHERE c.device = ?1 ORDER BY h.last_pos",
                             device, [&](sqlite3_stmt* st) {
                               v.heads.push_back(SignedHead{device, u64(st, 0), fixed<32>(st, 1), fixed<64>(st, 2)});
                             }));
  SB_RETURN_IF_ERROR(db.each("SELECT seq, hash, server_ms, signature FROM receipts WHERE device = ?1", device,
                             [&](sqlite3_stmt* st) {
                               v.receipt = Receipt{device, u64(st, 0), fixed<32>(st, 1), sqlite3_column_int64(st, 2),
                                                   fixed<64>(st, 3)};
                             }));
  SB_RETURN_IF_ERROR(db.each("COMMIT", {}, [](sqlite3_stmt*) {}));
  return v;
}

Result<std::uint64_t> read_server_held(const std::string& db_path, const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(ReadOnlyDb db, ReadOnlyDb::open(db_path));
  std::uint64_t held = 0;
  SB_RETURN_IF_ERROR(db.each("SELECT seq FROM chains WHERE device = ?1", device, [&](sqlite3_stmt* st) {
    held = u64(st, 0);
  }));
  return held;
}

Result<std::vector<StoredEvent>> read_terminal_chain(const std::string& db_path, const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(ReadOnlyDb db, ReadOnlyDb::open(db_path));
  std::vector<StoredEvent> out;
  SB_RETURN_IF_ERROR(db.each("SELECT seq, hash, raw FROM events WHERE device = ?1 ORDER BY seq", device,
                             [&](sqlite3_stmt* st) { out.push_back(stored_event(st)); }));
  return out;
}

Result<std::uint64_t> read_terminal_count(const std::string& db_path, const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(ReadOnlyDb db, ReadOnlyDb::open(db_path));
  std::uint64_t n = 0;
  SB_RETURN_IF_ERROR(db.each("SELECT count(*) FROM events WHERE device = ?1", device, [&](sqlite3_stmt* st) {
    n = u64(st, 0);
  }));
  return n;
}

Result<TerminalSync> read_terminal_sync(const std::string& db_path) {
  SB_ASSIGN_OR_RETURN(ReadOnlyDb db, ReadOnlyDb::open(db_path));
  std::optional<TerminalSync> out;
  SB_RETURN_IF_ERROR(db.each("SELECT server_key, receipt_seq, receipt_hash, cursor FROM enrollment", {},
                             [&](sqlite3_stmt* st) {
                               TerminalSync s;
                               s.server_key = fixed<32>(st, 0);
                               s.receipt_seq = u64(st, 1);
                               if (sqlite3_column_type(st, 2) != SQLITE_NULL) s.receipt_hash = fixed<32>(st, 2);
                               s.cursor = u64(st, 3);
                               out = s;
                             }));
  if (!out) return failed_precondition(db_path + " holds no enrollment");
  return *out;
}

std::uint64_t sync_round_trips(const std::string& printed) {
  const Json report = Json::parse(printed, nullptr, false);
  if (!report.is_object() || !report.contains("round_trips") || !report["round_trips"].is_number_unsigned()) return 0;
  return report["round_trips"].get<std::uint64_t>();
}

void check_server_chain(const ServerView& server, const PublicKey& device, const PublicKey& server_key,
                        std::uint64_t expected, const std::string& who, Failures& failures) {
  const std::string chain = "the server's copy of " + who + "'s chain";
  if (server.events.size() != expected) {
    failures.push_back(chain + " has " + number(server.events.size()) + " events, not " + number(expected));
  }
  std::optional<Event> previous;
  for (std::size_t i = 0; i < server.events.size(); ++i) {
    const StoredEvent& stored = server.events[i];
    const std::string name = chain + ", event " + number(stored.seq);
    if (stored.seq != i + 1) {
      failures.push_back(chain + " holds seq " + number(stored.seq) + " where " + number(i + 1) +
                         " belongs (a gap or a duplicate)");
      return;
    }
    auto decoded = decode_event(stored.raw);
    if (!decoded.is_ok()) {
      failures.push_back(name + ": does not decode: " + decoded.status().message());
      return;
    }
    if (decoded->hash != stored.hash || decoded->device != device || decoded->seq != stored.seq) {
      failures.push_back(name + ": its bytes are not the stored hash, device or seq");
      return;
    }
    if (Status linked = check_link(previous ? &*previous : nullptr, *decoded); !linked.is_ok()) {
      failures.push_back(name + ": " + linked.message());
      return;
    }
    previous = std::move(*decoded);
  }
  const Hash last = server.events.empty() ? Hash{} : server.events.back().hash;
  if (server.held != expected || server.held_hash != last) {
    failures.push_back(chain + " ends (chains table) at seq " + number(server.held) + ", not at its last event " +
                       number(server.events.size()));
  }
  for (const SignedHead& h : server.heads) {
    const bool names_held = h.seq >= 1 && h.seq <= server.events.size() && server.events[h.seq - 1].hash == h.hash;
    if (!verify_head(h) || !names_held) {
      failures.push_back(chain + ": the stored head at seq " + number(h.seq) +
                         (names_held ? " does not verify with the device key" : " names no event held"));
    }
  }
  if (server.heads.empty() || server.heads.back().seq != expected) {
    failures.push_back(chain + ": the last stored head is not at seq " + number(expected));
  }
  if (!server.receipt) {
    failures.push_back("the server holds no receipt for " + who);
  } else if (server.receipt->seq != expected || server.receipt->hash != last ||
             !verify_receipt(server_key, *server.receipt)) {
    failures.push_back("the server's receipt for " + who + " (seq " + number(server.receipt->seq) +
                       ") is not a valid receipt for its events 1.." + number(expected));
  }
}

void check_same_chain(const std::vector<StoredEvent>& want, const std::vector<StoredEvent>& got,
                      const std::string& what, Failures& failures) {
  if (want == got) return;
  const auto differ = std::mismatch(want.begin(), want.end(), got.begin(), got.end());
  const std::size_t at = static_cast<std::size_t>(differ.first - want.begin());
  std::string where = at < want.size() ? "seq " + number(want[at].seq) : "after seq " + number(want.size());
  if (at < want.size() && at < got.size() && want[at].seq == got[at].seq) where += " has other bytes";
  failures.push_back(what + ": " + number(got.size()) + " events where " + number(want.size()) +
                     " belong; the first difference is at " + where);
}

}  // namespace shiftbook::testing::crash
