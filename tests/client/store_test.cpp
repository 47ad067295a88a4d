// Opening and creating the store, and what every appended event carries: refusals of a second
// init, a missing, newer, damaged or foreign store, and HLC stamps and seqs that never go back.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "shiftbook/event.h"
#include "shiftbook/kinds.h"
#include "store_impl.h"
#include "support/fixture.h"

namespace {

using shiftbook::Code;
using shiftbook::client::Store;
using shiftbook::testing::fast_options;
using shiftbook::testing::kSampleNowMs;
using shiftbook::testing::exec_sql;
using shiftbook::testing::TempDir;
using shiftbook::testing::Terminal;

std::string name_of(Code code) { return std::string(shiftbook::code_name(code)); }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  REQUIRE(out.good());
}

std::vector<shiftbook::Event> events_of(const Store& store) {
  auto raw = store.raw_events(store.device());
  REQUIRE(raw.is_ok());
  std::vector<shiftbook::Event> out;
  for (const auto& bytes : *raw) {
    auto e = shiftbook::decode_event(bytes);
    REQUIRE_MESSAGE(e.is_ok(), e.status().to_string());
    out.push_back(*e);
  }
  return out;
}

}  // namespace

TEST_CASE("store: init where a store exists is already_exists and leaves it alone") {
  Terminal t;
  const auto device = t.store->device();
  t.store.reset();
  auto again = Store::init(t.store_dir(), t.clock, fast_options());
  CHECK(name_of(again.status().code()) == name_of(Code::kAlreadyExists));
  auto opened = Store::open(t.store_dir(), t.clock, fast_options());
  REQUIRE(opened.is_ok());
  CHECK((*opened)->device() == device);
}

TEST_CASE("store: opening a folder without a store is not_found") {
  TempDir dir;
  shiftbook::FakeClock clock(kSampleNowMs);
  auto opened = Store::open(dir.file("nothing-here"), clock, fast_options());
  CHECK(name_of(opened.status().code()) == name_of(Code::kNotFound));
  auto empty = Store::open(dir.path(), clock, fast_options());
  CHECK(name_of(empty.status().code()) == name_of(Code::kNotFound));
}

TEST_CASE("store: a newer schema is refused with a message asking for a newer shiftbook") {
  Terminal t;
  t.store.reset();
  exec_sql(t.dir.file("store/terminal.db"), "PRAGMA user_version = 99");
  auto opened = Store::open(t.store_dir(), t.clock, fast_options());
  CHECK(name_of(opened.status().code()) == name_of(Code::kFailedPrecondition));
  CHECK(opened.status().message().find("99") != std::string::npos);
  CHECK(opened.status().message().find("install a newer shiftbook") != std::string::npos);
}

TEST_CASE("store: a terminal.db that is not a database is data_loss") {
  Terminal t;
  t.store.reset();
  write_bytes(t.dir.file("store/terminal.db"), std::string(8192, 'x'));
  auto opened = Store::open(t.store_dir(), t.clock, fast_options());
  CHECK(name_of(opened.status().code()) == name_of(Code::kDataLoss));
  CHECK(opened.status().message().find("damaged") != std::string::npos);
}

TEST_CASE("store: a database of another program is data_loss and is left untouched") {
  TempDir dir;
  shiftbook::FakeClock clock(kSampleNowMs);
  const std::string path = dir.file("terminal.db");
  shiftbook::testing::exec_sql(path, "CREATE TABLE t(x)");
  auto opened = Store::open(dir.path(), clock, fast_options());
  CHECK(name_of(opened.status().code()) == name_of(Code::kDataLoss));
  // No migration ran and the journal mode is as it was.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == 1);
  sqlite3_finalize(st);
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "delete");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_CASE("store: a damaged or foreign device key is data_loss") {
  Terminal t;
  t.store.reset();
  const std::string key = t.dir.file("store/device.key");
  auto original = shiftbook::read_file_bytes(key);
  REQUIRE(original.is_ok());

  write_bytes(key, "not a key");
  CHECK(name_of(Store::open(t.store_dir(), t.clock, fast_options()).status().code()) == name_of(Code::kDataLoss));

  // A key of the right shape that belongs to another store.
  auto other = shiftbook::DeviceKey::generate();
  write_bytes(key, std::string(other.secret().begin(), other.secret().end()));
  auto foreign = Store::open(t.store_dir(), t.clock, fast_options());
  CHECK(name_of(foreign.status().code()) == name_of(Code::kDataLoss));
  CHECK(foreign.status().message().find("does not belong") != std::string::npos);

  write_bytes(key, std::string(original->begin(), original->end()));
  CHECK(Store::open(t.store_dir(), t.clock, fast_options()).is_ok());
}

TEST_CASE("store: HLC stamps strictly increase even when the clock goes back to 0") {
  Terminal t;
  REQUIRE(t.store->open_shift("U1", shiftbook::parse_date("2026-11-16").value(), std::nullopt).is_ok());
  for (int i = 0; i < 3; ++i) REQUIRE(t.store->log_output("", "P1", i + 1).is_ok());
  t.clock.set(0);
  for (int i = 0; i < 3; ++i) REQUIRE(t.store->log_output("", "P1", i + 1).is_ok());
  // Back to nearly the right time (the jump forward ends the login): still after the last stamp.
  t.clock.set(kSampleNowMs - 1);
  REQUIRE(t.store->login("L1", "4321").is_ok());
  REQUIRE(t.store->log_output("", "P1", 9).is_ok());
  auto events = events_of(*t.store);
  REQUIRE(events.size() == 8);
  for (std::size_t i = 1; i < events.size(); ++i) {
    CAPTURE(i);
    CHECK(events[i].hlc > events[i - 1].hlc);
  }
  CHECK(shiftbook::hlc_ms(events.front().hlc) == static_cast<std::uint64_t>(kSampleNowMs));
}

