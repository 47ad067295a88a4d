// Head-office accounts (service_accounts.cpp, storage_accounts.cpp, docs/DASHBOARD.md) over a real
// store: only an Argon2id hash of a password is kept; names and passwords of the wrong form are
// refused saying what is allowed; signing in takes the right password, gives one answer for an
// unknown name and a wrong password, locks an account after five wrong passwords in a row (counted
// before the check, so attempts in parallel cannot get more checked), and a new password or the
// lockout's end lets it in again; a disabled account cannot sign in; a version-3 store migrates.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "service_world.h"
#include "support/store_sql.h"

using namespace shiftbook;
using namespace shiftbook::service_world;
using server::AccountRecord;

namespace {

constexpr const char* kPassword = "correct horse battery";
constexpr std::int64_t kMinuteMs = 60'000;

ServiceOptions cheap() {
  ServiceOptions o;
  o.password_cost = PinCost::kMinimum;
  return o;
}

struct Accounts {
  HeadOffice ho{cheap()};
  Service& s = *ho.service;
  Accounts() { REQUIRE(s.create_account("anna", kPassword).is_ok()); }
  Status login(const std::string& password, const std::string& name = "anna") {
    return s.check_login(name, password).status();
  }
  AccountRecord held(const std::string& name = "anna") {
    auto a = s.storage().account(name);
    REQUIRE(a.is_ok());
    REQUIRE(a->has_value());
    return **a;
  }
};

bool says(const Status& s, const std::string& text) { return s.message().find(text) != std::string::npos; }

}  // namespace

TEST_CASE("accounts: only an Argon2id hash of the password is kept, listed by name, a name is taken once") {
  Accounts a;
  REQUIRE(a.s.create_account("boris.k", "another long password").is_ok());
  const AccountRecord anna = a.held();
  CHECK(anna.password_hash.rfind("$argon2id$", 0) == 0);
  CHECK(anna.password_hash.find(kPassword) == std::string::npos);
  CHECK(anna.created_ms == testing::kSampleNowMs);
  CHECK(anna.last_login_ms == 0);
  auto all = a.s.accounts();
  REQUIRE(all.is_ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].name == "anna");
  CHECK((*all)[1].name == "boris.k");
  Status again = a.s.create_account("anna", "yet another password").status();
  CHECK(again.code() == Code::kAlreadyExists);
  CHECK(says(again, "'anna' exists already"));
}

TEST_CASE("accounts: names and passwords of the wrong form are refused, saying what is allowed") {
  Accounts a;
  const std::vector<std::string> bad = {"", "Anna", "anna smith", "-anna", ".anna", "anna/x", std::string(65, 'a')};
  for (const std::string& name : bad) {
    CAPTURE(name);
    Status s = a.s.create_account(name, kPassword).status();
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(says(s, "use 1 to 64 of a-z, 0-9"));
  }
  CHECK(a.s.create_account(std::string(64, 'z'), kPassword).is_ok());
  const std::string short_one = "eleven byte";
  Status too_short = a.s.create_account("carla", short_one).status();
  CHECK(too_short.code() == Code::kInvalidArgument);
  CHECK(says(too_short, "shorter than 12 bytes"));
  CHECK_FALSE(says(too_short, short_one));
  Status control = a.s.create_account("carla", "twelve bytes\nand more").status();
  CHECK(control.code() == Code::kInvalidArgument);
  CHECK(says(control, "control character"));
  CHECK(a.s.create_account("carla", std::string(1025, 'p')).status().code() == Code::kInvalidArgument);
  CHECK(a.s.create_account("carla", "twelve bytes").is_ok());
  CHECK(a.s.set_account_password("carla", "short").status().code() == Code::kInvalidArgument);
}

TEST_CASE("accounts: the right password signs in, a wrong one and an unknown name get the same answer") {
  Accounts a;
  a.ho.clock.advance(5 * kMinuteMs);
  auto in = a.s.check_login("anna", kPassword);
  REQUIRE_MESSAGE(in.is_ok(), in.status().to_string());
  CHECK(in->last_login_ms == testing::kSampleNowMs + 5 * kMinuteMs);
  CHECK(a.held().last_login_ms == in->last_login_ms);

  const Status wrong = a.login("correct horse battery!");
  const Status nobody = a.login(kPassword, "nobody");
  const Status malformed = a.login(kPassword, "Not A Name");
  for (const Status& s : {wrong, nobody, malformed}) {
    CHECK(s.code() == Code::kUnauthenticated);
    CHECK(s.message() == "wrong name or password");
  }
  CHECK(a.held().failures == 1);
}

