// The push and pull rows (bench_sync_rows.h).
#include "bench_sync_rows.h"

#include <cstdio>
#include <filesystem>

#include "bench_terminal.h"
#include "shiftbook/client/store.h"
#include "shiftbook/clock.h"
#include "shiftbook/protocol.h"

namespace shiftbook::bench {
namespace {

std::int64_t today(const Clock& clock) { return clock.now_ms() / 86'400'000; }

// Runs `shiftbook --store DIR sync --json [--server URL]` and reads what it printed.
Result<std::pair<SyncRun, Json>> timed_sync(Launcher& launcher, const std::string& store, const std::string& url,
                                            const std::string& scratch) {
  SB_ASSIGN_OR_RETURN(Finished f,
                      launcher.run({shiftbook_bin(), "--store", store, "sync", "--server", url, "--json"}, scratch));
  if (f.exit_code != 0) {
    return internal_error("shiftbook --store " + store + " sync exited with " + std::to_string(f.exit_code) + ": " +
                          f.err);
  }
  Json report = Json::parse(f.out, nullptr, false);
  if (!report.is_object()) return internal_error("shiftbook sync printed no JSON report: " + f.out);
  return std::make_pair(SyncRun{f.seconds, f.max_rss_mib, {}}, report);
}

std::uint64_t count_field(const Json& report, const char* name) {
  auto it = report.find(name);
  return it != report.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

// Records `outputs` outputs and their shift on an enrolled terminal, synchronous=NORMAL.
Status record_outputs(const std::string& dir, const Clock& clock, long outputs) {
  client::StoreOptions options;
  options.relaxed_durability = true;
  options.pin_cost = PinCost::kMinimum;
  SB_ASSIGN_OR_RETURN(auto store, client::Store::open(dir, clock, options));
  SB_RETURN_IF_ERROR(store->login("L1", "4321", client::kMaxIdleMinutes).status());
  SB_RETURN_IF_ERROR(store->open_shift("U1", today(clock), std::nullopt).status());
  for (long i = 0; i < outputs; ++i) {
    SB_RETURN_IF_ERROR(store->log_output("", "P1", i % 1000 + 1).status());
    if ((i + 1) % 50'000 == 0) std::fprintf(stderr, "  push: recorded %ld of %ld outputs\n", i + 1, outputs);
  }
  return Status::ok();
}

}  // namespace

// ---- push ----------------------------------------------------------------------------------------

Result<std::unique_ptr<PushRow>> PushRow::set_up(Launcher& launcher, const std::string& parent, bool keep,
                                                 long outputs, const std::string& store_url) {
  SB_ASSIGN_OR_RETURN(ScratchDir root, ScratchDir::make(parent, "shiftbook-bench-push", keep));
  std::unique_ptr<PushRow> row(new PushRow(launcher, std::move(root), keep));
  SB_ASSIGN_OR_RETURN(row->store_, RowStore::make(store_url, "push"));
  const std::string setup = row->root_.path() + "/setup";
  const std::string scratch = setup + "/scratch", server_dir = setup + "/server", a_dir = setup + "/terminal-a";
  SB_RETURN_IF_ERROR(make_folder(scratch));
  SystemClock clock;
  SB_RETURN_IF_ERROR(set_up_head_office(launcher, server_dir, scratch, today(clock), {"U1"}, row->store_->init_url()));
  SB_ASSIGN_OR_RETURN(std::string code, create_code(launcher, server_dir, scratch, "U1"));
  {
    SB_ASSIGN_OR_RETURN(auto server, ServerChild::start(server_dir, scratch));
    SB_RETURN_IF_ERROR(launcher.check({shiftbook_bin(), "--store", a_dir, "init"}, scratch).status());
    SB_RETURN_IF_ERROR(
        launcher.check({shiftbook_bin(), "--store", a_dir, "enroll", "--server", server->url(), "--code", code}, scratch)
            .status());
    // The reference data and leader L1 arrive.
    SB_RETURN_IF_ERROR(launcher.check({shiftbook_bin(), "--store", a_dir, "sync"}, scratch).status());
    SB_RETURN_IF_ERROR(server->stop());
  }
  SB_RETURN_IF_ERROR(record_outputs(a_dir, clock, outputs));
  SB_ASSIGN_OR_RETURN(auto store, client::Store::open(a_dir, clock));
  SB_ASSIGN_OR_RETURN(client::SyncState state, store->sync_state());
  SB_ASSIGN_OR_RETURN(std::vector<Bytes> chain, store->raw_events(store->device()));
  row->events_ = state.unacknowledged();
  for (const Bytes& e : chain) row->mean_bytes_ += static_cast<double>(e.size()) / static_cast<double>(chain.size());
  return row;
}

Result<SyncRun> PushRow::run_once() {
  SB_ASSIGN_OR_RETURN(ScratchDir run, ScratchDir::make(root_.path(), "run", keep_));
  const std::string setup = root_.path() + "/setup";
  const std::string server_dir = run.path() + "/server", a_dir = run.path() + "/terminal-a";
  SB_RETURN_IF_ERROR(copy_folder(setup + "/server", server_dir));
  SB_RETURN_IF_ERROR(copy_folder(setup + "/terminal-a", a_dir));
  SB_ASSIGN_OR_RETURN(auto schema, store_->for_run(server_dir));  // outlives the server
  SB_ASSIGN_OR_RETURN(auto server, ServerChild::start(server_dir, run.path()));
  SB_ASSIGN_OR_RETURN(auto synced, timed_sync(launcher_, a_dir, server->url(), run.path()));
  SB_RETURN_IF_ERROR(server->stop());
  synced.first.server_ms = server->sync_ms();  // the log, complete once the server stopped
  // The benchmark checks its answer: every event pushed and acknowledged.
  if (count_field(synced.second, "pushed") != events_ || count_field(synced.second, "unsynced_events") != 0) {
    return internal_error("the push did not leave every event acknowledged: " + synced.second.dump());
  }
  return synced.first;
}

// ---- pull ----------------------------------------------------------------------------------------

namespace {

// G pushes `events` events of its chain (bench_terminal.h, push_chain).
Status push_generated(WireTerminal& g, std::uint64_t events, Bytes& first, Bytes& last) {
  SystemClock clock;
  ChainMaker chain(g.key(), "U1", today(clock), clock.now_ms());
  std::uint64_t next_report = 100'000;
  return push_chain(g, [&]() -> Result<std::optional<ChainLink>> {
           if (chain.seq() >= events) return std::optional<ChainLink>();
           SB_ASSIGN_OR_RETURN(Bytes e, chain.next());
           if (chain.seq() == 1) first = e;
           if (chain.seq() == events) last = e;
           if (chain.seq() >= next_report) {
             next_report += 100'000;
             std::fprintf(stderr, "  pull: the generator made %llu of %llu events\n",
                          static_cast<unsigned long long>(chain.seq()), static_cast<unsigned long long>(events));
           }
           return std::optional<ChainLink>(ChainLink{std::move(e), chain.last_hash()});
         })
      .status();
}

}  // namespace

Result<std::unique_ptr<PullRow>> PullRow::set_up(Launcher& launcher, const std::string& parent, bool keep,
                                                 std::uint64_t events, int runs) {
  SB_ASSIGN_OR_RETURN(ScratchDir root, ScratchDir::make(parent, "shiftbook-bench-pull", keep));
  std::unique_ptr<PullRow> row(new PullRow(launcher, std::move(root), keep));
  const std::string scratch = row->root_.path() + "/scratch", server_dir = row->root_.path() + "/server";
  SB_RETURN_IF_ERROR(make_folder(scratch));
  SystemClock clock;
  SB_RETURN_IF_ERROR(set_up_head_office(launcher, server_dir, scratch, today(clock), {"U1"}));
  for (int i = 0; i <= runs; ++i) {
    SB_ASSIGN_OR_RETURN(std::string code, create_code(launcher, server_dir, scratch, "U1"));
    row->codes_.push_back(std::move(code));
  }
  SB_ASSIGN_OR_RETURN(row->server_, ServerChild::start(server_dir, scratch));
  SB_ASSIGN_OR_RETURN(DeviceKey key, seeded_key("shiftbook bench pull generator", 0));
  row->generator_ = key.public_key();
  WireTerminal g(std::move(key), "127.0.0.1", row->server_->port());
  SB_RETURN_IF_ERROR(g.enroll(row->codes_[0]));
  SB_RETURN_IF_ERROR(push_generated(g, events, row->first_event_, row->last_event_));
  row->events_ = events;
  return row;
}

Result<double> PullRow::floor_rss_mib() {
  SB_ASSIGN_OR_RETURN(Finished f, launcher_.run({shiftbook_bin(), "--help"}, root_.path() + "/scratch"));
  return f.max_rss_mib;
}

Result<SyncRun> PullRow::run_once() {
  if (runs_done_ + 1 >= static_cast<int>(codes_.size())) return failed_precondition("no enrollment code left for a run");
  const std::string& code = codes_[static_cast<std::size_t>(++runs_done_)];
  SB_ASSIGN_OR_RETURN(ScratchDir run, ScratchDir::make(root_.path(), "run", keep_));
  const std::string b_dir = run.path() + "/terminal-b";
  SB_RETURN_IF_ERROR(launcher_.check({shiftbook_bin(), "--store", b_dir, "init"}, run.path()).status());
  SB_RETURN_IF_ERROR(
      launcher_.check({shiftbook_bin(), "--store", b_dir, "enroll", "--server", server_->url(), "--code", code},
                      run.path())
          .status());
  SB_ASSIGN_OR_RETURN(auto synced, timed_sync(launcher_, b_dir, server_->url(), run.path()));
  // The benchmark checks its answer: B holds G's whole chain, whose links B checked as it stored it.
  SystemClock clock;
  SB_ASSIGN_OR_RETURN(auto store, client::Store::open(b_dir, clock));
  SB_ASSIGN_OR_RETURN(std::vector<Bytes> held, store->raw_events(generator_));
  if (held.size() != events_ || held.front() != first_event_ || held.back() != last_event_) {
    return internal_error("terminal B holds " + std::to_string(held.size()) + " events of the generator after its "
                          "sync, not the " + std::to_string(events_) + " pushed");
  }
  return synced.first;
}

}  // namespace shiftbook::bench
