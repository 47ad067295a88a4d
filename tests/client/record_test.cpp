// Every recording rule through the Store API: each bad input is refused with its code and appends
// no event; the happy paths record what they should. The terminal is the shared fixture: sample
// reference data, leader L1 logged in, FakeClock at 2026-11-16 08:00 UTC.
#include <doctest/doctest.h>

#include <string>

#include "shiftbook/event.h"
#include "shiftbook/kinds.h"
#include "support/fixture.h"

namespace {

using shiftbook::Code;
using shiftbook::Json;
using shiftbook::Result;
using shiftbook::Status;
using shiftbook::testing::Terminal;
using shiftbook::client::kLockoutMinutes;
using shiftbook::client::kMaxPinFailures;

constexpr std::int64_t kMinuteMs = 60'000;
const std::int64_t kDay = *shiftbook::parse_date("2026-11-16");

std::size_t event_count(const Terminal& t) {
  auto raw = t.store->raw_events(t.store->device());
  REQUIRE_MESSAGE(raw.is_ok(), raw.status().to_string());
  return raw->size();
}

shiftbook::Event last_event(const Terminal& t) {
  auto raw = t.store->raw_events(t.store->device());
  REQUIRE(raw.is_ok());
  REQUIRE(!raw->empty());
  auto e = shiftbook::decode_event(raw->back());
  REQUIRE(e.is_ok());
  return *e;
}

const Status& status_of(const Status& s) { return s; }
template <typename T>
const Status& status_of(const Result<T>& r) { return r.status(); }

std::string name_of(Code code) { return std::string(shiftbook::code_name(code)); }

// A terminal with a shift of U1 open on 2026-11-16.
struct Shift : Terminal {
  std::uint64_t shift_seq = 0;
  Shift() {
    auto r = store->open_shift("U1", std::nullopt, std::nullopt);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    shift_seq = r->seq;
  }
  std::uint64_t hours(const std::string& worker, std::int64_t start, std::int64_t end) {
    auto r = store->log_hours("", worker, start, end, false);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    return r->seq;
  }
  std::uint64_t output(const std::string& product, std::int64_t quantity) {
    auto r = store->log_output("", product, quantity);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    return r->seq;
  }
};

}  // namespace

// Runs `call`, which must be refused with the `expected` code and must leave the terminal's log as it was.
#define CHECK_REFUSED(terminal, expected, call)                                                          \
  do {                                                                                                    \
    const std::size_t before_ = event_count(terminal);                                                    \
    const auto result_ = (call);                                                                          \
    const Status& status_ = status_of(result_);                                                           \
    CHECK_MESSAGE(name_of(status_.code()) == name_of(expected), #call << " gave " << status_.to_string()); \
    CHECK(event_count(terminal) == before_);                                                              \
  } while (0)

TEST_CASE("record: an unknown worker is not_found") {
  Shift t;
  CHECK_REFUSED(t, Code::kNotFound, t.store->log_hours("", "W7", 360, 840, false));
  CHECK_REFUSED(t, Code::kNotFound, t.store->log_bonus("", "W7", "innovation", std::nullopt));
}

TEST_CASE("record: a worker of another site is refused") {
  Shift t;
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->log_hours("", "W9", 360, 840, false));
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->log_bonus("", "W9", "skill_upgrade", std::nullopt));
}

TEST_CASE("record: an unknown product is not_found") {
  Shift t;
  CHECK_REFUSED(t, Code::kNotFound, t.store->log_output("", "P7", 5));
}

TEST_CASE("record: a shift of an unknown unit is not_found") {
  Terminal t;
  CHECK_REFUSED(t, Code::kNotFound, t.store->open_shift("U7", std::nullopt, std::nullopt));
}

TEST_CASE("record: zero-length hours, an end before the start and more than a day in one entry are refused") {
  Shift t;
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->log_hours("", "W1", 360, 360, false));
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->log_hours("", "W1", 840, 360, false));
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->log_hours("", "W1", 360, 360 + 1441, false));
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->log_hours("", "W1", -60, 360, false));
}

