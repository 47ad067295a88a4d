// Bad input while recording: each gets its exit status and message, and nothing is written.
#include <doctest/doctest.h>

#include "cli/cli_support.h"

namespace shiftbook::testing {
namespace {

using Args = std::vector<std::string>;

Args hours(const std::string& worker, const std::string& start, const std::string& end) {
  return {"log", "hours", "--worker", worker, "--start", start, "--end", end};
}

// Runs `args` on a ready terminal and expects it to fail without writing anything.
void check_refused(const Cli& t, const Args& args, int exit_code, const std::string& message,
                   const std::string& input = {}) {
  const std::int64_t before = t.events();
  check_fails(t.run(args, input), exit_code, message);
  CHECK(t.events() == before);
}

}  // namespace

TEST_CASE("cli: unknown workers and products are refused") {
  Cli t;
  t.ready();
  check_refused(t, hours("W7", "06:00", "14:00"), 4, "worker 'W7' is not on the roster");
  check_refused(t, {"log", "bonus", "--worker", "W7", "--type", "innovation"}, 4, "worker 'W7' is not on the roster");
  check_refused(t, hours("W9", "06:00", "14:00"), 3, "not on the roster of this unit's site");
  check_refused(t, {"log", "output", "--product", "P7", "--quantity", "5"}, 4, "product 'P7' is not in the reference data");
  check_refused(t, {"log", "output", "--product", "P1", "--quantity", "2.5"}, 3, "whole units");
  check_refused(t, {"log", "output", "--product", "P2", "--quantity", "0"}, 3, "more than zero");
  check_refused(t, {"log", "bonus", "--worker", "W1", "--type", "luck"}, 3, "is not one of");
}

TEST_CASE("cli: hours of zero length or beyond one midnight are refused") {
  Cli t;
  t.ready();
  check_refused(t, hours("W1", "06:00", "06:00"), 3, "zero-length");
  check_refused(t, hours("W1", "06:00", "49:00"), 3, "'49:00' is not a time between 00:00 and 48:00");
  check_refused(t, hours("W1", "25:61", "10:00"), 3, "'25:61' is not a time");
  check_refused(t, hours("W1", "6", "10:00"), 3, "not a time of the form HH:MM");
  check_refused(t, hours("W1", "06:00", "30:01"), 3, "more than 24 hours after they start");
  check_refused(t, hours("W1", "24:00", "25:00"), 3, "start between 00:00 and 23:59");
}

TEST_CASE("cli: an end before the start is the next day, and 30:00 style ends are taken as given") {
  Cli t;
  t.ready();
  CHECK(t.run(hours("W1", "22:00", "06:00")).out == "recorded entry 2: hours W1 22:00-06:00 (8:00)\n");
  CHECK(t.run(hours("W2", "06:00", "30:00")).out == "recorded entry 3: hours W2 06:00-06:00 (24:00)\n");
  Json list = t.json({"list", "--json"});
  CHECK(list["entries"][0]["end"] == 1800);
  CHECK(list["entries"][1]["end"] == 1800);
}

TEST_CASE("cli: more than 24 hours for one worker on one date is refused") {
  Cli t;
  t.ready();
  REQUIRE(t.run(hours("W3", "00:00", "14:00")).exit_code == 0);
  check_refused(t, hours("W3", "14:00", "02:00"), 3, "more than a day has");
}

TEST_CASE("cli: overlapping hours for one worker are refused, also by a correction") {
  Cli t;
  t.ready();
  REQUIRE(t.run(hours("W1", "06:00", "14:00")).exit_code == 0);
  REQUIRE(t.run(hours("W1", "15:00", "18:00")).exit_code == 0);
  check_refused(t, hours("W1", "13:00", "15:30"), 3, "overlap");
  check_refused(t, {"correct", "3", "--start", "13:00", "--reason", "earlier"}, 3, "overlap");
}

TEST_CASE("cli: correcting or voiding an entry that does not exist or is void is refused") {
  Cli t;
  t.ready();
  REQUIRE(t.run(hours("W1", "06:00", "14:00")).exit_code == 0);
  check_refused(t, {"correct", "99", "--end", "13:00", "--reason", "typo"}, 4, "there is no entry 99");
  check_refused(t, {"void", "99", "--reason", "typo"}, 4, "there is no entry 99");
  check_refused(t, {"void", "deadbeef00", "--reason", "typo"}, 4, "no entry has a hash starting deadbeef00");
  check_refused(t, {"correct", "2", "--reason", "nothing"}, 3, "at least one field");
  REQUIRE(t.run({"void", "2", "--reason", "wrong worker"}).exit_code == 0);
  check_refused(t, {"void", "2", "--reason", "again"}, 6, "already void");
  check_refused(t, {"correct", "2", "--end", "13:00", "--reason", "typo"}, 6, "is void and cannot be corrected");
  check_refused(t, {"confirm", "2", "--worker", "W1"}, 6, "is void", "1111\n");
}

TEST_CASE("cli: recording without a login is refused") {
  Cli t;
  t.ready();
  REQUIRE(t.run({"logout"}).exit_code == 0);
  check_refused(t, hours("W1", "06:00", "14:00"), 6, "no shift leader is logged in");
  check_refused(t, {"shift", "close"}, 6, "no shift leader is logged in");
}

TEST_CASE("cli: recording without an open shift is refused") {
  Cli t;
  t.init_with_reference();
  t.add_leader(true);
  check_refused(t, hours("W1", "06:00", "14:00"), 6, "no shift is open");
  check_refused(t, {"log", "output", "--product", "P1", "--quantity", "3"}, 6, "no shift is open");
  check_refused(t, {"shift", "open", "--unit", "U7"}, 4, "unit 'U7' is not in the reference data");
  check_refused(t, {"shift", "open", "--unit", "U1", "--date", "2026-13-01"}, 3, "2026-13-01");
}

TEST_CASE("cli: a second shift of the same unit cannot open, and a closed shift takes no entries") {
  Cli t;
  t.ready();
  check_refused(t, {"shift", "open", "--unit", "U1"}, 6, "already open");
  REQUIRE(t.run({"shift", "close"}).exit_code == 0);
  check_refused(t, {"log", "hours", "--shift", "1", "--worker", "W1", "--start", "06:00", "--end", "07:00"}, 6,
                "is closed");
}

}  // namespace shiftbook::testing
