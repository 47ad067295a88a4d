// Body validation: every rule of every kind, and the messages a shift leader reads.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "shiftbook/kinds.h"

using namespace shiftbook;

namespace {

const std::string kRef(64, 'c');

Json shift_open_body() { return {{"unit", "U1"}, {"date", "2026-11-16"}, {"name", "night"}}; }
Json hours_body() { return {{"shift", kRef}, {"worker", "W1"}, {"start", 360}, {"end", 840}, {"special", false}}; }
Json output_body() { return {{"shift", kRef}, {"product", "P1"}, {"quantity", 120}, {"quota_version", 1}}; }
Json bonus_body() { return {{"shift", kRef}, {"worker", "W1"}, {"type", "skill_upgrade"}, {"note", "new press"}}; }
Json confirm_body() { return {{"entry", kRef}, {"worker", "W1"}}; }
Json void_body() { return {{"target", kRef}, {"reason", "logged twice"}}; }
Json correction_body(Json entry) { return {{"target", kRef}, {"reason", "wrong end"}, {"entry", std::move(entry)}}; }

// "ok", or the message of the refusal (which must be invalid_argument).
std::string verdict(std::string_view kind, const Json& body, std::string_view corrected = {}) {
  Status s = validate_body(kind, body, corrected);
  if (s.is_ok()) return "ok";
  CHECK(s.code() == Code::kInvalidArgument);
  return s.message();
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

Json with(Json body, const char* field, Json value) {
  body[field] = std::move(value);
  return body;
}
Json without(Json body, const char* field) {
  body.erase(field);
  return body;
}

}  // namespace

TEST_CASE("kinds: valid bodies of every kind pass") {
  CHECK(verdict("shift_open", shift_open_body()) == "ok");
  CHECK(verdict("shift_open", without(shift_open_body(), "name")) == "ok");
  CHECK(verdict("shift_close", Json{{"shift", kRef}}) == "ok");
  CHECK(verdict("hours", hours_body()) == "ok");
  CHECK(verdict("output", output_body()) == "ok");
  CHECK(verdict("output", without(output_body(), "quota_version")) == "ok");
  CHECK(verdict("bonus", bonus_body()) == "ok");
  CHECK(verdict("bonus", without(bonus_body(), "note")) == "ok");
  CHECK(verdict("confirm", confirm_body()) == "ok");
  CHECK(verdict("void", void_body()) == "ok");
  CHECK(verdict("correction", correction_body(hours_body()), "hours") == "ok");
  CHECK(verdict("correction", correction_body(output_body()), "output") == "ok");
  CHECK(verdict("correction", correction_body(bonus_body()), "bonus") == "ok");
}

TEST_CASE("kinds: every required field is required") {
  const std::pair<const char*, Json> kinds[] = {
      {"shift_open", without(shift_open_body(), "name")}, {"shift_close", Json{{"shift", kRef}}},
      {"hours", hours_body()}, {"output", without(output_body(), "quota_version")},
      {"bonus", without(bonus_body(), "note")}, {"confirm", confirm_body()}, {"void", void_body()},
      {"correction", correction_body(hours_body())}};
  for (const auto& item : kinds) {
    const char* const kind = item.first;
    const Json& body = item.second;
    for (auto it = body.begin(); it != body.end(); ++it) {
      INFO(kind << " without " << it.key());
      std::string v = verdict(kind, without(body, it.key().c_str()), "hours");
      CHECK(has(v, "'" + it.key() + "' is missing"));
    }
  }
}

TEST_CASE("kinds: unknown fields and bodies that are not maps are refused") {
  CHECK(verdict("hours", with(hours_body(), "note", "x")) == "hours entry has an unknown field 'note'");
  CHECK(has(verdict("shift_open", with(shift_open_body(), "site", "S1")), "unknown field 'site'"));
  CHECK(has(verdict("shift_close", Json{{"shift", kRef}, {"at", 5}}), "unknown field 'at'"));
  CHECK(has(verdict("output", with(output_body(), "unit", "kg")), "unknown field 'unit'"));
  CHECK(has(verdict("bonus", with(bonus_body(), "amount", 5)), "unknown field 'amount'"));
  CHECK(has(verdict("confirm", with(confirm_body(), "pin", "1111")), "unknown field 'pin'"));
  CHECK(has(verdict("void", with(void_body(), "entry", hours_body())), "unknown field 'entry'"));
  CHECK(has(verdict("correction", with(correction_body(hours_body()), "kind", "hours"), "hours"),
            "unknown field 'kind'"));
  CHECK(has(verdict("hours", Json::array()), "must be a map"));
  CHECK(has(verdict("hours", Json("W1")), "must be a map"));
  CHECK(has(verdict("overtime", Json::object()), "'overtime' is not a kind"));
}

TEST_CASE("kinds: fields of the wrong type are refused") {
  CHECK(verdict("hours", with(hours_body(), "start", "360")) == "hours field 'start' must be a whole number");
  CHECK(has(verdict("hours", with(hours_body(), "end", 840.0)), "whole number"));
  CHECK(has(verdict("hours", with(hours_body(), "special", 0)), "true or false"));
  CHECK(has(verdict("hours", with(hours_body(), "worker", 7)), "must be text"));
  CHECK(has(verdict("hours", with(hours_body(), "shift", 7)), "must be text"));
  CHECK(has(verdict("output", with(output_body(), "quantity", "12")), "whole number"));
  CHECK(has(verdict("output", with(output_body(), "quota_version", true)), "whole number"));
  CHECK(has(verdict("shift_open", with(shift_open_body(), "date", 20261116)), "must be text"));
  CHECK(has(verdict("bonus", with(bonus_body(), "type", 1)), "must be text"));
  CHECK(has(verdict("correction", correction_body(Json::array()), "hours"), "must be a map"));
  CHECK(has(verdict("hours", with(hours_body(), "end", Json(std::uint64_t{1} << 63))), "too large"));
}

TEST_CASE("kinds: hours start within the shift date and last 1 minute to 24 hours") {
  auto hours = [](std::int64_t start, std::int64_t end) {
    return verdict("hours", with(with(hours_body(), "start", start), "end", end));
  };
  CHECK(hours(0, 1) == "ok");
  CHECK(hours(1320, 1800) == "ok");  // 22:00 to 06:00 the next morning, on the shift date
  CHECK(hours(1439, 2879) == "ok");  // exactly 24 hours
  CHECK(has(hours(1440, 1500), "start between 00:00 and 23:59"));
  CHECK(has(hours(-1, 60), "start between 00:00 and 23:59"));
  CHECK(has(hours(360, 360), "zero-length"));
  CHECK(has(hours(360, 300), "end before they start"));
  CHECK(hours(360, 1801) == "hours end more than 24 hours after they start (06:00 to 30:01)");
}

TEST_CASE("kinds: output quantity is 1 to 10^12 base units and quota version at least 1") {
  auto quantity = [](Json q) { return verdict("output", with(output_body(), "quantity", std::move(q))); };
  CHECK(has(quantity(0), "more than zero"));
  CHECK(has(quantity(-5), "more than zero"));
  CHECK(quantity(1) == "ok");
  CHECK(quantity(kMaxQuantity) == "ok");
  CHECK(has(quantity(kMaxQuantity + 1), "implausibly large"));
  CHECK(has(verdict("output", with(output_body(), "quota_version", 0)), "quota version must be 1 or more"));
  CHECK(has(verdict("output", with(output_body(), "product", "")), "product' must be 1 to 64"));
}

TEST_CASE("kinds: bonus type is one of three and its note is text") {
  for (const char* type : {"special_environment", "skill_upgrade", "innovation"}) {
    CHECK(verdict("bonus", with(bonus_body(), "type", type)) == "ok");
  }
  CHECK(verdict("bonus", with(bonus_body(), "type", "overtime")) ==
        "bonus type 'overtime' is not one of special_environment, skill_upgrade, innovation");
  CHECK(has(verdict("bonus", with(bonus_body(), "type", "Innovation")), "is not one of"));
  CHECK(has(verdict("bonus", with(bonus_body(), "note", "line\nbreak")), "control character"));
  CHECK(has(verdict("bonus", with(bonus_body(), "note", "")), "must not be empty"));
  CHECK(verdict("bonus", with(bonus_body(), "note", std::string(kMaxTextBytes, 'n'))) == "ok");
  CHECK(has(verdict("bonus", with(bonus_body(), "note", std::string(kMaxTextBytes + 1, 'n'))), "longer than 500"));
}

TEST_CASE("kinds: shift_open checks unit, date and a short name") {
  CHECK(has(verdict("shift_open", with(shift_open_body(), "date", "2026-02-29")), "not a calendar date"));
  CHECK(has(verdict("shift_open", with(shift_open_body(), "date", "16.11.2026")), "YYYY-MM-DD"));
  CHECK(verdict("shift_open", with(shift_open_body(), "name", std::string(32, 'n'))) == "ok");
  CHECK(has(verdict("shift_open", with(shift_open_body(), "name", std::string(33, 'n'))), "longer than 32"));
  CHECK(has(verdict("shift_open", with(shift_open_body(), "unit", " U1")), "start or end with a space"));
}

TEST_CASE("kinds: refs are 64 lower-case hex digits") {
  auto close = [](Json ref) { return verdict("shift_close", Json{{"shift", std::move(ref)}}); };
  CHECK(close(std::string(64, 'f')) == "ok");
  CHECK(close(std::string(64, '0')) == "ok");
  CHECK(has(close(std::string(64, 'F')), "64-digit hash"));
  CHECK(has(close(std::string(63, 'c')), "64-digit hash"));
  CHECK(has(close(std::string(65, 'c')), "64-digit hash"));
  CHECK(has(close(std::string(64, 'g')), "64-digit hash"));
  CHECK(has(verdict("confirm", with(confirm_body(), "entry", "")), "64-digit hash"));
  CHECK(has(verdict("void", with(void_body(), "target", kRef + " ")), "64-digit hash"));

  Hash h{};
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<std::uint8_t>(0xf0 + i % 16);
  std::string ref = hash_ref(h);
  CHECK(ref.size() == 64);
  auto back = parse_hash_ref(ref);
  REQUIRE(back.is_ok());
  CHECK(*back == h);
  CHECK_FALSE(parse_hash_ref("F0" + ref.substr(2)).is_ok());
}

TEST_CASE("kinds: corrections supersede hours, output and bonus with a valid new body") {
  Json fixed = correction_body(hours_body());
  for (const char* kind : {"shift_open", "shift_close", "confirm", "correction", "void", ""}) {
    INFO("correcting " << kind);
    CHECK(verdict("correction", fixed, kind) == "only hours, output and bonus entries can be corrected");
  }
  CHECK(has(verdict("correction", correction_body(with(hours_body(), "end", 360)), "hours"), "zero-length"));
  CHECK(has(verdict("correction", correction_body(hours_body()), "output"), "unknown field"));
  CHECK(has(verdict("correction", with(fixed, "reason", "")), "must not be empty"));
  CHECK(has(verdict("correction", with(fixed, "target", "abc"), "hours"), "64-digit hash"));
  CHECK(has(verdict("void", with(void_body(), "reason", "tab\there")), "control character"));
}

TEST_CASE("kinds: which kinds are recorded, corrected and voided") {
  std::string table;
  for (const char* k : {"shift_open", "shift_close", "hours", "output", "bonus", "confirm", "correction", "void",
                        "overtime"}) {
    table += std::string(k) + ":" + (is_terminal_kind(k) ? "t" : "-") + (is_correctable_kind(k) ? "c" : "-") +
             (is_voidable_kind(k) ? "v" : "-") + " ";
  }
  CHECK(table ==
        "shift_open:t-- shift_close:t-- hours:tcv output:tcv bonus:tcv confirm:t-v correction:t-- void:t-- "
        "overtime:--- ");
}

TEST_CASE("kinds: ids are 1 to 64 bytes without control characters or outer spaces") {
  CHECK(check_id("worker", "W1").is_ok());
  CHECK(check_id("worker", "Anna M\xc3\xbcller").is_ok());
  CHECK(check_id("worker", std::string(64, 'w')).is_ok());
  CHECK(check_id("worker", " W1").message() == "worker must not start or end with a space");
  CHECK_FALSE(check_id("worker", "W1 ").is_ok());
  CHECK_FALSE(check_id("worker", "").is_ok());
  CHECK_FALSE(check_id("worker", std::string(65, 'w')).is_ok());
  CHECK_FALSE(check_id("worker", "W\t1").is_ok());
  CHECK_FALSE(check_id("worker", "W\x7f").is_ok());
  CHECK_FALSE(check_id("worker", "W\xc3").is_ok());
  CHECK(has(verdict("hours", with(hours_body(), "worker", " W1")), "hours field 'worker' must not start"));
}

TEST_CASE("kinds: text is 1 to 500 bytes of UTF-8 without control characters") {
  CHECK(check_text("reason", "typo in end time").is_ok());
  CHECK(check_text("reason", std::string(kMaxTextBytes, 'r')).is_ok());
  CHECK(check_text("reason", std::string(kMaxTextBytes + 1, 'r')).message() == "reason is longer than 500 bytes");
  CHECK(check_text("reason", "").message() == "reason must not be empty");
  CHECK_FALSE(check_text("reason", "a\nb").is_ok());
  CHECK_FALSE(check_text("reason", std::string("a\0b", 3)).is_ok());
  CHECK_FALSE(check_text("reason", "\x7f").is_ok());
  CHECK_FALSE(check_text("reason", "\xed\xa0\x80").is_ok());
  CHECK(check_text("name", "abcd", 3).message() == "name is longer than 3 bytes");
}
