// The protocol's messages and signed statements: message framing round trips and refuses every
// malformed input without crashing; receipts, delegations and site signers sign and verify;
// enrollment codes read leniently and catch mistyped characters; head-office bodies follow their
// kinds' rules.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"

using namespace shiftbook;

namespace {

Message sample_message(std::size_t events) {
  Message m;
  m.header = {{"type", "sync"}, {"v", 1}, {"cursor", 7}};
  for (std::size_t i = 0; i < events; ++i) m.events.push_back(Bytes(10 + i, static_cast<std::uint8_t>(i)));
  return m;
}

Bytes encoded(const Message& m) {
  auto b = encode_message(m);
  REQUIRE_MESSAGE(b.is_ok(), b.status().to_string());
  return *b;
}

// A message built by hand from a header encoding and a raw tail.
Bytes framed(const Json& header, const Bytes& tail) {
  auto h = encode_value(header);
  REQUIRE(h.is_ok());
  Bytes out = *h;
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

Bytes u32(std::uint32_t v) {
  Bytes b;
  put_u32(b, v);
  return b;
}

std::string error_of(const Status& s) { return s.is_ok() ? "ok" : s.message(); }

}  // namespace

// ---- Messages -------------------------------------------------------------------------------

TEST_CASE("message: decode(encode(m)) gives m back, with and without events") {
  for (std::size_t n : {0, 1, 3}) {
    Message m = sample_message(n);
    auto d = decode_message(encoded(m));
    REQUIRE_MESSAGE(d.is_ok(), d.status().to_string());
    CHECK(d->header == m.header);
    CHECK(d->events == m.events);
  }
  // Layout: header, u32 count, then u32 length + bytes per event.
  Bytes b = encoded(sample_message(1));
  auto header = encode_value(sample_message(1).header);
  REQUIRE(header.is_ok());
  CHECK(b.size() == header->size() + 4 + 4 + 10);
  CHECK(get_u32(b.data() + header->size()) == 1);
  CHECK(get_u32(b.data() + header->size() + 4) == 10);
}

TEST_CASE("message: encoding refuses a header without a type, empty or oversized events, too many events") {
  Message m = sample_message(0);
  m.header = Json::array({1});
  CHECK(error_of(encode_message(m).status()) == "message header is not a map");
  m.header = {{"v", 1}};
  CHECK(encode_message(m).status().code() == Code::kInvalidArgument);
  m.header = {{"type", 3}};
  CHECK(encode_message(m).status().code() == Code::kInvalidArgument);
  m = sample_message(0);
  m.events = {Bytes{}};
  CHECK(encode_message(m).status().code() == Code::kInvalidArgument);
  m.events = {Bytes(kMaxEventBytes + 1)};
  CHECK(error_of(encode_message(m).status()).find("event #1") != std::string::npos);
  m.events = {Bytes(kMaxEventBytes)};
  CHECK(encode_message(m).is_ok());
  m.events.assign(kMaxEventsPerMessage + 1, Bytes{1});
  CHECK(encode_message(m).status().code() == Code::kInvalidArgument);
}

TEST_CASE("message: trailing bytes, oversized counts and lengths are refused") {
  Json h = {{"type", "sync"}};
  Bytes good = encoded(sample_message(2));
  Bytes trailing = good;
  trailing.push_back(0);
  CHECK(error_of(decode_message(trailing).status()) == "message has 1 bytes after its last event");

  CHECK(error_of(decode_message(framed(h, u32(kMaxEventsPerMessage + 1))).status()).find("more than the limit") !=
        std::string::npos);
  // A count the remaining bytes cannot hold is refused before anything is sized by it.
  CHECK(error_of(decode_message(framed(h, u32(100'000))).status()).find("holds only 0 more bytes") !=
        std::string::npos);
  Bytes too_long = u32(1);
  Bytes len = u32(kMaxEventBytes + 1);
  too_long.insert(too_long.end(), len.begin(), len.end());
  CHECK(error_of(decode_message(framed(h, too_long)).status()).find("declares 65537 bytes") != std::string::npos);
  Bytes past_end = u32(1);
  len = u32(50);
  past_end.insert(past_end.end(), len.begin(), len.end());
  past_end.resize(past_end.size() + 10);
  CHECK(error_of(decode_message(framed(h, past_end)).status()).find("only 10 remain") != std::string::npos);
  Bytes zero = u32(1);
  len = u32(0);
  zero.insert(zero.end(), len.begin(), len.end());
  CHECK(decode_message(framed(h, zero)).status().code() == Code::kInvalidArgument);
  CHECK(decode_message(framed(Json::array(), u32(0))).status().code() == Code::kInvalidArgument);
  CHECK(decode_message(framed({{"kind", "sync"}}, u32(0))).status().code() == Code::kInvalidArgument);
}

TEST_CASE("message: every truncation of a message is an error") {
  Bytes good = encoded(sample_message(3));
  for (std::size_t n = 0; n < good.size(); ++n) {
    INFO("cut to " << n);
    CHECK(decode_message(ByteView(good.data(), n)).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("message: random and mutated bytes decode to a message or an error, never a crash") {
  std::mt19937 rng(20261122);
  Bytes good = encoded(sample_message(3));
  int decoded = 0;
  for (int round = 0; round < 3000; ++round) {
    Bytes b;
    if (round % 2 == 0) {
      b.resize(rng() % 64);
      for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    } else {
      b = good;
      for (int k = 0, flips = 1 + static_cast<int>(rng() % 3); k < flips; ++k) {
        b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
      }
    }
    auto d = decode_message(b);
    if (d.is_ok()) {
      ++decoded;
      auto again = encode_message(*d);  // whatever decodes encodes back to the same bytes
      REQUIRE(again.is_ok());
      CHECK(*again == b);
    } else {
      CHECK(d.status().code() == Code::kInvalidArgument);
    }
  }
  CHECK(decoded > 0);  // mutated event bytes still frame
}

TEST_CASE("protocol error: every name round trips and nothing else parses") {
  const char* names[] = {"malformed",      "version", "gap",     "equivocation", "chain", "foreign_device",
                         "kind",           "invalid", "scope",   "code",         "limit", "internal"};
  for (const char* n : names) {
    auto e = parse_protocol_error(n);
    REQUIRE_MESSAGE(e.has_value(), n);
    CHECK(protocol_error_name(*e) == n);
  }
  CHECK_FALSE(parse_protocol_error("Gap").has_value());
  CHECK_FALSE(parse_protocol_error("").has_value());
}

// ---- Signed statements ----------------------------------------------------------------------

TEST_CASE("receipt: signs and verifies, and any change breaks it") {
  DeviceKey server = DeviceKey::generate();
  PublicKey device = DeviceKey::generate().public_key();
  Hash h = blake2b_256(as_bytes("event 9"));
  Receipt r = sign_receipt(server, device, 9, h, 1'794'839'401'234);
  CHECK(r.device == device);
  CHECK(r.seq == 9);
  CHECK(verify_receipt(server.public_key(), r));
  Bytes msg = receipt_message(server.public_key(), r);
  CHECK(msg.size() == 117);
  CHECK(to_hex(ByteView(msg).first(5)) == "5342524301");

  CHECK_FALSE(verify_receipt(DeviceKey::generate().public_key(), r));
  Receipt t = r;
  t.seq = 10;
  CHECK_FALSE(verify_receipt(server.public_key(), t));
  t = r;
  t.hash[0] ^= 1;
  CHECK_FALSE(verify_receipt(server.public_key(), t));
  t = r;
  t.server_ms += 1;
  CHECK_FALSE(verify_receipt(server.public_key(), t));
  t = r;
  t.device[31] ^= 1;
  CHECK_FALSE(verify_receipt(server.public_key(), t));
  t = r;
  t.signature[5] ^= 1;
  CHECK_FALSE(verify_receipt(server.public_key(), t));
}

TEST_CASE("delegation: signs and verifies, and any change breaks it") {
  DeviceKey server = DeviceKey::generate();
  DeviceKey signer = derive_site_signer(server, "S1");
  Delegation d = sign_delegation(server, "S1", signer.public_key());
  CHECK(verify_delegation(server.public_key(), d));
  CHECK(delegation_message(server.public_key(), d).size() == 5 + 32 + 32 + 4 + 2);
  CHECK_FALSE(verify_delegation(DeviceKey::generate().public_key(), d));
  Delegation t = d;
  t.site = "S2";
  CHECK_FALSE(verify_delegation(server.public_key(), t));
  t = d;
  t.signer = derive_site_signer(server, "S2").public_key();
  CHECK_FALSE(verify_delegation(server.public_key(), t));
  t = d;
  t.signature[63] ^= 1;
  CHECK_FALSE(verify_delegation(server.public_key(), t));
}

TEST_CASE("site signer: the same server and site give the same key, anything else another") {
  Bytes seed(32, 0x11);
  auto server = DeviceKey::from_seed(seed);
  auto again = DeviceKey::from_seed(seed);
  REQUIRE(server.is_ok());
  REQUIRE(again.is_ok());
  CHECK(server->public_key() == again->public_key());
  PublicKey s1 = derive_site_signer(*server, "S1").public_key();
  CHECK(derive_site_signer(*again, "S1").public_key() == s1);
  CHECK(derive_site_signer(*server, "S2").public_key() != s1);
  CHECK(derive_site_signer(*server, "S").public_key() != s1);
  CHECK(derive_site_signer(DeviceKey::generate(), "S1").public_key() != s1);
  CHECK(s1 != server->public_key());
  CHECK(DeviceKey::from_seed(ByteView(seed).first(31)).status().code() == Code::kInvalidArgument);
}

// ---- Enrollment codes -----------------------------------------------------------------------

namespace {
EnrollCode sample_code(const PublicKey& server) {
  EnrollCode c;
  for (std::size_t i = 0; i < c.secret.size(); ++i) c.secret[i] = static_cast<std::uint8_t>(0x31 * (i + 1));
  Hash fp = server_fingerprint(server);
  std::copy(fp.begin(), fp.begin() + 10, c.fingerprint.begin());
  return c;
}
PublicKey fixed_server() {
  auto k = DeviceKey::from_seed(Bytes(32, 0x5a));
  REQUIRE(k.is_ok());
  return k->public_key();
}
}  // namespace

TEST_CASE("enrollment code: 8 groups of 4 Crockford digits that parse back") {
  EnrollCode c = sample_code(fixed_server());
  std::string text = format_enroll_code(c);
  REQUIRE(text.size() == 39);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i % 5 == 4) {
      CHECK(text[i] == '-');
    } else {
      CHECK(std::string("0123456789ABCDEFGHJKMNPQRSTVWXYZ").find(text[i]) != std::string::npos);
    }
  }
  auto back = parse_enroll_code(text);
  REQUIRE_MESSAGE(back.is_ok(), back.status().to_string());
  CHECK(back->secret == c.secret);
  CHECK(back->fingerprint == c.fingerprint);
}

TEST_CASE("enrollment code: reading ignores case, spaces and hyphens, and takes I, L, O for 1, 1, 0") {
  EnrollCode c = sample_code(fixed_server());
  std::string text = format_enroll_code(c);
  std::string plain, lower, spaced, lookalike;
  for (char ch : text) {
    if (ch == '-') {
      spaced += "  ";
      continue;
    }
    plain += ch;
    lower += static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    spaced += ch;
    lookalike += ch == '1' ? 'l' : ch == '0' ? 'O' : ch;
  }
  lookalike.insert(0, "-");
  for (const std::string& variant : {plain, lower, spaced, lookalike}) {
    INFO(variant);
    auto r = parse_enroll_code(variant);
    REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    CHECK(r->secret == c.secret);
  }
  CHECK(text.find_first_of("01") != std::string::npos);  // so the lookalike case tested something
}

TEST_CASE("enrollment code: every single mistyped character is caught by the check") {
  const std::string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  std::string text = format_enroll_code(sample_code(fixed_server()));
  int tried = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '-') continue;
    for (char other : alphabet) {
      if (other == text[i]) continue;
      std::string typo = text;
      typo[i] = other;
      auto r = parse_enroll_code(typo);
      INFO(i << " -> " << other);
      REQUIRE_FALSE(r.is_ok());
      CHECK(r.status().message().find("mistyped") != std::string::npos);
      ++tried;
    }
  }
  CHECK(tried == 32 * 31);
}

TEST_CASE("enrollment code: wrong length and foreign characters are named") {
  std::string text = format_enroll_code(sample_code(fixed_server()));
  auto short_code = parse_enroll_code(text.substr(0, text.size() - 1));
  CHECK(error_of(short_code.status()).find("this one has 31") != std::string::npos);
  CHECK(error_of(parse_enroll_code(text + "7").status()).find("this one has 33") != std::string::npos);
  CHECK(error_of(parse_enroll_code("").status()).find("this one has 0") != std::string::npos);
  std::string with_u = text;
  with_u[0] = 'U';
  CHECK(error_of(parse_enroll_code(with_u).status()).find("'U' (character 1)") != std::string::npos);
  std::string with_hash = text;
  with_hash[6] = '#';
  CHECK(error_of(parse_enroll_code(with_hash).status()).find("'#' (character 7)") != std::string::npos);
  // A message never repeats the code: its secret is what enrolls.
  CHECK(error_of(short_code.status()).find(text.substr(0, 9)) == std::string::npos);
}

TEST_CASE("enrollment code: it matches the server whose fingerprint it carries, and no other") {
  PublicKey server = fixed_server();
  EnrollCode c = sample_code(server);
  CHECK(code_matches_server(c, server));
  CHECK_FALSE(code_matches_server(c, DeviceKey::generate().public_key()));
  std::string shown = format_fingerprint(server);
  CHECK(shown.size() == 19);
  CHECK(shown == to_hex(ByteView(server_fingerprint(server)).first(2)) + " " +
                     to_hex(ByteView(server_fingerprint(server)).subspan(2, 2)) + " " +
                     to_hex(ByteView(server_fingerprint(server)).subspan(4, 2)) + " " +
                     to_hex(ByteView(server_fingerprint(server)).subspan(6, 2)));
  CHECK(server_fingerprint(server) != blake2b_256(server));  // domain-separated
}

// ---- Head-office kinds ----------------------------------------------------------------------

namespace {
std::string pin_hash() {
  static const std::string h = [] {
    auto r = hash_pin("1111", PinCost::kMinimum);
    REQUIRE(r.is_ok());
    return *r;
  }();
  return h;
}

// One valid body per head-office kind.
std::vector<std::pair<std::string, Json>> valid_bodies() {
  return {
      {"ref_site", {{"id", "S1"}, {"name", "Plant One"}, {"tz", "Europe/Berlin"}}},
      {"ref_site", {{"id", "S2"}, {"name", "Plant Two"}, {"tz", "UTC"}}},
      {"ref_unit", {{"id", "U1"}, {"site", "S1"}, {"name", "Press shop"}}},
      {"ref_period", {{"id", "2026-11"}, {"start", "2026-11-01"}, {"end", "2026-11-30"}}},
      {"ref_period", {{"id", "d"}, {"start", "2026-11-01"}, {"end", "2026-11-01"}}},
      {"ref_product", {{"id", "P1"}, {"name", "Bracket"}, {"unit", "pcs"}, {"decimals", 0}}},
      {"ref_product", {{"id", "P2"}, {"name", "Powder coat"}, {"unit", "kg"}, {"decimals", 3}}},
      {"ref_worker", {{"id", "W1"}, {"site", "S1"}, {"name", "Anna"}, {"pin_hash", pin_hash()}, {"active", true}}},
      {"ref_leader", {{"id", "L1"}, {"site", "S1"}, {"name", "Lena"}, {"pin_hash", pin_hash()}, {"active", false}}},
      {"ref_quota", {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P1"}, {"quantity", 0}, {"version", 1}}},
      {"ref_quota",
       {{"unit", "U1"}, {"period", "2026-11"}, {"product", "P2"}, {"quantity", kMaxQuantity}, {"version", 7}}},
  };
}

// Checks that changing `field` of the first valid body of `kind` to `value` (or removing it, when
// value is null) is refused with a message containing `expected`.
void refuses(const std::string& kind, const std::string& field, const Json& value, const std::string& expected) {
  for (auto [k, body] : valid_bodies()) {
    if (k != kind) continue;
    if (value.is_null()) {
      body.erase(field);
    } else {
      body[field] = value;
    }
    Status s = validate_head_office_body(kind, body);
    INFO(kind << "." << field << " = " << value.dump());
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK(error_of(s) == expected);
    return;
  }
  FAIL("no valid body of " << kind);
}
}  // namespace

TEST_CASE("head office: its kinds are known, and none of them is a terminal's") {
  for (const char* k : {"ref_site", "ref_unit", "ref_period", "ref_product", "ref_worker", "ref_leader",
                        "ref_quota", "resolution", "approval", "period_lock", "device_revoke"}) {
    CHECK_MESSAGE(is_head_office_kind(k), k);
    CHECK_FALSE(is_terminal_kind(k));
  }
  for (const char* k : {"hours", "shift_open", "ref_", "ref_sites", "quota", ""}) CHECK_FALSE(is_head_office_kind(k));
}

TEST_CASE("head office: a valid body of every kind passes") {
  for (const auto& item : valid_bodies()) {
    const auto& kind = item.first;
    const auto& body = item.second;
    Status s = validate_head_office_body(kind, body);
    CHECK_MESSAGE(s.is_ok(), kind << ": " << s.to_string());
  }
}

TEST_CASE("head office: missing, stray and mistyped fields are named for the clerk") {
  refuses("ref_site", "colour", "red", "site 'S1': unknown field 'colour'; a site has id, name, tz");
  refuses("ref_unit", "name", nullptr, "production unit 'U1': field 'name' is missing; a production unit has id, "
                                       "site, name");
  refuses("ref_worker", "active", "yes", "worker 'W1': field 'active' must be true or false");
  refuses("ref_product", "name", 5, "product 'P1': field 'name' must be text");
  refuses("ref_unit", "id", " U1", "production unit: field 'id' must not start or end with a space");
  CHECK(error_of(validate_head_office_body("ref_site", Json::array())) == "a site must be a map of fields");
}

TEST_CASE("head office: names, time zones, dates, PIN hashes and numbers follow their rules") {
  refuses("ref_site", "name", "", "site 'S1': field 'name' must not be empty");
  refuses("ref_site", "name", std::string(65, 'n'), "site 'S1': field 'name' is longer than 64 bytes");
  refuses("ref_unit", "name", "Press\tshop", "production unit 'U1': field 'name' holds a control character");
  const std::string tz_rule =
      "site 'S1': field 'tz' is not a time zone name (give a tz database name such as 'Europe/Berlin', or 'UTC')";
  for (const char* tz : {"", "Europe/", "/etc/passwd", "Europe//Berlin", "../zoneinfo", "Europe/Ber lin"}) {
    refuses("ref_site", "tz", tz, tz_rule);
  }
  refuses("ref_period", "end", "2026-10-31", "period '2026-11': it ends (2026-10-31) before it starts (2026-11-01)");
  refuses("ref_period", "start", "2026-02-29",
          "period '2026-11': field 'start': '2026-02-29' is not a calendar date (1970 or later)");
  refuses("ref_product", "decimals", 2,
          "product 'P1': field 'decimals' must be 0 (counted in whole units) or 3 (kept to thousandths)");
  refuses("ref_product", "unit", std::string(17, 'u'), "product 'P1': field 'unit' is longer than 16 bytes");
  refuses("ref_worker", "pin_hash", "1111",
          "worker 'W1': field 'pin_hash' is not an Argon2id PIN hash a terminal can check (make one with "
          "'shiftbook ref hash-pin')");
  const std::string quota = "quota for unit 'U1', period '2026-11' and product 'P1': ";
  refuses("ref_quota", "quantity", -1, quota + "field 'quantity' must be a whole number from 0 to 1000000000000");
  refuses("ref_quota", "quantity", kMaxQuantity + 1,
          quota + "field 'quantity' must be a whole number from 0 to 1000000000000");
  refuses("ref_quota", "quantity", 1.5, quota + "field 'quantity' must be a whole number from 0 to 1000000000000");
  refuses("ref_quota", "version", 0, quota + "field 'version' must be a whole number 1 or more");
  refuses("ref_quota", "version", std::uint64_t{1} << 63, quota + "field 'version' must be a whole number 1 or more");
}

TEST_CASE("head office: reserved and unknown kinds take no body") {
  CHECK(error_of(validate_head_office_body("approval", Json::object())) ==
        "'approval' is reserved for head office and not defined yet: no body of it is accepted");
  CHECK(error_of(validate_head_office_body("hours", Json::object())) == "'hours' is not a head-office kind");
}
