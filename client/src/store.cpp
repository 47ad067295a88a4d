// Opening, creating and migrating the store; appending the terminal's own events.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "shiftbook/kinds.h"
#include "shiftbook/schema_client.h"
#include "store_impl.h"

namespace shiftbook::client {
namespace fs = std::filesystem;

namespace {

constexpr const char* kDbName = "terminal.db";
constexpr const char* kKeyName = "device.key";
constexpr const char* kFormat = "shiftbook-terminal";

Status configure(Db& db, const StoreOptions& options) {
  SB_RETURN_IF_ERROR(db.exec("PRAGMA busy_timeout = 10000"));
  // Reading the journal mode is the first touch of the file: a file that is not a database
  // fails here, and we say so in the user's words.
  auto mode = db.prepare("PRAGMA journal_mode = WAL");
  if (!mode.is_ok()) return mode.status();
  auto row = mode->step();
  if (!row.is_ok()) return row.status();
  // FULL: every commit of the WAL is fsynced, so an entry is on disk when the command returns.
  SB_RETURN_IF_ERROR(db.exec(options.relaxed_durability ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL"));
  return Status::ok();
}

// The first schema with the merge rules' derived tables (0006_merge.sql): a store migrated from an
// earlier one replays its events once, to fill them.
constexpr std::int64_t kMergeSchema = 6;

// Migrates the store; returns the schema version it had.
Result<std::int64_t> migrate(Db& db) {
  SB_ASSIGN_OR_RETURN(std::int64_t current, db.query_int("PRAGMA user_version"));
  if (current > known_schema_version()) {
    return failed_precondition("the store has schema version " + std::to_string(current) +
                               ", newer than this shiftbook knows (" + std::to_string(known_schema_version()) +
                               "); install a newer shiftbook to open it");
  }
  SB_RETURN_IF_ERROR(apply_migrations(db, current, schema::k_client_migrations));
  return current;
}

Result<Bytes> meta_blob(Db& db, const char* key) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT value FROM meta WHERE key = ?"));
  st.bind(1, key);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found(std::string("store has no ") + key);
  return st.blob(0);
}

Status put_meta(Db& db, const char* key, ByteView value) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO meta(key, value) VALUES(?, ?) "
                                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  return st.bind(1, key).bind_blob(2, value).run();
}

Status put_meta_int(Db& db, const char* key, std::int64_t value) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO meta(key, value) VALUES(?, ?) "
                                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  return st.bind(1, key).bind(2, value).run();
}

Status damaged(const std::string& dir, const Status& s) {
  if (s.code() == Code::kDataLoss) {
    return data_loss("the store in " + dir + " is not a Shiftbook store or is damaged (" + s.message() +
                     "); restore it from a backup or run 'shiftbook init' in an empty folder");
  }
  return s;
}

}  // namespace

int known_schema_version() { return schema::k_client_migrations.back().version; }

