// Talking to head office: enroll and sync. The driver (sync_client.h) does the work; this prints
// what it did, a progress line on standard error while it runs when that is a terminal, and sets
// Context::server_unreachable so that an unreachable server has its own exit status.
#include <unistd.h>

#include <algorithm>
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

void add_sync(CLI::App& app, Context& ctx) {
  auto* sub = app.add_subcommand(
      "sync", "Send this terminal's entries to head office and receive its reference data, leaders and the entries "
              "of other terminals in the same units, until neither side has more");
  auto server = std::make_shared<std::string>();
  sub->add_option("--server", *server,
                  "Reach head office at this address this time instead of the one given at enrollment (the pinned "
                  "server key is still required)")
      ->type_name("URL");
  add_json_flag(sub, ctx);
  on_run(sub, ctx, [server](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto store, c.open_store());
    SB_ASSIGN_OR_RETURN(client::SyncState state, store->sync_state());
    SB_ASSIGN_OR_RETURN(auto transport,
                        client::http_transport(server->empty() ? state.enrollment.server_url : *server));
    client::SyncReport report;
    Status s;
    {
      ProgressLine progress;
      s = client::sync(*store, *transport, c.clock, report,
                       [&](const client::SyncReport& r) { progress.show(r); });
    }
    c.server_unreachable = report.unreachable;
    SB_RETURN_IF_ERROR(s);
    if (c.json) {
      print_json(Json{{"server", report.server_url},
                      {"pushed", report.pushed},
                      {"pulled", report.pulled},
                      {"unshown", report.unshown},
                      {"round_trips", report.round_trips},
                      {"server_seq", report.server_seq},
                      {"server_ms", report.server_ms},
                      {"unsynced_events", report.unsynced}});
      return Status::ok();
    }
    std::cout << "synced with " << report.server_url << ": pushed " << events_text(report.pushed) << ", pulled "
              << events_text(report.pulled) << " in " << report.round_trips
              << (report.round_trips == 1 ? " round trip" : " round trips") << "; "
              << held_text(report.server_seq, report.unsynced) << " (server time " << utc_time_text(report.server_ms)
              << ")";
    if (report.unshown > 0) {
      std::cout << "; " << events_text(report.unshown)
                << " pulled name entries this terminal does not hold or versions already superseded, and are kept "
                   "in the log without being shown";
    }
    std::cout << '\n';
    return Status::ok();
  });
}

}  // namespace

void add_sync_commands(CLI::App& app, Context& ctx) {
  add_enroll(app, ctx);
  add_sync(app, ctx);
}

}  // namespace shiftbook::cli
