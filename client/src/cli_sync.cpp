// Talking to head office: enroll, sync and sync --watch. The driver (sync_client.h) does the work;
// this prints what it did, a progress line on standard error while a sync runs when that is a
// terminal (a line per sync or failed attempt while watching), and sets Context::server_unreachable
// and Context::terminal_revoked so that those failures have their own exit statuses.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <iostream>

#include "cli_commands.h"
#include "cli_io.h"
#include "cli_render.h"
#include "sync_client.h"

namespace shiftbook::cli {
namespace {

std::string events_text(std::uint64_t n) { return std::to_string(n) + (n == 1 ? " event" : " events"); }

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

struct EnrollOpts {
  std::string server;
  std::string code;
};

void add_enroll(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand(
      "enroll", "Enroll this terminal with head office's server, with a one-time code from head office; from then "
                "on reference data and shift leaders come from head office by sync");
  auto o = std::make_shared<EnrollOpts>();
  sub->add_option("--server", o->server, "The server's address, such as http://10.0.0.5:8470")
      ->required()
      ->type_name("URL");
  sub->add_option("--code", o->code, "The enrollment code, such as 7K3M-...: case, spaces and dashes do not matter")
      ->required();
  add_json_flag(sub, ctx);
  on_run(sub, ctx, o, [](Context& c, EnrollOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(auto transport, client::http_transport(opts.server));
    client::EnrollReport report;
    Status s = client::enroll(*store, *transport, opts.code, report);
    c.server_unreachable = report.unreachable;
    SB_RETURN_IF_ERROR(s);
    if (c.json) {
      print_json(Json{{"server", report.server_url},
                      {"fingerprint", report.fingerprint},
                      {"site", report.site},
                      {"units", report.units}});
      return Status::ok();
    }
    std::cout << "enrolled with " << report.server_url << ": site " << report.site << ", units "
              << join(report.units) << '\n'
              << "server key fingerprint " << report.fingerprint << " (pinned)\n"
              << "run 'shiftbook sync' to receive head office's reference data and shift leaders\n";
    return Status::ok();
  });
}

// One line on standard error, rewritten after each round trip while standard error is a terminal.
class ProgressLine {
 public:
  ProgressLine() : on_(::isatty(STDERR_FILENO) == 1) {}
  void show(const client::SyncReport& r) {
    if (!on_) return;
    std::string line = "sync: round trip " + std::to_string(r.round_trips) + ", pushed " + std::to_string(r.pushed) +
                       " of " + std::to_string(r.to_push) + ", pulled " + events_text(r.pulled);
    const std::size_t width = line.size();
    if (width < width_) line += std::string(width_ - width, ' ');
    width_ = std::max(width_, width);
    std::cerr << '\r' << line << std::flush;
    shown_ = true;
  }
  ~ProgressLine() {
    if (shown_) std::cerr << '\n' << std::flush;
  }

