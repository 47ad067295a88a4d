// Reference data import: checked whole, with errors that name the place in the file; then all six
// tables replaced at once, or nothing changed.
#include <doctest/doctest.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "shiftbook/platform/db.h"
#include "shiftbook/crypto.h"
#include "shiftbook/kinds.h"
#include "support/fixture.h"

using shiftbook::Code;
using shiftbook::Json;
using shiftbook::testing::sample_reference;
using shiftbook::testing::Terminal;

namespace {

Json without_pin_hashes(Json doc) {
  for (auto& w : doc["workers"]) w.erase("pin_hash");
  return doc;
}

struct BadCase {
  std::string what;
  std::function<void(Json&)> change;
  std::string message_start;  // the path, and the start of the reason
};

// Imports each changed sample and expects invalid_argument starting with the case's message, with
// the reference data held before left exactly as it was.
void check_refused(const std::vector<BadCase>& cases) {
  Terminal t;
  auto before = t.store->reference();
  REQUIRE(before.is_ok());
  for (const auto& c : cases) {
    CAPTURE(c.what);
    Json doc = sample_reference();
    c.change(doc);
    auto s = t.store->import_reference(doc);
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK_MESSAGE(s.message().rfind(c.message_start, 0) == 0, s.message());
    auto after = t.store->reference();
    REQUIRE(after.is_ok());
    CHECK(*after == *before);
  }
}

}  // namespace

TEST_CASE("reference: an import round-trips through reference() without PIN hashes") {
  Terminal t;  // imports sample_reference()
  auto ref = t.store->reference();
  REQUIRE(ref.is_ok());
  CHECK(*ref == without_pin_hashes(sample_reference()));
  CHECK(ref->dump().find("argon2") == std::string::npos);
}

TEST_CASE("reference: a second import replaces the first whole") {
  Terminal t;
  Json next = sample_reference();
  next["sites"] = Json::array({{{"id", "S7"}, {"name", "Plant Seven"}, {"tz", "America/Argentina/Buenos_Aires"}}});
  next["units"] = Json::array({{{"id", "U7"}, {"site", "S7"}, {"name", "Assembly"}}});
  next["workers"] = Json::array({next["workers"][0]});
  next["workers"][0]["site"] = "S7";
  next["quotas"] = Json::array();
  REQUIRE(t.store->import_reference(next).is_ok());
  auto ref = t.store->reference();
  REQUIRE(ref.is_ok());
  CHECK(*ref == without_pin_hashes(next));

  Json empty{{"format", "shiftbook-reference/1"}, {"sites", Json::array()}, {"units", Json::array()},
             {"periods", Json::array()}, {"products", Json::array()}, {"workers", Json::array()},
             {"quotas", Json::array()}};
  REQUIRE(t.store->import_reference(empty).is_ok());
  CHECK(*t.store->reference() == empty);
}

TEST_CASE("reference: an import leaves leaders, the login and the events alone") {
  Terminal t;
  REQUIRE(t.store->open_shift("U1", std::nullopt, std::nullopt).is_ok());
  REQUIRE(t.store->import_reference(sample_reference()).is_ok());
  CHECK(t.store->session().is_ok());
  CHECK(t.store->leaders()->at("leaders").size() == 1);
  CHECK(t.store->raw_events(t.store->device())->size() == 1);
}

TEST_CASE("reference: a bad document as a whole is refused and changes nothing") {
  check_refused({
      {"not an object", [](Json& d) { d = Json::array(); }, "the reference document must be a JSON object"},
      {"other format", [](Json& d) { d["format"] = "shiftbook-reference/2"; }, "format: must be"},
      {"missing list", [](Json& d) { d.erase("quotas"); }, "quotas: missing (give [] when there are none)"},
      {"missing format", [](Json& d) { d.erase("format"); }, "format: must be \"shiftbook-reference/1\""},
      {"not a list", [](Json& d) { d["units"] = Json::object(); }, "units: must be a list"},
      {"unknown field", [](Json& d) { d["rules"] = Json::array(); }, "rules: unknown field"},
  });
}

