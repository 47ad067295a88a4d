// The soak: see soak_world.h. Setup and the quiet round run on the calling thread; the faulty
// phase runs one thread per terminal and one that kills and restarts the server.
#include "soak_world.h"

#include <httplib.h>
#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>

#include "soak_check.h"
#include "soak_process.h"

namespace shiftbook::soak {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kSetupAttempts = 40;  // a setup command through the faulty proxy, until it gets through
constexpr int kMaxQuietRounds = 10;
constexpr int kExitRetryLater = 10;
constexpr int kExitUnreachable = 12;
constexpr const char* kPin = "4321\n";

double unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

class World {
 public:
  World(const SoakOptions& o, std::string dir, std::ostream& progress)
      : o_(o),
        dir_(std::move(dir)),
        progress_(progress),
        server_({o.server_bin, "--dir", dir_ + "/server", "serve", "--listen", "127.0.0.1:0"}, dir_ + "/server.log") {}

  Status setup();
  void faulty_phase();
  void quiet_round();
  void finish();
  void check();
  SoakFigures figures;

 private:
  Result<ProcessResult> server_command(std::vector<std::string> args, const std::string& input = {}) const;
  Result<ProcessResult> terminal_command(const TerminalRecord& t, std::vector<std::string> args,
                                         const std::string& input = {},
                                         std::optional<milliseconds> kill_after = std::nullopt) const;
  Status must(const Result<ProcessResult>& r, const std::string& what) const;
  Status through_faults(const TerminalRecord& t, const std::vector<std::string>& args, const std::string& what) const;
  Status setup_terminal(TerminalRecord& t);
  Status proxy_post(const std::string& path, const std::string& body);
  Result<Json> proxy_stats();
  void run_terminal(TerminalRecord& t, std::uint64_t seed, Clock::time_point end);
  void kill_servers(std::uint64_t seed, Clock::time_point end);
  Status record(TerminalRecord& t, std::mt19937_64& rng);
  void problem(const std::string& what);
  bool has_problems();

