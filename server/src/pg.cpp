// A thin layer over libpq (pg.h).
#include "pg.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace shiftbook::server::pg {
namespace {

// Type OIDs (pg_type.h), as fixed by PostgreSQL.
constexpr Oid kInt8 = 20;
constexpr Oid kBytea = 17;
constexpr Oid kText = 25;
constexpr Oid kInt8Array = 1016;
constexpr Oid kByteaArray = 1001;
constexpr Oid kTextArray = 1009;
// Connections kept open for the next call. How many are open at once is bounded by the server's
// request threads (one lease a request, `serve --threads`, default 32) and its background ledger
// build; keeping every one of those avoids opening a PostgreSQL connection (a process of its own on
// the database server, a few milliseconds) per request under load. The benchmark's 200 terminals
// made 265 connections in 20 s with 16 kept (docs/BENCHMARK.md).
constexpr std::size_t kMaxIdle = 256;

void put32(std::string& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}
void put64(std::string& out, std::uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}
void put32(Bytes& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>((v >> s) & 0xff));
}
void put16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

// A one-dimensional array in PostgreSQL's binary format: its element type and each element.
template <class Items, class Put>
std::string array_of(Oid element, const Items& items, Put put) {
  std::string out;
  put32(out, 1);  // dimensions
  put32(out, 0);  // no NULLs
  put32(out, element);
  put32(out, static_cast<std::uint32_t>(items.size()));
  put32(out, 1);  // lower bound
  for (const auto& item : items) put(out, item);
  return out;
}

// The status an error of PostgreSQL maps to, by its SQLSTATE (docs/POSTGRES.md, "Errors").
Status status_of(const char* sqlstate, const std::string& message) {
  const std::string state = sqlstate ? sqlstate : "";
  if (state.rfind("23", 0) == 0) return already_exists(message);
  if (state == "40001" || state == "40P01") return aborted(message);
  if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03" || state.empty()) {
    return unavailable(message);
  }
  return internal_error(message);
}

std::string first_line(const char* text) {
  std::string s = text ? text : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

void ignore_notice(void*, const char*) {}

}  // namespace

// ---- Params ---------------------------------------------------------------------------------------

Params& Params::add(unsigned type, const char* data, std::size_t size) {
  types_.push_back(type);
  // A null pointer would be SQL NULL: an empty value points somewhere.
  values_.push_back(data ? data : "");
  lengths_.push_back(static_cast<int>(size));
  return *this;
}

Params& Params::add_owned(unsigned type, std::string data) {
  owned_.push_back(std::move(data));
  return add(type, owned_.back().data(), owned_.back().size());
}

Params& Params::i64(std::int64_t v) {
  std::string s;
  put64(s, static_cast<std::uint64_t>(v));
  return add_owned(kInt8, std::move(s));
}

Params& Params::bytes(ByteView b) { return add(kBytea, reinterpret_cast<const char*>(b.data()), b.size()); }

Params& Params::text(std::string_view s) { return add(kText, s.data(), s.size()); }

Params& Params::bytes_array(const std::vector<ByteView>& items) {
  return add_owned(kByteaArray, array_of(kBytea, items, [](std::string& out, ByteView b) {
                     put32(out, static_cast<std::uint32_t>(b.size()));
                     out.append(reinterpret_cast<const char*>(b.data()), b.size());
                   }));
}

Params& Params::text_array(const std::vector<std::string>& items) {
  return add_owned(kTextArray, array_of(kText, items, [](std::string& out, const std::string& s) {
                     put32(out, static_cast<std::uint32_t>(s.size()));
                     out += s;
                   }));
}

Params& Params::i64_array(const std::vector<std::int64_t>& items) {
  return add_owned(kInt8Array, array_of(kInt8, items, [](std::string& out, std::int64_t v) {
                     put32(out, 8);
                     put64(out, static_cast<std::uint64_t>(v));
                   }));
}

// ---- rows -----------------------------------------------------------------------------------------

std::int64_t Row::int64(int col) const {
  const auto* p = reinterpret_cast<const std::uint8_t*>(PQgetvalue(r_, row_, col));
  std::uint64_t v = 0;
  const int n = PQgetlength(r_, row_, col);
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  // Narrower integers (INTEGER, SMALLINT) are sign-extended.
  if (n > 0 && n < 8 && (p[0] & 0x80)) v |= ~std::uint64_t{0} << (8 * n);
  return static_cast<std::int64_t>(v);
}

