// A thin layer over libpq for the PostgreSQL backend of the server's storage (docs/POSTGRES.md):
// connections whose statements are prepared once, parameters and results in binary format, COPY
// in binary format, transactions that roll back unless committed, a pool of connections, and
// PostgreSQL's errors turned into Status by their SQLSTATE. The only file that includes libpq.
// A Conn is used by one thread at a time; the Pool is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shiftbook/bytes.h"
#include "shiftbook/status.h"

struct pg_conn;
struct pg_result;

namespace shiftbook::server::pg {

// The parameters of one statement ($1, $2, ... in the order added), each sent in binary format.
// bytes() and text() point at the caller's memory, which must outlive the statement's run.
class Params {
 public:
  Params& i64(std::int64_t v);
  Params& u64(std::uint64_t v) { return i64(static_cast<std::int64_t>(v)); }
  Params& bytes(ByteView b);
  Params& text(std::string_view s);
  Params& bytes_array(const std::vector<ByteView>& items);
  Params& text_array(const std::vector<std::string>& items);
  Params& i64_array(const std::vector<std::int64_t>& items);

 private:
  friend class Conn;
  Params& add(unsigned type, const char* data, std::size_t size);
  Params& add_owned(unsigned type, std::string data);
  std::vector<unsigned> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::deque<std::string> owned_;  // encoded values; a deque keeps their addresses
};

// One row of a result, read by the same names as SQLite's Stmt (so row mappers serve both).
// Columns are BIGINT (int64), BYTEA (blob) or TEXT (text); a NULL reads as 0 or empty.
class Row {
 public:
  Row(const pg_result* r, int row) : r_(r), row_(row) {}
  std::int64_t int64(int col) const;
  std::string text(int col) const;
  Bytes blob(int col) const;
  ByteView view(int col) const;
  std::array<std::uint8_t, 32> blob32(int col) const;  // all zero when not 32 bytes
  bool is_null(int col) const;

 private:
  const pg_result* r_;
  int row_;
};

class Rows {
 public:
  explicit Rows(pg_result* r) : r_(r, &clear) {}
  int size() const;
  bool empty() const { return size() == 0; }
  Row operator[](int i) const { return Row(r_.get(), i); }

 private:
  static void clear(pg_result* r);
  std::unique_ptr<pg_result, void (*)(pg_result*)> r_;
};

class Conn {
 public:
  // Connects to `url` (libpq's URI or key=value form). unavailable when the server cannot be
  // reached; the message names host and port, never a password.
  static Result<std::unique_ptr<Conn>> connect(const std::string& url);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs `sql` as it is (several statements allowed, no parameters, no rows back).
  Status exec(std::string_view sql);
  // COMMIT; aborted when PostgreSQL rolled the transaction back instead.
  Status commit();
  // Runs `sql` (prepared on this connection the first time) with `params`; `what` names its
  // purpose in an error's message.
  Result<Rows> query(std::string_view sql, const Params& params, std::string_view what);
  Status run(std::string_view sql, const Params& params, std::string_view what);
  // COPY ... FROM STDIN (FORMAT binary) with `data` (built by CopyRows).
  Status copy_in(std::string_view copy_sql, ByteView data, std::string_view what);
  // "database NAME on HOST:PORT", for messages (never the password).
  std::string describe() const;
  // False once the connection is lost or left inside a transaction: it is then not reused.
  bool reusable() const;
  // For an idle connection about to be used again: false when the server has ended it since
  // (restarted, failed over, pg_terminate_backend, idle_session_timeout): anything arrived on it
  // while idle. No round trip; a connection cut without a word (a network gone) still looks open
  // here and fails at its first statement, as unavailable.
  bool still_open();

 private:
  explicit Conn(pg_conn* c) : c_(c) {}
  Status check(pg_result* r, std::string_view what);
  pg_conn* c_;
  std::unordered_map<std::string, std::string> prepared_;  // sql -> statement name
};

// A transaction on `conn`: rolled back when it dies uncommitted.
class Tx {
 public:
  enum class Kind { kReadCommitted, kSnapshot };  // kSnapshot: REPEATABLE READ READ ONLY
  static Result<Tx> begin(Conn& conn, Kind kind = Kind::kReadCommitted);
  // The transaction the caller began on `conn` itself (with settings of its own).
  static Tx adopt(Conn& conn) { return Tx(&conn); }
  Tx(Tx&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
  Tx& operator=(Tx&&) = delete;
  ~Tx();
  Status commit();

 private:
  explicit Tx(Conn* conn) : conn_(conn) {}
  Conn* conn_;
};

// The rows of a COPY in binary format: each row's fields in the table's column order given to
// COPY. position_at() patches an int64 field written earlier (positions are taken after the rows
// are built, see docs/POSTGRES.md).
class CopyRows {
 public:
  CopyRows();
  void row(int fields);
  // The offset of the int64 just written, for patch_i64.
  std::size_t i64(std::int64_t v);
  void bytes(ByteView b);
  void text(std::string_view s);
  void null();
  void patch_i64(std::size_t at, std::int64_t v);
  // The whole stream, trailer included.
  ByteView finish();
  // Bytes so far (a caller streaming many rows sends them in chunks of a bounded size).
  std::size_t size() const { return buf_.size(); }

 private:
  Bytes buf_;
};

// Connections to one database, each used by one thread at a time.
class Pool {
 public:
  explicit Pool(std::string url) : url_(std::move(url)) {}
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Conn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->give_back(std::move(conn_));
    }
    Conn& conn() { return *conn_; }

   private:
    Pool* pool_;
    std::unique_ptr<Conn> conn_;
  };
  // An idle connection that is still open (Conn::still_open; the ones the server ended are closed
  // here), or a new one.
  Result<Lease> acquire();

 private:
  void give_back(std::unique_ptr<Conn> conn);
  std::string url_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;
};

// The libpq URL with `param=value` added to its query string (tests: options=-csearch_path...).
std::string with_url_param(const std::string& url, const std::string& param, const std::string& value);

}  // namespace shiftbook::server::pg
