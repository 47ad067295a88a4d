// Checking on bytes (body_scan.h) against checking as Json: for every generated body, mutated
// encoding and fuzz-corpus event, check_value gives decode_value's verdict, scan_body gives
// validate_body's, decode_event_keep_body gives decode_event's, each with the same message, and
// the references scan_body reads are those the server reads from the built body.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "shiftbook/body_scan.h"
#include "shiftbook/canonical.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"

using namespace shiftbook;

namespace {

const std::string kRef(64, 'c');
const char* const kScannedKinds[] = {"shift_close", "hours", "output", "bonus", "confirm", "void"};

std::string verdict(const Status& s) { return s.is_ok() ? "ok" : std::string(code_name(s.code())) + ": " + s.message(); }

// The reference the server reads from a built body: present, text, and 64 lower-case hex digits.
std::optional<Hash> json_ref(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  auto h = parse_hash_ref(it->get<std::string>());
  if (!h.is_ok()) return std::nullopt;
  return *h;
}

Json valid_body(std::string_view kind) {
  if (kind == "shift_close") return {{"shift", kRef}};
  if (kind == "hours") return {{"shift", kRef}, {"worker", "W1"}, {"start", 360}, {"end", 840}, {"special", false}};
  if (kind == "output") return {{"shift", kRef}, {"product", "P1"}, {"quantity", 120}, {"quota_version", 1}};
  if (kind == "bonus") return {{"shift", kRef}, {"worker", "W1"}, {"type", "skill_upgrade"}, {"note", "new press"}};
  if (kind == "confirm") return {{"entry", kRef}, {"worker", "W1"}};
  return {{"target", kRef}, {"reason", "logged twice"}};
}

// Values chosen to sit on and around every rule's edges.
Json some_value(std::mt19937_64& rng) {
  static const std::vector<Json> kValues = {
      true, false, 0, 1, -1, 359, 360, 1439, 1440, 1441, 2880, 2881, 1'000'000'000'000, 1'000'000'000'001,
      INT64_MAX, INT64_MIN, "", " ", "W1", " W1", "W1 ", "a\tb", "a\x7f" "b", std::string(64, 'w'),
      std::string(65, 'w'), std::string(500, 'n'), std::string(501, 'n'), std::string(32, 'n'), "\xc3\xa9t\xc3\xa9",
      kRef, std::string(64, 'C'), std::string(63, 'c'), std::string(65, 'c'), std::string(63, 'c') + "g",
      std::string(64, '0'), "skill_upgrade", "special_environment", "innovation", "Innovation",
      Json::array(), Json::array({1, "x"}), Json::object(), Json{{"a", 1}}, Json{{"shift", kRef}}};
  return kValues[rng() % kValues.size()];
}

const char* some_field(std::mt19937_64& rng) {
  static const char* const kFields[] = {"shift", "worker", "start", "end", "special", "product", "quantity",
                                        "quota_version", "type", "note", "entry", "target", "reason", "unit",
                                        "date", "name", "receipt", "zzz", "", "Shift"};
  return kFields[rng() % std::size(kFields)];
}

// A valid body of `kind` with up to three fields dropped, changed or added.
Json mutated_body(std::string_view kind, std::mt19937_64& rng) {
  Json body = valid_body(kind);
  const int changes = static_cast<int>(rng() % 4);
  for (int i = 0; i < changes; ++i) {
    const char* field = some_field(rng);
    if (rng() % 3 == 0) {
      body.erase(field);
    } else {
      body[field] = some_value(rng);
    }
  }
  return body;
}

// Both checkers over one body that encodes; false when it does not encode.
bool compare_body(std::string_view kind, const Json& body) {
  auto bytes = encode_value(body);
  if (!bytes.is_ok()) return false;
  BodyRefs refs;
  const std::string scanned = verdict(scan_body(kind, *bytes, refs));
  CAPTURE(body.dump());
  CHECK(scanned == verdict(validate_body(kind, body)));
  CHECK(refs.shift == json_ref(body, "shift"));
  CHECK(refs.target == json_ref(body, "target"));
  CHECK(refs.entry == json_ref(body, "entry"));
  return true;
}

// Both readers of canonical values over one byte string, and the body checkers when it is a map.
void compare_value(const Bytes& bytes) {
  std::size_t checked_pos = 0, decoded_pos = 0;
  Status checked = check_value(bytes, checked_pos);
  auto decoded = decode_value(bytes, decoded_pos);
  CHECK(verdict(checked) == verdict(decoded.status()));
  if (!decoded.is_ok()) return;
  CHECK(checked_pos == decoded_pos);
  if (!decoded->is_object() || decoded_pos != bytes.size()) return;
  for (const char* kind : kScannedKinds) {
    BodyRefs refs;
    CHECK(verdict(scan_body(kind, bytes, refs)) == verdict(validate_body(kind, *decoded)));
  }
}

// Both event readers over one byte string; and the body checkers when the event's kind is scanned.
void compare_event(const Bytes& bytes) {
  std::size_t body_at = 0;
  auto kept = decode_event_keep_body(bytes, body_at);
  auto decoded = decode_event(bytes);
  CHECK(verdict(kept.status()) == verdict(decoded.status()));
  if (!decoded.is_ok()) return;
  CHECK(kept->hash == decoded->hash);
  CHECK(kept->seq == decoded->seq);
  CHECK(kept->kind == decoded->kind);
  std::size_t pos = body_at;
  auto body = decode_value(bytes, pos);
  REQUIRE(body.is_ok());
  CHECK(*body == decoded->body);
  if (body_scan_supports(decoded->kind)) {
    BodyRefs refs;
    CHECK(verdict(scan_body(decoded->kind, ByteView(bytes).subspan(body_at), refs)) ==
          verdict(validate_body(decoded->kind, decoded->body)));
  }
}

// Every single-byte change and every truncation of `bytes`, through `compare`.
template <typename Compare>
void compare_mutations(const Bytes& bytes, std::mt19937_64& rng, Compare compare) {
  compare(bytes);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    Bytes changed = bytes;
    changed[i] = static_cast<std::uint8_t>(rng());
    compare(changed);
    compare(Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(i)));
  }
}

