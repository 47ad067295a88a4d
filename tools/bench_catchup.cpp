// shiftbook-bench-catchup: how long a terminal that was offline for a week catches up with head
// office, over HTTP (`shiftbook sync`) and by bundle (`shiftbook bundle export`, then
// `shiftbook-server bundle import`, then `shiftbook bundle import`), each step timed as the real
// program from its start to its exit. A figure to report, never a test (docs/SYNC_FIGURES.md).
//
// Set up once, in a temporary folder: a server (site S1, unit U1, a period around today, product
// P1, leader L1); terminal T enrolled and synced once (the reference data and L1 arrive); then a
// week of entries recorded through the Store API with synchronous=NORMAL (set-up, not measured):
// seven daily shifts of U1, each opened, given its share of --entries outputs, and closed. Both
// folders are kept while nothing runs. Each run copies them twice and times, on one copy, the
// HTTP catch-up against `serve` on 127.0.0.1:0, and on the other the three steps of the bundle
// (the server's import opens its store directly, as an office clerk's would, with no `serve`
// running). Each run checks its answer: every event acknowledged, and the server holding them all.
//
// usage: shiftbook-bench-catchup [--entries N] [--runs R] [--dir PARENT] [--keep]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "bench_common.h"
#include "shiftbook/client/store.h"
#include "shiftbook/kinds.h"

