// A whole shift through the binary, the way a shift leader lives it.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>

#include "cli/cli_support.h"

namespace shiftbook::testing {
namespace {

// The output line of a command that must succeed.
std::string ok(const RunResult& r) {
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.out;
}

// "2 hours W1 480 confirmed | 3 hours W2 450 special v2 | ..." from `list --json`.
std::string entries_text(const Json& doc) {
  std::ostringstream out;
  for (const Json& e : doc["entries"]) {
    out << (out.tellp() > 0 ? " | " : "") << e["seq"].get<int>() << " " << e["kind"].get<std::string>();
    if (e.contains("worker")) out << " " << e["worker"].get<std::string>();
    if (e.contains("product")) out << " " << e["product"].get<std::string>() << " " << e["quantity"].get<std::int64_t>();
    if (e.contains("minutes")) out << " " << e["minutes"].get<int>();
    if (e.value("special", false)) out << " special";
    if (e.value("confirmed", false)) out << " confirmed";
    if (e["versions"].get<int>() > 1) out << " v" << e["versions"].get<int>();
    if (e["void"].get<bool>()) out << " void";
  }
  return out.str();
}

}  // namespace

TEST_CASE("cli: a shift is opened, recorded, confirmed, corrected, voided and closed") {
  Cli t;
  CHECK(ok(t.run({"init"})).find("device ") != std::string::npos);
  CHECK(ok(t.run({"ref", "import", t.write("ref.json", sample_reference().dump())})) ==
        "imported reference data: 2 sites, 3 units, 1 period, 2 products, 4 workers, 2 quotas\n");
  CHECK(ok(t.run({"leader", "add", "L1", "--name", "Lena"}, "4321\n")) == "added shift leader L1 (Lena)\n");
  CHECK(ok(t.run({"login", "L1"}, "4321\n")).rfind("logged in as L1 (Lena)", 0) == 0);
  CHECK(ok(t.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"})) == "opened shift 1: unit U1, 2026-11-16\n");
  CHECK(ok(t.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"})) ==
        "recorded entry 2: hours W1 06:00-14:00 (8:00)\n");
  Json night = Json::parse(ok(t.run({"log", "hours", "--worker", "W2", "--start", "22:00", "--end", "06:00", "--special", "--json"})));
  CHECK(night["seq"] == 3);
  CHECK(night["kind"] == "hours");
  CHECK(night["hash"].get<std::string>().size() == 64);
  CHECK(ok(t.run({"log", "output", "--product", "P2", "--quantity", "12.5"})) == "recorded entry 4: output P2 12.500 kg\n");
  CHECK(ok(t.run({"log", "bonus", "--worker", "W1", "--type", "skill_upgrade", "--note", "press 4"})) ==
        "recorded entry 5: bonus W1 skill_upgrade\n");
  CHECK(ok(t.run({"confirm", "2", "--worker", "W1"}, "1111\n")) == "recorded entry 6: W1 confirmed entry 2\n");
  CHECK(ok(t.run({"correct", "3", "--end", "05:30", "--reason", "left early"})).rfind("recorded entry 7: corrected entry 3", 0) == 0);
  CHECK(ok(t.run({"correct", "4", "--quantity", "13", "--reason", "scale misread"})).rfind("recorded entry 8:", 0) == 0);
  CHECK(ok(t.run({"void", "5", "--reason", "entered twice"})) == "recorded entry 9: voided entry 5\n");

  CHECK(entries_text(t.json({"list", "--json"})) ==
        "2 hours W1 480 confirmed | 3 hours W2 450 special v2 | 4 output P2 13000 v2 | 6 confirm W1");
  CHECK(entries_text(t.json({"list", "--all", "--kind", "bonus", "--json"})) == "5 bonus W1 void");
  Json shown = t.json({"show", "3", "--json"});
  CHECK(shown["entry"]["end"] == 1770);
  CHECK(shown["versions"].size() == 2);
  CHECK(ok(t.run({"show", "3"})).find("left early") != std::string::npos);
  CHECK(ok(t.run({"shift", "close"})) == "recorded entry 10: closed shift 1 (U1 2026-11-16)\n");
  CHECK(ok(t.run({"logout"})) == "logged out L1\n");
  CHECK(t.run({"log", "hours", "--worker", "W3", "--start", "06:00", "--end", "07:00"}).exit_code == 6);
  CHECK(t.events() == 10);
}

TEST_CASE("cli: summary, verify and export read back a recorded shift") {
  Cli t;
  t.ready();
  ok(t.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00", "--special"}));
  ok(t.run({"log", "hours", "--worker", "W2", "--start", "22:00", "--end", "30:00"}));
  ok(t.run({"log", "output", "--product", "P1", "--quantity", "620"}));
  ok(t.run({"confirm", "2", "--worker", "W1"}, "1111\n"));

  Json sum = t.json({"summary", "--json"});
  std::ostringstream workers;
  for (const Json& w : sum["workers"]) {
    workers << w["worker"].get<std::string>() << " " << w["minutes"] << "/" << w["special_minutes"] << "/"
            << w["confirmed_minutes"] << " ";
  }
  CHECK(workers.str() == "W1 480/480/480 W2 480/0/0 ");
  CHECK(sum["output"][0]["quantity"] == 620);
  CHECK(sum["output"][0]["surplus"] == 120);
  CHECK(t.json({"summary", "--unit", "U1", "--period", "2026-11", "--json"})["workers"].size() == 2);
  CHECK(ok(t.run({"summary"})).find("Bracket") != std::string::npos);

  CHECK(ok(t.run({"verify"})).find("verified 5 events") != std::string::npos);
  CHECK(t.json({"verify", "--json"})["ok"] == true);

  const std::string exported = ok(t.run({"export"}));
  std::istringstream lines(exported);
  std::string line, types;
  while (std::getline(lines, line)) types += Json::parse(line)["type"].get<std::string>()[0];
  CHECK(types == "eeeeeh");
  CHECK(ok(t.run({"export", "--output", t.file("log.jsonl")})) == "exported the log to " + t.file("log.jsonl") + "\n");
  std::ifstream file(t.file("log.jsonl"));
  CHECK(std::string(std::istreambuf_iterator<char>(file), {}) == exported);
  CHECK_FALSE(std::filesystem::exists(t.file("log.jsonl.tmp")));
}

}  // namespace shiftbook::testing
