// The crash world (crash_world.h): the template, once, and the iterations. The checks are in
// crash_checks.h, the processes in crash_process.h.
#include "support/crash_world.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <utility>

#include "shiftbook/canonical.h"
#include "shiftbook/client/store.h"
#include "shiftbook/kinds.h"
#include "support/crash_checks.h"
#include "support/crash_process.h"

namespace shiftbook::testing::crash {

namespace fs = std::filesystem;

namespace {

constexpr const char* kShiftDate = "2026-11-16";

std::string ms_text(std::int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(us) / 1000.0);
  return buf;
}

// A note of about 450 bytes: bonus events then weigh about 700 bytes, so that A's events need
// more than one push of at most 4 MiB and a kill can land between two of them.
std::string bonus_note(std::uint64_t seq) {
  std::string note = "entry " + std::to_string(seq) + ": suggested a quicker die change on the bracket press;";
  while (note.size() < 440) note += " measured over three shifts, saves about four minutes a change;";
  return note.substr(0, 450);
}

// Records `events` events on an enrolled terminal through the Store API with synchronous=NORMAL
// (recording is set-up here; docs/DURABILITY.md proves the durable path): a shift_open, then
// outputs and bonuses in turn, and every 50th event a correction of the output before it.
Result<PublicKey> record(const std::string& dir, std::uint64_t events) {
  static const SystemClock clock;
  client::StoreOptions options;
  options.relaxed_durability = true;
  options.pin_cost = PinCost::kMinimum;
  SB_ASSIGN_OR_RETURN(auto store, client::Store::open(dir, clock, options));
  SB_RETURN_IF_ERROR(store->login("L1", "4321", client::kMaxIdleMinutes).status());
  SB_ASSIGN_OR_RETURN(std::int64_t day, parse_date(kShiftDate));
  SB_RETURN_IF_ERROR(store->open_shift("U1", day, std::nullopt).status());
  std::uint64_t last_output = 0;
  for (std::uint64_t seq = 2; seq <= events; ++seq) {
    if (seq % 50 == 0 && last_output > 0) {
      SB_RETURN_IF_ERROR(store->correct(std::to_string(last_output), Json{{"quantity", 5000 + seq}}, "counted again")
                             .status());
    } else if (seq % 2 == 0) {
      SB_RETURN_IF_ERROR(store->log_bonus("", "W1", "innovation", bonus_note(seq)).status());
    } else {
      SB_ASSIGN_OR_RETURN(client::Recorded r, store->log_output("", "P1", static_cast<std::int64_t>(seq % 1000 + 1)));
      last_output = r.seq;
    }
  }
  return store->device();
}

Status copy_tree(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (ec) return internal_error("cannot copy " + from + " to " + to + ": " + ec.message());
  return Status::ok();
}

std::string make_world_dir(const std::string& parent_in) {
  std::string parent = parent_in;
  if (parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent = tmp && *tmp ? tmp : "/tmp";
  }
  std::string tmpl = parent + "/shiftbook-crash-XXXXXX";
  return ::mkdtemp(tmpl.data()) ? tmpl : std::string();
}

}  // namespace

std::string_view side_name(Side side) {
  switch (side) {
    case Side::kClient: return "client";
    case Side::kServer: return "server";
    case Side::kBoth: return "both";
  }
  return "?";
}

std::optional<Side> parse_side(std::string_view text) {
  for (Side s : {Side::kClient, Side::kServer, Side::kBoth}) {
    if (side_name(s) == text) return s;
  }
  return std::nullopt;
}

std::string_view phase_name(Phase phase) {
  switch (phase) {
    case Phase::kPush: return "push";
    case Phase::kAnswer: return "answer";
    case Phase::kPull: return "pull";
    case Phase::kAfter: return "after";
  }
  return "?";
}

std::string KillPoint::held_class(std::uint64_t events) const {
  return server_held == 0 ? "0" : server_held >= events ? "all" : "partial";
}

std::string Outcome::line(std::uint64_t events) const {
  std::ostringstream s;
  s << "iteration " << iteration << " seed " << seed << ": " << side_name(side) << " killed at "
    << ms_text(kill.delay_us) << " of " << ms_text(kill.window_us) << " ms (sync exit " << kill.sync_exit
    << "); server held " << kill.held_class(events) << " (" << kill.server_held << "), A's receipt " << kill.receipt
    << ", A pulled " << kill.pulled << " -> " << phase_name(kill.phase) << "; final sync " << round_trips
    << " round trip" << (round_trips == 1 ? "" : "s") << (checked_b ? ", B checked" : "") << "; "
    << (ok() ? "ok" : std::to_string(failures.size()) + " failure(s)") << " ("
    << ms_text(static_cast<std::int64_t>(seconds * 1e6)) << " ms)";
  return s.str();
}

