// The server's SQLite storage (server/src/storage.h) in the field: a device_revoke marks its device
// within the append (and refuses a second or an unknown one), a revoked device's own appends are
// aborted, quarantine keeps a push once and names conflicts, chain_events carries each push's
// receipt, events_after counts what a terminal has yet to pull, and a version-1 store migrates.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "storage_world.h"

namespace {

using namespace shiftbook::storage_world;
using server::QuarantineBatch;
using server::Revocation;

// Enrolls `d` for site S1 through a fresh code.
void enroll(Storage& st, const Chain& d, const std::string& secret) {
  add_code(st, secret, {"U1"}, kNow + 1000);
  auto rec = st.redeem_code(secret_hash(secret), d.device(), kNow);
  REQUIRE_MESSAGE(rec.is_ok(), rec.status().to_string());
}

// The site signer's next event: a device_revoke of `d`, as one append that marks it revoked.
AppendBatch revocation(Chain& signer, const Chain& d, const std::string& reason) {
  signer.grow(1, "device_revoke", 0, Json{{"device", to_hex(d.device())}, {"reason", reason}});
  const auto seq = static_cast<std::uint64_t>(signer.events.size());
  AppendBatch b = batch_of(signer, seq, seq, "", "S1");
  b.events[0].revokes = Revocation{d.device(), reason};
  return b;
}

// Events from..to of `c` (or of `events`, when given) as a quarantined push received at `ms`.
QuarantineBatch quarantine_of(const Chain& c, std::uint64_t from, std::uint64_t to, std::int64_t ms,
                              const std::vector<SealedEvent>* events = nullptr) {
  const std::vector<SealedEvent>& src = events ? *events : c.events;
  QuarantineBatch b;
  b.device = c.device();
  for (std::uint64_t s = from; s <= to; ++s) {
    b.events.push_back(NewEvent{src.at(s - 1).event, src.at(s - 1).bytes, {}, {}, {}});
  }
  b.head = sign_head(c.key, to, src.at(to - 1).event.hash);
  b.received_ms = ms;
  return b;
}

// `c`'s events with the one at `seq` replaced by another event at that seq (a fork).
std::vector<SealedEvent> forked_at(const Chain& c, std::uint64_t seq) {
  std::vector<SealedEvent> out = c.events;
  Event e = out.at(seq - 1).event;
  e.body["n"] = -1;
  auto sealed = seal_event(std::move(e));
  REQUIRE(sealed.is_ok());
  out.at(seq - 1) = std::move(*sealed);
  return out;
}

server::QuarantineOutcome quarantine_ok(Storage& st, const QuarantineBatch& b) {
  auto out = st.quarantine(b);
  REQUIRE_MESSAGE(out.is_ok(), out.status().to_string());
  return std::move(out).value();
}

// "3 4 5": the seqs quarantine holds of `d`.
std::string held_seqs(Storage& st, const Chain& d) {
  auto held = st.quarantined(&d.device());
  REQUIRE(held.is_ok());
  std::string out;
  for (const auto& q : *held) out += (out.empty() ? "" : " ") + std::to_string(q.seq);
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

STORAGE_TEST_CASE("storage: a device_revoke append marks its device revoked at the receipt's time, with the reason") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain d, other, signer;
  enroll(*st, d, "c1");
  enroll(*st, other, "c2");
  AppendBatch b = revocation(signer, d, "stolen from the press shop");
  append_ok(*st, b);
  auto rec = st->device(d.device());
  REQUIRE(rec.is_ok());
  CHECK((*rec)->revoked_ms == b.receipt.server_ms);
  CHECK((*rec)->revoke_reason == "stolen from the press shop");
  CHECK(st->device(other.device())->value().revoked_ms == 0);
  CHECK(st->chain_end(signer.device())->first == 1);
}

STORAGE_TEST_CASE("storage: revoking twice, or a device not enrolled, is refused and writes nothing") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain d, stranger, signer;
  enroll(*st, d, "c1");
  AppendBatch first = revocation(signer, d, "lost");
  append_ok(*st, first);
  Status twice = st->append(revocation(signer, d, "lost again"));
  CHECK(twice.code() == Code::kFailedPrecondition);
  CHECK(twice.message().find("revoked already") != std::string::npos);
  signer.events.pop_back();
  Status unknown = st->append(revocation(signer, stranger, "never here"));
  CHECK(unknown.code() == Code::kNotFound);
  // Neither event was stored; the first revocation stands as it was.
  CHECK(st->chain_end(signer.device())->first == 1);
  CHECK(st->device(d.device())->value().revoke_reason == "lost");
  CHECK(st->device(d.device())->value().revoked_ms == first.receipt.server_ms);
}