std::string default_store_dir() {
  if (const char* s = std::getenv("SHIFTBOOK_STORE"); s && *s) return s;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/shiftbook";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.local/share/shiftbook";
  return ".shiftbook";
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const PublicKey& Store::device() const { return impl_->key.public_key(); }
const std::string& Store::dir() const { return impl_->dir; }

Result<std::unique_ptr<Store>> Store::init(const std::string& dir, const Clock& clock, StoreOptions options) {
  SB_RETURN_IF_ERROR(crypto_init());
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return permission_denied("cannot create the store folder " + dir + ": " + ec.message());
  std::string db_path = dir + "/" + kDbName;
  if (fs::exists(db_path, ec)) {
    return already_exists("a store already exists in " + dir + "; use it, or choose another folder with --store");
  }
  // The folder holds the device key and the PIN hashes: only its owner may list or enter it,
  // whatever the umask made of it.
  if (::chmod(dir.c_str(), 0700) != 0) return errno_status("cannot make the store folder " + dir + " private");
  // A key without a database is left by an init that was interrupted; nothing was ever signed
  // with it, so a fresh key replaces it.
  DeviceKey key = DeviceKey::generate();
  SB_RETURN_IF_ERROR(write_file_atomic(dir + "/" + kKeyName, key.secret(), 0600));

  SB_ASSIGN_OR_RETURN(Db db, Db::open(db_path + ".new", true, options.vfs));
  SB_RETURN_IF_ERROR(configure(db, options));
  SB_RETURN_IF_ERROR(migrate(db).status());
  {
    SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
    SB_RETURN_IF_ERROR(put_meta(db, "format", as_bytes(kFormat)));
    SB_RETURN_IF_ERROR(put_meta(db, "device", key.public_key()));
    SB_RETURN_IF_ERROR(put_meta_int(db, "hlc", 0));
    SB_RETURN_IF_ERROR(put_meta_int(db, "created_ms", clock.now_ms()));
    SB_RETURN_IF_ERROR(tx.commit());
  }
  // Leave WAL mode to fold everything into one file, rename it into place, then reopen: a crash
  // before the rename leaves no terminal.db, so init can simply run again.
  SB_RETURN_IF_ERROR(db.exec("PRAGMA journal_mode = DELETE"));
  SB_RETURN_IF_ERROR(db.close());
  if (::rename((db_path + ".new").c_str(), db_path.c_str()) != 0) return errno_status("cannot create " + db_path);
  // The rename is what makes the store exist: it is on disk before init reports success.
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    const int synced = ::fsync(dfd);
    const int e = errno;
    ::close(dfd);
    errno = e;
    if (synced != 0) return errno_status("cannot sync " + dir);
  }
  return open(dir, clock, std::move(options));
}

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, const Clock& clock, StoreOptions options) {
  SB_RETURN_IF_ERROR(crypto_init());
  std::string db_path = dir + "/" + kDbName;
  std::error_code ec;
  if (!fs::exists(db_path, ec)) {
    return not_found("no store in " + dir + "; run 'shiftbook init' first (or name the store with --store)");
  }
  SB_ASSIGN_OR_RETURN(Db db, Db::open(db_path, false, options.vfs));
  // init migrates before the file gets its name, so a store never has user_version 0: such a file
  // is another program's database, refused before anything (journal mode, migrations) writes to it.
  SB_RETURN_IF_ERROR(damaged(dir, db.exec("PRAGMA busy_timeout = 10000")));
  auto version = db.query_int("PRAGMA user_version");
  if (!version.is_ok()) return damaged(dir, version.status());
  if (*version == 0) return data_loss("the store in " + dir + " is not a Shiftbook terminal store (no Shiftbook schema)");
  SB_RETURN_IF_ERROR(damaged(dir, configure(db, options)));
  auto migrated_from = migrate(db);
  if (!migrated_from.is_ok()) return damaged(dir, migrated_from.status());
  auto format = meta_blob(db, "format");
  if (!format.is_ok() || Bytes(*format) != Bytes(as_bytes(kFormat).begin(), as_bytes(kFormat).end())) {
    return data_loss("the store in " + dir + " is not a Shiftbook terminal store (no format mark)");
  }
  SB_ASSIGN_OR_RETURN(Bytes secret, read_file_bytes(dir + "/" + kKeyName));
  auto key = DeviceKey::from_secret(secret);
  std::fill(secret.begin(), secret.end(), 0);
  if (!key.is_ok()) return data_loss("device key in " + dir + " is damaged: " + key.status().message());
  SB_ASSIGN_OR_RETURN(Bytes device, meta_blob(db, "device"));
  if (device != Bytes(key->public_key().begin(), key->public_key().end())) {
    return data_loss("the device key in " + dir + " does not belong to this store");
  }
  auto impl = std::make_unique<Impl>(dir, std::move(db), std::move(key).value(), clock, std::move(options));
  std::unique_ptr<Store> store(new Store(std::move(impl)));
  if (*migrated_from < kMergeSchema) {
    SB_RETURN_IF_ERROR(damaged(dir, store->rebuild_derived().with_context("replaying the events after migrating: ")));
  }
  return store;
}

Result<Recorded> Store::Impl::append_local(const std::string& author, std::string_view kind, Json body) {
  Event e;
  e.device = key.public_key();
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT seq, hash FROM heads WHERE device = ?"));
    st.bind_blob(1, e.device);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) {
      e.seq = static_cast<std::uint64_t>(st.int64(0)) + 1;
      Bytes prev = st.blob(1);
      if (prev.size() != e.prev.size()) return data_loss("the stored chain head is damaged");
      std::copy(prev.begin(), prev.end(), e.prev.begin());
    } else {
      e.seq = 1;
    }
  }
  SB_ASSIGN_OR_RETURN(std::int64_t last_hlc, db.query_int("SELECT value FROM meta WHERE key = 'hlc'"));
  e.hlc = hlc_next(static_cast<std::uint64_t>(last_hlc), clock->now_ms());
  e.author = author;
  e.kind = std::string(kind);
  e.body = std::move(body);
  SB_ASSIGN_OR_RETURN(SealedEvent sealed, seal_event(std::move(e)));
  const Event& ev = sealed.event;
  std::int64_t arrival = 0;
  {
    // arrival, the rowid, is numbered by SQLite: after every event stored before.
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO events(device, seq, hlc, author, kind, hash, raw, recorded_ms) "
                                            "VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
    st.bind_blob(1, ev.device)
        .bind(2, static_cast<std::int64_t>(ev.seq))
        .bind(3, static_cast<std::int64_t>(ev.hlc))
        .bind(4, ev.author)
        .bind(5, ev.kind)
        .bind_blob(6, ev.hash)
        .bind_blob(7, sealed.bytes)
        .bind(8, clock->now_ms());
    SB_RETURN_IF_ERROR(st.run());
    arrival = sqlite3_last_insert_rowid(db.handle());
  }
  SignedHead head = sign_head(key, ev.seq, ev.hash);
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO heads(device, seq, hash, signature) VALUES(?, ?, ?, ?) "
                                            "ON CONFLICT(device) DO UPDATE SET seq = excluded.seq, "
                                            "hash = excluded.hash, signature = excluded.signature"));
    SB_RETURN_IF_ERROR(st.bind_blob(1, head.device)
                           .bind(2, static_cast<std::int64_t>(head.seq))
                           .bind_blob(3, head.hash)
                           .bind_blob(4, head.signature)
                           .run());
  }
  SB_RETURN_IF_ERROR(put_meta_int(db, "hlc", static_cast<std::int64_t>(ev.hlc)));
  SB_RETURN_IF_ERROR(apply_event(ev, sealed.bytes, arrival));
  return Recorded{ev.seq, ev.hash, ev.kind};
}