 private:
  bool on_;
  bool shown_ = false;
  std::size_t width_ = 0;
};

// The one summary line of a sync: "synced with URL: pushed 12 events, pulled 340 events in 2 round
// trips; head office holds this terminal's events 1 to 57 (server time ...)".
std::string synced_text(const client::SyncReport& r) {
  std::string text = "synced with " + r.server_url + ": pushed " + events_text(r.pushed) + ", pulled " +
                     events_text(r.pulled) + " in " + std::to_string(r.round_trips) +
                     (r.round_trips == 1 ? " round trip" : " round trips") + "; " +
                     held_text(r.server_seq, r.unsynced) + " (server time " + utc_time_text(r.server_ms) + ")";
  if (r.unshown > 0) {
    text += "; " + events_text(r.unshown) +
            " pulled name entries this terminal does not hold, and are kept in the log without being shown";
  }
  return text;
}

Json synced_json(const client::SyncReport& r) {
  return Json{{"server", r.server_url},       {"pushed", r.pushed},         {"pulled", r.pulled},
              {"unshown", r.unshown},        {"round_trips", r.round_trips}, {"server_seq", r.server_seq},
              {"server_ms", r.server_ms},    {"unsynced_events", r.unsynced}};
}

// SIGINT and SIGTERM while watching: the first asks the watch to stop (a round trip under way
// finishes: SA_RESTART lets its reads and writes go on), the second ends the process at once
// (SA_RESETHAND), which the store survives as any crash: each answer is one transaction.
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  static int received() { return g_stop_signal; }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// "3.4 s", "12 s", "5 min".
std::string wait_text(std::int64_t ms) {
  if (ms < 10'000) {
    const std::int64_t tenths = (ms + 50) / 100;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
  }
  if (ms < 120'000) return std::to_string((ms + 500) / 1000) + " s";
  return std::to_string((ms + 30'000) / 60'000) + " min";
}

// What `sync --watch` prints: one line per sync that moved something and per failed attempt,
// each stamped with this terminal's clock (JSON lines with --json), flushed at once for whoever
// follows the output.
class WatchPrinter final : public client::WatchListener {
 public:
  explicit WatchPrinter(Context& c) : c_(c) {}

  void synced(const client::SyncReport& r) override {
    if (!r.moved()) return;
    if (c_.json) return line(Json{{"event", "synced"}, {"sync", synced_json(r)}});
    line(synced_text(r));
  }
  void retrying(const client::SyncReport& r, const Status& failure, std::int64_t failures,
                std::int64_t wait_ms) override {
    if (c_.json) {
      return line(Json{{"event", "retrying"}, {"outcome", client::sync_outcome_name(r.outcome)},
                       {"message", failure.message()}, {"failures", failures}, {"wait_ms", wait_ms}});
    }
    line("sync failed (" + std::to_string(failures) + (failures == 1 ? " attempt" : " attempts in a row") +
         "): " + failure.message() + "; trying again in " + wait_text(wait_ms));
  }
  void stopping(const client::SyncReport& r, const Status&) override {
    c_.terminal_revoked = r.outcome == client::SyncOutcome::kRevoked;
  }
  bool wait(std::int64_t ms) override {
    // In slices, so that a signal that lands just before a slice begins is seen within 100 ms.
    for (std::int64_t left = ms; left > 0 && !stop_requested(); left -= 100) {
      const std::int64_t slice = std::min<std::int64_t>(left, 100);
      struct timespec ts {static_cast<time_t>(slice / 1000), static_cast<long>(slice % 1000) * 1'000'000};
      ::nanosleep(&ts, nullptr);
    }
    return !stop_requested();
  }
  bool stop_requested() override { return StopSignals::received() != 0; }

  void line(const std::string& text) const {
    std::cout << utc_time_text(c_.clock.now_ms()) << "  " << text << std::endl;
  }
  void line(Json doc) const {
    doc["time_ms"] = c_.clock.now_ms();
    print_json(doc);
    std::cout.flush();
  }

 private:
  Context& c_;
};

struct SyncOpts {
  std::string server;
  bool watch = false;
  std::int64_t interval_s = 60;
  std::int64_t retry_max_s = 300;
};

Status watch_sync(Context& c, client::Store& store, client::Transport& transport, const SyncOpts& o) {
  client::WatchOptions options;
  options.interval_ms = o.interval_s * 1000;
  options.retry_max_ms = o.retry_max_s * 1000;
  WatchPrinter printer(c);
  if (c.json) {
    printer.line(Json{{"event", "watching"}, {"server", transport.url()}, {"interval_s", o.interval_s},
                      {"retry_max_s", o.retry_max_s}});
  } else {
    printer.line("watching head office at " + transport.url() + ": syncing soon after each new entry and at least "
                 "every " + wait_text(options.interval_ms) + "; Ctrl-C stops");
  }
  Status s;
  {
    StopSignals signals;
    s = client::watch(store, transport, c.clock, printer, options);
    SB_RETURN_IF_ERROR(s);
    const int sig = StopSignals::received();
    auto state = store.sync_state();
    const std::uint64_t waiting = state.is_ok() ? state->unacknowledged() : 0;
    const std::string why = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
    if (c.json) {
      printer.line(Json{{"event", "stopped"}, {"signal", why}, {"unsynced_events", waiting}});
    } else {
      printer.line("stopped watching on " + why + "; " + events_text(waiting) +
                   " of this terminal wait for the next sync");
    }
  }
  return Status::ok();
}

void add_sync(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand(
      "sync", "Send this terminal's entries to head office and receive its reference data, leaders and the entries "
              "of other terminals in the same units, until neither side has more");
  auto o = std::make_shared<SyncOpts>();
  sub->add_option("--server", o->server,
                  "Reach head office at this address this time instead of the one given at enrollment (the pinned "
                  "server key is still required)")
      ->type_name("URL");
  auto* watch = sub->add_flag("--watch", o->watch,
                              "Keep syncing until stopped (Ctrl-C, SIGTERM): soon after each new entry, at least every "
                              "--interval, and while head office cannot be reached, again and again with growing waits");
  sub->add_option("--interval", o->interval_s, "With --watch: sync at least this often (default 60)")
      ->type_name("SECONDS")
      ->check(CLI::Range(1, 86'400))
      ->needs(watch);
  sub->add_option("--retry-max", o->retry_max_s,
                  "With --watch: the longest wait between failed attempts (default 300); waits start at 1 s and double")
      ->type_name("SECONDS")
      ->check(CLI::Range(1, 86'400))
      ->needs(watch);
  add_json_flag(sub, ctx);
  on_run(sub, ctx, o, [](Context& c, SyncOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(client::SyncState state, store->sync_state());
    SB_ASSIGN_OR_RETURN(auto transport,
                        client::http_transport(opts.server.empty() ? state.enrollment.server_url : opts.server));
    if (opts.watch) return watch_sync(c, *store, *transport, opts);
    client::SyncReport report;
    Status s;
    {
      ProgressLine progress;
      s = client::sync(*store, *transport, c.clock, report,
                       [&](const client::SyncReport& r) { progress.show(r); });
    }
    c.server_unreachable = report.unreachable;
    c.terminal_revoked = report.outcome == client::SyncOutcome::kRevoked;
    SB_RETURN_IF_ERROR(s);
    // What the shift leader should know of the units after taking everyone's changes.
    SB_ASSIGN_OR_RETURN(Json conflicts, store->conflicts(false));
    SB_ASSIGN_OR_RETURN(Json anomalies, store->anomalies());
    const std::size_t open = conflicts["conflicts"].size();
    std::size_t found = 0;  // anomalies head office has not decided
    for (const Json& a : anomalies["anomalies"]) found += a["decided"].is_null() ? 1 : 0;
    if (c.json) {
      Json doc = synced_json(report);
      doc["open_conflicts"] = open;
      doc["anomalies"] = found;
      print_json(doc);
    } else {
      std::cout << synced_text(report) << '\n';
      std::vector<std::string> parts;
      if (open > 0) parts.push_back(std::to_string(open) + (open == 1 ? " open conflict" : " open conflicts") +
                                    " ('shiftbook conflicts')");
      if (found > 0) parts.push_back(std::to_string(found) + (found == 1 ? " anomaly" : " anomalies") +
                                     " ('shiftbook anomalies')");
      if (!parts.empty()) std::cout << "in this terminal's units: " << join(parts) << "; head office decides them\n";
    }
    return Status::ok();
  });
}

}  // namespace

void add_sync_commands(CLI::App& app, Context& ctx) {
  add_enroll(app, ctx);
  add_sync(app, ctx);
}

}  // namespace shiftbook::cli
