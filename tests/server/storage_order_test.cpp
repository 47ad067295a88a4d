// The storage's promises about order and concurrency, on every backend (storage_world.h), with two
// or three storages on one store standing for as many server processes: a pull never moves past an
// append that has not committed (positions are handed out in commit order), one of two appends of
// a device wins, one code enrolls one device, sign-in attempts in parallel are each counted, and
// open refuses a store it must not touch.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "storage_world.h"
#include "support/store_sql.h"

namespace {

using namespace shiftbook::storage_world;

// Runs SQL on the test's store behind the storage's back.
void run_sql(const TempDir& dir, const std::string& sqlite_sql, const std::string& postgres_sql) {
  if (current_backend() == Backend::kSqlite) {
    exec_sql(dir.file("hq.db"), sqlite_sql);
    return;
  }
  auto conn = server::pg::Conn::connect(store_url(dir));
  REQUIRE_MESSAGE(conn.is_ok(), conn.status().to_string());
  Status s = (*conn)->exec(postgres_sql);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
}

// The commit-order case made to happen: append A takes its positions and stalls before its commit;
// append B of another device, through another storage on the same store (another process, as far
// as the database can tell), is started meanwhile. Were B to take the positions after A's and
// commit first, a pull in between would return B and move the cursor past A's positions, and A's
// events would never reach that puller. The pull must return nothing new and leave the cursor.
STORAGE_TEST_CASE("storage: a pull never moves past an append that has not committed") {
  TempDir dir;
  std::mutex mu;
  std::condition_variable cv;
  bool a_stalled = false, release = false, b_done = false;
  bool stall_next = false;
  server::StorageOptions stalling;
  stalling.before_commit = [&] {
    std::unique_lock<std::mutex> lock(mu);
    if (!stall_next) return;
    a_stalled = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  auto first = make_storage(dir, stalling);
  auto second = open_again(dir);
  auto reader = open_again(dir);
  Chain a, b;
  a.grow(3);
  b.grow(3);
  const std::vector<PublicKey> both{a.device(), b.device()};
  const std::map<PublicKey, char> names{{a.device(), 'A'}, {b.device(), 'B'}};
  append_ok(*first, batch_of(a, 1, 1));
  append_ok(*second, batch_of(b, 1, 1));
  const PullBatch before = pull_ok(*reader, both, 0, 1 << 20);
  CHECK(render(before, names) == "A1 B1 | heads A1 B1 | end");

  stall_next = true;
  Status a_status, b_status;
  std::thread ta([&] { a_status = first->append(batch_of(a, 2, 3)); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return a_stalled; });
  }
  std::thread tb([&] {
    b_status = second->append(batch_of(b, 2, 3));
    std::lock_guard<std::mutex> lock(mu);
    b_done = true;
    cv.notify_all();
  });
  {
    // B gets the time to commit, were it able to; it must wait for A.
    std::unique_lock<std::mutex> lock(mu);
    CHECK_FALSE(cv.wait_for(lock, std::chrono::milliseconds(300), [&] { return b_done; }));
  }
  const PullBatch during = pull_ok(*reader, both, before.cursor, 1 << 20);
  CHECK(render(during, names) == "| heads | end");
  CHECK(during.cursor == before.cursor);
  CHECK(reader->events_after(both, before.cursor).value() == 0);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  ta.join();
  tb.join();
  REQUIRE_MESSAGE(a_status.is_ok(), a_status.to_string());
  REQUIRE_MESSAGE(b_status.is_ok(), b_status.to_string());
  const PullBatch after = pull_ok(*reader, both, during.cursor, 1 << 20);
  CHECK(render(after, names) == "A2 A3 B2 B3 | heads A3 B3 | end");
  REQUIRE(after.events.size() == 4);
  CHECK(after.events.front().pos > before.cursor);
}

STORAGE_TEST_CASE("storage: of two appends of one device at once, through two storages, exactly one lands") {
  TempDir dir;
  auto first = make_storage(dir);
  auto second = open_again(dir);
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    Chain a;
    a.grow(4);
    Status s1, s2;
    std::thread t1([&] { s1 = first->append(batch_of(a, 1, 4)); });
    std::thread t2([&] { s2 = second->append(batch_of(a, 1, 4)); });
    t1.join();
    t2.join();
    CHECK(s1.is_ok() != s2.is_ok());
    CHECK((s1.is_ok() ? s2 : s1).code() == Code::kAborted);
    CHECK(first->chain_end(a.device())->first == 4);
    CHECK(pull_ok(*first, {a.device()}, 0, 1 << 20).events.size() == 4);
  }
}

STORAGE_TEST_CASE("storage: one code redeemed by several devices at once enrolls exactly one") {
  TempDir dir;
  auto first = make_storage(dir);
  auto second = open_again(dir);
  add_code(*first, "c1", {"U1"}, kNow + 1);
  std::vector<Chain> devices(4);
  std::vector<Status> got(devices.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    threads.emplace_back([&, i] {
      Storage& st = i % 2 == 0 ? *first : *second;
      got[i] = st.redeem_code(secret_hash("c1"), devices[i].device(), kNow).status();
    });
  }
  for (auto& t : threads) t.join();
  int enrolled = 0;
  for (const Status& s : got) {
    if (s.is_ok()) {
      ++enrolled;
    } else {
      CHECK_MESSAGE(s.code() == Code::kFailedPrecondition, s.to_string());
    }
  }
  CHECK(enrolled == 1);
  CHECK(first->devices()->size() == 1);
}

