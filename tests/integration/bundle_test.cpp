// Sync by files with the real programs: a terminal enrolled over the network, then cut off, exports
// bundles with `shiftbook bundle export`; head office answers them with `shiftbook-server bundle
// import` (its store opened directly, beside a running `serve`); the terminal takes the replies
// with `shiftbook bundle import`. Twice, out of order, or after an HTTP sync, nothing counts twice.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_support.h"
#include "shiftbook/bundle.h"
#include "shiftbook/client/store.h"
#include "shiftbook/envelope.h"
#include "shiftbook/protocol.h"
#include "shiftbook/platform/files.h"
#include "support/fixture.h"
#include "support/server_process.h"

using namespace shiftbook;
using shiftbook::testing::Cli;
using shiftbook::testing::RunResult;
using shiftbook::testing::ServerProcess;

namespace {

void ok(const RunResult& r, const std::string& what) { REQUIRE_MESSAGE(r.exit_code == 0, (what + ": " + r.err)); }

struct HeadOffice {
  ServerProcess server;
  HeadOffice() {
    shiftbook::testing::setup_head_office(server);
    server.start();
  }
  // `shiftbook-server bundle import FILE --reply REPLY --json`, which must succeed.
  Json answer(const std::string& file, const std::string& reply) const {
    RunResult r = server.run({"bundle", "import", file, "--reply", reply, "--json"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return Json::parse(r.out);
  }
  // What the server holds of a device: the seq of its chain end, from `device list`.
  std::int64_t held(const std::string& device_hex) const {
    const Json list = server.json({"device", "list", "--json"});
    for (const Json& d : list["devices"]) {
      if (d["device"] == device_hex) return d["seq"].get<std::int64_t>();
    }
    return -1;
  }
};

// A terminal enrolled for U1 of S1 over the network, which from then on syncs by bundle only: the
// first bundle brings head office's reference data and leaders, and L1 logs in.
struct Terminal {
  Cli cli;
  const HeadOffice& ho;
  explicit Terminal(const HeadOffice& h, const std::vector<std::string>& units = {"U1"}) : ho(h) {
    ok(cli.run({"init"}), "init");
    ok(cli.run({"enroll", "--server", ho.server.url(), "--code", ho.server.create_code("S1", units)}), "enroll");
    round("first");
    ok(cli.run({"login", "L1"}, "4321\n"), "login");
  }
  RunResult run(const std::vector<std::string>& args, const std::string& input = {}) const {
    return cli.run(args, input);
  }
  Json json(const std::vector<std::string>& args) const { return cli.json(args); }
  std::string file(const std::string& name) const { return cli.file(name); }
  std::string device() const { return json({"status", "--json"})["device"].get<std::string>(); }

  Json export_to(const std::string& name) const { return json({"bundle", "export", file(name), "--json"}); }
  Json import(const std::string& name) const { return json({"bundle", "import", file(name), "--json"}); }
  // A whole exchange: export, head office answers, import.
  Json round(const std::string& name) const {
    export_to(name + ".sbb");
    ho.answer(file(name + ".sbb"), file(name + ".reply"));
    return import(name + ".reply");
  }
  void hours(const std::string& worker, const std::string& start, const std::string& end) const {
    ok(run({"log", "hours", "--worker", worker, "--start", start, "--end", end}), "hours " + worker);
  }
  std::vector<std::string> workers() const {
    std::vector<std::string> out;
    const Json list = json({"list", "--json"});
    for (const Json& e : list["entries"]) {
      if (e["kind"] == "hours") out.push_back(e["worker"].get<std::string>());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // Events, unsynced events and the held receipt: what must not change twice.
  std::string footprint() const {
    Json s = json({"status", "--json"});
    return std::to_string(s["events"].get<int>()) + "/" + std::to_string(s["unsynced_events"].get<int>()) + "/" +
           (s["last_sync"].is_null() ? std::string("-") : std::to_string(s["last_sync"]["receipt_seq"].get<int>()) +
                                                              "@" + std::to_string(s["last_sync"]["cursor"].get<int>()));
  }
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// `path` changed by `change`, with its checksum made again (as someone who meant the change would).
void tamper(const std::string& path, const std::function<void(std::string&)>& change) {
  std::string b = read_all(path);
  change(b);
  Hash h = blake2b_256(as_bytes(std::string_view(b).substr(0, b.size() - kBundleChecksumBytes)));
  b.replace(b.size() - kBundleChecksumBytes, kBundleChecksumBytes, std::string(h.begin(), h.end()));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << b;
}

}  // namespace

TEST_CASE("bundle: entries go to head office by file, and other terminals' entries come back") {
  HeadOffice ho;
  Terminal a(ho);
  CHECK(a.json({"ref", "show", "--json"})["workers"].size() == 3);  // the first bundle brought the plan
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open a");
  a.hours("W1", "06:00", "14:00");

  Json exported = a.export_to("1.sbb");
  CHECK(exported["events"] == 2);
  CHECK(exported["parts"] == 1);
  RunResult answered = ho.server.run({"bundle", "import", a.file("1.sbb"), "--reply", a.file("1.reply")});
  ok(answered, "bundle import");
  CHECK_MESSAGE(answered.out.find("sync device " + a.device().substr(0, 8) + " bundle ") != std::string::npos,
                answered.out);
  CHECK(answered.out.find("pushed 2 events") != std::string::npos);
  CHECK(ho.held(a.device()) == 2);
  RunResult imported = a.run({"bundle", "import", a.file("1.reply")});
  ok(imported, "import");
  CHECK_MESSAGE(imported.out.find("pushed 2 events") != std::string::npos, imported.out);
  CHECK(imported.out.find("head office holds this terminal's events 1 to 2") != std::string::npos);

  // Another terminal of U1 syncs over HTTP, and sees A's entry; A sees B's after its next bundle.
  Cli b;
  ok(b.run({"init"}), "init b");
  ok(b.run({"enroll", "--server", ho.server.url(), "--code", ho.server.create_code("S1", {"U1"})}), "enroll b");
  ok(b.run({"sync"}), "sync b");
  ok(b.run({"login", "L1"}, "4321\n"), "login b");
  ok(b.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open b");
  ok(b.run({"log", "hours", "--worker", "W2", "--start", "07:00", "--end", "15:00"}), "hours b");
  ok(b.run({"sync"}), "sync b again");
  CHECK(b.json({"list", "--json"})["entries"].size() == 2);
  Json second = a.round("2");
  CHECK(second["pulled"] == 2);
  CHECK(a.workers() == std::vector<std::string>{"W1", "W2"});
  CHECK(a.json({"status", "--json"})["unsynced_events"] == 0);
  CHECK(a.json({"verify", "--json"})["ok"] == true);
}

TEST_CASE("bundle: a bundle answered twice, and a reply taken twice, count once") {
  HeadOffice ho;
  Terminal a(ho);
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  a.hours("W1", "06:00", "14:00");
  a.export_to("a.sbb");
  Json first = ho.answer(a.file("a.sbb"), a.file("a1.reply"));
  Json second = ho.answer(a.file("a.sbb"), a.file("a2.reply"));
  CHECK(first["pushed"] == 2);
  CHECK(second["pushed"] == 0);
  CHECK(second["server_seq"] == 2);
  CHECK(second["log"][0].get<std::string>().find("held already") != std::string::npos);
  CHECK(a.import("a2.reply")["pushed"] == 2);
  const std::string after = a.footprint();
  Json again = a.import("a1.reply");
  CHECK(again["pushed"] == 0);
  CHECK(again["pulled"] == 0);
  CHECK(a.import("a2.reply")["pushed"] == 0);
  CHECK(a.footprint() == after);
  CHECK(a.workers() == std::vector<std::string>{"W1"});
}

TEST_CASE("bundle: two bundles answered and taken out of order") {
  HeadOffice ho;
  Terminal a(ho);
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  a.hours("W1", "06:00", "08:00");
  CHECK(a.export_to("early.sbb")["last_seq"] == 2);
  a.hours("W2", "08:00", "10:00");
  CHECK(a.export_to("late.sbb")["last_seq"] == 3);
  // Head office gets the later bundle first; the earlier one then pushes only what it holds.
  CHECK(ho.answer(a.file("late.sbb"), a.file("late.reply"))["pushed"] == 3);
  Json early = ho.answer(a.file("early.sbb"), a.file("early.reply"));
  CHECK(early["pushed"] == 0);
  CHECK(early["server_seq"] == 3);
  // The earlier reply's receipt is for more than its bundle pushed: taken, since it names A's event 3.
  CHECK(a.import("early.reply")["server_seq"] == 3);
  CHECK(a.import("late.reply")["pushed"] == 0);
  CHECK(a.json({"status", "--json"})["unsynced_events"] == 0);
  CHECK(a.json({"verify", "--json"})["ok"] == true);
}

TEST_CASE("bundle: a reply taken after an HTTP sync, and an old bundle answered after one, change nothing") {
  HeadOffice ho;
  Terminal a(ho);
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  a.hours("W1", "06:00", "08:00");
  a.export_to("old.sbb");
  ho.answer(a.file("old.sbb"), a.file("early.reply"));
  a.hours("W2", "08:00", "10:00");
  ok(a.run({"sync"}), "the network is back for a moment");
  CHECK(ho.held(a.device()) == 3);
  const std::string synced = a.footprint();
  CHECK(a.import("early.reply")["pushed"] == 0);
  CHECK(a.footprint() == synced);

  // The old bundle reaches head office only now: it pushes nothing, and its reply says 3 are held.
  Json late = ho.answer(a.file("old.sbb"), a.file("late.reply"));
  CHECK(late["pushed"] == 0);
  CHECK(late["server_seq"] == 3);
  Json taken = a.import("late.reply");
  CHECK(taken["server_seq"] == 3);
  CHECK(taken["pulled"] == 0);
  CHECK(a.footprint() == synced);
}

TEST_CASE("bundle: head office refuses a bundle cut short, tampered, for another server or terminal, and writes no reply") {
  HeadOffice ho;
  Terminal a(ho);
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  a.export_to("a.sbb");
  const std::string bundle = read_all(a.file("a.sbb")), reply = a.file("x.reply");
  auto refused = [&](const std::string& name, int exit_code, const std::string& words) {
    RunResult r = ho.server.run({"bundle", "import", a.file(name), "--reply", reply});
    CHECK_MESSAGE(r.exit_code == exit_code, (name + ": " + r.err));
    CHECK_MESSAGE(r.err.find(words) != std::string::npos, r.err);
    CHECK(r.out.empty());
    CHECK_FALSE(std::filesystem::exists(reply));
    CHECK(ho.held(a.device()) == 0);
  };
  a.cli.write("cut.sbb", bundle.substr(0, bundle.size() - 100));
  refused("cut.sbb", 3, "bundle " + a.file("cut.sbb") + ": it is cut short (truncated): 100 bytes are missing");

  std::string damaged = bundle;
  damaged[200] ^= 1;
  a.cli.write("damaged.sbb", damaged);
  refused("damaged.sbb", 3, "damaged (its checksum does not match its content)");

  a.cli.write("tampered.sbb", bundle);
  tamper(a.file("tampered.sbb"), [](std::string& b) { b[kBundleHeaderBytes + 4 + 150] ^= 1; });
  refused("tampered.sbb", 7, "does not open with this server's key");

  // A terminal this server does not know, sealing for this server's key.
  SystemClock clock;
  DeviceKey stranger = DeviceKey::generate();
  Message m;
  m.header = Json{{"type", "sync"}, {"v", 1}, {"cursor", 0}, {"pull_max", 65536}, {"client_ms", clock.now_ms()}};
  BundleFile f;
  f.header.kind = BundleKind::kRequest;
  f.header.server = *array_from_hex<32>(ho.server.key_hex());
  f.header.device = stranger.public_key();
  auto sealed = seal_request(stranger, f.header.server, *encode_message(m));
  REQUIRE(sealed.is_ok());
  f.entries.push_back(BundleEntry{0, sealed->wire});
  REQUIRE(write_file_atomic(a.file("stranger.sbb"), 0600, [&](std::ostream& o) { return write_bundle(o, f); }).is_ok());
  refused("stranger.sbb", 6, "which is not enrolled with this server; enroll it first");

  ho.answer(a.file("a.sbb"), a.file("real.reply"));
  RunResult swapped = ho.server.run({"bundle", "import", a.file("real.reply"), "--reply", reply});
  CHECK(swapped.exit_code == 3);
  CHECK(swapped.err.find("is a reply bundle, not a request bundle") != std::string::npos);

  ServerProcess other;
  RunResult elsewhere = other.run({"bundle", "import", a.file("a.sbb"), "--reply", reply});
  CHECK(elsewhere.exit_code == 3);
  const std::string fingerprint = ho.server.json({"key", "--json"})["fingerprint"].get<std::string>();
  CHECK_MESSAGE(elsewhere.err.find("is meant for the server with fingerprint " + fingerprint) != std::string::npos,
                elsewhere.err);
  CHECK_FALSE(std::filesystem::exists(reply));
}

TEST_CASE("bundle: the terminal refuses a reply for another terminal, tampered or too old, and stores nothing") {
  HeadOffice ho;
  Terminal a(ho);
  Terminal b(ho);
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  a.export_to("a.sbb");
  ho.answer(a.file("a.sbb"), a.file("a.reply"));
  const std::string before = a.footprint(), reply = read_all(a.file("a.reply"));

  std::filesystem::copy_file(a.file("a.reply"), b.file("a.reply"));
  testing::check_fails(b.run({"bundle", "import", b.file("a.reply")}), 3,
                       "it is meant for terminal " + a.device().substr(0, 8) + ", not this one");

  a.cli.write("tampered.reply", reply);
  tamper(a.file("tampered.reply"), [](std::string& bytes) { bytes[kBundleHeaderBytes + 8 + 100] ^= 1; });
  testing::check_fails(a.run({"bundle", "import", a.file("tampered.reply")}), 7,
                       "does not open with the key of the request it answers");

  testing::check_fails(a.run({"bundle", "import", a.file("a.sbb")}), 3, "a request bundle, not a reply bundle");
  testing::check_fails(a.run({"bundle", "import", a.file("missing.reply")}), 4, "cannot read");

  testing::exec_sql(a.cli.store() + "/terminal.db", "UPDATE bundles SET exported_ms = exported_ms - 31 * 86400000");
  testing::check_fails(a.run({"bundle", "import", a.file("a.reply")}), 6, "which is too old");
  CHECK(a.footprint() == before);
}

TEST_CASE("bundle: a backlog of more than 4 MiB goes in several requests, answered in order") {
  HeadOffice ho;
  Terminal a(ho);
  {
    // Recorded through the store with relaxed durability: the set-up, not what is tested.
    SystemClock clock;
    client::StoreOptions options = testing::fast_options();
    options.relaxed_durability = true;
    auto store = client::Store::open(a.cli.store(), clock, options);
    REQUIRE(store.is_ok());
    REQUIRE((*store)->login("L1", "4321").is_ok());
    REQUIRE((*store)->open_shift("U1", 20'773, std::nullopt).is_ok());
    // Bonuses with long notes: fewer, larger events fill 4 MiB sooner.
    const std::string note(480, 'n');
    for (int i = 0; i < 6'000; ++i) REQUIRE((*store)->log_bonus("", "W1", "innovation", note).is_ok());
  }
  Json exported = a.export_to("big.sbb");
  CHECK(exported["events"] == 6'001);
  CHECK(exported["parts"] == 2);
  CHECK(exported["bytes"].get<std::int64_t>() > static_cast<std::int64_t>(kMaxPushBytes));
  Json answered = ho.answer(a.file("big.sbb"), a.file("big.reply"));
  CHECK(answered["requests"] == 2);
  CHECK(answered["pushed"] == 6'001);
  CHECK(answered["refused"].empty());
  REQUIRE(answered["log"].size() == 2);
  CHECK(answered["log"][0].get<std::string>().find("request 1 of 2 pushed") != std::string::npos);
  CHECK(answered["log"][1].get<std::string>().find("request 2 of 2 pushed") != std::string::npos);
  CHECK(answered["log"][1].get<std::string>().find("..6001)") != std::string::npos);
  Json taken = a.import("big.reply");
  CHECK(taken["pushed"] == 6'001);
  CHECK(taken["unsynced_events"] == 0);
}

TEST_CASE("bundle: a revoked terminal hears it from the reply, as from a sync") {
  HeadOffice ho;
  Terminal a(ho);
  ok(a.run({"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "open");
  ok(ho.server.run({"device", "revoke", a.device().substr(0, 8), "--reason", "stolen"}), "revoke");
  a.export_to("a.sbb");
  Json answered = ho.answer(a.file("a.sbb"), a.file("a.reply"));
  CHECK(answered["pushed"] == 0);
  CHECK(answered["log"][0].get<std::string>().find("revoked") != std::string::npos);
  RunResult r = a.run({"bundle", "import", a.file("a.reply")});
  CHECK(r.exit_code == 13);
  CHECK_MESSAGE(r.err.find("head office revoked this terminal") != std::string::npos, r.err);
  CHECK(r.err.find("stolen") != std::string::npos);
  CHECK_FALSE(a.json({"status", "--json"})["revoked"].is_null());
}