TEST_CASE("reference: bad sites and units are refused with their path and change nothing") {
  check_refused({
      {"site not an object", [](Json& d) { d["sites"][1] = "S2"; }, "sites[1]: must be an object"},
      {"empty id", [](Json& d) { d["sites"][0]["id"] = ""; }, "sites[0].id: it must be 1 to 64"},
      {"long name", [](Json& d) { d["sites"][0]["name"] = std::string(65, 'x'); }, "sites[0].name: it is longer than 64"},
      {"unknown zone", [](Json& d) { d["sites"][1]["tz"] = "Mars/Olympus"; }, "sites[1].tz: 'Mars/Olympus' is not a time zone"},
      {"zone path", [](Json& d) { d["sites"][0]["tz"] = "../../../etc/passwd"; }, "sites[0].tz: '../../../etc/passwd' is not"},
      {"zone folder", [](Json& d) { d["sites"][0]["tz"] = "Europe"; }, "sites[0].tz: 'Europe' is not a time zone"},
      {"empty zone", [](Json& d) { d["sites"][0]["tz"] = ""; }, "sites[0].tz: it must not be empty"},
      {"repeated unit", [](Json& d) { d["units"][2]["id"] = "U1"; }, "units[2].id: 'U1' is already the id of units[0]"},
      {"unknown site", [](Json& d) { d["units"][2]["site"] = "S9"; }, "units[2].site: unknown site 'S9'"},
      {"extra field", [](Json& d) { d["units"][0]["colour"] = "red"; }, "units[0].colour: unknown field"},
      {"missing field", [](Json& d) { d["units"][0].erase("name"); }, "units[0].name: missing"},
  });
}

TEST_CASE("reference: bad periods are refused with their path and change nothing") {
  check_refused({
      {"not a date", [](Json& d) { d["periods"][0]["start"] = "2026-13-01"; }, "periods[0].start: '2026-13-01' is not"},
      {"date not text", [](Json& d) { d["periods"][0]["end"] = 20261130; }, "periods[0].end: must be a date as text"},
      {"ends first", [](Json& d) { d["periods"][0]["end"] = "2026-10-31"; },
       "periods[0].end: the period ends (2026-10-31) before it starts (2026-11-01)"},
      {"overlap", [](Json& d) {
         d["periods"].push_back({{"id", "2026-12"}, {"start", "2026-12-01"}, {"end", "2026-12-31"}});
         d["periods"].push_back({{"id", "late"}, {"start", "2026-11-30"}, {"end", "2026-12-01"}});
       },
       "periods[2]: its dates overlap period '2026-11'"},
  });
}

TEST_CASE("reference: bad products and workers are refused with their path and change nothing") {
  check_refused({
      {"two decimals", [](Json& d) { d["products"][1]["decimals"] = 2; }, "products[1].decimals: must be 0 (whole units) or 3"},
      {"decimals as text", [](Json& d) { d["products"][0]["decimals"] = "0"; }, "products[0].decimals: must be 0"},
      {"unknown site", [](Json& d) { d["workers"][3]["site"] = "S9"; }, "workers[3].site: unknown site 'S9'"},
      {"name not text", [](Json& d) { d["workers"][1]["name"] = 42; }, "workers[1].name: must be text"},
      {"plain PIN", [](Json& d) { d["workers"][0]["pin_hash"] = "1111"; }, "workers[0].pin_hash: not an Argon2id PIN hash"},
      {"repeated worker", [](Json& d) { d["workers"][2]["id"] = "W1"; }, "workers[2].id: 'W1' is already the id of workers[0]"},
  });
}

TEST_CASE("reference: bad quotas are refused with their path and change nothing") {
  const std::string max = std::to_string(shiftbook::kMaxQuantity);
  check_refused({
      {"unknown unit", [](Json& d) { d["quotas"][0]["unit"] = "U7"; }, "quotas[0].unit: unknown production unit 'U7'"},
      {"unknown period", [](Json& d) { d["quotas"][1]["period"] = "2027-01"; }, "quotas[1].period: unknown period '2027-01'"},
      {"unknown product", [](Json& d) { d["quotas"][0]["product"] = "P9"; }, "quotas[0].product: unknown product 'P9'"},
      {"negative", [](Json& d) { d["quotas"][0]["quantity"] = -1; }, "quotas[0].quantity: must be a whole number from 0 to " + max},
      {"too large", [](Json& d) { d["quotas"][0]["quantity"] = shiftbook::kMaxQuantity + 1; }, "quotas[0].quantity: must be"},
      {"fraction", [](Json& d) { d["quotas"][1]["quantity"] = 1.5; }, "quotas[1].quantity: must be a whole number"},
      {"version 0", [](Json& d) { d["quotas"][0]["version"] = 0; }, "quotas[0].version: must be a whole number 1 or more"},
      {"twice", [](Json& d) { d["quotas"].push_back(d["quotas"][0]); },
       "quotas[2]: a second quota for unit 'U1', period '2026-11' and product 'P1' (the first is quotas[0])"},
  });
}