STORAGE_TEST_CASE("storage: a revoked device's own append is aborted and writes nothing") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain d, signer;
  enroll(*st, d, "c1");
  d.grow(4);
  append_ok(*st, batch_of(d, 1, 2));
  append_ok(*st, revocation(signer, d, "lost"));
  Status after = st->append(batch_of(d, 3, 4));
  CHECK(after.code() == Code::kAborted);
  CHECK(after.message().find("revoked") != std::string::npos);
  CHECK(st->chain_end(d.device())->first == 2);
  CHECK(st->receipt(d.device())->value().seq == 2);
}

STORAGE_TEST_CASE("storage: quarantine keeps each new (device, seq) once, skips what is held, and is never pulled") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain d, peer, signer;
  enroll(*st, d, "c1");
  d.grow(6);
  peer.grow(1);
  append_ok(*st, batch_of(d, 1, 2));
  append_ok(*st, revocation(signer, d, "lost"));
  const std::uint64_t cursor = pull_ok(*st, {d.device(), signer.device()}, 0, 1 << 20).cursor;

  auto first = quarantine_ok(*st, quarantine_of(d, 1, 4, kNow + 50));  // 1 and 2 are accepted events already
  CHECK(first.added == std::vector<std::uint64_t>{3, 4});
  CHECK(first.conflicts.empty());
  auto again = quarantine_ok(*st, quarantine_of(d, 3, 6, kNow + 60));  // a retry of 3..4, then 5..6
  CHECK(again.added == std::vector<std::uint64_t>{5, 6});
  CHECK(quarantine_ok(*st, quarantine_of(d, 1, 6, kNow + 70)).added.empty());
  CHECK(held_seqs(*st, d) == "3 4 5 6");

  auto held = st->quarantined(&d.device());
  REQUIRE(held.is_ok());
  const auto& q3 = held->front();
  CHECK(q3.hash == d.hash(3));
  CHECK(q3.kind == "hours");
  CHECK(q3.received_ms == kNow + 50);
  CHECK(q3.head.seq == 4);
  CHECK(q3.head.hash == d.hash(4));
  CHECK(verify_head(q3.head));
  CHECK(held->back().head.seq == 6);
  CHECK(st->quarantined(&peer.device())->empty());
  CHECK(st->quarantined(nullptr)->size() == 4);

  // Nothing of it is an accepted event: no position, no pull, no count, no chain growth.
  CHECK(st->chain_end(d.device())->first == 2);
  CHECK(st->device(d.device())->value().quarantined == 4);
  CHECK(pull_ok(*st, {d.device()}, cursor, 1 << 20).events.empty());
  CHECK(*st->events_after({d.device()}, 0) == 2);
  CHECK(!st->event_info(d.hash(3))->has_value());
}

