// The command line of sync in the field, without a server: `status` showing sync's health after
// failed attempts, a revoked terminal in `status`, `list` and `login`, and the options of
// `sync --watch`. The terminal is enrolled through the library with a server key the test holds,
// at an address where nothing listens.
#include <doctest/doctest.h>

#include <string>

#include "cli/cli_support.h"
#include "shiftbook/protocol.h"
#include "support/fixture.h"

using namespace shiftbook;
using namespace shiftbook::testing;

namespace {

// Nothing listens on port 1 of this machine: a sync is refused at once.
constexpr const char* kNowhere = "http://127.0.0.1:1";

// A terminal enrolled with a head office that is not there, with a shift of its own recorded.
struct Offline {
  Cli cli;
  DeviceKey server = DeviceKey::generate();
  Offline() {
    cli.ready();
    SystemClock clock;
    auto store = client::Store::open(cli.store(), clock, fast_options());
    REQUIRE(store.is_ok());
    const DeviceKey signer = derive_site_signer(server, "S1");
    Status enrolled = (*store)->enroll(kNowhere, server.public_key(), "S1", {"U1"}, clock.now_ms(),
                                       sign_delegation(server, "S1", signer.public_key()));
    REQUIRE_MESSAGE(enrolled.is_ok(), enrolled.to_string());
  }
  void revoke(const std::string& reason) {
    SystemClock clock;
    auto store = client::Store::open(cli.store(), clock, fast_options());
    REQUIRE(store.is_ok());
    RevocationNotice n = sign_revocation(server, (*store)->device(), kSampleNowMs, reason);
    REQUIRE((*store)->accept_revocation(n).is_ok());
  }
};

}  // namespace

TEST_CASE("field cli: status shows since when syncs fail, how many times and why") {
  Offline t;
  RunResult status = t.cli.run({"status"});
  CHECK(status.out.find("sync failing") == std::string::npos);
  for (int i = 0; i < 2; ++i) check_fails(t.cli.run({"sync"}), 12, "cannot reach http://127.0.0.1:1: connection refused");
  status = t.cli.run({"status"});
  REQUIRE(status.exit_code == 0);
  CHECK(status.out.find("last success  never") != std::string::npos);
  CHECK_MESSAGE(status.out.find("sync failing  since ") != std::string::npos, status.out);
  CHECK(status.out.find("2 attempts; the last, just now: cannot reach http://127.0.0.1:1: connection refused") !=
        std::string::npos);
  Json health = t.cli.json({"status", "--json"})["sync_health"];
  CHECK(health["last_outcome"] == "unreachable");
  CHECK(health["failures"] == 2);
  CHECK(health["last_success_ms"].is_null());
  CHECK(health["failing_since_ms"].get<std::int64_t>() <= health["last_attempt_ms"].get<std::int64_t>());
}

TEST_CASE("field cli: a revoked terminal says so in status and list, and refuses to log in, saying why") {
  Offline t;
  t.revoke("stolen from the press shop");
  RunResult status = t.cli.run({"status"});
  CHECK_MESSAGE(status.out.find("\nrevoked ") != std::string::npos, status.out);
  CHECK(status.out.find("  by head office on 2026-11-16 08:00:00 UTC (stolen from the press shop): this terminal "
                        "holds only its own entries") != std::string::npos);
  CHECK(t.cli.json({"status", "--json"})["revoked"]["reason"] == "stolen from the press shop");
  RunResult list = t.cli.run({"list"});
  CHECK(list.out.find("head office revoked this terminal on 2026-11-16 08:00:00 UTC (stolen from the press shop): "
                      "it shows only its own entries") != std::string::npos);
  check_fails(t.cli.run({"login", "L1"}, "4321\n"), 6,
              "head office revoked this terminal on 2026-11-16 08:00 UTC (reason: stolen from the press shop): it "
              "holds no shift leaders and records nothing more");
  check_fails(t.cli.run({"log", "output", "--product", "P1", "--quantity", "4"}), 6, "records nothing more");
  CHECK(t.cli.json({"verify", "--json"})["ok"] == true);
}

TEST_CASE("field cli: the watch's options need --watch and stay within their bounds") {
  Offline t;
  for (const auto& args : {std::vector<std::string>{"sync", "--interval", "5"},
                           std::vector<std::string>{"sync", "--retry-max", "5"},
                           std::vector<std::string>{"sync", "--watch", "--interval", "0"},
                           std::vector<std::string>{"sync", "--watch", "--retry-max", "86401"}}) {
    RunResult r = t.cli.run(args);
    CHECK_MESSAGE(r.exit_code == 2, r.err);
    CHECK(r.out.empty());
  }
  RunResult help = t.cli.run({"--help"});
  CHECK(help.out.find("13  head office revoked this terminal") != std::string::npos);
}
