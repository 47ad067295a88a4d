// The PIN lockout holds when wrong PINs are tried from several processes at once.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "support/fixture.h"

using namespace shiftbook;
using shiftbook::testing::Terminal;

TEST_CASE("auth: wrong PINs tried in parallel are all counted, so no more than five are ever checked") {
  Terminal t;
  {
    // A leader whose PIN takes the real Argon2id cost to check, so that the tries truly overlap.
    auto slow = client::Store::open(t.store_dir(), t.clock, client::StoreOptions{});
    REQUIRE(slow.is_ok());
    REQUIRE((*slow)->add_leader("L2", "Marek", "8765").is_ok());
  }
  REQUIRE(t.store->logout().is_ok());
  constexpr int kConnections = 6;
  constexpr int kTriesEach = 4;
  std::atomic<int> wrong{0}, locked{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kConnections; ++i) {
    threads.emplace_back([&] {
      auto store = client::Store::open(t.store_dir(), t.clock, testing::fast_options());
      if (!store.is_ok()) {
        ++other;
        return;
      }
      for (int k = 0; k < kTriesEach; ++k) {
        auto r = (*store)->login("L2", "0000");
        if (r.status().code() == Code::kUnauthenticated) ++wrong;
        else if (r.status().code() == Code::kPermissionDenied) ++locked;
        else ++other;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(other.load() == 0);
  // Four plain wrong answers, then the fifth wrong PIN locks; every other try is refused unchecked.
  CHECK(wrong.load() == client::kMaxPinFailures - 1);
  CHECK(locked.load() == kConnections * kTriesEach - (client::kMaxPinFailures - 1));
  CHECK(t.store->login("L2", "8765").status().code() == Code::kPermissionDenied);
}

TEST_CASE("auth: the right PIN clears earlier wrong ones, and on the fifth try it still logs in") {
  Terminal t;
  for (int i = 0; i < client::kMaxPinFailures - 1; ++i) {
    CHECK(t.store->login("L1", "0000").status().code() == Code::kUnauthenticated);
  }
  REQUIRE(t.store->login("L1", "4321").is_ok());
  for (int i = 0; i < client::kMaxPinFailures - 1; ++i) {
    CHECK(t.store->login("L1", "0000").status().code() == Code::kUnauthenticated);
  }
  CHECK(t.store->login("L1", "4321").is_ok());
}

TEST_CASE("auth: a damaged PIN hash in the roster is reported as such and costs the worker no try") {
  Terminal t;
  Json ref = testing::sample_reference();
  ref["workers"][0]["pin_hash"] = "$argon2id$v=19$m=garbage";
  CHECK(t.store->import_reference(ref).code() == Code::kInvalidArgument);  // refused at import already
}

TEST_CASE("auth: a leader is removed by another one, keeps their entries, and can no longer log in") {
  Terminal t;
  REQUIRE(t.store->add_leader("L2", "Marek", "8765").is_ok());
  REQUIRE(t.store->login("L2", "8765").is_ok());
  REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  REQUIRE(t.store->login("L1", "4321").is_ok());
  CHECK(t.store->remove_leader("L1").code() == Code::kFailedPrecondition);  // not oneself
  CHECK(t.store->remove_leader("L7").code() == Code::kNotFound);
  REQUIRE(t.store->remove_leader("L2").is_ok());
  CHECK(t.store->login("L2", "8765").status().code() == Code::kNotFound);
  auto shifts = t.store->list_shifts(false);
  REQUIRE(shifts.is_ok());
  CHECK((*shifts)["shifts"][0]["opened_by"] == "L2");
  REQUIRE(t.store->logout().is_ok());
  CHECK(t.store->remove_leader("L1").code() == Code::kFailedPrecondition);  // no login
}
