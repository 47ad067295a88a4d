// Corrections through the binary: options become the changed fields in the store's units.
#include <doctest/doctest.h>

#include "cli/cli_support.h"

namespace shiftbook::testing {
namespace {

// "start-end special" of an entry, from `show --json`.
std::string hours_of(const Cli& t, const std::string& entry) {
  Json e = t.json({"show", entry, "--json"})["entry"];
  return std::to_string(e["start"].get<int>()) + "-" + std::to_string(e["end"].get<int>()) +
         (e["special"].get<bool>() ? " special" : "");
}

}  // namespace

TEST_CASE("cli: a corrected end before the start is the next day, measured from the entry's start") {
  Cli t;
  t.ready();
  REQUIRE(t.run({"log", "hours", "--worker", "W1", "--start", "22:00", "--end", "06:00"}).exit_code == 0);
  REQUIRE(t.run({"correct", "2", "--end", "07:00", "--reason", "stayed on"}).exit_code == 0);
  CHECK(hours_of(t, "2") == "1320-1860");
  REQUIRE(t.run({"correct", "2", "--start", "23:00", "--special", "yes", "--reason", "came late"}).exit_code == 0);
  CHECK(hours_of(t, "2") == "1380-1860 special");
  RunResult r = t.run({"correct", "2", "--start", "01:00", "--end", "05:00", "--reason", "wrong day", "--json"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(Json::parse(r.out)["kind"] == "correction");
  CHECK(hours_of(t, "2") == "60-300 special");
  CHECK(t.json({"show", "2", "--json"})["versions"].size() == 4);
}

TEST_CASE("cli: a corrected quantity is read with the decimals of the entry's product") {
  Cli t;
  t.ready();
  REQUIRE(t.run({"log", "output", "--product", "P2", "--quantity", "12.5"}).exit_code == 0);
  REQUIRE(t.run({"correct", "2", "--quantity", "12.75", "--reason", "reweighed"}).exit_code == 0);
  CHECK(t.json({"show", "2", "--json"})["entry"]["quantity"] == 12750);
  const std::int64_t before = t.events();
  check_fails(t.run({"correct", "2", "--quantity", "12.5005", "--reason", "x"}), 3, "has more than 3 decimals");
  check_fails(t.run({"correct", "2", "--worker", "W1", "--reason", "x"}), 3, "an output entry has no field 'worker'");
  CHECK(t.events() == before);
}

TEST_CASE("cli: correct has no --product option: an output keeps its product") {
  Cli t;
  t.ready();
  REQUIRE(t.run({"log", "output", "--product", "P2", "--quantity", "12.5"}).exit_code == 0);
  const std::int64_t before = t.events();
  check_fails(t.run({"correct", "2", "--product", "P1", "--quantity", "12", "--reason", "wrong product"}), 2,
              "--product");
  CHECK(t.events() == before);
  Json entry = t.json({"show", "2", "--json"})["entry"];
  CHECK(entry["product"] == "P2");
  CHECK(entry["quantity"] == 12500);
  CHECK(t.run({"correct", "--help"}).out.find("--product") == std::string::npos);
}

TEST_CASE("cli: a bonus correction changes its type and note") {
  Cli t;
  t.ready();
  REQUIRE(t.run({"log", "bonus", "--worker", "W2", "--type", "innovation"}).exit_code == 0);
  RunResult r = t.run({"correct", "2", "--type", "skill_upgrade", "--note", "welding course", "--reason", "wrong type"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == "recorded entry 3: corrected entry 2, now bonus W2 skill_upgrade (corrected)\n");
  Json e = t.json({"show", "2", "--json"})["entry"];
  CHECK(e["note"] == "welding course");
  check_fails(t.run({"correct", "2", "--type", "luck", "--reason", "x"}), 3, "is not one of");
}

}  // namespace shiftbook::testing