STORAGE_TEST_CASE("storage: sign-in attempts in parallel, through two storages, are each counted once") {
  TempDir dir;
  auto first = make_storage(dir);
  auto second = open_again(dir);
  server::AccountRecord account;
  account.name = "ana";
  account.password_hash = "$argon2id$test";
  account.created_ms = kNow;
  REQUIRE(first->add_account(account).is_ok());
  server::LoginLimits limits;
  limits.max_failures = 1000;
  constexpr int kEach = 20;
  std::vector<std::string> failures(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      Storage& st = t == 0 ? *first : *second;
      for (int i = 0; i < kEach; ++i) {
        auto r = st.begin_login("ana", kNow, limits);
        if (!r.is_ok()) failures[static_cast<std::size_t>(t)] = r.status().to_string();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& f : failures) CHECK_MESSAGE(f.empty(), f);
  CHECK(first->account("ana")->value().failures == 2 * kEach);
  // The attempt that reaches the limit locks the account, and a locked account counts nothing.
  limits.max_failures = 2 * kEach + 1;
  auto locking = second->begin_login("ana", kNow, limits);
  REQUIRE(locking.is_ok());
  CHECK(first->account("ana")->value().locked_until_ms == kNow + limits.lockout_ms);
  CHECK(first->begin_login("ana", kNow + 1, limits)->value().failures == 0);
  CHECK(first->account("ana")->value().failures == 0);
}

STORAGE_TEST_CASE("storage: open refuses a store with a newer schema, and a database holding something else") {
  TempDir dir;
  { make_storage(dir); }
  run_sql(dir, "PRAGMA user_version = 99", "UPDATE schema_version SET version = 99");
  auto newer = server::open_storage(store_url(dir), false);
  CHECK(newer.status().code() == Code::kFailedPrecondition);
  CHECK(newer.status().message().find("newer") != std::string::npos);

  TempDir other;
  (void)store_url(other);
  run_sql(other, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)", "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)");
  auto foreign = server::open_storage(store_url(other), false);
  CHECK(foreign.status().code() == Code::kDataLoss);
  CHECK(foreign.status().message().find("not a Shiftbook head-office store") != std::string::npos);
}

// A server's pooled connections outlive what the database does meanwhile: a restart, a failover
// to a standby, pg_terminate_backend, idle_session_timeout. A connection the database ended while it
// sat idle in the pool must not be handed to the next call (which would fail as unavailable): the
// pool reads what arrived on it, sees the end, and opens a new one.
TEST_CASE("storage (postgres): a pooled connection the database ended while it was idle is not used again") {
  if (postgres_test_url().empty()) {
    MESSAGE("no PostgreSQL server (SHIFTBOOK_TEST_POSTGRES is not set; tools/test sets it): nothing to run");
    return;
  }
  const std::string name = "sbtest_cut_" + std::to_string(::getpid());
  auto opened = server::open_storage(server::pg::with_url_param(postgres_schemas().make(), "application_name", name), true);
  REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
  Storage& st = **opened;
  REQUIRE(st.devices().is_ok());  // its connection is back in the pool, idle
  const std::string connections = "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + name + "'";
  REQUIRE(testing::store_int(postgres_test_url(), connections) == 1);

  // Only that connection is ended: the function is applied to the rows the filter kept.
  REQUIRE(testing::store_int(postgres_test_url(), "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM "
                                                  "pg_stat_activity WHERE application_name = '" + name + "') AS ours") == 1);
  // The backend ends a moment after it was told to (bounded wait).
  for (int i = 0; i < 500 && testing::store_int(postgres_test_url(), connections) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(testing::store_int(postgres_test_url(), connections) == 0);

  auto devices = st.devices();
  CHECK_MESSAGE(devices.is_ok(), devices.status().to_string());
  Chain a;
  a.grow(2);
  Status appended = st.append(batch_of(a, 1, 2));
  CHECK_MESSAGE(appended.is_ok(), appended.to_string());
  CHECK(testing::store_int(postgres_test_url(), connections) == 1);  // one new connection, in the pool again
}

// After a restore (Storage::skip_positions, `shiftbook-server restored`): the next append's
// positions start past the gap, through any storage on the store and after it is opened again,
// and pulls, counts and the audit's reading of pushes go on over the gap.
STORAGE_TEST_CASE("storage: skip_positions puts the next append past the gap, for every storage on the store") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a;
  a.grow(4);
  const std::map<PublicKey, char> names{{a.device(), 'A'}};
  append_ok(*st, batch_of(a, 1, 2));
  auto next = st->skip_positions(1000);
  REQUIRE_MESSAGE(next.is_ok(), next.status().to_string());
  CHECK(*next == 1003);

  auto other = open_again(dir);  // another process
  append_ok(*other, batch_of(a, 3, 3));
  const PullBatch after_gap = pull_ok(*st, {a.device()}, 2, 1 << 20);
  CHECK(render(after_gap, names) == "A3 | heads A3 | end");
  CHECK(after_gap.cursor == 1003);
  auto counted = st->events_after({a.device()}, 2);
  REQUIRE(counted.is_ok());
  CHECK(*counted == 1);
  auto pushes = st->pushes(0, 10);
  REQUIRE(pushes.is_ok());
  REQUIRE(pushes->size() == 2);
  CHECK((*pushes)[0].last_pos == 2);
  CHECK((*pushes)[1].first_pos == 1003);
  CHECK((*pushes)[1].last_pos == 1003);

  // A second skip goes on from the highest position held or skipped to.
  auto again = other->skip_positions(1000);
  REQUIRE(again.is_ok());
  CHECK(*again == 2004);
  append_ok(*st, batch_of(a, 4, 4));
  CHECK(render(pull_ok(*st, {a.device()}, 0, 1 << 20), names) == "A1 A2 A3 A4 | heads A4 | end");
  CHECK(pull_ok(*st, {a.device()}, 1003, 1 << 20).cursor == 2004);
}

}  // namespace