STORAGE_TEST_CASE("storage: quarantine keeps the first event at a seq and names a different one as a conflict") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain d, signer;
  enroll(*st, d, "c1");
  d.grow(4);
  append_ok(*st, batch_of(d, 1, 2));
  append_ok(*st, revocation(signer, d, "lost"));
  quarantine_ok(*st, quarantine_of(d, 3, 3, kNow));

  const auto fork2 = forked_at(d, 2);  // differs from an accepted event
  auto in_events = quarantine_ok(*st, quarantine_of(d, 2, 2, kNow, &fork2));
  REQUIRE(in_events.conflicts.size() == 1);
  CHECK(in_events.conflicts[0].seq == 2);
  CHECK(in_events.conflicts[0].in_events);
  CHECK(in_events.conflicts[0].held == d.hash(2));
  CHECK(in_events.conflicts[0].pushed == fork2[1].event.hash);

  const auto fork3 = forked_at(d, 3);  // differs from a quarantined event; 4 is new
  auto in_quarantine = quarantine_ok(*st, quarantine_of(d, 3, 4, kNow, &fork3));
  REQUIRE(in_quarantine.conflicts.size() == 1);
  CHECK(in_quarantine.conflicts[0].seq == 3);
  CHECK(!in_quarantine.conflicts[0].in_events);
  CHECK(in_quarantine.added == std::vector<std::uint64_t>{4});
  CHECK(st->quarantined(&d.device())->front().hash == d.hash(3));
  CHECK(st->hashes(d.device(), 2, 2)->front() == d.hash(2));
}

STORAGE_TEST_CASE("storage: quarantine refuses an empty, gapped, foreign or stray-headed batch, keeping nothing") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain d, other;
  d.grow(3);
  other.grow(1);
  QuarantineBatch empty = quarantine_of(d, 1, 1, kNow);
  empty.events.clear();
  CHECK(st->quarantine(empty).status().code() == Code::kInvalidArgument);
  QuarantineBatch gapped = quarantine_of(d, 1, 3, kNow);
  gapped.events.erase(gapped.events.begin() + 1);
  CHECK(st->quarantine(gapped).status().code() == Code::kInvalidArgument);
  QuarantineBatch foreign = quarantine_of(d, 1, 1, kNow);
  foreign.events.push_back(NewEvent{other.events[0].event, other.events[0].bytes, {}, {}, {}});
  CHECK(st->quarantine(foreign).status().code() == Code::kInvalidArgument);
  QuarantineBatch stray = quarantine_of(d, 1, 3, kNow);
  stray.head = sign_head(d.key, 2, d.hash(2));
  CHECK(st->quarantine(stray).status().code() == Code::kInvalidArgument);
  CHECK(st->quarantined(nullptr)->empty());
}

STORAGE_TEST_CASE("storage: chain_events gives each event the receipt of the push that delivered it") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a, b;
  a.grow(5);
  b.grow(2);
  const AppendBatch first = batch_of(a, 1, 2);
  append_ok(*st, first);
  append_ok(*st, batch_of(b, 1, 2));
  const AppendBatch second = batch_of(a, 3, 5);
  append_ok(*st, second);
  auto rows = st->chain_events(a.device(), 2, 3);
  REQUIRE(rows.is_ok());
  REQUIRE(rows->size() == 3);
  std::string seen;
  for (const auto& r : *rows) {
    auto e = decode_event(r.raw);
    REQUIRE(e.is_ok());
    REQUIRE(r.receipt.has_value());
    CHECK(verify_receipt(server_key().public_key(), *r.receipt));
    CHECK(r.received_ms == r.receipt->server_ms);
    seen += std::to_string(e->seq) + "<" + std::to_string(r.receipt->seq) + " ";
  }
  CHECK(seen == "2<2 3<5 4<5 ");
  CHECK((*rows)[0].receipt->signature == first.receipt.signature);
  CHECK((*rows)[1].receipt->signature == second.receipt.signature);
  CHECK(st->chain_events(a.device(), 6, 10)->empty());
  CHECK(st->chain_events(Chain().device(), 1, 10)->empty());
}

STORAGE_TEST_CASE("storage: last_event_of_kind finds a chain's latest event of a kind at or before a seq") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a;
  a.grow(1, "shift_open", 0, Json{{"n", 1}});
  a.grow(2);
  a.grow(1, "shift_open", 0, Json{{"n", 4}});
  a.grow(1);
  append_ok(*st, batch_of(a, 1, 5));
  auto at = [&](std::uint64_t seq) {
    auto raw = st->last_event_of_kind(a.device(), "shift_open", seq);
    REQUIRE(raw.is_ok());
    return raw->has_value() ? decode_event(**raw)->seq : 0;
  };
  CHECK(at(0) == 0);
  CHECK(at(1) == 1);
  CHECK(at(3) == 1);
  CHECK(at(4) == 4);
  CHECK(at(9) == 4);
}