  const SoakOptions& o_;
  std::string dir_;
  std::ostream& progress_;
  Daemon server_;
  std::unique_ptr<Daemon> proxy_;
  std::string proxy_url_;
  std::vector<TerminalRecord> terminals_;
  std::mutex mu_;  // figures.problems, progress_
  std::atomic<std::uint64_t> syncs_{0}, syncs_ok_{0}, unreachable_{0}, retry_later_{0}, client_kills_{0},
      server_kills_{0};
  Clock::time_point started_ = Clock::now();
};

void World::problem(const std::string& what) {
  std::lock_guard lock(mu_);
  figures.problems.push_back(what);
  progress_ << "soak: PROBLEM: " << what << '\n' << std::flush;
}

bool World::has_problems() {
  std::lock_guard lock(mu_);
  return !figures.problems.empty();
}

Result<ProcessResult> World::server_command(std::vector<std::string> args, const std::string& input) const {
  args.insert(args.begin(), {o_.server_bin, "--dir", dir_ + "/server"});
  return run_process(args, input);
}

Result<ProcessResult> World::terminal_command(const TerminalRecord& t, std::vector<std::string> args,
                                              const std::string& input, std::optional<milliseconds> kill_after) const {
  args.insert(args.begin(), {o_.shiftbook_bin, "--store", t.store});
  return run_process(args, input, kill_after);
}

Status World::must(const Result<ProcessResult>& r, const std::string& what) const {
  SB_RETURN_IF_ERROR(r.status());
  if (r->exit_code != 0) {
    return internal_error(what + " failed (exit " + std::to_string(r->exit_code) + "): " + r->err);
  }
  return Status::ok();
}

// A setup command through the faulty proxy: repeated while the network is what failed.
Status World::through_faults(const TerminalRecord& t, const std::vector<std::string>& args, const std::string& what) const {
  for (int attempt = 1;; ++attempt) {
    Result<ProcessResult> r = terminal_command(t, args);
    SB_RETURN_IF_ERROR(r.status());
    if (r->exit_code != kExitUnreachable || attempt == kSetupAttempts) return must(r, what);
  }
}

Status World::setup_terminal(TerminalRecord& t) {
  std::filesystem::create_directories(t.store);
  SB_RETURN_IF_ERROR(must(terminal_command(t, {"init"}), "init of a terminal"));
  SB_ASSIGN_OR_RETURN(t.device, terminal_device(t.store));
  Result<ProcessResult> code = server_command({"code", "create", "--site", "S1", "--unit", "U1", "--json"});
  SB_RETURN_IF_ERROR(must(code, "code create"));
  const Json code_doc = Json::parse(code->out, nullptr, false);
  if (!code_doc.is_object() || !code_doc.contains("code") || !code_doc["code"].is_string()) {
    return internal_error("code create --json printed no code: " + code->out);
  }
  const std::string code_text = code_doc["code"].get<std::string>();
  SB_RETURN_IF_ERROR(through_faults(t, {"enroll", "--server", proxy_url_, "--code", code_text}, "enroll"));
  SB_RETURN_IF_ERROR(through_faults(t, {"sync"}, "the first sync"));
  SB_RETURN_IF_ERROR(must(terminal_command(t, {"login", "L1", "--idle", "720"}, kPin), "login"));
  SB_RETURN_IF_ERROR(
      must(terminal_command(t, {"shift", "open", "--unit", "U1", "--date", "2026-11-16"}), "shift open"));
  SB_ASSIGN_OR_RETURN(Chains held, terminal_chains(t.store));
  t.events = held[t.device].size();
  return Status::ok();
}

Status World::setup() {
  SB_RETURN_IF_ERROR(must(server_command({"init"}), "shiftbook-server init"));
  const std::vector<std::vector<std::string>> head_office = {
      {"site", "add", "S1", "--name", "Plant One", "--tz", "UTC"},
      {"unit", "add", "U1", "--site", "S1", "--name", "Press shop"},
      {"period", "add", "2026-11", "--start", "2026-11-01", "--end", "2026-11-30"},
      {"product", "add", "P1", "--name", "Bracket", "--unit", "pcs", "--decimals", "0"},
  };
  for (const auto& args : head_office) SB_RETURN_IF_ERROR(must(server_command(args), args[0] + " add"));
  SB_RETURN_IF_ERROR(must(server_command({"leader", "add", "L1", "--site", "S1", "--name", "Lena", "--pin-cost",
                                          "minimum"},
                                         kPin),
                          "leader add"));
  SB_ASSIGN_OR_RETURN(std::string server_url, server_.start());

  std::ostringstream rate;
  rate << o_.fault_rate;
  std::vector<std::string> proxy_args = {o_.proxy_bin, "--listen", "127.0.0.1:0", "--upstream", server_url,
                                         "--seed", std::to_string(o_.seed), "--stats", dir_ + "/proxy-stats.json",
                                         "--delay-ms", "5-50", "--reorder-hold-ms", "100"};
  for (const char* kind : {"--drop-request", "--drop-response", "--truncate-response", "--duplicate-request",
                           "--delay", "--reorder"}) {
    proxy_args.insert(proxy_args.end(), {kind, rate.str()});
  }
  proxy_ = std::make_unique<Daemon>(proxy_args, dir_ + "/proxy.log");
  SB_ASSIGN_OR_RETURN(proxy_url_, proxy_->start());

  terminals_.resize(static_cast<std::size_t>(o_.terminals));
  for (std::size_t i = 0; i < terminals_.size(); ++i) {
    terminals_[i].store = dir_ + "/terminal-" + std::to_string(i + 1);
    SB_RETURN_IF_ERROR(setup_terminal(terminals_[i]).with_context("terminal " + std::to_string(i + 1)));
  }
  progress_ << "soak: " << terminals_.size() << " terminals enrolled through " << proxy_url_ << " (server "
            << server_url << ", work folder " << dir_ << ")\n"
            << std::flush;
  return Status::ok();
}

Status World::proxy_post(const std::string& path, const std::string& body) {
  httplib::Client client(proxy_url_);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  auto res = client.Post(path.c_str(), body, "application/json");
  if (!res) return unavailable("the proxy did not answer POST " + path + ": " + httplib::to_string(res.error()));
  if (res->status != 200) return internal_error("the proxy refused POST " + path + ": " + res->body);
  return Status::ok();
}

Result<Json> World::proxy_stats() {
  httplib::Client client(proxy_url_);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  auto res = client.Get("/_proxy/stats");
  if (!res || res->status != 200) return unavailable("the proxy did not answer GET /_proxy/stats");
  Json doc = Json::parse(res->body, nullptr, false);
  if (!doc.is_object()) return internal_error("the proxy's stats are not a JSON object");
  return doc;
}

Status World::record(TerminalRecord& t, std::mt19937_64& rng) {
  const std::string quantity = std::to_string(1 + rng() % 500);
  SB_RETURN_IF_ERROR(
      must(terminal_command(t, {"log", "output", "--product", "P1", "--quantity", quantity}), "log output"));
  ++t.events;
  return Status::ok();
}

// One terminal: records at a pace that reaches its share at 70% of the phase, and syncs in a loop,
// some syncs SIGKILLed at a random moment. Any exit other than ok, unreachable (12) or try later
// (10) is a problem and ends this terminal's loop.
void World::run_terminal(TerminalRecord& t, std::uint64_t seed, Clock::time_point end) {
  std::mt19937_64 rng(seed);
  const auto phase = end - started_;
  const auto target = static_cast<std::uint64_t>(o_.events_per_terminal);
  const std::uint64_t base = t.events;
  while (Clock::now() < end && !has_problems()) {
    const double done = std::min(1.0, static_cast<double>((Clock::now() - started_).count()) / (0.7 * phase.count()));
    const auto due = static_cast<std::uint64_t>(std::ceil(done * static_cast<double>(target)));
    for (int i = 0; i < 3 && t.events - base < due; ++i) {
      if (Status s = record(t, rng); !s.is_ok()) return problem(s.message());
    }
    std::optional<milliseconds> kill_after;
    if (unit(rng) < o_.client_kill_rate) kill_after = milliseconds(rng() % (o_.client_kill_window_ms + 1));
    Result<ProcessResult> r = terminal_command(t, {"sync"}, {}, kill_after);
    if (!r.is_ok()) return problem(r.status().message());
    ++syncs_;
    if (r->killed) {
      ++client_kills_;
    } else if (r->exit_code == 0) {
      ++syncs_ok_;
    } else if (r->exit_code == kExitUnreachable) {
      ++unreachable_;
    } else if (r->exit_code == kExitRetryLater) {
      ++retry_later_;
    } else {
      return problem("a sync of terminal " + t.device.substr(0, 8) + " ended with exit " +
                     std::to_string(r->exit_code) + ": " + r->err);
    }
    std::this_thread::sleep_for(milliseconds(rng() % 40));
  }
  while (t.events - base < target && !has_problems()) {
    if (Status s = record(t, rng); !s.is_ok()) return problem(s.message());
  }
}

// SIGKILLs the server at random moments (mean o_.server_kill_seconds apart), restarts it on the
// same folder after a short outage, and points the proxy at its new port.
void World::kill_servers(std::uint64_t seed, Clock::time_point end) {
  std::mt19937_64 rng(seed);
  for (;;) {
    const auto wait = std::chrono::duration_cast<milliseconds>(
        std::chrono::duration<double>(o_.server_kill_seconds * (0.5 + unit(rng))));
    const auto at = Clock::now() + wait;
    if (at >= end) return;
    while (Clock::now() < at) {
      if (has_problems()) return;
      std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(50), at - Clock::now()));
    }
    server_.kill_now();
    ++server_kills_;
    std::this_thread::sleep_for(milliseconds(rng() % 300));
    Result<std::string> url = server_.start();
    if (!url.is_ok()) return problem("the server did not restart after a SIGKILL: " + url.status().message());
    if (Status s = proxy_post("/_proxy/upstream", *url); !s.is_ok()) return problem(s.message());
  }
}