TEST_CASE("record: more than 24 hours for one worker on one shift date is refused") {
  Shift t;
  t.hours("W1", 0, 23 * 60);
  // 23:00 to 31:00 (07:00 the next morning) does not overlap, but makes 31 hours on the shift date.
  const std::size_t before = event_count(t);
  auto r = t.store->log_hours("", "W1", 23 * 60, 31 * 60, false);
  CHECK(name_of(r.status().code()) == name_of(Code::kInvalidArgument));
  CHECK(r.status().message().find("more than a day has") != std::string::npos);
  CHECK(event_count(t) == before);
  // One hour fits.
  t.hours("W1", 23 * 60, 24 * 60);
}

TEST_CASE("record: overlapping hours of one worker are refused, also across midnight into the next day's shift") {
  Shift t;
  t.hours("W2", 8 * 60, 12 * 60);
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->log_hours("", "W2", 11 * 60, 13 * 60, false));
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->log_hours("", "W2", 7 * 60, 9 * 60, false));
  t.hours("W2", 12 * 60, 13 * 60);  // touching is not overlapping

  // A night on 2026-11-16 from 22:00 to 06:00, then a shift of U2 dated the next day.
  t.hours("W1", 22 * 60, 30 * 60);
  auto next = t.store->open_shift("U2", kDay + 1, std::string("early"));
  REQUIRE(next.is_ok());
  const std::string next_ref = std::to_string(next->seq);
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->log_hours(next_ref, "W1", 5 * 60, 8 * 60, false));
  CHECK(t.store->log_hours(next_ref, "W1", 6 * 60, 8 * 60, false).is_ok());
}

TEST_CASE("record: correcting or voiding an entry that does not exist is not_found") {
  Shift t;
  t.output("P1", 10);
  CHECK_REFUSED(t, Code::kNotFound, t.store->correct("999", Json{{"quantity", 5}}, "recount"));
  CHECK_REFUSED(t, Code::kNotFound, t.store->void_entry("999", "mistake"));
  CHECK_REFUSED(t, Code::kNotFound, t.store->void_entry("deadbeef", "mistake"));
  // The shift is an event but not an entry.
  CHECK_REFUSED(t, Code::kNotFound, t.store->void_entry(std::to_string(t.shift_seq), "mistake"));
}

TEST_CASE("record: voiding an entry twice is refused") {
  Shift t;
  const std::uint64_t seq = t.output("P1", 10);
  REQUIRE(t.store->void_entry(std::to_string(seq), "double count").is_ok());
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->void_entry(std::to_string(seq), "again"));
}

TEST_CASE("record: a void entry cannot be corrected") {
  Shift t;
  const std::uint64_t seq = t.output("P1", 10);
  REQUIRE(t.store->void_entry(std::to_string(seq), "double count").is_ok());
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->correct(std::to_string(seq), Json{{"quantity", 12}}, "recount"));
}

TEST_CASE("record: a correction that changes nothing is refused") {
  Shift t;
  const std::uint64_t seq = t.output("P1", 10);
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->correct(std::to_string(seq), Json{{"quantity", 10}}, "recount"));
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->correct(std::to_string(seq), Json::object(), "recount"));
}

TEST_CASE("record: a correction cannot move an entry to another shift or change its quota version") {
  Shift t;
  const std::uint64_t seq = t.output("P1", 10);
  auto other = t.store->open_shift("U2", std::nullopt, std::nullopt);
  REQUIRE(other.is_ok());
  CHECK_REFUSED(t, Code::kInvalidArgument,
                t.store->correct(std::to_string(seq), Json{{"shift", shiftbook::hash_ref(other->hash)}}, "moved"));
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->correct(std::to_string(seq), Json{{"quota_version", 2}}, "new plan"));
}