// ---- the template -------------------------------------------------------------------------------

Result<std::unique_ptr<World>> World::create(WorldOptions options) {
  if (options.events < 2 || options.b_events < 2) {
    return invalid_argument("each terminal needs at least 2 events (a shift and an entry)");
  }
  std::unique_ptr<World> w(new World(std::move(options)));
  w->dir_ = make_world_dir(w->options_.parent);
  if (w->dir_.empty()) return internal_error("cannot make a folder under " + w->options_.parent);
  const auto start = Steady::now();
  SB_RETURN_IF_ERROR(w->build_template().with_context("building the crash world's template: "));
  SB_RETURN_IF_ERROR(w->measure_window().with_context("timing an uninterrupted sync: "));
  w->setup_seconds_ = std::chrono::duration<double>(Steady::now() - start).count();
  return w;
}

World::~World() {
  if (options_.keep || failed_ || dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

Status World::build_template() {
  const std::string t = dir_ + "/template", scratch = t + "/run";
  const std::string server_dir = t + "/server", a = t + "/a", b = t + "/b";
  fs::create_directories(t);
  auto admin = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {SHIFTBOOK_SERVER_BIN, "--dir", server_dir});
    return run_ok(args, scratch, kProgramTimeout);
  };
  auto shiftbook = [&](const std::string& store, std::vector<std::string> args) {
    args.insert(args.begin(), {SHIFTBOOK_BIN, "--store", store});
    return run_ok(args, scratch, kProgramTimeout);
  };
  SB_RETURN_IF_ERROR(admin({"init"}).status());
  SB_ASSIGN_OR_RETURN(std::string worker_pin, hash_pin("1111", PinCost::kMinimum));
  SB_ASSIGN_OR_RETURN(std::string leader_pin, hash_pin("4321", PinCost::kMinimum));
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"site", "add", "S1", "--name", "Plant One", "--tz", "UTC"},
           {"unit", "add", "U1", "--site", "S1", "--name", "Press shop"},
           {"period", "add", "2026-11", "--start", "2026-11-01", "--end", "2026-11-30"},
           {"product", "add", "P1", "--name", "Bracket", "--unit", "pcs", "--decimals", "0"},
           {"worker", "add", "W1", "--site", "S1", "--name", "Anna", "--pin-hash", worker_pin},
           {"leader", "add", "L1", "--site", "S1", "--name", "Lena", "--pin-hash", leader_pin},
           {"quota", "set", "--unit", "U1", "--period", "2026-11", "--product", "P1", "--quantity", "500"}}) {
    SB_RETURN_IF_ERROR(admin(args).status());
  }
  SB_ASSIGN_OR_RETURN(ServerChild server, ServerChild::start(server_dir, t + "/server"));
  // A syncs first, so its cursor stands before B's events: A's sync in every iteration pulls them.
  for (const std::string& store : {a, b}) {
    SB_ASSIGN_OR_RETURN(Ran code, admin({"code", "create", "--site", "S1", "--unit", "U1", "--json"}));
    const Json printed = Json::parse(code.out, nullptr, false);
    if (!printed.is_object() || !printed.contains("code")) return internal_error("code create printed " + code.out);
    SB_RETURN_IF_ERROR(shiftbook(store, {"init"}).status());
    SB_RETURN_IF_ERROR(
        shiftbook(store, {"enroll", "--server", server.url(), "--code", printed["code"].get<std::string>()}).status());
    SB_RETURN_IF_ERROR(shiftbook(store, {"sync"}).status());
  }
  SB_ASSIGN_OR_RETURN(b_, record(b, options_.b_events));
  SB_RETURN_IF_ERROR(shiftbook(b, {"sync"}).status());
  SB_ASSIGN_OR_RETURN(a_, record(a, options_.events));
  if (const int stopped = server.stop(); stopped != 0) {
    return internal_error("the template's server exited with " + std::to_string(stopped) + " on SIGTERM: " +
                          server.err());
  }
  return Status::ok();
}

Status World::measure_window() {
  const std::string root = dir_ + "/measure";
  SB_RETURN_IF_ERROR(copy_tree(dir_ + "/template", root));
  SB_ASSIGN_OR_RETURN(ServerChild server, ServerChild::start(root + "/server", root + "/server"));
  SB_ASSIGN_OR_RETURN(Ran sync, run_ok({SHIFTBOOK_BIN, "--store", root + "/a", "sync", "--server", server.url(),
                                        "--json"},
                                       root + "/sync", kProgramTimeout));
  window_us_ = static_cast<std::int64_t>(sync.seconds * 1e6);
  window_round_trips_ = sync_round_trips(sync.out);
  server.stop();
  if (!options_.keep) {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  return Status::ok();
}

}  // namespace shiftbook::testing::crash
