// Head office revokes a terminal (`shiftbook-server device revoke`), with a real server on
// 127.0.0.1: the revoked terminal's next sync drops what it held of others, sends its unsent
// entries into quarantine, and ends with its own exit status and a message saying when, why and
// what became of its entries; its watch stops the same way. The other terminals of the site go on
// syncing and show it as revoked.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "support/fixture.h"
#include "support/server_process.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

void ok(const RunResult& r, const std::string& what) { REQUIRE_MESSAGE(r.exit_code == 0, (what + ": " + r.err)); }

// A terminal of U1, enrolled, synced, L1 logged in, with a shift open and W's hours in it.
struct FieldTerminal {
  Cli cli;
  FieldTerminal(const ServerProcess& server, const std::string& worker) {
    ok(cli.run({"init"}), "init");
    ok(cli.run({"enroll", "--server", server.url(), "--code", server.create_code("S1", {"U1"})}), "enroll");
    ok(cli.run({"sync"}), "first sync");
    ok(cli.run({"login", "L1"}, "4321\n"), "login");
    ok(cli.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
    ok(cli.run({"log", "hours", "--worker", worker, "--start", "06:00", "--end", "14:00"}), "hours");
  }
  std::string device() const { return cli.json({"status", "--json"})["device"].get<std::string>(); }
};

}  // namespace

TEST_CASE("revoked terminal: its sync drops others' data, sends its own into quarantine, and says so") {
  ServerProcess server;
  setup_head_office(server);
  server.start();
  FieldTerminal a(server, "W1"), b(server, "W2");
  ok(a.cli.run({"sync"}), "a pushes");
  ok(b.cli.run({"sync"}), "b pushes and pulls a's");
  ok(a.cli.run({"sync"}), "a pulls b's");
  CHECK(a.cli.json({"list", "--json"})["entries"].size() == 2);
  ok(a.cli.run({"log", "output", "--product", "P1", "--quantity", "40"}), "a records offline");

  const std::string device = a.device();
  ok(server.run({"device", "revoke", device.substr(0, 12), "--reason", "stolen from the press shop"}), "revoke");

  RunResult revoked = a.cli.run({"sync"});
  CHECK_MESSAGE(revoked.exit_code == 13, revoked.err);
  CHECK(revoked.out.empty());
  CHECK_MESSAGE(revoked.err.rfind("shiftbook: head office revoked this terminal on ", 0) == 0, revoked.err);
  CHECK(revoked.err.find("(reason: stolen from the press shop)") != std::string::npos);
  CHECK(revoked.err.find("removed what it held of others") != std::string::npos);
  CHECK_MESSAGE(revoked.err.find("its own 3 events stay in its log; the 1 head office had not acknowledged were "
                                 "sent, and head office keeps them in quarantine. Contact head office") !=
                    std::string::npos,
                revoked.err);
  CHECK(server.wait_for_log("revoked: quarantined 1"));

  Json list = a.cli.json({"list", "--json"});
  REQUIRE(list["entries"].size() == 2);  // its own hours and output; b's hours are gone
  for (const Json& e : list["entries"]) CHECK(e["mine"] == true);
  CHECK(list["revoked"]["reason"] == "stolen from the press shop");
  Json status = a.cli.json({"status", "--json"});
  CHECK(status["revoked"]["reason"] == "stolen from the press shop");
  CHECK(status["sync_health"]["last_outcome"] == "revoked");
  CHECK(status["reference"]["workers"] == 0);
  CHECK(status["leader"].is_null());
  CHECK(status["unsynced_events"] == 1);
  RunResult text = a.cli.run({"status"});
  CHECK(text.out.find("revoked") != std::string::npos);
  check_fails(a.cli.run({"login", "L1"}, "4321\n"), 6, "head office revoked this terminal");
  CHECK(a.cli.json({"verify", "--json"})["ok"] == true);

  // Its watch ends at once, the same way.
  RunResult watch = a.cli.run({"sync", "--watch"});
  CHECK_MESSAGE(watch.exit_code == 13, watch.err);
  CHECK(watch.err.find("shiftbook: head office revoked this terminal on ") != std::string::npos);
  CHECK(watch.out.find("watching head office") != std::string::npos);

  // The other terminal takes head office's device_revoke in its stride and shows it.
  ok(b.cli.run({"sync"}), "b syncs after the revocation");
  Json others = b.cli.json({"status", "--json"})["revoked_terminals"];
  REQUIRE(others.size() == 1);
  CHECK(others[0]["device"] == device);
  CHECK(others[0]["reason"] == "stolen from the press shop");
  CHECK(b.cli.run({"status"}).out.find("revoked terminals  " + device.substr(0, 8)) != std::string::npos);
  CHECK(b.cli.json({"verify", "--json"})["ok"] == true);
}
