// How the binary reads references to entries and shifts: 1 to 7 digits are this terminal's event
// number, 8 to 64 hex digits a hash prefix even when every one of them is a decimal digit.
#include <doctest/doctest.h>

#include "cli/cli_support.h"

namespace shiftbook::testing {
namespace {

bool all_decimal(const std::string& hex) { return hex.find_first_not_of("0123456789") == std::string::npos; }

}  // namespace

TEST_CASE("cli: a shift or entry named by a hash prefix of only digits is found by its hash") {
  Cli t;
  t.ready();  // shift 1 of U1 open, L1 logged in
  SystemClock clock;
  auto store = client::Store::open(t.store(), clock, fast_options());
  REQUIRE_MESSAGE(store.is_ok(), store.status().to_string());
  // About one hash in 43 starts with eight decimal digits: open and close shifts of U2 until one
  // does, and record one output in it.
  std::string prefix;
  for (int i = 0; i < 3000 && prefix.empty(); ++i) {
    auto opened = (*store)->open_shift("U2", std::nullopt, std::nullopt);
    REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
    if (all_decimal(to_hex(opened->hash).substr(0, 8))) {
      prefix = to_hex(opened->hash).substr(0, 8);
      REQUIRE((*store)->log_output(std::to_string(opened->seq), "P1", 7).is_ok());
    }
    REQUIRE((*store)->close_shift(std::to_string(opened->seq)).is_ok());
  }
  REQUIRE(!prefix.empty());
  CAPTURE(prefix);
  Json listed = t.json({"list", "--shift", prefix, "--json"});
  REQUIRE(listed["entries"].size() == 1);
  CHECK(listed["entries"][0]["quantity"] == 7);
  CHECK(listed["entries"][0]["shift"].get<std::string>().rfind(prefix, 0) == 0);
  // Seven digits are still a number: shift 1, the one ready() opened, holds nothing.
  CHECK(t.json({"list", "--shift", "0000001", "--json"})["entries"].empty());
}

TEST_CASE("cli: an entry named by a hash prefix of only digits is shown, corrected and voided") {
  Cli t;
  t.ready();
  SystemClock clock;
  auto store = client::Store::open(t.store(), clock, fast_options());
  REQUIRE_MESSAGE(store.is_ok(), store.status().to_string());
  std::string prefix;
  std::uint64_t seq = 0;
  // Quantities start above the corrected one, so the correction below always changes something.
  constexpr int kCorrected = 5;
  for (int i = kCorrected + 1; i <= kCorrected + 3000 && prefix.empty(); ++i) {
    auto r = (*store)->log_output("", "P1", i);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    if (all_decimal(to_hex(r->hash).substr(0, 8))) {
      prefix = to_hex(r->hash).substr(0, 8);
      seq = r->seq;
    }
  }
  REQUIRE(!prefix.empty());
  CAPTURE(prefix);
  CHECK(t.json({"show", prefix, "--json"})["entry"]["seq"] == seq);
  RunResult fixed = t.run({"correct", prefix, "--quantity", std::to_string(kCorrected), "--reason", "recount"});
  CHECK_MESSAGE(fixed.exit_code == 0, fixed.err);
  CHECK(t.json({"show", std::to_string(seq), "--json"})["entry"]["quantity"] == kCorrected);
  RunResult voided = t.run({"void", prefix, "--reason", "double count"});
  CHECK_MESSAGE(voided.exit_code == 0, voided.err);
  CHECK(t.json({"show", std::to_string(seq), "--json"})["entry"]["void"] == true);
}

}  // namespace shiftbook::testing
