// The server's SQLite storage (server/src/storage.h) through its interface: appends and what they
// refuse, lookups by hash (from memory and from the on-disk index, and across two storages on
// one file), receipts, pulls (visibility, cursor, whole pushes, heads), enrollment codes,
// reference data, reopening, refusing files that are not a head-office store, and concurrent
// appends and reads.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "storage_world.h"

namespace {

using namespace shiftbook::storage_world;

// An append's events are inserted many rows to a statement, then one at a time for the rest
// (storage_chains.cpp): 150 events are two statements of 64 rows and 22 single rows.
STORAGE_TEST_CASE("storage: an append is read back as chain end, hashes, event info and pulled bytes") {
  for (const std::uint64_t count : {std::uint64_t{3}, std::uint64_t{150}}) {
    INFO("an append of " << count << " events");
    TempDir dir;
    auto st = make_storage(dir);
    Chain a;
    a.grow(count);
    append_ok(*st, batch_of(a, 1, count, "U2", "S1"));

    auto end = st->chain_end(a.device());
    REQUIRE(end.is_ok());
    CHECK(end->first == count);
    CHECK(end->second == a.hash(count));
    auto hashes = st->hashes(a.device(), 1, count);
    REQUIRE(hashes.is_ok());
    auto part = st->hashes(a.device(), 2, 3);
    REQUIRE(part.is_ok());
    CHECK(*part == std::vector<Hash>{a.hash(2), a.hash(3)});
    auto pulled = pull_ok(*st, {a.device()}, 0, 1 << 24);
    REQUIRE(pulled.events.size() == count);
    for (std::uint64_t seq = 1; seq <= count; ++seq) {
      INFO("seq " << seq);
      const std::size_t i = seq - 1;
      CHECK((*hashes)[i] == a.hash(seq));
      CHECK(pulled.events[i].raw == a.events[i].bytes);
      CHECK(pulled.events[i].pos == pulled.events[0].pos + i);
      auto info = st->event_info(a.hash(seq));
      REQUIRE(info.is_ok());
      REQUIRE(info->has_value());
      CHECK((*info)->device == a.device());
      CHECK((*info)->seq == seq);
      CHECK((*info)->hlc == a.events[i].event.hlc);
      CHECK((*info)->kind == "hours");
      CHECK((*info)->unit == "U2");
      CHECK((*info)->site == "S1");
    }
  }
}

TEST_CASE("storage (sqlite): events are found by hash before and after their hashes move to the on-disk index") {
  TempDir dir;
  server::StorageOptions small;
  small.hash_batch_events = 5;
  Chain a, b;
  a.grow(13);
  b.grow(12);
  auto all_found = [&](Storage& st, std::uint64_t upto) {
    for (const Chain* c : {&a, &b}) {
      for (std::uint64_t s = 1; s <= std::min<std::uint64_t>(upto, c->events.size()); ++s) {
        auto info = st.event_info(c->hash(s));
        REQUIRE(info.is_ok());
        CHECK((info->has_value() && (*info)->device == c->device() && (*info)->seq == s));
      }
    }
  };
  {
    auto st = server::open_sqlite_storage(dir.file("hq.db"), true, small);
    REQUIRE(st.is_ok());
    for (std::uint64_t s = 1; s <= 12; s += 3) {
      append_ok(**st, batch_of(a, s, s + 2));
      append_ok(**st, batch_of(b, s, s + 2));
      all_found(**st, s + 2);
    }
    append_ok(**st, batch_of(a, 13, 13));  // stays in memory: fewer than 5 since the last move
    all_found(**st, 13);
    CHECK(!(*st)->event_info(Hash{})->has_value());
    Hash near = a.hash(13);  // the same first 8 bytes as a stored hash: found by key, then refused
    near[31] ^= 1;
    CHECK(!(*st)->event_info(near)->has_value());
    near = a.hash(1);
    near[31] ^= 1;
    CHECK(!(*st)->event_info(near)->has_value());
  }
  // Moves happen once 5 or more wait: after 6, 12, 18 and 24 events.
  CHECK(query_int(dir.file("hq.db"), "SELECT count(*) FROM hash_index") == 24);
  auto reopened = server::open_sqlite_storage(dir.file("hq.db"), false);
  REQUIRE(reopened.is_ok());
  all_found(**reopened, 13);
}

TEST_CASE("storage (sqlite): an event's bytes are found by hash in memory, in the on-disk index and after reopening") {
  TempDir dir;
  server::StorageOptions small;
  small.hash_batch_events = 4;
  Chain a;
  a.grow(6);
  auto raw_of = [&](Storage& st, const Hash& h) {
    auto raw = st.event_raw(h);
    REQUIRE_MESSAGE(raw.is_ok(), raw.status().to_string());
    return raw->value_or(Bytes{});
  };
  {
    auto st = server::open_sqlite_storage(dir.file("hq.db"), true, small);
    REQUIRE(st.is_ok());
    append_ok(**st, batch_of(a, 1, 4));  // moved to the on-disk index
    append_ok(**st, batch_of(a, 5, 6));  // still in memory
    for (std::uint64_t s = 1; s <= 6; ++s) CHECK(raw_of(**st, a.hash(s)) == a.events[s - 1].bytes);
    Hash near = a.hash(6);  // the same first 8 bytes as a stored hash
    near[31] ^= 1;
    CHECK(!(*st)->event_raw(near)->has_value());
    CHECK(!(*st)->event_raw(Hash{})->has_value());
  }
  CHECK(query_int(dir.file("hq.db"), "SELECT count(*) FROM hash_index") == 4);
  auto reopened = server::open_sqlite_storage(dir.file("hq.db"), false);
  REQUIRE(reopened.is_ok());
  for (std::uint64_t s = 1; s <= 6; ++s) CHECK(raw_of(**reopened, a.hash(s)) == a.events[s - 1].bytes);
}

STORAGE_TEST_CASE("storage: two storages on one store (the server and an admin command) see each other's appends") {
  TempDir dir;
  server::StorageOptions small;
  small.hash_batch_events = 4;
  auto first = make_storage(dir);
  auto second = open_again(dir, small);
  Chain a, signer;
  a.grow(6);
  signer.grow(6);
  append_ok(*first, batch_of(a, 1, 3));
  CHECK(second->event_info(a.hash(3))->has_value());
  append_ok(*second, batch_of(signer, 1, 6, "", "S1"));  // moves hashes to the on-disk index
  append_ok(*first, batch_of(a, 4, 6));
  for (std::uint64_t s = 1; s <= 6; ++s) {
    CHECK(first->event_info(a.hash(s))->has_value());
    CHECK(first->event_info(signer.hash(s))->has_value());
    CHECK(second->event_info(a.hash(s))->has_value());
  }
  CHECK(first->chain_end(signer.device())->first == 6);
  CHECK(pull_ok(*second, {a.device(), signer.device()}, 0, 1 << 20).events.size() == 12);
}

STORAGE_TEST_CASE("storage: unknown events and chains, and ranges not held") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a;
  a.grow(2);
  append_ok(*st, batch_of(a, 1, 2));
  auto info = st->event_info(Hash{});
  REQUIRE(info.is_ok());
  CHECK(!info->has_value());
  Chain other;
  auto end = st->chain_end(other.device());
  REQUIRE(end.is_ok());
  CHECK(end->first == 0);
  CHECK(end->second == Hash{});
  CHECK(st->hashes(a.device(), 2, 3).status().code() == Code::kNotFound);
  CHECK(st->hashes(a.device(), 0, 1).status().code() == Code::kInvalidArgument);
  CHECK(st->hashes(a.device(), 2, 1).status().code() == Code::kInvalidArgument);
}