TEST_CASE("accounts: five wrong passwords in a row lock the account for 15 minutes, the right one then waits") {
  Accounts a;
  for (int i = 1; i <= 4; ++i) CHECK(a.login("wrong password " + std::to_string(i)).code() == Code::kUnauthenticated);
  const Status fifth = a.login("wrong password 5");
  CHECK(fifth.code() == Code::kPermissionDenied);
  CHECK(says(fifth, "wrong name or password; after 5 wrong passwords account anna is locked for 15 minutes"));
  CHECK(a.held().locked_until_ms == testing::kSampleNowMs + 15 * kMinuteMs);

  const Status waiting = a.login(kPassword);
  CHECK(waiting.code() == Code::kPermissionDenied);
  CHECK(says(waiting, "account anna is locked after 5 wrong passwords; try again in 15 minutes"));
  a.ho.clock.advance(14 * kMinuteMs);
  CHECK(says(a.login(kPassword), "try again in 1 minute,"));
  a.ho.clock.advance(kMinuteMs);
  CHECK(a.login(kPassword).is_ok());
  CHECK(a.held().failures == 0);
}

TEST_CASE("accounts: the right password clears the count of wrong ones") {
  Accounts a;
  for (int i = 0; i < 4; ++i) CHECK(a.login("wrong password").code() == Code::kUnauthenticated);
  CHECK(a.login(kPassword).is_ok());
  for (int i = 0; i < 4; ++i) CHECK(a.login("wrong password").code() == Code::kUnauthenticated);
  CHECK(a.held().failures == 4);
  CHECK(a.held().locked_until_ms == 0);
}

TEST_CASE("accounts: a new password ends a lockout, and only the new password signs in") {
  Accounts a;
  for (int i = 0; i < 5; ++i) (void)a.login("wrong password");
  REQUIRE(a.login(kPassword).code() == Code::kPermissionDenied);
  auto reset = a.s.set_account_password("anna", "a brand new password");
  REQUIRE(reset.is_ok());
  CHECK(reset->locked_until_ms == 0);
  CHECK(a.login(kPassword).code() == Code::kUnauthenticated);
  CHECK(a.login("a brand new password").is_ok());
  CHECK(a.s.set_account_password("nobody", "a brand new password").status().code() == Code::kNotFound);
}

TEST_CASE("accounts: a disabled account cannot sign in, and a wrong password does not tell it is disabled") {
  Accounts a;
  auto off = a.s.disable_account("anna");
  REQUIRE(off.is_ok());
  CHECK(off->disabled_ms == testing::kSampleNowMs);
  const Status right = a.login(kPassword);
  CHECK(right.code() == Code::kPermissionDenied);
  CHECK(says(right, "account anna is disabled"));
  CHECK(a.login("wrong password").message() == "wrong name or password");
  const Status twice = a.s.disable_account("anna").status();
  CHECK(twice.code() == Code::kFailedPrecondition);
  CHECK(says(twice, "disabled already"));
  const Status unknown = a.s.disable_account("nobody").status();
  CHECK(unknown.code() == Code::kNotFound);
  CHECK(says(unknown, "account list"));
}