bool is_entry_number(std::string_view ref) {
  // Seven digits name ten million events, more than a terminal records; eight or more digits
  // are a hash prefix, since about one hash in forty starts with eight decimal digits.
  return !ref.empty() && ref.size() <= 7 &&
         std::all_of(ref.begin(), ref.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<Hash> Store::Impl::resolve_event(const std::string& ref) const {
  if (is_entry_number(ref)) {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT hash FROM events WHERE device = ? AND seq = ?"));
    st.bind_blob(1, key.public_key()).bind(2, std::stoll(ref));
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) return not_found("there is no entry " + ref + " on this terminal ('shiftbook list' shows them)");
    Hash h = st.blob32(0);
    return h;
  }
  if (ref.size() < 8 || ref.size() > 64) {
    return invalid_argument("'" + ref + "' names no entry: give its number or at least 8 digits of its hash");
  }
  auto lo = from_hex(ref + std::string(64 - ref.size(), '0'));
  auto hi = from_hex(ref + std::string(64 - ref.size(), 'f'));
  if (!lo.is_ok() || !hi.is_ok()) {
    return invalid_argument("'" + ref + "' names no entry: give its number or at least 8 digits of its hash");
  }
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT hash FROM events WHERE hash BETWEEN ? AND ? LIMIT 2"));
  st.bind_blob(1, *lo).bind_blob(2, *hi);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("no entry has a hash starting " + ref);
  Hash h = st.blob32(0);
  SB_ASSIGN_OR_RETURN(bool second, st.step());
  if (second) return invalid_argument("several entries have hashes starting " + ref + "; give more digits");
  return h;
}

Result<Hash> Store::Impl::entry_of(const Hash& version) const {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT entry FROM versions "
                                          "WHERE arrival = (SELECT arrival FROM events WHERE hash = ?)"));
  st.bind_blob(1, version);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("that event is not an hours, output, bonus or confirmation entry");
  Hash h = st.blob32(0);
  return h;
}

Result<Hash> Store::Impl::resolve_open_shift(const std::string& ref) const {
  if (ref.empty()) {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT id, seq, unit FROM shifts WHERE device = ? AND closed_seq IS NULL "
                                             "ORDER BY seq LIMIT 3"));
    st.bind_blob(1, key.public_key());
    std::vector<std::pair<Hash, std::string>> open;
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      Hash h = st.blob32(0);
      open.emplace_back(h, std::to_string(st.int64(1)) + " (unit " + st.text(2) + ")");
    }
    if (open.empty()) return failed_precondition("no shift is open on this terminal; run 'shiftbook shift open' first");
    if (open.size() > 1) {
      return failed_precondition("several shifts are open (" + open[0].second + ", " + open[1].second +
                                 (open.size() > 2 ? ", ..." : "") + "); name one with --shift");
    }
    return open[0].first;
  }
  SB_ASSIGN_OR_RETURN(Hash h, resolve_event(ref));
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT closed_seq FROM shifts WHERE id = ?"));
  st.bind_blob(1, h);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("'" + ref + "' is not a shift ('shiftbook shift list' shows them)");
  if (!st.is_null(0)) return failed_precondition("shift " + ref + " is closed; open a new shift to record more");
  return h;
}

Result<Hash> Store::find_shift(const std::string& shift_ref) const {
  const std::string not_a_shift = "'" + shift_ref + "' is not a shift ('shiftbook shift list' shows them)";
  auto h = impl_->resolve_event(shift_ref);
  if (!h.is_ok()) return h.status().code() == Code::kNotFound ? not_found(not_a_shift) : h.status();
  SB_ASSIGN_OR_RETURN(Stmt st, impl_->db.prepare("SELECT 1 FROM shifts WHERE id = ?"));
  st.bind_blob(1, *h);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found(not_a_shift);
  return h;
}

Result<Event> Store::Impl::load_event(const Hash& hash) const {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT raw FROM events WHERE hash = ?"));
  st.bind_blob(1, hash);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("no event with hash " + to_hex(hash));
  Bytes raw = st.blob(0);
  auto e = decode_event(raw);
  if (!e.is_ok()) return data_loss("a stored event is damaged: " + e.status().message());
  return e;
}

Result<std::vector<Bytes>> Store::raw_events(const PublicKey& device) const {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT raw FROM events WHERE device = ? ORDER BY seq"));
  st.bind_blob(1, device);
  std::vector<Bytes> out;
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(st.blob(0));
  }
  return out;
}

}  // namespace shiftbook::client