STORAGE_TEST_CASE("storage: an append at the wrong expected_seq is aborted and writes nothing") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a;
  a.grow(5);
  append_ok(*st, batch_of(a, 1, 2));
  Status overlap = st->append(batch_of(a, 2, 3));  // seq 2 is held already
  CHECK(overlap.code() == Code::kAborted);
  CHECK(overlap.message().find("holds events up to seq 2") != std::string::npos);
  CHECK(st->append(batch_of(a, 4, 5)).code() == Code::kAborted);  // a gap
  CHECK(st->chain_end(a.device())->first == 2);
  CHECK(st->receipt(a.device())->value().seq == 2);
  CHECK(pull_ok(*st, {a.device()}, 0, 1 << 20).events.size() == 2);
  CHECK(!st->event_info(a.hash(3))->has_value());
  append_ok(*st, batch_of(a, 3, 5));  // the right one still lands
  CHECK(st->chain_end(a.device())->first == 5);
}

STORAGE_TEST_CASE("storage: an append computed from a site's chains lands only while they end where they were read") {
  TempDir dir;
  auto st = make_storage(dir);
  add_code(*st, "t1", {"U1"}, kNow + 1000);
  add_code(*st, "t2", {"U1"}, kNow + 1000);
  Chain t, late, signer;
  REQUIRE(st->redeem_code(secret_hash("t1"), t.device(), kNow).is_ok());
  t.grow(3);
  signer.grow(3);
  append_ok(*st, batch_of(t, 1, 2, "U1", "S1"));
  const ReadChains read{"S1", {{t.device(), 2}}};
  // The terminal stored seq 3 since: the decision is refused and nothing of it is written.
  append_ok(*st, batch_of(t, 3, 3, "U1", "S1"));
  AppendBatch decision = batch_of(signer, 1, 1);
  decision.unchanged = read;
  const Status moved = st->append(decision);
  CHECK(moved.code() == Code::kAborted);
  CHECK(moved.message().find("site S1's terminals stored events since this was computed") != std::string::npos);
  CHECK(st->chain_end(signer.device())->first == 0);
  // Read again, it lands.
  decision.unchanged = ReadChains{"S1", {{t.device(), 3}}};
  append_ok(*st, decision);
  // A terminal enrolled since (holding nothing yet) is a change too.
  REQUIRE(st->redeem_code(secret_hash("t2"), late.device(), kNow).is_ok());
  AppendBatch next = batch_of(signer, 2, 2);
  next.unchanged = ReadChains{"S1", {{t.device(), 3}}};
  CHECK(st->append(next).code() == Code::kAborted);
  next.unchanged->ends[late.device()] = 0;
  append_ok(*st, next);
  CHECK(st->chain_end(signer.device())->first == 2);
}

