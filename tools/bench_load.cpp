// The load generator of many terminals syncing at once (bench_load.h).
#include "bench_load.h"

#include <barrier>
#include <cstdio>
#include <latch>
#include <map>
#include <mutex>
#include <thread>

#include "bench_terminal.h"
#include "shiftbook/clock.h"
#include "shiftbook/protocol.h"

namespace shiftbook::bench {
namespace {

constexpr const char* kSeedLabel = "shiftbook bench terminal";
// A bound on the round trips of one sync, far above what a unit's events need.
constexpr int kMaxRoundTrips = 1000;

}  // namespace

struct LoadRow::Terminal {
  int unit = 0;
  PublicKey device{};
  std::vector<Bytes> chain;
  Hash last{};
};

LoadRow::LoadRow(Launcher& l, ScratchDir root, bool keep, LoadOptions o)
    : launcher_(l), root_(std::move(root)), keep_(keep), options_(o) {}
LoadRow::~LoadRow() = default;

Result<std::unique_ptr<LoadRow>> LoadRow::set_up(Launcher& launcher, const std::string& parent, bool keep,
                                                 LoadOptions options) {
  if (options.terminals < 2 || options.per_unit < 2 || options.events < 1) {
    return invalid_argument("the terminals row needs at least 2 terminals, 2 per unit and 1 event each");
  }
  SB_ASSIGN_OR_RETURN(ScratchDir root, ScratchDir::make(parent, "shiftbook-bench-terminals", keep));
  std::unique_ptr<LoadRow> row(new LoadRow(launcher, std::move(root), keep, options));
  SB_ASSIGN_OR_RETURN(row->store_, RowStore::make(options.store, "terminals"));
  const std::string setup = row->root_.path() + "/setup";
  const std::string scratch = setup + "/scratch", server_dir = setup + "/server";
  SB_RETURN_IF_ERROR(make_folder(scratch));
  SystemClock clock;
  const std::int64_t today = clock.now_ms() / 86'400'000;
  const int units = (options.terminals + options.per_unit - 1) / options.per_unit;
  std::vector<std::string> unit_names;
  for (int u = 0; u < units; ++u) unit_names.push_back(unit_name(u, units));
  SB_RETURN_IF_ERROR(set_up_head_office(launcher, server_dir, scratch, today, unit_names, row->store_->init_url()));

  std::vector<std::string> unit_of;
  for (int t = 0; t < options.terminals; ++t) unit_of.push_back(unit_names[static_cast<std::size_t>(t / options.per_unit)]);
  std::fprintf(stderr, "  terminals: enrolling %d terminals and building %d events each\n", options.terminals,
               options.events);
  SB_ASSIGN_OR_RETURN(EnrolledTerminals enrolled, enroll_terminals(launcher, server_dir, scratch, kSeedLabel, unit_of));
  for (int t = 0; t < options.terminals; ++t) {
    const WireTerminal& w = enrolled.terminals[static_cast<std::size_t>(t)];
    Terminal term;
    term.unit = t / options.per_unit;
    term.device = w.key().public_key();
    ChainMaker maker(w.key(), unit_of[static_cast<std::size_t>(t)], today, clock.now_ms());
    for (int i = 0; i < options.events; ++i) {
      SB_ASSIGN_OR_RETURN(Bytes e, maker.next());
      term.chain.push_back(std::move(e));
    }
    term.last = maker.last_hash();
    row->server_key_ = w.server_key();
    row->signer_key_ = w.signer_key();
    row->terminals_.push_back(std::move(term));
  }
  SB_RETURN_IF_ERROR(enrolled.server->stop());
  return row;
}

namespace {

// One terminal's part of a run, filled by its thread.
struct Session {
  std::vector<double> round_trip_ms;
  double push_ms = 0;
  bool acknowledged = false;
  std::map<PublicKey, std::size_t> events_by_device;
  std::map<PublicKey, SignedHead> last_heads;
  std::uint64_t pulled = 0;
  Status problem;
  Steady::time_point first_done{}, second_done{};
};

std::string fixed_ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", ms);
  return text;
}

// Round trips of one sync until the server has no more to pull; the first pushes `push` (if any).
Status one_sync(WireTerminal& w, std::vector<Bytes> push, const Hash& last, std::uint64_t& cursor, Session& s) {
  SystemClock clock;
  const bool pushing = !push.empty();
  const std::uint64_t pushed_seq = pushing ? push.size() : 0;
  Message request = sync_request(w.key(), cursor, kMaxPullBytes, clock.now_ms(), std::move(push), last);
  for (int trip = 0; trip < kMaxRoundTrips; ++trip) {
    const auto start = Steady::now();
    auto answered = w.sync(request);
    const double ms = ms_since(start);
    if (!answered.is_ok()) {
      return answered.status().with_context("round trip " + std::to_string(trip + 1) + " of its " +
                                            (pushing ? "first" : "second") + " sync, after " + fixed_ms(ms) + ": ");
    }
    Message answer = std::move(answered).value();
    s.round_trip_ms.push_back(ms);
    const bool first_push = pushing && trip == 0;
    if (first_push) s.push_ms = ms;
    SB_ASSIGN_OR_RETURN(SyncAnswerRead read, w.read_answer(answer, first_push ? pushed_seq : 0, last));
    if (first_push) s.acknowledged = true;
    for (const auto& [device, n] : read.events_by_device) s.events_by_device[device] += n;
    for (const auto& [device, head] : read.heads) s.last_heads[device] = head;
    s.pulled += read.events;
    cursor = read.cursor;
    if (!read.more) return Status::ok();
    request = sync_request(w.key(), cursor, kMaxPullBytes, clock.now_ms(), {}, last);
  }
  return aborted("the server still had more to pull after " + std::to_string(kMaxRoundTrips) + " round trips");
}

}  // namespace

