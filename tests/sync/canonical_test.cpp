// The canonical encoding: random values round-trip and encode the same way every time, and the
// decoder refuses every byte string that is not the one encoding of a value.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

#include "shiftbook/canonical.h"

using namespace shiftbook;

namespace {

std::uint64_t test_seed() {
  const char* env = std::getenv("SHIFTBOOK_SEED");
  return env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10) : 20261116;
}

// Random values of every type, nested up to the depth limit, with strings of every UTF-8 length.
class ValueGen {
 public:
  explicit ValueGen(std::uint64_t seed) : rng_(seed) {}

  Json value(int depth) {
    int choice = pick(depth < kMaxDepth ? 6 : 4);
    switch (choice) {
      case 0: return Json(pick(2) == 1);
      case 1: return Json(integer());
      case 2:
      case 3: return Json(text(pick(12)));
      case 4: {
        Json list = Json::array();
        for (int n = pick(5); n > 0; --n) list.push_back(value(depth + 1));
        return list;
      }
      default: {
        Json map = Json::object();
        for (int n = pick(5); n > 0; --n) map[text(pick(6))] = value(depth + 1);
        return map;
      }
    }
  }

 private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }

  std::int64_t integer() {
    static constexpr std::int64_t kEdges[] = {0, 1, -1, 1440, std::numeric_limits<std::int64_t>::min(),
                                              std::numeric_limits<std::int64_t>::max()};
    if (pick(3) == 0) return kEdges[pick(6)];
    return static_cast<std::int64_t>(rng_());
  }

  // Code points from each UTF-8 length class, never a surrogate.
  std::string text(int chars) {
    std::string s;
    for (int i = 0; i < chars; ++i) {
      std::uint32_t cp;
      switch (pick(4)) {
        case 0: cp = static_cast<std::uint32_t>(pick(0x80)); break;
        case 1: cp = 0x80 + static_cast<std::uint32_t>(pick(0x800 - 0x80)); break;
        case 2: cp = 0x800 + static_cast<std::uint32_t>(pick(0x10000 - 0x800 - 0x800)); break;
        default: cp = 0x10000 + static_cast<std::uint32_t>(pick(0x110000 - 0x10000)); break;
      }
      if (cp >= 0xd800 && cp < 0x10000) cp += 0x800;  // step over the surrogates
      append_utf8(s, cp);
    }
    return s;
  }

  static void append_utf8(std::string& s, std::uint32_t cp) {
    auto b = [&](std::uint32_t v) { s.push_back(static_cast<char>(v)); };
    if (cp < 0x80) {
      b(cp);
      return;
    }
    int extra = cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;
    static constexpr std::uint32_t kLead[] = {0, 0xc0, 0xe0, 0xf0};
    b(kLead[extra] | cp >> (6 * extra));
    for (int k = extra - 1; k >= 0; --k) b(0x80 | (cp >> (6 * k) & 0x3f));
  }

  std::mt19937_64 rng_;
};

// Hand-built encodings, for byte strings the encoder would never write.
Bytes bytes(std::initializer_list<int> list) {
  Bytes out;
  for (int v : list) out.push_back(static_cast<std::uint8_t>(v));
  return out;
}
void add(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }
void add_key(Bytes& out, std::string_view key) {
  put_u32(out, static_cast<std::uint32_t>(key.size()));
  out.insert(out.end(), key.begin(), key.end());
}
Bytes map_of(std::initializer_list<std::string_view> keys) {
  Bytes out{0x06};
  put_u32(out, static_cast<std::uint32_t>(keys.size()));
  for (auto k : keys) {
    add_key(out, k);
    out.push_back(0x02);
  }
  return out;
}
Bytes string_of(std::string_view s) {
  Bytes out{0x04};
  add_key(out, s);
  return out;
}

Json nested_lists(int levels, Json inner) {
  for (int i = 0; i < levels; ++i) inner = Json::array({inner});
  return inner;
}

}  // namespace

TEST_CASE("canonical: random values round-trip and encode deterministically") {
  const std::uint64_t seed = test_seed();
  INFO("SHIFTBOOK_SEED=" << seed);
  ValueGen gen(seed);
  for (int i = 0; i < 2000; ++i) {
    INFO("value #" << i);
    Json v = gen.value(1);
    auto first = encode_value(v);
    REQUIRE_MESSAGE(first.is_ok(), first.status().to_string());
    auto again = encode_value(v);
    REQUIRE(again.is_ok());
    CHECK(*first == *again);
    auto back = decode_value(*first);
    REQUIRE_MESSAGE(back.is_ok(), back.status().to_string());
    CHECK(*back == v);
    auto re = encode_value(*back);
    REQUIRE(re.is_ok());
    CHECK(*re == *first);
  }
}