STORAGE_TEST_CASE("storage: a batch that is not consecutive, of another device or with a stray head is refused") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a, b;
  a.grow(3);
  b.grow(1);
  AppendBatch skipping = batch_of(a, 1, 3);
  skipping.events.erase(skipping.events.begin() + 1);
  CHECK(st->append(skipping).code() == Code::kInvalidArgument);
  AppendBatch foreign = batch_of(a, 1, 1);
  foreign.events.push_back(batch_of(b, 1, 1).events[0]);
  CHECK(st->append(foreign).code() == Code::kInvalidArgument);
  AppendBatch early_head = batch_of(a, 1, 3);
  early_head.head = sign_head(a.key, 2, a.hash(2));
  CHECK(st->append(early_head).code() == Code::kInvalidArgument);
  AppendBatch empty = batch_of(a, 1, 1);
  empty.events.clear();
  CHECK(st->append(empty).code() == Code::kInvalidArgument);
  CHECK(st->chain_end(a.device())->first == 0);
}

STORAGE_TEST_CASE("storage: the receipt is stored with each append and replaced by the next") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a;
  a.grow(4);
  CHECK(!st->receipt(a.device())->has_value());
  AppendBatch first = batch_of(a, 1, 2);
  append_ok(*st, first);
  auto r = st->receipt(a.device());
  REQUIRE(r.is_ok());
  REQUIRE(r->has_value());
  CHECK((*r)->seq == 2);
  CHECK((*r)->hash == a.hash(2));
  CHECK((*r)->server_ms == first.receipt.server_ms);
  CHECK((*r)->signature == first.receipt.signature);
  CHECK(verify_receipt(server_key().public_key(), **r));
  append_ok(*st, batch_of(a, 3, 4));
  r = st->receipt(a.device());
  CHECK((*r)->seq == 4);
  CHECK(verify_receipt(server_key().public_key(), **r));
}