TEST_CASE("record: without a login nothing is recorded") {
  Shift t;
  const std::uint64_t seq = t.output("P1", 10);
  REQUIRE(t.store->logout().is_ok());
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->log_output("", "P1", 5));
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->log_hours("", "W1", 360, 840, false));
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->open_shift("U2", std::nullopt, std::nullopt));
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->close_shift(""));
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->correct(std::to_string(seq), Json{{"quantity", 5}}, "recount"));
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->void_entry(std::to_string(seq), "mistake"));
}

TEST_CASE("record: a login ends after its idle time, and each recording keeps it alive") {
  Shift t;
  t.clock.advance(29 * kMinuteMs);
  t.output("P1", 1);
  t.clock.advance(29 * kMinuteMs);
  t.output("P1", 2);
  t.clock.advance(31 * kMinuteMs);
  const std::size_t before = event_count(t);
  auto r = t.store->log_output("", "P1", 3);
  CHECK(name_of(r.status().code()) == name_of(Code::kFailedPrecondition));
  CHECK(r.status().message().find("without use") != std::string::npos);
  CHECK(event_count(t) == before);
  // The ended login stays ended.
  CHECK(!t.store->session().is_ok());
}

TEST_CASE("record: without an open shift nothing is recorded") {
  Shift t;
  REQUIRE(t.store->close_shift("").is_ok());
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->log_output("", "P1", 5));
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->log_hours("", "W1", 360, 840, false));
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->log_output(std::to_string(t.shift_seq), "P1", 5));
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->close_shift(""));
}

TEST_CASE("record: a unit cannot have two open shifts") {
  Shift t;
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->open_shift("U1", std::nullopt, std::string("late")));
  // With two units open, the shift must be named.
  REQUIRE(t.store->open_shift("U2", std::nullopt, std::nullopt).is_ok());
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->log_output("", "P1", 5));
  CHECK(t.store->log_output(std::to_string(t.shift_seq), "P1", 5).is_ok());
}

TEST_CASE("record: only the worker whose hours they are can confirm them") {
  Shift t;
  const std::string entry = std::to_string(t.hours("W1", 360, 840));
  CHECK_REFUSED(t, Code::kPermissionDenied, t.store->confirm(entry, "W2", "2222"));
  CHECK_REFUSED(t, Code::kNotFound, t.store->confirm(entry, "W7", "7777"));
  CHECK(t.store->confirm(entry, "W1", "1111").is_ok());
  CHECK_REFUSED(t, Code::kAlreadyExists, t.store->confirm(entry, "W1", "1111"));
}

TEST_CASE("record: wrong worker PINs are unauthenticated and lock the worker out until the lockout ends") {
  Shift t;
  const std::string entry = std::to_string(t.hours("W1", 360, 840));
  for (int i = 1; i < kMaxPinFailures; ++i) {
    CHECK_REFUSED(t, Code::kUnauthenticated, t.store->confirm(entry, "W1", "0000"));
  }
  CHECK_REFUSED(t, Code::kPermissionDenied, t.store->confirm(entry, "W1", "0000"));
  // Locked out: even the right PIN is refused, until the lockout has passed.
  CHECK_REFUSED(t, Code::kPermissionDenied, t.store->confirm(entry, "W1", "1111"));
  t.clock.advance(kLockoutMinutes * kMinuteMs - 1);
  CHECK_REFUSED(t, Code::kPermissionDenied, t.store->confirm(entry, "W1", "1111"));
  t.clock.advance(1);
  CHECK(t.store->confirm(entry, "W1", "1111").is_ok());
}

TEST_CASE("record: wrong leader PINs are unauthenticated and lock the leader out until the lockout ends") {
  Terminal t;
  for (int i = 1; i < kMaxPinFailures; ++i) {
    CHECK_REFUSED(t, Code::kUnauthenticated, t.store->login("L1", "0000"));
  }
  CHECK_REFUSED(t, Code::kPermissionDenied, t.store->login("L1", "0000"));
  CHECK_REFUSED(t, Code::kPermissionDenied, t.store->login("L1", "4321"));
  t.clock.advance(kLockoutMinutes * kMinuteMs);
  CHECK(t.store->login("L1", "4321").is_ok());
  CHECK_REFUSED(t, Code::kNotFound, t.store->login("L7", "4321"));
}

