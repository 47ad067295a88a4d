// The audit from the command line against a real server (docs/AUDIT.md): the server's own audit,
// the export, and the standalone verifier with the public key alone, on a clean store and on a
// tampered export.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "integration/terminal_cli.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

// A terminal of U1 logs 620 pieces of P1 against the quota of 500 and W1's hours, and syncs;
// head office sets a rule set and approves the period.
struct Audited {
  ServerProcess server;
  Cli t;
  Audited() {
    setup_head_office(server);
    server.start();
    enroll(t, server);
    log_a_day(t);
    ok(server.run({"rules", "set", "--from", "2026-01-01", "--pool-share-permille", "750", "--special-weight-permille",
                   "500", "--skill-points", "100", "--innovation-points", "0"}),
       "rules set");
    ok(server.run({"approve", "--unit", "U1", "--period", "2026-11"}), "approve");
  }
  RunResult verify(const std::string& file, const std::string& key, const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args{file, "--server-key", key};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_program(SHIFTBOOK_VERIFY_AUDIT_BIN, args);
  }
};

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("audit: the server's own audit and the outside verifier agree on a clean store") {
  Audited a;
  const Json own = a.server.json({"audit", "--json"});
  CHECK(own["ok"] == true);
  CHECK(own["problem_count"] == 0);
  CHECK(own["chains"] == 3);  // S1's and S2's signers, and the terminal
  REQUIRE(own["approvals"].size() == 1);
  CHECK(own["approvals"][0]["matches"] == true);
  CHECK(own["approvals"][0]["unit"] == "U1");

  const std::string file = a.server.file("audit.jsonl");
  RunResult exported = a.server.run({"audit", "export", file});
  REQUIRE_MESSAGE(exported.exit_code == 0, exported.err);
  CHECK(exported.out.find("wrote " + file) == 0);

  RunResult v = a.verify(file, a.server.key_hex());
  REQUIRE_MESSAGE(v.exit_code == 0, (v.out + v.err));
  CHECK(v.out.find("return U1 2026-11 P1: quota 500, actual 620, surplus 120, approved") != std::string::npos);
  CHECK(v.out.find("P1 W1: 480.000 points, share 90") != std::string::npos);
  CHECK(v.out.find("1 approvals, 1 matching") != std::string::npos);
  CHECK(v.out.find("no problems") != std::string::npos);

  const Json vj = Json::parse(a.verify(file, a.server.key_hex(), {"--json"}).out);
  CHECK(vj["ok"] == true);
  CHECK(vj["events"] == own["events"]);
  CHECK(vj["receipts"] == own["receipts"]);
}

TEST_CASE("audit: a tampered export, another key, a missing file and an existing export are refused clearly") {
  Audited a;
  const std::string file = a.server.file("audit.jsonl");
  REQUIRE(a.server.run({"audit", "export", file}).exit_code == 0);
  const std::string clean = read(file);

  SUBCASE("an event changed in the file") {
    // The terminal's output of 620 pieces: key "quantity", then the integer 620 (type 03, 8 bytes
    // big-endian: 0x26c), made 920 (0x398).
    std::string text = clean;
    const std::string was = "7175616e7469747903000000000000026c";
    const std::size_t at = text.find(was);
    REQUIRE(at != std::string::npos);
    text.replace(at, was.size(), "7175616e74697479030000000000000398");
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    RunResult v = a.verify(file, a.server.key_hex());
    CHECK(v.exit_code == 9);
    CHECK(v.out.find("problem: ") != std::string::npos);
    CHECK(v.err.find("the export has ") != std::string::npos);
  }
  SUBCASE("another server's key") {
    RunResult v = a.verify(file, std::string(64, 'a'));
    CHECK(v.exit_code == 6);
    CHECK(v.err.find("not of the server key given") != std::string::npos);
  }
  SUBCASE("a key that is no key, and no file") {
    RunResult bad = a.verify(file, "abc");
    CHECK(bad.exit_code == 3);
    CHECK(bad.err.find("--server-key: 'abc' is not a key (64 hex digits)") != std::string::npos);
    RunResult missing = a.verify(a.server.file("nothing.jsonl"), a.server.key_hex());
    CHECK(missing.exit_code == 4);
    CHECK(missing.err.find("cannot be opened") != std::string::npos);
  }
  SUBCASE("a file that is no export") {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << "name,share\nW1,90\n";
    RunResult v = a.verify(file, a.server.key_hex());
    CHECK(v.exit_code == 3);
    CHECK(v.err.find("line 1: not a JSON object; is this an audit export?") != std::string::npos);
  }
  SUBCASE("export refuses to replace a file unless --force, and leaves it as it was") {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << "keep me\n";
    RunResult again = a.server.run({"audit", "export", file});
    CHECK(again.exit_code == 5);
    CHECK(again.err.find("exists; give another file, or --force to replace it") != std::string::npos);
    CHECK(read(file) == "keep me\n");
    REQUIRE(a.server.run({"audit", "export", file, "--force"}).exit_code == 0);
    CHECK(a.verify(file, a.server.key_hex()).exit_code == 0);
  }
}