STORAGE_TEST_CASE("storage: events_after counts the listed devices' events after a cursor") {
  TempDir dir;
  auto st = make_storage(dir);
  Chain a, b, c;
  a.grow(5);
  b.grow(3);
  c.grow(1);
  append_ok(*st, batch_of(a, 1, 2));  // positions 1..2
  append_ok(*st, batch_of(b, 1, 3));  // 3..5
  append_ok(*st, batch_of(a, 3, 5));  // 6..8
  CHECK(*st->events_after({a.device(), b.device()}, 0) == 8);
  CHECK(*st->events_after({a.device(), b.device(), c.device()}, 2) == 6);
  CHECK(*st->events_after({a.device()}, 5) == 3);
  CHECK(*st->events_after({b.device()}, 5) == 0);
  CHECK(*st->events_after({c.device()}, 0) == 0);
  CHECK(*st->events_after({}, 0) == 0);
}

TEST_CASE("storage (sqlite): a version-1 store migrates to version 2, its history kept and the new fields empty") {
  TempDir dir;
  Chain d, signer;
  d.grow(3);
  {
    auto st = make_storage(dir);
    enroll(*st, d, "c1");
    append_ok(*st, batch_of(d, 1, 2));
    REQUIRE(st->note_sync(d.device(), kNow, kNow, 0).is_ok());
  }
  // The same store as version 1 wrote it: its own tables and columns only.
  const std::string current = dir.file("hq.db");
  const std::string v1 = dir.file("v1.db");
  exec_sql(v1, read_text(std::string(SHIFTBOOK_SOURCE_DIR) + "/schema/server/0001_init.sql"));
  exec_sql(v1, "ATTACH '" + current + "' AS now; "
               "INSERT INTO meta SELECT * FROM now.meta; "
               "INSERT INTO devices SELECT key, site, enrolled_ms, flag, flagged_ms, last_sync_ms, last_client_ms "
               "FROM now.devices; "
               "INSERT INTO device_units SELECT * FROM now.device_units; INSERT INTO codes SELECT * FROM now.codes; "
               "INSERT INTO chains SELECT * FROM now.chains; INSERT INTO events SELECT * FROM now.events; "
               "INSERT INTO hash_index SELECT * FROM now.hash_index; "
               "INSERT INTO heads SELECT last_pos, first_pos, chain, seq, hash, signature, bytes FROM now.heads; "
               "INSERT INTO receipts SELECT * FROM now.receipts; INSERT INTO reference SELECT * FROM now.reference; "
               "DETACH now; PRAGMA user_version = 1;");
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(current + suffix);
  std::filesystem::copy_file(v1, current);

  auto reopened = server::open_sqlite_storage(current, false);
  REQUIRE_MESSAGE(reopened.is_ok(), reopened.status().to_string());
  Storage& st = **reopened;
  CHECK(query_int(current, "PRAGMA user_version") == 4);  // through version 2 on to 3 (API tokens), 4 (accounts)
  auto rec = st.device(d.device());
  REQUIRE(rec.is_ok());
  REQUIRE(rec->has_value());
  CHECK((*rec)->seq == 2);
  CHECK((*rec)->last_sync_ms == kNow);
  CHECK((*rec)->revoked_ms == 0);
  CHECK((*rec)->last_cursor == 0);
  CHECK((*rec)->quarantined == 0);
  // A push stored before version 2 has no receipt kept with it; the next one has.
  append_ok(st, batch_of(d, 3, 3));
  auto rows = st.chain_events(d.device(), 1, 10);
  REQUIRE(rows.is_ok());
  REQUIRE(rows->size() == 3);
  CHECK(!(*rows)[1].receipt.has_value());
  CHECK((*rows)[2].receipt.has_value());
  std::map<PublicKey, char> names{{d.device(), 'D'}};
  CHECK(render(pull_ok(st, {d.device()}, 0, 1 << 20), names) == "D1 D2 D3 | heads D3 | end");
  append_ok(st, revocation(signer, d, "lost"));
  CHECK(st.device(d.device())->value().revoked_ms != 0);
}

}  // namespace