TEST_CASE("record: a second leader can be added only while a leader is logged in") {
  Terminal t;
  REQUIRE(t.store->logout().is_ok());
  CHECK_REFUSED(t, Code::kFailedPrecondition, t.store->add_leader("L2", "Lars", "5678"));
  REQUIRE(t.store->login("L1", "4321").is_ok());
  CHECK(t.store->add_leader("L2", "Lars", "5678").is_ok());
  CHECK_REFUSED(t, Code::kAlreadyExists, t.store->add_leader("L2", "Lars", "5678"));
}

TEST_CASE("record: switching leader keeps the entries and makes the new leader the author") {
  Shift t;
  t.output("P1", 10);
  t.hours("W1", 360, 840);
  REQUIRE(t.store->add_leader("L2", "Lars", "5678").is_ok());
  CHECK(last_event(t).author == "L1");
  REQUIRE(t.store->login("L2", "5678").is_ok());
  auto listed = t.store->list_entries({});
  REQUIRE(listed.is_ok());
  CHECK((*listed)["entries"].size() == 2);
  // The shift L1 opened is still the open one; L2 records into it.
  t.output("P1", 20);
  CHECK(last_event(t).author == "L2");
  CHECK(t.store->session()->leader == "L2");
}

TEST_CASE("record: a correction supersedes the entry") {
  Shift t;
  const std::uint64_t seq = t.hours("W1", 360, 840);
  auto fixed = t.store->correct(std::to_string(seq), Json{{"end", 900}}, "left later");
  REQUIRE_MESSAGE(fixed.is_ok(), fixed.status().to_string());
  auto shown = t.store->show_entry(std::to_string(seq));
  REQUIRE_MESSAGE(shown.is_ok(), shown.status().to_string());
  const Json& entry = (*shown)["entry"];
  CHECK(entry["end"] == 900);
  CHECK(entry["versions"] == 2);
  CHECK(entry["head_seq"] == fixed->seq);
  CHECK((*shown)["versions"].size() == 2);
  // The corrected hours are the ones the overlap rule sees.
  CHECK(t.store->log_hours("", "W1", 860, 960, false).status().code() == Code::kInvalidArgument);
  CHECK(t.store->log_hours("", "W1", 900, 960, false).is_ok());
}

TEST_CASE("record: a night shift from 22:00 to 06:00 is accepted and belongs to its shift date") {
  Shift t;
  const std::uint64_t seq = t.hours("W3", 22 * 60, 30 * 60);
  auto shown = t.store->show_entry(std::to_string(seq));
  REQUIRE(shown.is_ok());
  CHECK((*shown)["entry"]["date"] == "2026-11-16");
  CHECK((*shown)["entry"]["minutes"] == 480);
}