STORAGE_TEST_CASE("storage: pull returns only the listed devices' events, in commit order, with their heads") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a, b, c;
  a.grow(4);
  b.grow(3);
  c.grow(2);
  append_ok(*st, batch_of(a, 1, 2));
  append_ok(*st, batch_of(b, 1, 3));
  append_ok(*st, batch_of(c, 1, 2));
  append_ok(*st, batch_of(a, 3, 4));
  std::map<PublicKey, char> names{{a.device(), 'A'}, {b.device(), 'B'}, {c.device(), 'C'}};
  CHECK(render(pull_ok(*st, {a.device(), c.device()}, 0, 1 << 20), names) == "A1 A2 C1 C2 A3 A4 | heads A4 C2 | end");
  CHECK(render(pull_ok(*st, {b.device()}, 0, 1 << 20), names) == "B1 B2 B3 | heads B3 | end");
  CHECK(render(pull_ok(*st, {}, 0, 1 << 20), names) == "| heads | end");
  // Duplicates in the list change nothing.
  CHECK(render(pull_ok(*st, {b.device(), b.device()}, 0, 1 << 20), names) == "B1 B2 B3 | heads B3 | end");
  // With nothing more to see, the cursor passes the pushes of devices the caller does not see.
  PullBatch only_c = pull_ok(*st, {c.device()}, 0, 1 << 20);
  CHECK(render(only_c, names) == "C1 C2 | heads C2 | end");
  CHECK(only_c.cursor == 9);
  CHECK(only_c.events.back().pos == 7);
  CHECK(render(pull_ok(*st, {a.device()}, only_c.cursor, 1 << 20), names) == "| heads | end");
}

STORAGE_TEST_CASE("storage: pull ends after whole pushes, includes the first push whole, and the cursor walks on") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a, b;
  a.grow(6, "hours", 1000);
  b.grow(3, "hours", 1000);
  append_ok(*st, batch_of(a, 1, 3));  // each push is about 3 KiB
  append_ok(*st, batch_of(b, 1, 3));
  append_ok(*st, batch_of(a, 4, 6));
  std::map<PublicKey, char> names{{a.device(), 'A'}, {b.device(), 'B'}};
  const std::vector<PublicKey> both{a.device(), b.device()};

  // A budget smaller than one push still gets that push, whole.
  PullBatch p = pull_ok(*st, both, 0, 100);
  CHECK(render(p, names) == "A1 A2 A3 | heads A3 | more");
  p = pull_ok(*st, both, p.cursor, 100);
  CHECK(render(p, names) == "B1 B2 B3 | heads B3 | more");
  p = pull_ok(*st, both, p.cursor, 100);
  CHECK(render(p, names) == "A4 A5 A6 | heads A6 | end");
  const std::uint64_t last = p.cursor;
  p = pull_ok(*st, both, last, 100);
  CHECK(render(p, names) == "| heads | end");
  CHECK(p.cursor == last);

  // A budget of two and a half pushes stops before the third, not in it.
  p = pull_ok(*st, both, 0, 7700);
  CHECK(render(p, names) == "A1 A2 A3 B1 B2 B3 | heads A3 B3 | more");
  CHECK(p.cursor == p.events.back().pos);
}

