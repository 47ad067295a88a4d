// What a shift leader types: dates, clock times and quantities, and their printed forms.
#include <doctest/doctest.h>

#include <string>

#include "shiftbook/kinds.h"

using namespace shiftbook;

namespace {

std::int64_t date(const char* text) {
  auto d = parse_date(text);
  REQUIRE_MESSAGE(d.is_ok(), text << ": " << d.status().to_string());
  return *d;
}
std::int64_t minutes(const char* text) {
  auto m = parse_clock_time(text);
  REQUIRE_MESSAGE(m.is_ok(), text << ": " << m.status().to_string());
  return *m;
}
std::int64_t quantity(const char* text, int decimals) {
  auto q = parse_quantity(text, decimals);
  REQUIRE_MESSAGE(q.is_ok(), text << ": " << q.status().to_string());
  return *q;
}

}  // namespace

TEST_CASE("kinds: parse_date counts days from 1970-01-01 and knows leap years") {
  CHECK(date("1970-01-01") == 0);
  CHECK(date("1970-01-02") == 1);
  CHECK(date("2000-03-01") - date("2000-02-28") == 2);  // 2000 is a leap year (divisible by 400)
  CHECK(date("2100-03-01") - date("2100-02-28") == 1);  // 2100 is not
  CHECK(date("2024-02-29") == date("2024-02-28") + 1);
  CHECK(date("2026-11-16") == 20'773);
  CHECK(date("9999-12-31") == 2'932'896);
  for (const char* bad : {"2026-02-29", "2100-02-29", "2026-04-31", "2026-00-10", "2026-13-01", "2026-01-00",
                          "1969-12-31", "0000-01-01"}) {
    INFO(bad);
    CHECK(parse_date(bad).status().message().find("not a calendar date") != std::string::npos);
  }
  for (const char* bad : {"", "2026-1-01", "26-01-01", "2026/01/01", "2026-01-01 ", " 2026-01-01", "2026-01-0a",
                          "20260101", "2026-011-1", "+026-01-01"}) {
    INFO("'" << bad << "'");
    CHECK(parse_date(bad).status().message().find("YYYY-MM-DD") != std::string::npos);
  }
}

TEST_CASE("kinds: format_date and parse_date are inverse") {
  for (std::int64_t d = 0; d <= 2'932'896; d += 97) {
    INFO(d);
    std::string text = format_date(d);
    auto back = parse_date(text);
    REQUIRE(back.is_ok());
    CHECK(*back == d);
  }
  CHECK(format_date(0) == "1970-01-01");
  CHECK(format_date(date("2024-02-29")) == "2024-02-29");
}

TEST_CASE("kinds: parse_clock_time reads HH:MM up to 48:00 for times past midnight") {
  CHECK(minutes("00:00") == 0);
  CHECK(minutes("7:05") == 425);
  CHECK(minutes("07:05") == 425);
  CHECK(minutes("23:59") == 1439);
  CHECK(minutes("24:00") == 1440);
  CHECK(minutes("30:00") == 1800);
  CHECK(minutes("48:00") == 2880);
  for (const char* bad : {"48:01", "49:00", "99:59", "12:60"}) {
    INFO(bad);
    CHECK(parse_clock_time(bad).status().message().find("between 00:00 and 48:00") != std::string::npos);
  }
  for (const char* bad : {"", "12", "12:5", "12:555", "123:00", ":30", "12:30 ", " 7:05", "-1:00", "ab:cd", "7.05",
                          "7:0a", "12::0"}) {
    INFO("'" << bad << "'");
    CHECK(parse_clock_time(bad).status().message().find("HH:MM") != std::string::npos);
  }
}

TEST_CASE("kinds: format_minutes and parse_clock_time are inverse") {
  for (std::int64_t m = 0; m <= 2880; ++m) {
    INFO(m);
    auto back = parse_clock_time(format_minutes(m));
    REQUIRE(back.is_ok());
    CHECK(*back == m);
  }
  CHECK(format_minutes(1800) == "30:00");
  CHECK(format_minutes(5) == "00:05");
}

TEST_CASE("kinds: parse_quantity reads whole units or up to 3 decimals into base units") {
  CHECK(quantity("12", 0) == 12);
  CHECK(quantity("007", 0) == 7);
  CHECK(quantity("12", 3) == 12'000);
  CHECK(quantity("12.5", 3) == 12'500);
  CHECK(quantity("12.500", 3) == 12'500);
  CHECK(quantity("0.001", 3) == 1);
  CHECK(quantity("1000000000000", 0) == kMaxQuantity);
  CHECK(quantity("1000000000", 3) == kMaxQuantity);
  CHECK(parse_quantity("12.5", 0).status().message() == "'12.5': this product is counted in whole units");
  CHECK(parse_quantity("1.2345", 3).status().message() == "'1.2345' has more than 3 decimals");
  for (const char* bad : {"abc", "-1", "+1", "", ".5", "5.", "1.2.3", "1e3", "1,5", " 1", "1 ", "0x10"}) {
    INFO("'" << bad << "'");
    CHECK(parse_quantity(bad, 3).status().code() == Code::kInvalidArgument);
  }
  for (const char* huge : {"1000000000001", "99999999999999999999", "999999999999999999999999"}) {
    INFO(huge);
    CHECK_FALSE(parse_quantity(huge, 0).is_ok());
  }
  CHECK(parse_quantity("1000000000.001", 3).status().message().find("implausibly large") != std::string::npos);
  CHECK(parse_quantity("1000000001", 3).status().message().find("implausibly large") != std::string::npos);
}

TEST_CASE("kinds: parse_quantity refuses a number of decimals other than 0 or 3") {
  CHECK(parse_quantity("1.5", 2).status().code() == Code::kInvalidArgument);
  CHECK(parse_quantity("1", 1).status().code() == Code::kInvalidArgument);
  CHECK(parse_quantity("1", -1).status().code() == Code::kInvalidArgument);
}

TEST_CASE("kinds: format_quantity and parse_quantity are inverse") {
  for (std::int64_t q : {std::int64_t{1}, std::int64_t{999}, std::int64_t{1000}, std::int64_t{12'500},
                         std::int64_t{1'234'567}, kMaxQuantity}) {
    INFO(q);
    CHECK(quantity(format_quantity(q, 0).c_str(), 0) == q);
    CHECK(quantity(format_quantity(q, 3).c_str(), 3) == q);
  }
  CHECK(format_quantity(12'500, 3) == "12.500");
  CHECK(format_quantity(1, 3) == "0.001");
  CHECK(format_quantity(12'500, 0) == "12500");
}