TEST_CASE("record: output records the version of the quota in force") {
  Shift t;
  t.output("P1", 10);
  CHECK(last_event(t).body["quota_version"] == 1);
  t.output("P2", 12'500);
  CHECK(last_event(t).body["quota_version"] == 2);
  // U2 has no quota: no version is recorded.
  auto u2 = t.store->open_shift("U2", std::nullopt, std::nullopt);
  REQUIRE(u2.is_ok());
  REQUIRE(t.store->log_output(std::to_string(u2->seq), "P1", 3).is_ok());
  CHECK(!last_event(t).body.contains("quota_version"));
}

TEST_CASE("record: a correction cannot change the product of an output entry") {
  Shift t;
  // 12.500 kg of P2 is 12500 thousandths; as P1 (whole pieces) it would silently become 12500 pieces.
  const std::string entry = std::to_string(t.output("P2", 12'500));
  const std::size_t before = event_count(t);
  auto r = t.store->correct(entry, Json{{"product", "P1"}}, "wrong product");
  CHECK(name_of(r.status().code()) == name_of(Code::kInvalidArgument));
  CHECK(r.status().message() == "a correction cannot change the product of an entry; void it and record it again");
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->correct(entry, Json{{"product", "P1"}, {"quantity", 12}}, "x"));
  CHECK(event_count(t) == before);
  auto shown = t.store->show_entry(entry);
  REQUIRE(shown.is_ok());
  CHECK((*shown)["entry"]["product"] == "P2");
  CHECK((*shown)["entry"]["versions"] == 1);
}

TEST_CASE("record: a field an entry does not have is named with the right article") {
  Shift t;
  const std::string hours = std::to_string(t.hours("W1", 360, 840));
  const std::string output = std::to_string(t.output("P1", 10));
  auto bonus = t.store->log_bonus("", "W1", "innovation", std::nullopt);
  REQUIRE(bonus.is_ok());
  CHECK(t.store->correct(hours, Json{{"quantity", 5}}, "x").status().message() ==
        "an hours entry has no field 'quantity'");
  CHECK(t.store->correct(hours, Json{{"product", "P1"}}, "x").status().message() ==
        "an hours entry has no field 'product'");
  CHECK(t.store->correct(output, Json{{"worker", "W1"}}, "x").status().message() ==
        "an output entry has no field 'worker'");
  CHECK(t.store->correct(std::to_string(bonus->seq), Json{{"start", 1}}, "x").status().message() ==
        "a bonus entry has no field 'start'");
  auto confirmed = t.store->confirm(hours, "W1", "1111");
  REQUIRE(confirmed.is_ok());
  const std::string confirm = std::to_string(confirmed->seq);
  CHECK(t.store->correct(confirm, Json{{"worker", "W2"}}, "x").status().message() ==
        "entry " + confirm + " is a confirm; only hours, output and bonus entries can be corrected");
}

TEST_CASE("record: an overlap with night hours names their end as a time of the next day") {
  Shift t;
  const std::uint64_t night = t.hours("W1", 22 * 60, 30 * 60);
  auto r = t.store->log_hours("", "W1", 23 * 60, 24 * 60, false);
  CHECK(r.status().message() == "worker 'W1' already has hours from 22:00 to 06:00 next day on 2026-11-16 (entry " +
                                    std::to_string(night) + ") that overlap these; correct that entry instead");
  // An end of exactly 24:00 is still that day's midnight.
  const std::uint64_t evening = t.hours("W2", 20 * 60, 24 * 60);
  auto at_midnight = t.store->log_hours("", "W2", 21 * 60, 22 * 60, false);
  CHECK(at_midnight.status().message() == "worker 'W2' already has hours from 20:00 to 24:00 on 2026-11-16 (entry " +
                                              std::to_string(evening) +
                                              ") that overlap these; correct that entry instead");
}

TEST_CASE("record: hours of a whole day overlap hours the next morning, and only those") {
  Shift t;
  // 06:00 to 06:00 the next day: the longest hours there are, so the overlap search reaches back
  // a whole day from the new hours' start.
  t.hours("W1", 6 * 60, 30 * 60);
  auto next = t.store->open_shift("U2", kDay + 1, std::nullopt);
  REQUIRE(next.is_ok());
  const std::string next_ref = std::to_string(next->seq);
  CHECK_REFUSED(t, Code::kInvalidArgument, t.store->log_hours(next_ref, "W1", 5 * 60 + 59, 7 * 60, false));
  CHECK(t.store->log_hours(next_ref, "W1", 6 * 60, 7 * 60, false).is_ok());
  // The day's total counts the hours that start on the shift date, wherever they end.
  auto second = t.store->log_hours(next_ref, "W1", 7 * 60, 31 * 60, false);
  CHECK(second.status().message().find("would have 25:00 hours on 2026-11-17") != std::string::npos);
}