TEST_CASE("reference: a failure while writing leaves every table as it was") {
  Terminal t;
  auto before = t.store->reference();
  REQUIRE(before.is_ok());
  {
    // The last table written refuses its rows, after the other five were emptied and refilled.
    auto db = shiftbook::Db::open(t.store_dir() + "/terminal.db", false);
    REQUIRE(db.is_ok());
    REQUIRE(db->exec("CREATE TRIGGER refuse BEFORE INSERT ON quotas BEGIN SELECT RAISE(ABORT, 'refused'); END")
                .is_ok());
  }
  Json next = sample_reference();
  next["sites"][0]["name"] = "Plant One, renamed";
  next["units"].erase(1);
  CHECK_FALSE(t.store->import_reference(next).is_ok());
  CHECK(*t.store->reference() == *before);
}

TEST_CASE("reference: an error message never repeats a PIN hash") {
  Terminal t;
  Json doc = sample_reference();
  doc["workers"][0]["pin_hash"] = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";  // bcrypt
  auto s = t.store->import_reference(doc);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("$2b$") == std::string::npos);
  CHECK(s.message().find("R9h/cIPz") == std::string::npos);
}

TEST_CASE("reference: the example in docs/REFERENCE.md imports, and its PIN hashes check") {
  std::ifstream file(SHIFTBOOK_SOURCE_DIR "/docs/REFERENCE.md");
  REQUIRE(file);
  std::stringstream text;
  text << file.rdbuf();
  const std::string doc = text.str();
  const auto start = doc.find("```json\n");
  REQUIRE(start != std::string::npos);
  const auto end = doc.find("```", start + 8);
  Json example = Json::parse(doc.substr(start + 8, end - start - 8));
  Terminal t;
  auto s = t.store->import_reference(example);
  REQUIRE_MESSAGE(s.is_ok(), s.to_string());
  CHECK(*t.store->reference() == without_pin_hashes(example));
  CHECK(*shiftbook::verify_pin(example["workers"][0]["pin_hash"].get<std::string>(), "1111"));
}

TEST_CASE("reference: once the terminal has a leader, only a logged-in leader imports") {
  Terminal t;
  auto before = t.store->reference();
  REQUIRE(before.is_ok());
  Json next = sample_reference();
  next["workers"][0]["pin_hash"] = *shiftbook::hash_pin("0000", shiftbook::PinCost::kMinimum);
  REQUIRE(t.store->logout().is_ok());
  auto s = t.store->import_reference(next);
  CHECK(s.code() == Code::kFailedPrecondition);
  CHECK_MESSAGE(s.message().rfind("only a logged-in shift leader can import reference data (no shift leader is "
                                  "logged in",
                                  0) == 0,
                s.message());
  CHECK(*t.store->reference() == *before);
  // A login that went idle counts as none.
  REQUIRE(t.store->login("L1", "4321").is_ok());
  t.clock.advance(31 * 60'000);
  CHECK(t.store->import_reference(next).code() == Code::kFailedPrecondition);
  REQUIRE(t.store->login("L1", "4321").is_ok());
  CHECK(t.store->import_reference(next).is_ok());
}

TEST_CASE("reference: a terminal without leaders imports without a login, for its setup") {
  shiftbook::testing::TempDir dir;
  shiftbook::FakeClock clock(shiftbook::testing::kSampleNowMs);
  auto store = shiftbook::client::Store::init(dir.file("store"), clock, shiftbook::testing::fast_options());
  REQUIRE(store.is_ok());
  REQUIRE((*store)->import_reference(sample_reference()).is_ok());
  // And again, still without leaders: a corrected plan before the first leader is added.
  CHECK((*store)->import_reference(sample_reference()).is_ok());
  REQUIRE((*store)->add_leader("L1", "Lena", "4321").is_ok());
  CHECK((*store)->import_reference(sample_reference()).code() == Code::kFailedPrecondition);
}