TEST_CASE("canonical: map keys are ordered by bytes whatever order they were given in") {
  Json a = Json::parse("{\"z\": 1, \"\xc3\xa9\": 2, \"B\": 3, \"a\": 4, \"ab\": 5}");
  Json b = Json::parse("{\"ab\": 5, \"a\": 4, \"B\": 3, \"\xc3\xa9\": 2, \"z\": 1}");
  auto ea = encode_value(a), eb = encode_value(b);
  REQUIRE(ea.is_ok());
  REQUIRE(eb.is_ok());
  CHECK(*ea == *eb);
  // "B" (0x42) < "a" < "ab" < "z" < "é" (0xc3 0xa9): bytes, not letters, decide.
  auto decoded = decode_value(*ea);
  REQUIRE(decoded.is_ok());
  std::string order;
  for (auto it = decoded->begin(); it != decoded->end(); ++it) order += it.key() + ",";
  CHECK(order == "B,a,ab,z,\xc3\xa9,");
}

TEST_CASE("canonical: decoding refuses unsorted and duplicate keys") {
  CHECK(decode_value(map_of({"a", "b"})).is_ok());
  CHECK_FALSE(decode_value(map_of({"b", "a"})).is_ok());
  CHECK_FALSE(decode_value(map_of({"a", "a"})).is_ok());
  CHECK_FALSE(decode_value(map_of({"a", "c", "b"})).is_ok());
  CHECK_FALSE(decode_value(map_of({"\xc3\xa9", "z"})).is_ok());  // 0xc3 sorts after 'z'
  CHECK_FALSE(decode_value(map_of({"ab", "a"})).is_ok());         // a prefix sorts first
  auto dup = decode_value(map_of({"x", "x"}));
  CHECK(dup.status().code() == Code::kInvalidArgument);
}

TEST_CASE("canonical: decoding refuses invalid UTF-8 in strings and keys") {
  const std::string bad[] = {
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong, 3 bytes
      "\xf0\x80\x80\xaf",  // overlong, 4 bytes
      "\xed\xa0\x80",      // surrogate U+D800
      "\xed\xbf\xbf",      // surrogate U+DFFF
      "\xf4\x90\x80\x80",  // above U+10FFFF
      "\xc3",              // truncated sequence
      "\x80",              // lone continuation byte
      "\xff",
  };
  for (const auto& s : bad) {
    INFO("bytes " << to_hex(as_bytes(s)));
    CHECK_FALSE(is_valid_utf8(s));
    CHECK_FALSE(decode_value(string_of(s)).is_ok());
    CHECK_FALSE(decode_value(map_of({s})).is_ok());
    CHECK_FALSE(encode_value(Json(s)).is_ok());
  }
  for (std::string good : {"", "a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf"}) {
    INFO("bytes " << to_hex(as_bytes(good)));
    CHECK(is_valid_utf8(good));
    CHECK(decode_value(string_of(good)).is_ok());
  }
}

TEST_CASE("canonical: decoding refuses unknown tags and trailing bytes") {
  for (int tag : {0x00, 0x07, 0x40, 0xff}) {
    INFO("tag " << tag);
    CHECK_FALSE(decode_value(bytes({tag})).is_ok());
    CHECK_FALSE(decode_value(bytes({tag, 0, 0, 0, 0, 0, 0, 0, 0})).is_ok());
  }
  CHECK(decode_value(bytes({0x02})).is_ok());
  CHECK_FALSE(decode_value(bytes({0x02, 0x00})).is_ok());
  CHECK_FALSE(decode_value(bytes({0x02, 0x02})).is_ok());
  CHECK_FALSE(decode_value(Bytes{}).is_ok());
  // With a position, one value is read and the rest left for the caller.
  Bytes two = bytes({0x01, 0x02});
  std::size_t pos = 0;
  auto first = decode_value(two, pos);
  REQUIRE(first.is_ok());
  CHECK(*first == Json(false));
  CHECK(pos == 1);
}

TEST_CASE("canonical: decoding refuses every truncation of a valid encoding") {
  Json v = Json::parse(R"({"a": [1, true, "xyz", {"k": -7}], "b": false, "c": "\u00e9t\u00e9"})");
  auto full = encode_value(v);
  REQUIRE(full.is_ok());
  REQUIRE(decode_value(*full).is_ok());
  for (std::size_t len = 0; len < full->size(); ++len) {
    INFO("prefix of " << len << " of " << full->size() << " bytes");
    Bytes prefix(full->begin(), full->begin() + static_cast<std::ptrdiff_t>(len));
    CHECK_FALSE(decode_value(prefix).is_ok());
    std::size_t pos = 0;
    CHECK_FALSE(decode_value(prefix, pos).is_ok());
    CHECK(pos == 0);
  }
}