Result<LoadRun> LoadRow::run_once() {
  SB_ASSIGN_OR_RETURN(ScratchDir run, ScratchDir::make(root_.path(), "run", keep_));
  SB_RETURN_IF_ERROR(copy_folder(root_.path() + "/setup/server", run.path() + "/server"));
  SB_ASSIGN_OR_RETURN(auto schema, store_->for_run(run.path() + "/server"));  // outlives the server
  SB_ASSIGN_OR_RETURN(auto server, ServerChild::start(run.path() + "/server", run.path(), options_.server_threads));

  const std::size_t n = terminals_.size();
  std::vector<WireTerminal> wires;
  wires.reserve(n);
  for (std::size_t t = 0; t < n; ++t) {
    SB_ASSIGN_OR_RETURN(DeviceKey key, seeded_key(kSeedLabel, t));
    wires.emplace_back(std::move(key), "127.0.0.1", server->port());
    wires.back().pin(server_key_, signer_key_);
  }
  std::vector<Session> sessions(n);
  std::latch ready(static_cast<std::ptrdiff_t>(n)), go(1);
  std::barrier between(static_cast<std::ptrdiff_t>(n));
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      Session& s = sessions[t];
      WireTerminal& w = wires[t];
      std::vector<Bytes> push = terminals_[t].chain;  // copied before the signal
      std::uint64_t cursor = 0;
      ready.count_down();
      go.wait();
      s.problem = one_sync(w, std::move(push), terminals_[t].last, cursor, s);
      w.disconnect();
      s.first_done = Steady::now();
      between.arrive_and_wait();
      if (s.problem.is_ok()) s.problem = one_sync(w, {}, terminals_[t].last, cursor, s);
      w.disconnect();
      s.second_done = Steady::now();
    });
  }
  ready.wait();
  const double server_cpu_before = server->cpu_seconds(), own_cpu_before = own_cpu_seconds();
  const auto start = Steady::now();
  go.count_down();
  for (std::thread& th : threads) th.join();
  const double server_cpu = server->cpu_seconds() - server_cpu_before, own_cpu = own_cpu_seconds() - own_cpu_before;

  LoadRun out;
  out.terminals = static_cast<int>(n);
  out.server_cpu_s = server_cpu;
  out.generator_cpu_s = own_cpu;
  for (std::size_t t = 0; t < n; ++t) {
    const Session& s = sessions[t];
    out.round_trip_ms.insert(out.round_trip_ms.end(), s.round_trip_ms.begin(), s.round_trip_ms.end());
    if (s.acknowledged) {
      ++out.acknowledged;
      out.push_ms.push_back(s.push_ms);
    }
    out.push_phase_s = std::max(out.push_phase_s, std::chrono::duration<double>(s.first_done - start).count());
    out.total_s = std::max(out.total_s, std::chrono::duration<double>(s.second_done - start).count());
    out.events_pulled += s.pulled;
    if (!s.problem.is_ok() && out.sync_failure.empty()) {
      out.sync_failure = "terminal " + std::to_string(t) + ": " + s.problem.message();
    }
    Status checked = s.problem;
    // Everything of the unit's other terminals, the reference chain whole, and nothing else.
    std::size_t expected_devices = 1;
    for (std::size_t p = 0; p < n && checked.is_ok(); ++p) {
      if (p == t || terminals_[p].unit != terminals_[t].unit) continue;
      ++expected_devices;
      auto count = s.events_by_device.find(terminals_[p].device);
      auto head = s.last_heads.find(terminals_[p].device);
      if (count == s.events_by_device.end() || count->second != terminals_[p].chain.size() ||
          head == s.last_heads.end() || head->second.seq != terminals_[p].chain.size() ||
          head->second.hash != terminals_[p].last) {
        checked = data_loss("did not receive all of terminal " + std::to_string(p) + "'s events");
      }
    }
    if (checked.is_ok()) {
      auto ref = s.events_by_device.find(signer_key_);
      auto ref_head = s.last_heads.find(signer_key_);
      if (ref == s.events_by_device.end() || ref_head == s.last_heads.end() || ref_head->second.seq != ref->second) {
        checked = data_loss("did not receive the site's whole reference chain");
      } else if (s.events_by_device.size() != expected_devices) {
        checked = data_loss("received events of terminals outside its unit");
      }
    }
    if (!s.problem.is_ok()) ++out.failed_syncs;
    if (checked.is_ok()) {
      ++out.complete;
    } else if (out.problem.empty()) {
      out.problem = "terminal " + std::to_string(t) + ": " + checked.message();
    }
  }
  out.server_ms = server->sync_ms();
  SB_RETURN_IF_ERROR(server->stop());
  return out;
}

}  // namespace shiftbook::bench
