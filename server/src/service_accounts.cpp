// Head-office accounts (docs/DASHBOARD.md): the people who sign in to the dashboard. A password is
// kept only as its Argon2id hash (hash_pin, the function terminals use for PINs) and checked with
// a lockout after repeated wrong ones, each attempt counted before its password is checked.
#include <sodium.h>

#include <array>
#include <mutex>

#include "service_impl.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
namespace {

constexpr std::size_t kMaxNameBytes = 64;
constexpr std::size_t kMinPasswordBytes = 12;
constexpr std::size_t kMaxPasswordBytes = 1024;
constexpr std::int64_t kMinuteMs = 60'000;

bool is_name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'; }

bool is_account_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  if (name.front() == '.' || name.front() == '_' || name.front() == '-') return false;
  for (char c : name) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

Status check_name(const std::string& name) {
  if (is_account_name(name)) return Status::ok();
  return invalid_argument("'" + name + "' is not an account name: use 1 to 64 of a-z, 0-9, '.', '_' and '-', "
                          "starting with a letter or a digit");
}

// The password's form; the message never holds the password.
Status check_password(const std::string& password) {
  SB_RETURN_IF_ERROR(check_text("the password", password, kMaxPasswordBytes));
  if (password.size() < kMinPasswordBytes) {
    return invalid_argument("the password is shorter than " + std::to_string(kMinPasswordBytes) +
                            " bytes; choose a longer one (a few words make a good one)");
  }
  return Status::ok();
}

std::string minutes_text(std::int64_t ms) {
  const std::int64_t minutes = (ms + kMinuteMs - 1) / kMinuteMs;
  return std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes");
}

Status locked_out(const AccountRecord& a, const LoginLimits& limits, std::int64_t now) {
  return permission_denied("account " + a.name + " is locked after " + std::to_string(limits.max_failures) +
                           " wrong passwords; try again in " + minutes_text(a.locked_until_ms - now) +
                           ", or ask the administrator ('shiftbook-server account password --name " + a.name + "')");
}

Status wrong_credentials() { return unauthenticated("wrong name or password"); }

using SessionSecret = std::array<std::uint8_t, 32>;
constexpr std::string_view kCsrfLabel = "shiftbook dashboard csrf 1";

// The CSRF token of a session: BLAKE2b-256 of a fixed label and the session's secret, as hex.
std::string csrf_of(const SessionSecret& secret) {
  Bytes input(kCsrfLabel.begin(), kCsrfLabel.end());
  input.insert(input.end(), secret.begin(), secret.end());
  const std::string token = to_hex(blake2b_256(input));
  sodium_memzero(input.data(), input.size());
  return token;
}

Status not_signed_in() { return unauthenticated("not signed in, or the session has ended; sign in again"); }

// The secret a cookie's value holds: exactly 64 lower-case hex digits.
Result<SessionSecret> parse_cookie(std::string_view cookie) {
  if (cookie.size() != 64) return not_signed_in();
  for (char c : cookie) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return not_signed_in();
  }
  return array_from_hex<32>(cookie);
}

}  // namespace

Result<AccountRecord> Service::create_account(const std::string& name, const std::string& password) {
  SB_RETURN_IF_ERROR(check_name(name));
  if (name == kHeadOfficeAuthor) {
    // The author of what the command line writes: an account of that name could not be told from it.
    return invalid_argument("'" + name + "' names what the server's command line writes; choose another account name");
  }
  SB_RETURN_IF_ERROR(check_password(password));
  AccountRecord a;
  a.name = name;
  SB_ASSIGN_OR_RETURN(a.password_hash, hash_pin(password, impl_->options.password_cost));
  a.created_ms = impl_->clock.now_ms();
  SB_RETURN_IF_ERROR(impl_->storage->add_account(a));
  return a;
}

Result<std::vector<AccountRecord>> Service::accounts() { return impl_->storage->accounts(); }

Result<AccountRecord> Service::set_account_password(const std::string& name, const std::string& password) {
  SB_RETURN_IF_ERROR(check_name(name));
  SB_RETURN_IF_ERROR(check_password(password));
  SB_ASSIGN_OR_RETURN(std::string hash, hash_pin(password, impl_->options.password_cost));
  return impl_->storage->set_account_password(name, hash);
}

Result<AccountRecord> Service::disable_account(const std::string& name) {
  SB_RETURN_IF_ERROR(check_name(name));
  return impl_->storage->disable_account(name, impl_->clock.now_ms());
}