TEST_CASE("store: seqs are gapless from 1 and each event links to the one before") {
  Terminal t;
  REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  REQUIRE(t.store->log_output("", "P1", 1).is_ok());
  // Refused calls take no seq.
  CHECK(!t.store->log_output("", "P7", 1).is_ok());
  CHECK(!t.store->log_hours("", "W1", 600, 600, false).is_ok());
  REQUIRE(t.store->log_hours("", "W1", 360, 840, false).is_ok());
  REQUIRE(t.store->void_entry("2", "typo").is_ok());
  // Reopening continues the chain.
  t.store.reset();
  auto reopened = Store::open(t.store_dir(), t.clock, fast_options());
  REQUIRE(reopened.is_ok());
  t.store = std::move(reopened).value();
  auto next = t.store->log_output("", "P1", 2);
  REQUIRE(next.is_ok());
  CHECK(next->seq == 5);
  auto events = events_of(*t.store);
  REQUIRE(events.size() == 5);
  for (std::size_t i = 0; i < events.size(); ++i) {
    CAPTURE(i);
    CHECK(events[i].seq == i + 1);
    CHECK(shiftbook::check_link(i == 0 ? nullptr : &events[i - 1], events[i]).is_ok());
  }
}

TEST_CASE("store: init makes the store folder private to its owner and the key file 0600") {
  TempDir dir;
  shiftbook::FakeClock clock(kSampleNowMs);
  // The usual umask would leave a new folder readable by everyone.
  const mode_t old_mask = ::umask(022);
  auto made = Store::init(dir.file("store"), clock, fast_options());
  ::umask(old_mask);
  REQUIRE_MESSAGE(made.is_ok(), made.status().to_string());
  struct stat folder {};
  REQUIRE(::stat(dir.file("store").c_str(), &folder) == 0);
  CHECK((folder.st_mode & 07777) == 0700);
  struct stat key {};
  REQUIRE(::stat(dir.file("store/device.key").c_str(), &key) == 0);
  CHECK((key.st_mode & 07777) == 0600);
}

TEST_CASE("store: an atomic write never follows a file left at its temporary name") {
  TempDir dir;
  const std::string path = dir.file("device.key");
  const std::string victim = dir.file("victim");
  write_bytes(victim, "untouched");
  // A planted symlink at PATH.tmp, and (second round) a stale temp file with a wide mode.
  REQUIRE(::symlink(victim.c_str(), (path + ".tmp").c_str()) == 0);
  const shiftbook::Bytes secret{1, 2, 3, 4};
  REQUIRE(shiftbook::write_file_atomic(path, secret, 0600).is_ok());
  CHECK(*shiftbook::read_file_bytes(victim) == shiftbook::Bytes{'u', 'n', 't', 'o', 'u', 'c', 'h', 'e', 'd'});
  CHECK(*shiftbook::read_file_bytes(path) == secret);
  struct stat written {};
  REQUIRE(::lstat(path.c_str(), &written) == 0);
  CHECK(S_ISREG(written.st_mode));

  write_bytes(path + ".tmp", "stale");
  REQUIRE(::chmod((path + ".tmp").c_str(), 0666) == 0);
  REQUIRE(shiftbook::write_file_atomic(path, secret, 0600).is_ok());
  REQUIRE(::stat(path.c_str(), &written) == 0);
  CHECK((written.st_mode & 07777) == 0600);
  CHECK(*shiftbook::read_file_bytes(path) == secret);
}

TEST_CASE("store: 1 to 7 digits are an entry number, 8 to 64 hex digits a hash prefix") {
  using shiftbook::client::is_entry_number;
  CHECK(is_entry_number("1"));
  CHECK(is_entry_number("0000012"));
  CHECK(is_entry_number("9999999"));
  CHECK_FALSE(is_entry_number(""));
  CHECK_FALSE(is_entry_number("00091726"));
  CHECK_FALSE(is_entry_number("12345678"));
  CHECK_FALSE(is_entry_number("1a"));
  CHECK_FALSE(is_entry_number("-1"));
  CHECK_FALSE(is_entry_number(" 12"));
}

TEST_CASE("store: a hash prefix made only of digits names the entry with that hash") {
  Terminal t;
  REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  // About one hash in 43 starts with eight decimal digits; record until one does.
  std::string prefix;
  std::uint64_t seq = 0;
  for (int i = 1; i <= 3000 && prefix.empty(); ++i) {
    auto r = t.store->log_output("", "P1", i);
    REQUIRE(r.is_ok());
    const std::string hex = shiftbook::to_hex(r->hash).substr(0, 8);
    if (hex.find_first_not_of("0123456789") == std::string::npos) {
      prefix = hex;
      seq = r->seq;
    }
  }
  REQUIRE(!prefix.empty());
  CAPTURE(prefix);
  auto shown = t.store->show_entry(prefix);
  REQUIRE_MESSAGE(shown.is_ok(), shown.status().to_string());
  CHECK((*shown)["entry"]["seq"] == seq);
  // Seven digits, leading zeros and all, are still an entry number.
  auto number = t.store->show_entry("0000002");
  REQUIRE(number.is_ok());
  CHECK((*number)["entry"]["seq"] == 2);
}
