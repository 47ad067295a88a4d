// Power loss during a sync (docs/DURABILITY.md, "Sync answers"). An answer that says more follows is
// committed without its own fsync; the sync's last answer, and anything the terminal records after
// any answer, is committed with the store's FULL setting, whose fsync of the WAL makes every
// earlier commit durable too. The store runs on the power-loss VFS (powerloss_vfs.h) and is
// reopened with the real one after the power "fails".
#include <doctest/doctest.h>

#include "client/sync_world.h"
#include "powerloss_vfs.h"

namespace shiftbook::testing {
namespace {

// An enrolled terminal (reference data, L7 logged in) with its store closed, and another terminal
// of U1 whose chain of four events (a shift, three outputs) comes in two answers: events 1-2 saying
// more follows, then 3-4, the last.
struct SyncRig {
  Enrolled e;
  Chain other{DeviceKey::generate()};
  Message first, last;
  SyncRig() {
    // A copy: each add may move the chain's events, and a reference into them with it.
    const Hash open = other.add("shift_open", {{"unit", "U1"}, {"date", "2026-11-16"}}).hash;
    for (int q = 1; q <= 3; ++q) {
      other.add("output", {{"shift", hash_ref(open)}, {"product", "P1"}, {"quantity", 10 * q}});
    }
    first = answer(e.ho.server, e.t, 0, Hash{}, {{&other, 1, 2}}, 2, /*more=*/true);
    last = answer(e.ho.server, e.t, 0, Hash{}, {{&other, 3, 4}}, 4, /*more=*/false);
    e.t.store.reset();
  }
  // The store on the power-loss VFS.
  std::unique_ptr<client::Store> open_on_powerloss() {
    PowerLossVfs::reset();
    client::StoreOptions options = fast_options();
    options.vfs = PowerLossVfs::kName;
    return must(client::Store::open(e.t.store_dir(), e.t.clock, options));
  }
  // The power fails, the dying store is closed, and the store is opened again on the real disk.
  std::unique_ptr<client::Store> after_power_loss(std::unique_ptr<client::Store> dying) {
    PowerLossVfs::fail_now();
    dying.reset();
    CHECK(PowerLossVfs::io_errors() == 0);
    return must(client::Store::open(e.t.store_dir(), e.t.clock, fast_options()));
  }
  std::size_t others_held(const client::Store& store) const {
    return must(store.raw_events(other.key.public_key())).size();
  }
};

TEST_CASE("sync powerloss: the last answer of a sync makes every answer before it durable") {
  SyncRig rig;
  auto store = rig.open_on_powerloss();
  CHECK(must(store->accept_sync(client::PushBatch{}, rig.first)).pulled == 2);
  CHECK(must(store->accept_sync(client::PushBatch{}, rig.last)).pulled == 2);
  store = rig.after_power_loss(std::move(store));
  CHECK(rig.others_held(*store) == 4);
  CHECK(must(store->sync_state()).cursor == 4);
  CHECK(must(store->list_entries({}))["entries"].size() == 3);
  CHECK(must(store->verify()).problem.is_ok());
}

TEST_CASE("sync powerloss: an answer followed by more can be lost whole, never torn, and is pulled again") {
  SyncRig rig;
  auto store = rig.open_on_powerloss();
  CHECK(must(store->accept_sync(client::PushBatch{}, rig.first)).pulled == 2);
  store = rig.after_power_loss(std::move(store));
  // Its commit was never synced: the events, what they showed and the cursor went together.
  CHECK(PowerLossVfs::dropped_bytes() > 0);
  CHECK(rig.others_held(*store) == 0);
  CHECK(must(store->sync_state()).cursor == 1);  // where the enrollment's answer left it
  CHECK(must(store->list_entries({}))["entries"].empty());
  CHECK(must(store->verify()).problem.is_ok());
  // The next sync pulls it again.
  CHECK(must(store->accept_sync(client::PushBatch{}, rig.first)).pulled == 2);
  CHECK(must(store->accept_sync(client::PushBatch{}, rig.last)).pulled == 2);
  CHECK(rig.others_held(*store) == 4);
}

TEST_CASE("sync powerloss: an entry recorded after an answer followed by more is durable, and so is the answer") {
  // The relaxed setting lasts for that one answer's commit: the entry's commit is FULL again.
  SyncRig rig;
  auto store = rig.open_on_powerloss();
  CHECK(must(store->accept_sync(client::PushBatch{}, rig.first)).pulled == 2);
  must(store->login("L7", "7777"));
  must(store->open_shift("U1", std::nullopt, std::nullopt));
  const client::Recorded output = must(store->log_output("", "P1", 5));
  store = rig.after_power_loss(std::move(store));
  CHECK(rig.others_held(*store) == 2);
  CHECK(must(store->sync_state()).cursor == 2);
  CHECK(must(store->raw_events(store->device())).size() == output.seq);
  CHECK(must(store->verify()).problem.is_ok());
}

}  // namespace
}  // namespace shiftbook::testing
