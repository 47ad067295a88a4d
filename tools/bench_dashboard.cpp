// The dashboard row (bench_dashboard.h).
#include "bench_dashboard.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "bench_browser.h"
#include "bench_site.h"
#include "bench_terminal.h"
#include "shiftbook/clock.h"

namespace shiftbook::bench {
namespace {

constexpr const char* kSeedLabel = "shiftbook bench dashboard terminal";
constexpr const char* kAccount = "bench";
constexpr const char* kPassword = "bench dashboard password";
constexpr const char* kOverview = "/dashboard/?period=bench";
constexpr int kTerminalsPerUnit = 10;
constexpr int kDays = 30;                 // the shifts fall on the last 30 days, all in period "bench"
constexpr int kFirstRequestTimeoutS = 3600;  // building the ledger of 10,000,000 events takes minutes
constexpr int kStopGraceS = 600;             // and freeing it at exit, most of a minute

double folder_mib(const std::string& path) {
  std::uintmax_t bytes = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(path)) {
    if (f.is_regular_file()) bytes += f.file_size();
  }
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

// Whether `digits` stand at the start of an element's text in `html`, not followed by another digit.
bool opens_a_cell(const std::string& html, const std::string& digits) {
  const std::string wanted = ">" + digits;
  for (std::size_t at = html.find(wanted); at != std::string::npos; at = html.find(wanted, at + 1)) {
    const std::size_t after = at + wanted.size();
    if (after == html.size() || html[after] < '0' || html[after] > '9') return true;
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<DashboardRow>> DashboardRow::set_up(Launcher& launcher, const std::string& parent, bool keep,
                                                           DashboardOptions options) {
  if (options.terminals < 1 || options.warm < 1) {
    return invalid_argument("the dashboard row needs at least 1 terminal and 1 request after the first");
  }
  SB_ASSIGN_OR_RETURN(ScratchDir root, ScratchDir::make(parent, "shiftbook-bench-dashboard", keep));
  std::unique_ptr<DashboardRow> row(new DashboardRow(launcher, std::move(root), keep, options));
  const std::string scratch = row->root_.path() + "/scratch", dir = row->root_.path() + "/server";
  SB_RETURN_IF_ERROR(make_folder(scratch));
  SystemClock clock;
  const std::int64_t today = clock.now_ms() / 86'400'000;
  const auto start = Steady::now();
  SiteShape shape;
  const int units = (options.terminals + kTerminalsPerUnit - 1) / kTerminalsPerUnit;
  for (int u = 0; u < units; ++u) shape.units.push_back(unit_name(u, units));
  SB_RETURN_IF_ERROR(set_up_head_office(launcher, dir, scratch, today, shape.units));
  SB_RETURN_IF_ERROR(launcher
                         .check({server_bin(), "account", "create", "--name", kAccount, "--dir", dir}, scratch,
                                std::string(kPassword) + "\n")
                         .status());
  std::vector<std::string> unit_of;  // ShiftMaker's rule: terminal t records shifts of unit t % units
  for (int t = 0; t < options.terminals; ++t) unit_of.push_back(shape.units[static_cast<std::size_t>(t % units)]);
  std::fprintf(stderr, "  dashboard: enrolling %d terminals in %d units\n", options.terminals, units);
  SB_ASSIGN_OR_RETURN(EnrolledTerminals enrolled, enroll_terminals(launcher, dir, scratch, kSeedLabel, unit_of));
  for (const WireTerminal& w : enrolled.terminals) shape.terminals.push_back(w.key().public_key());
  shape.first_day = today - kDays + 1;
  shape.days = kDays;
  shape.base_ms = (today - kDays) * 86'400'000;
  ShiftMaker maker(std::move(shape), 7);
  const std::uint64_t share = std::max<std::uint64_t>(options.events / static_cast<std::uint64_t>(options.terminals), 1);
  const auto pushing = Steady::now();
  for (std::size_t t = 0; t < enrolled.terminals.size(); ++t) {
    std::vector<ChainLink> shift;
    std::size_t at = 0;
    std::uint64_t made = 0;
    SB_ASSIGN_OR_RETURN(std::uint64_t pushed,
                        push_chain(enrolled.terminals[t], [&]() -> Result<std::optional<ChainLink>> {
                          if (at == shift.size()) {
                            if (made >= share) return std::optional<ChainLink>();
                            shift.clear();
                            at = 0;
                            SB_RETURN_IF_ERROR(maker.next_shift(t, shift));
                            made += shift.size();
                          }
                          return std::optional<ChainLink>(std::move(shift[at++]));
                        }));
    row->events_ += pushed;
    if ((t + 1) % 10 == 0 || t + 1 == enrolled.terminals.size()) {
      const double s = seconds_since(pushing);
      std::fprintf(stderr, "  dashboard: %zu of %d terminals pushed, %llu events in %.0f s (%.0f events/s)\n", t + 1,
                   options.terminals, static_cast<unsigned long long>(row->events_), s,
                   static_cast<double>(row->events_) / s);
    }
  }
  SB_RETURN_IF_ERROR(enrolled.server->stop());
  row->build_s_ = seconds_since(start);
  row->store_mib_ = folder_mib(dir);
  row->output_ = maker.output();
  return row;
}

Status DashboardRow::check_overview(int status, const std::string& body) const {
  if (status != 200) return internal_error("the overview answered HTTP " + std::to_string(status) + ": " + body.substr(0, 300));
  for (const auto& [unit, actual] : output_) {
    // Quantities of P1 (no decimals) are shown as plain digits opening their cell, perhaps followed
    // by the product's unit ("1234567 pcs").
    if (!opens_a_cell(body, std::to_string(actual))) {
      return internal_error("the overview does not show unit " + unit + "'s actual output, " + std::to_string(actual) +
                            ", the sum of the outputs its terminals pushed");
    }
  }
  return Status::ok();
}

Result<ReturnsRun> DashboardRow::returns_once() {
  SB_ASSIGN_OR_RETURN(ScratchDir run, ScratchDir::make(root_.path(), "returns", keep_));
  SB_ASSIGN_OR_RETURN(Finished f, launcher_.run({server_bin(), "returns", "--period", "bench", "--dir",
                                                 root_.path() + "/server"},
                                                run.path()));
  if (f.exit_code != 0) return internal_error("shiftbook-server returns exited with " + std::to_string(f.exit_code) + ": " + f.err);
  for (const auto& entry : output_) {
    if (f.out.find(entry.first) == std::string::npos) return internal_error("returns does not list unit " + entry.first);
  }
  return ReturnsRun{f.seconds, f.max_rss_mib};
}

Result<DashboardRun> DashboardRow::run_once() {
  SB_ASSIGN_OR_RETURN(ScratchDir run, ScratchDir::make(root_.path(), "run", keep_));
  SB_ASSIGN_OR_RETURN(auto server, ServerChild::start(root_.path() + "/server", run.path()));
  Browser browser("127.0.0.1", server->port(), kFirstRequestTimeoutS);
  SB_RETURN_IF_ERROR(browser.sign_in(kAccount, kPassword));
  DashboardRun r;
  auto start = Steady::now();
  SB_ASSIGN_OR_RETURN(Page first, browser.get(kOverview));
  r.first_s = seconds_since(start);
  SB_RETURN_IF_ERROR(check_overview(first.status, first.body));
  for (int i = 0; i < options_.warm; ++i) {
    start = Steady::now();
    SB_ASSIGN_OR_RETURN(Page later, browser.get(kOverview));
    r.later_ms.push_back(ms_since(start));
    SB_RETURN_IF_ERROR(check_overview(later.status, later.body));
  }
  for (int i = 0; i < options_.warm; ++i) {
    start = Steady::now();
    SB_ASSIGN_OR_RETURN(Page hello, browser.get("/v1/hello"));
    r.hello_ms.push_back(ms_since(start));
    if (hello.status != 200) return internal_error("GET /v1/hello answered HTTP " + std::to_string(hello.status));
  }
  r.server_peak_mib = server->peak_rss_mib();
  const auto stopping = Steady::now();
  SB_RETURN_IF_ERROR(server->stop(kStopGraceS));
  r.stop_s = seconds_since(stopping);
  return r;
}

}  // namespace shiftbook::bench