TEST_CASE("accounts: wrong passwords tried in parallel get no more than five checked before the lockout") {
  Accounts a;
  constexpr int kAttempts = 12;
  std::atomic<int> wrong{0}, locking{0}, locked{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kAttempts; ++i) {
    threads.emplace_back([&] {
      const Status s = a.s.check_login("anna", "wrong password").status();
      if (s.code() == Code::kUnauthenticated) ++wrong;
      else if (says(s, "after 5 wrong passwords account anna is locked for")) ++locking;
      else if (says(s, "is locked after 5 wrong passwords")) ++locked;
      else ++other;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(wrong == 4);
  CHECK(locking == 1);
  CHECK(locked == kAttempts - 5);
  CHECK(other == 0);
}

TEST_CASE("accounts (sqlite): a version-3 store migrates to version 4 with no accounts") {
  testing::TempDir dir;
  const std::string path = dir.file("hq.db");
  { REQUIRE(server::open_sqlite_storage(path, true).is_ok()); }
  testing::exec_sql(path, "DROP TABLE sessions; DROP TABLE accounts; PRAGMA user_version = 3;");
  auto reopened = server::open_sqlite_storage(path, false);
  REQUIRE_MESSAGE(reopened.is_ok(), reopened.status().to_string());
  CHECK(testing::query_int(path, "PRAGMA user_version") == 4);
  CHECK((*reopened)->accounts()->empty());
}

TEST_CASE("sessions: signing in starts one, its cookie names it, the store keeps only the cookie's hash") {
  Accounts a;
  auto started = a.s.start_session("anna", kPassword);
  REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
  CHECK(started->cookie.size() == 64);
  CHECK(started->csrf.size() == 64);
  CHECK(started->csrf != started->cookie);
  auto in = a.s.check_session(started->cookie);
  REQUIRE_MESSAGE(in.is_ok(), in.status().to_string());
  CHECK(in->account == "anna");
  CHECK(in->csrf == started->csrf);
  const std::string& store = a.ho.store_url;
  CHECK(testing::store_int(store, "SELECT count(*) FROM sessions WHERE account = 'anna'") == 1);
  const std::string hex = testing::postgres_backend() ? "encode(id_hash, 'hex')" : "lower(hex(id_hash))";
  CHECK(testing::store_int(store, "SELECT count(*) FROM sessions WHERE " + hex + " = '" + started->cookie + "'") == 0);
  CHECK(a.s.start_session("anna", "wrong password").status().message() == "wrong name or password");

  for (const std::string& cookie : {std::string(), std::string(64, 'g'), std::string(63, 'a'),
                                   std::string(64, 'A'), std::string(64, '0')}) {
    CAPTURE(cookie);
    const Status s = a.s.check_session(cookie).status();
    CHECK(s.code() == Code::kUnauthenticated);
    CHECK(says(s, "sign in again"));
  }
}

TEST_CASE("sessions: a form's token must be its own session's") {
  Accounts a;
  REQUIRE(a.s.create_account("boris", "another long password").is_ok());
  const auto mine = a.s.start_session("anna", kPassword);
  const auto other = a.s.start_session("boris", "another long password");
  const auto again = a.s.start_session("anna", kPassword);
  REQUIRE(mine.is_ok());
  REQUIRE(other.is_ok());
  REQUIRE(again.is_ok());
  const auto in = a.s.check_session(mine->cookie);
  REQUIRE(in.is_ok());
  CHECK(a.s.check_csrf(*in, mine->csrf).is_ok());
  for (const std::string& token : {std::string(), other->csrf, again->csrf, mine->cookie, mine->csrf.substr(1)}) {
    const Status s = a.s.check_csrf(*in, token);
    CHECK(s.code() == Code::kPermissionDenied);
    CHECK(says(s, "security token"));
  }
}

TEST_CASE("sessions: one ends when signed out, after 30 idle minutes, 12 hours after signing in, and with a new "
          "password or the account disabled") {
  Accounts a;
  auto start = [&] { return a.s.start_session("anna", kPassword)->cookie; };
  const std::string out = start();
  REQUIRE(a.s.end_session(out).is_ok());
  CHECK(a.s.check_session(out).status().code() == Code::kUnauthenticated);
  CHECK(a.s.end_session("not a cookie").is_ok());

  const std::string idle = start();
  a.ho.clock.advance(29 * kMinuteMs);
  CHECK(a.s.check_session(idle).is_ok());  // a request: the idle time starts again
  a.ho.clock.advance(29 * kMinuteMs);
  CHECK(a.s.check_session(idle).is_ok());
  a.ho.clock.advance(30 * kMinuteMs);
  const Status ended = a.s.check_session(idle).status();
  CHECK(ended.code() == Code::kUnauthenticated);
  CHECK(says(ended, "after 30 minutes without a request"));
  CHECK(a.s.check_session(idle).status().message() == "not signed in, or the session has ended; sign in again");

  const std::string long_one = start();
  for (int i = 0; i < 24; ++i) {
    a.ho.clock.advance(29 * kMinuteMs);
    REQUIRE(a.s.check_session(long_one).is_ok());
  }
  a.ho.clock.advance(24 * kMinuteMs);  // 12 hours after signing in
  CHECK(says(a.s.check_session(long_one).status(), "720 minutes after signing in"));

  const std::string before_new_password = start();
  REQUIRE(a.s.set_account_password("anna", "a brand new password").is_ok());
  CHECK(a.s.check_session(before_new_password).status().code() == Code::kUnauthenticated);
  const std::string before_disabled = a.s.start_session("anna", "a brand new password")->cookie;
  REQUIRE(a.s.disable_account("anna").is_ok());
  CHECK(a.s.check_session(before_disabled).status().code() == Code::kUnauthenticated);
  CHECK(a.s.start_session("anna", "a brand new password").status().code() == Code::kPermissionDenied);
}

TEST_CASE("sessions: the kept hash and the CSRF token of a known cookie are DASHBOARD.md's example") {
  Accounts a;
  server::SessionRecord kept;
  kept.id_hash = *array_from_hex<32>("d4ffaeeac45aa41825e0bc3f875570af061acbf0b950ad752ff0f9463fe13ad5");
  kept.account = "anna";
  kept.created_ms = testing::kSampleNowMs;
  kept.last_seen_ms = testing::kSampleNowMs;
  REQUIRE(a.ho.service->storage().add_session(kept).is_ok());
  auto in = a.s.check_session(std::string(64, '1'));
  REQUIRE_MESSAGE(in.is_ok(), in.status().to_string());
  CHECK(in->account == "anna");
  CHECK(in->csrf == "94595712f6032e317b3e7a2edfecf6f913d306acc7578b2694bfb74d76cfc596");
}