STORAGE_TEST_CASE("storage: more is false when the last push fits exactly") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a;
  a.grow(4);
  append_ok(*st, batch_of(a, 1, 2));
  append_ok(*st, batch_of(a, 3, 4));
  std::size_t total = 0;
  for (const auto& e : a.events) total += e.bytes.size();
  std::map<PublicKey, char> names{{a.device(), 'A'}};
  CHECK(render(pull_ok(*st, {a.device()}, 0, total), names) == "A1 A2 A3 A4 | heads A4 | end");
  CHECK(render(pull_ok(*st, {a.device()}, 0, total - 1), names) == "A1 A2 | heads A2 | more");
}

STORAGE_TEST_CASE("storage: pulling many batches reads each event once, in order") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a, b;
  a.grow(400);
  b.grow(400);
  for (std::uint64_t s = 1; s <= 400; s += 40) {
    append_ok(*st, batch_of(a, s, s + 39));
    append_ok(*st, batch_of(b, s, s + 19));
    append_ok(*st, batch_of(b, s + 20, s + 39));
  }
  std::uint64_t cursor = 0;
  std::uint64_t last_pos = 0;
  std::size_t seen = 0;
  int batches = 0;
  for (bool more = true; more && batches < 1000; ++batches) {
    PullBatch p = pull_ok(*st, {a.device(), b.device()}, cursor, 4096);
    for (const auto& e : p.events) {
      CHECK(e.pos > last_pos);
      last_pos = e.pos;
    }
    seen += p.events.size();
    cursor = p.cursor;
    more = p.more;
  }
  CHECK(seen == 800);
  CHECK(batches > 10);
}

STORAGE_TEST_CASE("storage: redeeming a code enrolls the device with the code's site and units, once") {
  TempDir dir;
  auto st = make_storage(dir);
  add_code(*st, "good", {"U1", "U2"}, kNow + 1000);
  add_code(*st, "spare", {"U1"}, kNow + 1000);
  Chain d;
  auto rec = st->redeem_code(secret_hash("good"), d.device(), kNow);
  REQUIRE_MESSAGE(rec.is_ok(), rec.status().to_string());
  CHECK(rec->site == "S1");
  CHECK(rec->units == std::vector<std::string>{"U1", "U2"});
  auto stored = st->device(d.device());
  REQUIRE(stored.is_ok());
  REQUIRE(stored->has_value());
  CHECK((*stored)->site == "S1");
  CHECK((*stored)->units == std::vector<std::string>{"U1", "U2"});
  CHECK((*stored)->enrolled_ms == kNow);
  CHECK((*stored)->seq == 0);
  auto codes = st->codes();
  REQUIRE(codes.is_ok());
  REQUIRE(codes->size() == 2);
  for (const auto& c : *codes) {
    const bool used = c.secret_hash == secret_hash("good");
    CHECK(c.used_ms == (used ? kNow : 0));
    CHECK(c.used_by == (used ? d.device() : PublicKey{}));
  }
}

STORAGE_TEST_CASE("storage: unknown, expired and used codes, and enrolled devices, are refused without a write") {
  TempDir dir;
  auto st = make_storage(dir);
  add_code(*st, "good", {"U1"}, kNow + 1000);
  add_code(*st, "old", {"U1"}, kNow);
  Chain d1, d2;
  auto unknown = st->redeem_code(secret_hash("guess"), d1.device(), kNow);
  CHECK(unknown.status().code() == Code::kNotFound);
  CHECK(unknown.status().message().find("unknown enrollment code") != std::string::npos);
  auto expired = st->redeem_code(secret_hash("old"), d1.device(), kNow);
  CHECK(expired.status().code() == Code::kFailedPrecondition);
  CHECK(expired.status().message().find("expired") != std::string::npos);
  REQUIRE(st->redeem_code(secret_hash("good"), d1.device(), kNow).is_ok());
  auto used = st->redeem_code(secret_hash("good"), d2.device(), kNow);
  CHECK(used.status().code() == Code::kFailedPrecondition);
  CHECK(used.status().message().find("already used") != std::string::npos);
  add_code(*st, "again", {"U2"}, kNow + 1000);
  auto twice = st->redeem_code(secret_hash("again"), d1.device(), kNow);
  CHECK(code_name_of(twice.status()) == "already_exists");
  CHECK(!st->device(d2.device())->has_value());
  CHECK(st->device(d1.device())->value().units == std::vector<std::string>{"U1"});
  auto codes = st->codes();
  REQUIRE(codes.is_ok());
  for (const auto& c : *codes) CHECK(c.used_ms == (c.secret_hash == secret_hash("good") ? kNow : 0));
}