namespace {

using namespace shiftbook;
using namespace shiftbook::bench;

constexpr int kDays = 7;

struct Options {
  long entries = 5'000;
  int runs = 3;
  std::string parent;
  bool keep = false;
};

struct Figures {
  double http_s = 0;
  double export_s = 0, answer_s = 0, import_s = 0;
  double bundle_bytes = 0, reply_bytes = 0;
  double bundle_s() const { return export_s + answer_s + import_s; }
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "shiftbook-bench-catchup: " << what << "\n";
  std::exit(1);
}

template <typename T>
T must(Result<T> r, const std::string& what) {
  if (!r.is_ok()) die(what + ": " + r.status().to_string());
  return std::move(r).value();
}
void must(const Status& s, const std::string& what) {
  if (!s.is_ok()) die(what + ": " + s.to_string());
}

// A week on terminal T: a shift of U1 each day, its outputs, and its close. `entries` counts every
// event recorded (opens and closes too).
void record_week(const std::string& dir, const Clock& clock, long entries) {
  client::StoreOptions options;
  options.relaxed_durability = true;
  options.pin_cost = PinCost::kMinimum;
  auto store = must(client::Store::open(dir, clock, options), "opening terminal T");
  must(store->login("L1", "4321", client::kMaxIdleMinutes).status(), "login of L1");
  const std::int64_t today = clock.now_ms() / 86'400'000;
  const long per_day = entries / kDays - 2;
  for (int d = 0; d < kDays; ++d) {
    must(store->open_shift("U1", today - kDays + 1 + d, std::nullopt).status(), "opening day " + std::to_string(d));
    const long outputs = per_day + (d == kDays - 1 ? entries % kDays : 0);
    for (long i = 0; i < outputs; ++i) must(store->log_output("", "P1", i % 500 + 1).status(), "recording output");
    must(store->close_shift("").status(), "closing day " + std::to_string(d));
  }
}

// The set-up both ways start from: DIR/setup/server and DIR/setup/terminal, stopped.
std::uint64_t set_up(Launcher& launcher, const std::string& root, long entries) {
  const std::string setup = root + "/setup", scratch = setup + "/scratch";
  must(make_folder(scratch), "making " + scratch);
  SystemClock clock;
  must(set_up_head_office(launcher, setup + "/server", scratch, clock.now_ms() / 86'400'000, {"U1"}), "head office");
  const std::string code = must(create_code(launcher, setup + "/server", scratch, "U1"), "enrollment code");
  {
    auto server = must(ServerChild::start(setup + "/server", scratch), "starting the server");
    const std::string t = setup + "/terminal";
    must(launcher.check({shiftbook_bin(), "--store", t, "init"}, scratch).status(), "init");
    must(launcher.check({shiftbook_bin(), "--store", t, "enroll", "--server", server->url(), "--code", code}, scratch)
             .status(),
         "enroll");
    must(launcher.check({shiftbook_bin(), "--store", t, "sync"}, scratch).status(), "first sync");
    must(server->stop(), "stopping the server");
  }
  record_week(setup + "/terminal", clock, entries);
  auto store = must(client::Store::open(setup + "/terminal", clock), "opening terminal T");
  return must(store->sync_state(), "reading T's sync state").unacknowledged();
}

// Runs one step, which must succeed and print one JSON document; its wall time in `seconds`.
Json step(Launcher& launcher, const std::vector<std::string>& argv, const std::string& scratch, double& seconds) {
  Finished f = must(launcher.run(argv, scratch), "running " + argv[0]);
  if (f.exit_code != 0) die(argv[0] + " " + argv[1] + " ... exited with " + std::to_string(f.exit_code) + ": " + f.err);
  seconds = f.seconds;
  Json doc = Json::parse(f.out, nullptr, false);
  if (!doc.is_object()) die(argv[0] + " printed no JSON document: " + f.out);
  return doc;
}

// The answer is checked: all of T's events acknowledged, and the server holding every one.
void check(const Json& report, const char* pushed_field, std::uint64_t events, const std::string& how) {
  if (report.value(pushed_field, std::uint64_t{0}) != events || report.value("unsynced_events", std::uint64_t{1}) != 0) {
    die(how + " did not leave all " + std::to_string(events) + " events acknowledged: " + report.dump());
  }
}

Figures one_run(Launcher& launcher, const std::string& root, std::uint64_t events, bool keep) {
  Figures f;
  auto run = must(ScratchDir::make(root, "run", keep), "making a run folder");
  const std::string r = run.path(), setup = root + "/setup";
  for (const char* way : {"http", "bundle"}) {
    must(copy_folder(setup + "/server", r + "/" + way + "-server"), "copying the server");
    must(copy_folder(setup + "/terminal", r + "/" + way + "-terminal"), "copying terminal T");
  }
  {
    auto server = must(ServerChild::start(r + "/http-server", r), "starting the server");
    Json synced = step(launcher, {shiftbook_bin(), "--store", r + "/http-terminal", "sync", "--server", server->url(),
                                  "--json"},
                       r, f.http_s);
    must(server->stop(), "stopping the server");
    check(synced, "pushed", events, "shiftbook sync");
  }
  const std::string t = r + "/bundle-terminal", bundle = r + "/week.sbb", reply = r + "/week.reply";
  Json exported = step(launcher, {shiftbook_bin(), "--store", t, "bundle", "export", bundle, "--json"}, r, f.export_s);
  Json answered = step(launcher,
                       {server_bin(), "--dir", r + "/bundle-server", "bundle", "import", bundle, "--reply", reply,
                        "--json"},
                       r, f.answer_s);
  Json taken = step(launcher, {shiftbook_bin(), "--store", t, "bundle", "import", reply, "--json"}, r, f.import_s);
  if (answered.value("pushed", std::uint64_t{0}) != events || !answered["refused"].empty()) {
    die("shiftbook-server bundle import did not take all " + std::to_string(events) + " events: " + answered.dump());
  }
  check(taken, "pushed", events, "shiftbook bundle import");
  f.bundle_bytes = exported.value("bytes", 0.0);
  f.reply_bytes = answered.value("bytes", 0.0);
  return f;
}

Options parse(int argc, char** argv) {
  Options o;
  const char* tmp = std::getenv("TMPDIR");
  o.parent = tmp && *tmp ? tmp : "/tmp";
  const std::string usage = "usage: shiftbook-bench-catchup [--entries N] [--runs R] [--dir PARENT] [--keep]";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value; " + usage);
      return argv[++i];
    };
    try {
      if (a == "--entries") o.entries = std::stol(value());
      else if (a == "--runs") o.runs = std::stoi(value());
      else if (a == "--dir") o.parent = value();
      else if (a == "--keep") o.keep = true;
      else die(usage);
    } catch (const std::exception&) {
      die(a + " needs a whole number; " + usage);
    }
  }
  if (o.entries < 3 * kDays || o.runs < 1) die("--entries must be at least 21 and --runs at least 1");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Launcher launcher;  // first, while this process is small (bench_common.h)
  const Options opt = parse(argc, argv);
  must(crypto_init(), "crypto");
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  auto root = must(ScratchDir::make(opt.parent, "shiftbook-bench-catchup", opt.keep), "making a folder");
  const std::uint64_t events = set_up(launcher, root.path(), opt.entries);
  std::printf("shiftbook-bench-catchup: a terminal offline for a week (%d daily shifts, %llu events unsent) catches up;\n"
              "%d runs on copies of the same terminal and server; wall time of each program; load %s\n\n",
              kDays, static_cast<unsigned long long>(events), opt.runs, load_average().c_str());
  std::printf("%-4s %8s | %8s %9s %8s %9s | %10s %10s\n", "run", "http s", "export s", "answer s", "import s",
              "bundle s", "bundle B", "reply B");
  std::vector<double> http, exports, answers, imports, total;
  for (int i = 1; i <= opt.runs; ++i) {
    const Figures f = one_run(launcher, root.path(), events, opt.keep);
    http.push_back(f.http_s);
    exports.push_back(f.export_s);
    answers.push_back(f.answer_s);
    imports.push_back(f.import_s);
    total.push_back(f.bundle_s());
    std::printf("%-4d %8.3f | %8.3f %9.3f %8.3f %9.3f | %10.0f %10.0f\n", i, f.http_s, f.export_s, f.answer_s,
                f.import_s, f.bundle_s(), f.bundle_bytes, f.reply_bytes);
  }
  std::printf("\nmedians over %d runs, %llu events\n", opt.runs, static_cast<unsigned long long>(events));
  std::printf("%-48s %8.3f s\n", "over HTTP: shiftbook sync", median(http));
  std::printf("%-48s %8.3f s\n", "by bundle: shiftbook bundle export", median(exports));
  std::printf("%-48s %8.3f s\n", "by bundle: shiftbook-server bundle import", median(answers));
  std::printf("%-48s %8.3f s\n", "by bundle: shiftbook bundle import", median(imports));
  std::printf("%-48s %8.3f s\n", "by bundle: the three steps", median(total));
  if (opt.keep) std::printf("kept %s\n", root.path().c_str());
  return 0;
}