std::string Row::text(int col) const {
  return std::string(PQgetvalue(r_, row_, col), static_cast<std::size_t>(PQgetlength(r_, row_, col)));
}

ByteView Row::view(int col) const {
  return {reinterpret_cast<const std::uint8_t*>(PQgetvalue(r_, row_, col)),
          static_cast<std::size_t>(PQgetlength(r_, row_, col))};
}

Bytes Row::blob(int col) const {
  ByteView v = view(col);
  return Bytes(v.begin(), v.end());
}

std::array<std::uint8_t, 32> Row::blob32(int col) const {
  std::array<std::uint8_t, 32> out{};
  ByteView v = view(col);
  if (v.size() == out.size()) std::copy(v.begin(), v.end(), out.begin());
  return out;
}

bool Row::is_null(int col) const { return PQgetisnull(r_, row_, col) != 0; }

int Rows::size() const { return PQntuples(r_.get()); }

void Rows::clear(pg_result* r) { PQclear(r); }

// ---- connections ----------------------------------------------------------------------------------

Result<std::unique_ptr<Conn>> Conn::connect(const std::string& url) {
  PGconn* c = PQconnectdb(url.c_str());
  if (c == nullptr) return resource_exhausted("cannot make a PostgreSQL connection (out of memory)");
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string where = std::string(PQhost(c) ? PQhost(c) : "?") + ":" + (PQport(c) ? PQport(c) : "?");
    const std::string why = first_line(PQerrorMessage(c));
    PQfinish(c);
    return unavailable("cannot connect to the PostgreSQL server at " + where + ": " + why);
  }
  PQsetNoticeProcessor(c, &ignore_notice, nullptr);
  return std::unique_ptr<Conn>(new Conn(c));
}

Conn::~Conn() { PQfinish(c_); }

std::string Conn::describe() const {
  auto or_unknown = [](const char* s) { return std::string(s && *s ? s : "?"); };
  return "database " + or_unknown(PQdb(c_)) + " on " + or_unknown(PQhost(c_)) + ":" + or_unknown(PQport(c_));
}

bool Conn::reusable() const { return PQstatus(c_) == CONNECTION_OK && PQtransactionStatus(c_) == PQTRANS_IDLE; }

bool Conn::still_open() {
  if (PQstatus(c_) != CONNECTION_OK) return false;
  pollfd p{PQsocket(c_), POLLIN, 0};
  // Nothing should arrive on a connection nobody is using (this code neither LISTENs nor leaves a
  // query running): what does is almost always the server's last words before it closed the
  // stream (FATAL: terminating connection ...), which libpq has not read yet. Rather than tell a
  // stray notice from those, a connection that heard anything while idle is not used again.
  return ::poll(&p, 1, 0) == 0;
}

Status Conn::check(pg_result* r, std::string_view what) {
  const ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Status::ok();
  const std::string message = std::string(what) + ": " +
                              first_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c_));
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (PQstatus(c_) != CONNECTION_OK) return unavailable(message + " (the connection to PostgreSQL was lost)");
  return status_of(state, message);
}

Status Conn::commit() {
  PGresult* r = PQexec(c_, "COMMIT");
  Status s = check(r, "committing");
  // COMMIT of a transaction a failed statement aborted rolls it back and says so: never a success.
  if (s.is_ok() && std::strcmp(PQcmdStatus(r), "COMMIT") != 0) {
    s = aborted("committing: the transaction was rolled back (" + std::string(PQcmdStatus(r)) + ")");
  }
  PQclear(r);
  return s;
}

Status Conn::exec(std::string_view sql) {
  const std::string text(sql);
  PGresult* r = PQexec(c_, text.c_str());
  Status s = check(r, "running SQL");
  PQclear(r);
  return s;
}