STORAGE_TEST_CASE("storage: a code's secret hash is unique") {
  TempDir dir;
  auto st = make_storage(dir);
  add_code(*st, "one", {"U1"}, kNow + 1);
  CodeRecord dup;
  dup.secret_hash = secret_hash("one");
  dup.site = "S2";
  dup.units = {"U9"};
  CHECK(st->add_code(dup).code() == Code::kAlreadyExists);
  CHECK(st->codes()->size() == 1);
}

STORAGE_TEST_CASE("storage: devices_in_units finds every device enrolled for any of the units") {
  TempDir dir;
  auto st = make_storage(dir);
  add_code(*st, "c1", {"U1", "U2"}, kNow + 1);
  add_code(*st, "c2", {"U2"}, kNow + 1);
  add_code(*st, "c3", {"U9"}, kNow + 1);
  Chain d1, d2, d3;
  REQUIRE(st->redeem_code(secret_hash("c1"), d1.device(), kNow).is_ok());
  REQUIRE(st->redeem_code(secret_hash("c2"), d2.device(), kNow).is_ok());
  REQUIRE(st->redeem_code(secret_hash("c3"), d3.device(), kNow).is_ok());
  auto sorted = [](std::vector<PublicKey> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  CHECK(*st->devices_in_units({"U1"}) == std::vector<PublicKey>{d1.device()});
  CHECK(*st->devices_in_units({"U2"}) == sorted({d1.device(), d2.device()}));
  CHECK(*st->devices_in_units({"U1", "U9", "U1"}) == sorted({d1.device(), d3.device()}));
  CHECK(st->devices_in_units({})->empty());
  CHECK(st->devices_in_units({"U7"})->empty());
  CHECK(st->devices()->size() == 3);
}

STORAGE_TEST_CASE("storage: a flag keeps its first reason, note_sync records both clocks and the cursor") {
  TempDir dir;
  auto st = make_storage(dir);
  add_code(*st, "c1", {"U1"}, kNow + 1);
  Chain d, stranger;
  REQUIRE(st->redeem_code(secret_hash("c1"), d.device(), kNow).is_ok());
  REQUIRE(st->flag_device(d.device(), "equivocation at seq 3", kNow + 5).is_ok());
  REQUIRE(st->flag_device(d.device(), "equivocation at seq 9", kNow + 9).is_ok());
  REQUIRE(st->note_sync(d.device(), kNow + 10, kNow - 3600000, 42).is_ok());
  auto rec = st->device(d.device());
  REQUIRE(rec.is_ok());
  CHECK((*rec)->flag == "equivocation at seq 3");
  CHECK((*rec)->flagged_ms == kNow + 5);
  CHECK((*rec)->last_sync_ms == kNow + 10);
  CHECK((*rec)->last_client_ms == kNow - 3600000);
  CHECK((*rec)->last_cursor == 42);
  CHECK(st->flag_device(stranger.device(), "x", kNow).code() == Code::kNotFound);
  CHECK(st->note_sync(stranger.device(), kNow, kNow, 0).code() == Code::kNotFound);
}

STORAGE_TEST_CASE("storage: reference keeps the latest body per key and filters by site") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain s1, s2;
  s1.grow(1, "ref_unit", 0, Json{{"id", "U1"}, {"site", "S1"}, {"name", "Line 1"}});
  s1.grow(1, "ref_unit", 0, Json{{"id", "U2"}, {"site", "S1"}, {"name", "Line 2"}});
  s1.grow(1, "ref_unit", 0, Json{{"id", "U1"}, {"site", "S1"}, {"name", "Line one"}});
  s2.grow(1, "ref_unit", 0, Json{{"id", "U9"}, {"site", "S2"}, {"name", "Far line"}});
  append_ok(*st, batch_of(s1, 1, 1, "", "S1", "U1"));
  append_ok(*st, batch_of(s1, 2, 2, "", "S1", "U2"));
  append_ok(*st, batch_of(s2, 1, 1, "", "S2", "U9"));
  append_ok(*st, batch_of(s1, 3, 3, "", "S1", "U1"));
  auto names = [](const std::vector<Json>& items) {
    std::string out;
    for (const auto& j : items) out += j["id"].get<std::string>() + "=" + j["name"].get<std::string>() + ";";
    return out;
  };
  CHECK(names(*st->reference("ref_unit", "S1")) == "U1=Line one;U2=Line 2;");
  CHECK(names(*st->reference("ref_unit", "")) == "U1=Line one;U2=Line 2;U9=Far line;");
  CHECK(st->reference("ref_worker", "")->empty());
  auto item = st->reference_item("ref_unit", "U9");
  REQUIRE(item.is_ok());
  REQUIRE(item->has_value());
  CHECK((**item)["name"] == "Far line");
  CHECK(!st->reference_item("ref_unit", "U7")->has_value());
}