Result<AccountRecord> Service::check_login(const std::string& name, const std::string& password) {
  Impl& impl = *impl_;
  const LoginLimits& limits = impl.options.login_limits;
  const std::int64_t now = impl.clock.now_ms();
  std::optional<AccountRecord> held;
  if (is_account_name(name)) {
    SB_ASSIGN_OR_RETURN(held, impl.storage->begin_login(name, now, limits));
  }
  if (held && held->locked_until_ms > now) return locked_out(*held, limits, now);
  if (!held) {
    // The same work as for a known account, so that the time of the answer does not tell.
    std::call_once(impl.absent_hash_once, [&] {
      auto made = hash_pin("no account has this password", impl.options.password_cost);
      if (made.is_ok()) impl.absent_hash = std::move(made).value();
    });
    if (!impl.absent_hash.empty()) (void)verify_pin(impl.absent_hash, password);
    return wrong_credentials();
  }
  // Argon2id runs outside any transaction, so that a slow check never holds the store's writer.
  SB_ASSIGN_OR_RETURN(bool match, verify_pin(held->password_hash, password));
  // This attempt was counted as the one that reaches the limit: it locked the account.
  const bool locked_by_this = held->failures + 1 >= limits.max_failures;
  if (!match) {
    if (locked_by_this) {
      return permission_denied("wrong name or password; after " + std::to_string(limits.max_failures) +
                               " wrong passwords account " + name + " is locked for " +
                               minutes_text(limits.lockout_ms) + " (or until the administrator sets a new password)");
    }
    return wrong_credentials();
  }
  if (held->disabled_ms != 0) return permission_denied("account " + name + " is disabled; ask the administrator");
  SB_ASSIGN_OR_RETURN(AccountRecord signed_in, impl.storage->login_succeeded(name, now, locked_by_this));
  // Wrong passwords tried in parallel locked it meanwhile: the lockout stands.
  if (signed_in.locked_until_ms > now) return locked_out(signed_in, limits, now);
  return signed_in;
}

Result<NewSession> Service::start_session(const std::string& name, const std::string& password) {
  SB_ASSIGN_OR_RETURN(AccountRecord account, check_login(name, password));
  SessionSecret secret{};
  random_bytes(secret);
  SessionRecord record;
  record.id_hash = blake2b_256(secret);
  record.account = account.name;
  record.created_ms = impl_->clock.now_ms();
  record.last_seen_ms = record.created_ms;
  NewSession out;
  out.cookie = to_hex(secret);
  out.csrf = csrf_of(secret);
  out.account = std::move(account);
  sodium_memzero(secret.data(), secret.size());
  SB_RETURN_IF_ERROR(impl_->storage->add_session(record));
  return out;
}

Result<SessionInfo> Service::check_session(std::string_view cookie) {
  SB_ASSIGN_OR_RETURN(SessionSecret secret, parse_cookie(cookie));
  SessionInfo info;
  info.id_hash = blake2b_256(secret);
  info.csrf = csrf_of(secret);
  sodium_memzero(secret.data(), secret.size());
  Storage& st = *impl_->storage;
  SB_ASSIGN_OR_RETURN(std::optional<SessionRecord> held, st.session(info.id_hash));
  if (!held) return not_signed_in();
  const std::int64_t now = impl_->clock.now_ms();
  const ServiceOptions& o = impl_->options;
  if (now - held->last_seen_ms >= o.session_idle_ms || now - held->created_ms >= o.session_max_ms) {
    SB_RETURN_IF_ERROR(st.end_session(info.id_hash));
    const bool idle = now - held->last_seen_ms >= o.session_idle_ms;
    return unauthenticated(std::string("the session ended ") +
                           (idle ? "after " + minutes_text(o.session_idle_ms) + " without a request"
                                 : minutes_text(o.session_max_ms) + " after signing in") +
                           "; sign in again");
  }
  if (now - held->last_seen_ms >= kMinuteMs) SB_RETURN_IF_ERROR(st.touch_session(info.id_hash, now));
  info.account = held->account;
  info.created_ms = held->created_ms;
  return info;
}

Status Service::check_csrf(const SessionInfo& session, std::string_view token) {
  if (token.size() != session.csrf.size() ||
      sodium_memcmp(token.data(), session.csrf.data(), session.csrf.size()) != 0) {
    return permission_denied("the form's security token is missing or is not this session's; reload the page "
                             "and try again");
  }
  return Status::ok();
}

Status Service::end_session(std::string_view cookie) {
  auto secret = parse_cookie(cookie);
  if (!secret.is_ok()) return Status::ok();
  const Hash id_hash = blake2b_256(*secret);
  sodium_memzero(secret->data(), secret->size());
  return impl_->storage->end_session(id_hash);
}

}  // namespace shiftbook::server
