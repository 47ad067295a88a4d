// Head-office accounts (docs/DASHBOARD.md): the people who sign in to the dashboard. A password is
// kept only as its Argon2id hash (hash_pin, the function terminals use for PINs) and checked with
// a lockout after repeated wrong ones, each attempt counted before its password is checked.
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

}  // namespace

Result<AccountRecord> Service::create_account(const std::string& name, const std::string& password) {
  SB_RETURN_IF_ERROR(check_name(name));
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

}  // namespace shiftbook::server