STORAGE_TEST_CASE("storage: reopening keeps devices, codes, chains, receipts and reference data") {
  TempDir dir;
  Chain d, signer;
  d.grow(3);
  signer.grow(1, "ref_site", 0, Json{{"id", "S1"}, {"name", "Plant"}, {"tz", "UTC"}});
  {
    auto st = make_storage(dir);
    add_code(*st, "c1", {"U1"}, kNow + 1);
    REQUIRE(st->redeem_code(secret_hash("c1"), d.device(), kNow).is_ok());
    append_ok(*st, batch_of(d, 1, 3));
    append_ok(*st, batch_of(signer, 1, 1, "", "S1", "S1"));
  }
  auto reopened = open_again(dir);
  Storage& st = *reopened;
  auto rec = st.device(d.device());
  REQUIRE(rec.is_ok());
  REQUIRE(rec->has_value());
  CHECK((*rec)->seq == 3);
  CHECK((*rec)->head == d.hash(3));
  CHECK(st.codes()->at(0).used_by == d.device());
  CHECK(st.receipt(d.device())->value().seq == 3);
  CHECK(st.reference_item("ref_site", "S1")->value()["name"] == "Plant");
  std::map<PublicKey, char> names{{d.device(), 'D'}, {signer.device(), 'S'}};
  CHECK(render(pull_ok(st, {d.device(), signer.device()}, 0, 1 << 20), names) == "D1 D2 D3 S1 | heads D3 S1 | end");
}

STORAGE_TEST_CASE("storage: open refuses a missing store, create an existing one") {
  TempDir dir;
  auto missing = server::open_storage(store_url(dir), false);
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().message().find("shiftbook-server init") != std::string::npos);
  { make_storage(dir); }
  CHECK(server::open_storage(store_url(dir), true).status().code() == Code::kAlreadyExists);
  CHECK(server::open_storage(store_url(dir), false).is_ok());
}

TEST_CASE("storage: a store URL names SQLite or PostgreSQL, and nothing else") {
  CHECK(server::open_storage("mysql://hq/db", false).status().code() == Code::kInvalidArgument);
  CHECK(server::open_storage("hq.db", false).status().code() == Code::kInvalidArgument);
  CHECK(server::open_storage("sqlite:", false).status().code() == Code::kInvalidArgument);
  CHECK(server::is_postgres_url("postgresql://u@h:5432/d"));
  CHECK(server::is_postgres_url("postgres://h/d"));
  CHECK_FALSE(server::is_postgres_url("sqlite:/x/hq.db"));
}