void World::faulty_phase() {
  started_ = Clock::now();
  const auto end = started_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.minutes * 60));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < terminals_.size(); ++i) {
    threads.emplace_back([this, i, end] { run_terminal(terminals_[i], o_.seed * 1000 + i + 1, end); });
  }
  threads.emplace_back([this, end] { kill_servers(o_.seed * 1000, end); });
  for (std::thread& t : threads) t.join();
  figures.syncs = syncs_;
  figures.syncs_ok = syncs_ok_;
  figures.syncs_unreachable = unreachable_;
  figures.syncs_retry_later = retry_later_;
  figures.client_kills = client_kills_;
  figures.server_kills = server_kills_;
  std::lock_guard lock(mu_);
  progress_ << "soak: faulty phase over: " << figures.syncs << " syncs, " << figures.client_kills << " killed, "
            << figures.server_kills << " server kills\n"
            << std::flush;
}

// Faults off; every terminal syncs, round after round, until a round in which nothing moved.
void World::quiet_round() {
  if (has_problems()) return;
  if (!server_.running()) {
    Result<std::string> url = server_.start();
    if (!url.is_ok()) return problem(url.status().message());
    if (Status s = proxy_post("/_proxy/upstream", *url); !s.is_ok()) return problem(s.message());
  }
  const std::string off = R"({"drop_request":0,"drop_response":0,"truncate_response":0,"duplicate_request":0,)"
                          R"("delay":0,"reorder":0})";
  if (Status s = proxy_post("/_proxy/faults", off); !s.is_ok()) return problem(s.message());
  for (int round = 1; round <= kMaxQuietRounds; ++round) {
    figures.quiet_rounds = static_cast<std::uint64_t>(round);
    bool moved = false;
    for (const TerminalRecord& t : terminals_) {
      Result<ProcessResult> r = terminal_command(t, {"sync", "--json"});
      if (!r.is_ok() || r->exit_code != 0) {
        return problem("a sync of terminal " + t.device.substr(0, 8) + " with the faults off failed: " +
                       (r.is_ok() ? "exit " + std::to_string(r->exit_code) + ": " + r->err : r.status().message()));
      }
      const Json doc = Json::parse(r->out, nullptr, false);
      if (!doc.is_object()) return problem("sync --json printed no JSON document: " + r->out);
      moved = moved || doc.value("pushed", 1) != 0 || doc.value("pulled", 1) != 0;
    }
    if (!moved) return;
  }
  problem("the terminals still moved events after " + std::to_string(kMaxQuietRounds) + " quiet rounds");
}