std::vector<Bytes> corpus_files(const std::string& folder) {
  std::vector<Bytes> out;
  const std::filesystem::path dir = std::filesystem::path(SHIFTBOOK_SOURCE_DIR) / folder;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

}  // namespace

TEST_CASE("scan_body gives validate_body's verdict and the server's references for generated bodies") {
  std::mt19937_64 rng(20261123);
  for (const char* kind : kScannedKinds) {
    CAPTURE(kind);
    REQUIRE(compare_body(kind, valid_body(kind)));
    BodyRefs refs;
    CHECK(scan_body(kind, *encode_value(valid_body(kind)), refs).is_ok());
    int encoded = 0;
    for (int i = 0; i < 4000; ++i) encoded += compare_body(kind, mutated_body(kind, rng)) ? 1 : 0;
    CHECK(encoded > 3000);
  }
}

TEST_CASE("scan_body refuses what validate_body refuses, with its message") {
  BodyRefs refs;
  Json hours = valid_body("hours");
  hours["end"] = 360;
  CHECK(verdict(scan_body("hours", *encode_value(hours), refs)) ==
        "invalid_argument: hours end when they start: zero-length hours are not recorded");
  Json output = valid_body("output");
  output["colour"] = "red";
  CHECK(verdict(scan_body("output", *encode_value(output), refs)) ==
        "invalid_argument: output entry has an unknown field 'colour'");
  CHECK(refs.shift == json_ref(output, "shift"));
  CHECK(verdict(scan_body("output", *encode_value(Json::array()), refs)) ==
        "invalid_argument: output entry must be a map of fields");
  CHECK(!body_scan_supports("shift_open"));
  CHECK(!body_scan_supports("correction"));
  CHECK(!scan_body("correction", *encode_value(valid_body("void")), refs).is_ok());
}

TEST_CASE("check_value gives decode_value's verdict for every changed byte and truncation of bodies") {
  std::mt19937_64 rng(7);
  for (const char* kind : kScannedKinds) {
    for (int i = 0; i < 20; ++i) {
      auto bytes = encode_value(mutated_body(kind, rng));
      if (!bytes.is_ok()) continue;
      compare_mutations(*bytes, rng, compare_value);
    }
  }
  // Nesting, lists, and the limits on depth, sizes and key order.
  Json deep = 1;
  for (int i = 0; i < 9; ++i) deep = Json::array({deep});
  Bytes too_deep = {0x05, 0, 0, 0, 1};
  for (int i = 0; i < 8; ++i) too_deep.insert(too_deep.end(), {0x05, 0, 0, 0, 1});
  too_deep.push_back(0x01);
  compare_value(too_deep);
  compare_value({0x06, 0, 0, 0, 2, 0, 0, 0, 1, 'b', 0x01, 0, 0, 0, 1, 'a', 0x01});
  compare_value({0x06, 0, 0, 0, 2, 0, 0, 0, 1, 'a', 0x01, 0, 0, 0, 1, 'a', 0x01});
  compare_value({0x05, 0, 0, 0x10, 0x01});
  compare_value({0x04, 0, 0, 0x10, 0x01});
  compare_value({0x04, 0, 0, 0, 2, 0xc3, 0x28});
  compare_value({0x07});
  compare_value({});
}

TEST_CASE("decode_event_keep_body gives decode_event's verdict over the fuzz corpus and its mutations") {
  std::mt19937_64 rng(11);
  std::size_t files = 0;
  for (const char* folder : {"tests/fuzz/corpus/event", "tests/fuzz/regressions/event"}) {
    for (const Bytes& bytes : corpus_files(folder)) {
      ++files;
      compare_mutations(bytes, rng, compare_event);
    }
  }
  MESSAGE(files << " corpus files");
  // An event of every scanned kind, valid and not.
  for (const char* kind : kScannedKinds) {
    for (int i = 0; i < 50; ++i) {
      Event e;
      e.device[0] = 1;
      e.seq = 3;
      e.hlc = 9;
      e.prev[0] = 2;
      e.author = "L1";
      e.kind = kind;
      e.body = mutated_body(kind, rng);
      auto sealed = seal_event(e);
      if (sealed.is_ok()) compare_event(sealed->bytes);
    }
  }
}