TEST_CASE("storage (sqlite): open and create refuse a missing store, an existing one, and other files") {
  TempDir dir;
  auto missing = server::open_sqlite_storage(dir.file("none.db"), false);
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().message().find("shiftbook-server init") != std::string::npos);
  { make_storage(dir); }
  CHECK(server::open_sqlite_storage(dir.file("hq.db"), true).status().code() == Code::kAlreadyExists);

  std::ofstream(dir.file("junk.db"), std::ios::binary) << std::string(4096, 'j');
  CHECK(server::open_sqlite_storage(dir.file("junk.db"), false).status().code() == Code::kDataLoss);
  exec_sql(dir.file("other.db"), "CREATE TABLE t(x)");
  CHECK(server::open_sqlite_storage(dir.file("other.db"), false).status().code() == Code::kDataLoss);
  exec_sql(dir.file("terminal.db"), "CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB); "
                                    "INSERT INTO meta VALUES('format', CAST('shiftbook-terminal' AS BLOB)); "
                                    "PRAGMA user_version = 1");
  auto terminal = server::open_sqlite_storage(dir.file("terminal.db"), false);
  CHECK(terminal.status().code() == Code::kDataLoss);
  CHECK(terminal.status().message().find("terminal store") != std::string::npos);
  exec_sql(dir.file("hq.db"), "PRAGMA user_version = 99");
  auto newer = server::open_sqlite_storage(dir.file("hq.db"), false);
  CHECK(newer.status().code() == Code::kFailedPrecondition);
  CHECK(newer.status().message().find("newer") != std::string::npos);
}

STORAGE_TEST_CASE("storage: concurrent appends of several devices all land, in commit order, while others pull") {
  TempDir dir;
  auto st = make_storage(dir);
  constexpr int kDevices = 4;
  constexpr int kBatches = 20;
  constexpr int kPerBatch = 25;
  std::vector<Chain> chains(kDevices);
  std::vector<PublicKey> keys;
  for (auto& c : chains) {
    c.grow(kBatches * kPerBatch);
    keys.push_back(c.device());
  }
  std::vector<std::string> failures(kDevices + 1);
  std::vector<std::thread> threads;
  for (int d = 0; d < kDevices; ++d) {
    threads.emplace_back([&, d] {
      for (int i = 0; i < kBatches && failures[d].empty(); ++i) {
        Status s = st->append(batch_of(chains[d], i * kPerBatch + 1, (i + 1) * kPerBatch));
        if (!s.is_ok()) failures[d] = s.to_string();
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 50 && failures[kDevices].empty(); ++i) {
      auto p = st->pull(keys, 0, 1 << 16);
      if (!p.is_ok()) failures[kDevices] = p.status().to_string();
      auto info = st->event_info(chains[i % kDevices].hash(1));
      if (!info.is_ok()) failures[kDevices] = info.status().to_string();
    }
  });
  for (auto& t : threads) t.join();
  for (const auto& f : failures) CHECK_MESSAGE(f.empty(), f);

  PullBatch all = pull_ok(*st, keys, 0, 64 << 20);
  CHECK(all.events.size() == kDevices * kBatches * kPerBatch);
  CHECK(!all.more);
  std::map<PublicKey, std::uint64_t> last_seq;
  std::uint64_t last_pos = 0;
  for (const auto& e : all.events) {
    auto ev = decode_event(e.raw);
    REQUIRE(ev.is_ok());
    CHECK(e.pos > last_pos);
    CHECK(ev->seq == last_seq[ev->device] + 1);
    last_pos = e.pos;
    last_seq[ev->device] = ev->seq;
  }
  for (const auto& c : chains) CHECK(st->chain_end(c.device())->first == kBatches * kPerBatch);
}

}  // namespace