void World::finish() {
  if (proxy_) {
    if (auto stats = proxy_stats(); stats.is_ok()) figures.proxy = *stats;
  }
  if (server_.running()) {
    if (const int status = server_.stop(); status != 0) {
      problem("the server did not stop cleanly on SIGTERM (status " + std::to_string(status) + ")");
    }
  }
  if (proxy_ && proxy_->running()) {
    if (const int status = proxy_->stop(); status != 0) {
      problem("the proxy did not stop cleanly on SIGTERM (status " + std::to_string(status) + ")");
    }
  }
}

// Nothing lost or duplicated, every chain verifies, every replica converged (soak_check.h).
void World::check() {
  for (const TerminalRecord& t : terminals_) {
    figures.events_recorded += t.events;
    Result<ProcessResult> verify = terminal_command(t, {"verify", "--json"});
    if (!verify.is_ok() || verify->exit_code != 0) {
      problem("verify failed on terminal " + t.device.substr(0, 8) + ": " +
              (verify.is_ok() ? verify->out + verify->err : verify.status().message()));
    }
  }
  auto server = verified_server_chains(dir_ + "/server");
  if (!server.is_ok()) return problem(server.status().message());
  for (const std::string& p : compare_replicas(terminals_, *server, figures.events_on_server)) problem(p);
}

std::string make_work_dir(const SoakOptions& o) {
  if (!o.work_dir.empty()) {
    std::filesystem::create_directories(o.work_dir);
    return o.work_dir;
  }
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/shiftbook-soak-XXXXXX";
  if (!::mkdtemp(tmpl.data())) return {};
  return tmpl;
}

}  // namespace

Result<SoakFigures> run_soak(const SoakOptions& options, std::ostream& progress) {
  const auto started = Clock::now();
  const std::string dir = make_work_dir(options);
  if (dir.empty()) return internal_error("cannot make a work folder for the soak");
  World world(options, dir, progress);
  world.figures.terminals = options.terminals;
  world.figures.work_dir = dir;
  Status setup = world.setup();
  if (!setup.is_ok()) {
    world.finish();
    return setup.with_context("setting up the soak (work folder " + dir + ")");
  }
  world.faulty_phase();
  world.quiet_round();
  world.finish();
  world.check();
  world.figures.minutes = std::chrono::duration<double>(Clock::now() - started).count() / 60;
  if (world.figures.problems.empty() && !options.keep && options.work_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    world.figures.work_dir.clear();
  }
  return world.figures;
}

}  // namespace shiftbook::soak