TEST_CASE("canonical: nesting deeper than kMaxDepth is refused both ways") {
  // The top-level value is at depth 1, so kMaxDepth - 1 lists around a scalar is the deepest.
  Json deepest = nested_lists(kMaxDepth - 1, Json(1));
  auto ok = encode_value(deepest);
  REQUIRE(ok.is_ok());
  CHECK(decode_value(*ok).is_ok());
  CHECK(encode_value(nested_lists(kMaxDepth - 1, Json::array())).is_ok());

  CHECK_FALSE(encode_value(nested_lists(kMaxDepth, Json(1))).is_ok());
  CHECK_FALSE(encode_value(nested_lists(kMaxDepth, Json::array())).is_ok());
  Json deep_map = Json(1);
  for (int i = 0; i < kMaxDepth; ++i) deep_map = Json{{"k", deep_map}};
  CHECK_FALSE(encode_value(deep_map).is_ok());

  Bytes too_deep;
  for (int i = 0; i < kMaxDepth; ++i) add(too_deep, bytes({0x05, 0, 0, 0, 1}));
  too_deep.push_back(0x02);
  CHECK_FALSE(decode_value(too_deep).is_ok());
  // A hostile input nested far beyond the limit fails cleanly rather than exhausting the stack.
  Bytes hostile;
  for (int i = 0; i < 100000; ++i) add(hostile, bytes({0x05, 0, 0, 0, 1}));
  CHECK_FALSE(decode_value(hostile).is_ok());
}

TEST_CASE("canonical: encoding refuses floats, null and integers above int64") {
  const std::uint64_t big = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1;
  const Json refused[] = {Json(1.5), Json(0.0), Json(nullptr), Json(big), Json(std::numeric_limits<std::uint64_t>::max()),
                          Json{{"a", 1}, {"b", Json(2.5)}}, Json::array({1, nullptr}),
                          Json::binary({1, 2, 3})};
  for (const Json& v : refused) {
    INFO(v.dump());
    Bytes out{0xaa};
    Status s = encode_value(v, out);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(out == Bytes{0xaa});  // nothing appended on error
  }
  // The largest unsigned that fits is the same value as the signed one.
  auto u = encode_value(Json(static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
  auto s = encode_value(Json(std::numeric_limits<std::int64_t>::max()));
  REQUIRE(u.is_ok());
  REQUIRE(s.is_ok());
  CHECK(*u == *s);
}

TEST_CASE("canonical: strings and containers over the limits are refused both ways") {
  CHECK(encode_value(Json(std::string(kMaxStringBytes, 'x'))).is_ok());
  CHECK_FALSE(encode_value(Json(std::string(kMaxStringBytes + 1, 'x'))).is_ok());
  CHECK_FALSE(encode_value(Json{{std::string(kMaxStringBytes + 1, 'k'), 1}}).is_ok());
  CHECK_FALSE(encode_value(Json(std::vector<int>(kMaxContainerItems + 1, 1))).is_ok());

  CHECK_FALSE(decode_value(string_of(std::string(kMaxStringBytes + 1, 'x'))).is_ok());
  Bytes huge_list{0x05};
  put_u32(huge_list, static_cast<std::uint32_t>(kMaxContainerItems + 1));
  for (std::size_t i = 0; i <= kMaxContainerItems; ++i) huge_list.push_back(0x01);
  CHECK_FALSE(decode_value(huge_list).is_ok());
  // A length that claims more bytes than there are is a truncation, not an allocation.
  CHECK_FALSE(decode_value(bytes({0x04, 0xff, 0xff, 0xff, 0xff})).is_ok());
  CHECK_FALSE(decode_value(bytes({0x05, 0x00, 0x00, 0x0f, 0xff})).is_ok());
}

TEST_CASE("canonical: integers are 8 bytes big-endian two's complement") {
  auto check = [](std::int64_t v, const char* hex) {
    auto e = encode_value(Json(v));
    REQUIRE(e.is_ok());
    CHECK(to_hex(*e) == hex);
    auto d = decode_value(*e);
    REQUIRE(d.is_ok());
    CHECK(d->get<std::int64_t>() == v);
  };
  check(0, "030000000000000000");
  check(256, "030000000000000100");
  check(-2, "03fffffffffffffffe");
  check(std::numeric_limits<std::int64_t>::min(), "038000000000000000");
  check(std::numeric_limits<std::int64_t>::max(), "037fffffffffffffff");
}
