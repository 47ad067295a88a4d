// Status and Result<T>: how every fallible function in Shiftbook reports failure.
// Invariant: the code, never the message, decides what a caller does next (retry, new session,
// report). Messages name the thing and the reason and never hold a key, PIN or plaintext body.
// Values of these types are plain data: safe to copy and move across threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace shiftbook {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // the input is wrong; the same call will fail again
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // a thing that must be new exists already
  kFailedPrecondition,  // the system is not in a state where this is allowed (no login, no open shift)
  kUnauthenticated,     // wrong PIN, bad signature
  kPermissionDenied,    // known caller, not allowed (locked out, outside scope)
  kResourceExhausted,   // a limit was reached
  kUnavailable,         // transient; retry with backoff
  kAborted,             // a conflict in flight; start over
  kDataLoss,            // stored data is corrupt or was altered
  kInternal,            // a bug or an unexpected library failure
};

// Stable lower-case name of a code ("invalid_argument"), used in JSON output and logs.
std::string_view code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: worker 'W9' is not on the roster"
  std::string to_string() const;
  // Prefixes context to the message, keeping the code: "ref file: " + "workers[2]: ...".
  Status with_context(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status already_exists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status failed_precondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
inline Status unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
inline Status permission_denied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
inline Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status aborted(std::string m) { return {Code::kAborted, std::move(m)}; }
inline Status data_loss(std::string m) { return {Code::kDataLoss, std::move(m)}; }
inline Status internal_error(std::string m) { return {Code::kInternal, std::move(m)}; }

// Either a value or a non-ok Status. Constructing from an ok Status is a bug.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).is_ok());
  }

  bool is_ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOkStatus;
    return is_ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace shiftbook

// Returns early from the enclosing function when a Status is not ok.
#define SB_RETURN_IF_ERROR(expr)                      \
  do {                                                \
    ::shiftbook::Status sb_status_ = (expr);          \
    if (!sb_status_.is_ok()) return sb_status_;       \
  } while (0)

#define SB_CONCAT_INNER_(a, b) a##b
#define SB_CONCAT_(a, b) SB_CONCAT_INNER_(a, b)
// SB_ASSIGN_OR_RETURN(auto x, f()); declares x from a Result or returns its Status.
#define SB_ASSIGN_OR_RETURN(decl, expr) SB_ASSIGN_OR_RETURN_IMPL_(SB_CONCAT_(sb_result_, __LINE__), decl, expr)
#define SB_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                               \
  if (!tmp.is_ok()) return tmp.status();           \
  decl = std::move(tmp).value()