Result<Rows> Conn::query(std::string_view sql, const Params& p, std::string_view what) {
  const std::string key(sql);
  auto it = prepared_.find(key);
  if (it == prepared_.end()) {
    const std::string name = "s" + std::to_string(prepared_.size() + 1);
    std::vector<Oid> types(p.types_.begin(), p.types_.end());
    PGresult* r = PQprepare(c_, name.c_str(), key.c_str(), static_cast<int>(types.size()), types.data());
    Status s = check(r, std::string("preparing ") + std::string(what));
    PQclear(r);
    SB_RETURN_IF_ERROR(s);
    it = prepared_.emplace(key, name).first;
  }
  const std::vector<int> formats(p.values_.size(), 1);
  PGresult* r = PQexecPrepared(c_, it->second.c_str(), static_cast<int>(p.values_.size()), p.values_.data(),
                               p.lengths_.data(), formats.data(), 1);
  Rows rows(r);
  SB_RETURN_IF_ERROR(check(r, what));
  return rows;
}

Status Conn::run(std::string_view sql, const Params& params, std::string_view what) {
  return query(sql, params, what).status();
}

Status Conn::copy_in(std::string_view copy_sql, ByteView data, std::string_view what) {
  const std::string text(copy_sql);
  {
    PGresult* r = PQexec(c_, text.c_str());
    const bool ready = PQresultStatus(r) == PGRES_COPY_IN;
    Status s = ready ? Status::ok() : check(r, what);
    PQclear(r);
    SB_RETURN_IF_ERROR(s);
  }
  const bool sent = PQputCopyData(c_, reinterpret_cast<const char*>(data.data()), static_cast<int>(data.size())) == 1;
  if (PQputCopyEnd(c_, sent ? nullptr : "the data could not be sent") != 1) {
    return unavailable(std::string(what) + ": " + first_line(PQerrorMessage(c_)));
  }
  Status s;
  while (PGresult* r = PQgetResult(c_)) {
    if (s.is_ok()) s = check(r, what);
    PQclear(r);
  }
  return s;
}

// ---- transactions ---------------------------------------------------------------------------------

Result<Tx> Tx::begin(Conn& conn, Kind kind) {
  SB_RETURN_IF_ERROR(conn.exec(kind == Kind::kSnapshot ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN"));
  return Tx(&conn);
}

Tx::~Tx() {
  // Best effort: a connection that cannot roll back is not reused (Conn::reusable).
  if (conn_) (void)conn_->exec("ROLLBACK");
}

Status Tx::commit() {
  Conn* conn = conn_;
  conn_ = nullptr;
  return conn->commit();
}

// ---- COPY rows ------------------------------------------------------------------------------------

CopyRows::CopyRows() {
  static constexpr std::uint8_t kSignature[] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
  buf_.assign(std::begin(kSignature), std::end(kSignature));
  put32(buf_, 0);  // flags
  put32(buf_, 0);  // header extension length
}

void CopyRows::row(int fields) { put16(buf_, static_cast<std::uint16_t>(fields)); }

std::size_t CopyRows::i64(std::int64_t v) {
  put32(buf_, 8);
  const std::size_t at = buf_.size();
  put_u64(buf_, static_cast<std::uint64_t>(v));
  return at;
}

void CopyRows::bytes(ByteView b) {
  put32(buf_, static_cast<std::uint32_t>(b.size()));
  buf_.insert(buf_.end(), b.begin(), b.end());
}

void CopyRows::text(std::string_view s) { bytes(ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size())); }

void CopyRows::null() { put32(buf_, 0xffffffff); }  // length -1

void CopyRows::patch_i64(std::size_t at, std::int64_t v) {
  for (int i = 0; i < 8; ++i) buf_[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (56 - 8 * i));
}

ByteView CopyRows::finish() {
  put16(buf_, 0xffff);
  return {buf_.data(), buf_.size()};
}

// ---- the pool -------------------------------------------------------------------------------------

Result<Pool::Lease> Pool::acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      if (conn->still_open()) return Lease(this, std::move(conn));
    }
  }
  SB_ASSIGN_OR_RETURN(auto conn, Conn::connect(url_));
  return Lease(this, std::move(conn));
}

void Pool::give_back(std::unique_ptr<Conn> conn) {
  if (!conn->reusable()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(conn));
}

std::string with_url_param(const std::string& url, const std::string& param, const std::string& value) {
  std::string escaped;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char ch : value) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.') {
      escaped.push_back(static_cast<char>(ch));
    } else {
      escaped += '%';
      escaped += kHex[ch >> 4];
      escaped += kHex[ch & 15];
    }
  }
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param + "=" + escaped;
}

}  // namespace shiftbook::server::pg
