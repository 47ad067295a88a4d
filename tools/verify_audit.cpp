// shiftbook-verify-audit: checks an audit export (docs/AUDIT.md) with the server's public key
// alone, without the server or its store: every site's delegation, every chain link, signed head
// and receipt, every approval against the events held when it was written; then recomputes the
// period returns and shares from the raw events and prints them. Exit status: 0 when everything
// verified, 9 when the export has problems (each printed), 3 for a file that is not an export or a
// key that is not one, 4 for a missing file, 2 for a usage error.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

#include "shiftbook/audit.h"
#include "shiftbook/bytes.h"
#include "shiftbook/platform/command.h"
#include "shiftbook/platform/console.h"

using namespace shiftbook;

namespace {

std::string opt(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "-"; }

Json reports_json(const AuditResult& r) {
  Json sites = Json::object();
  for (const auto& [site, reports] : r.reports) {
    Json units = Json::array();
    for (const UnitPeriodReport& rep : reports) {
      Json shares = Json::array();
      if (rep.shares) {
        for (const ProductShareout& p : rep.shares->products) {
          for (const ShareLine& l : p.lines) {
            shares.push_back(Json{{"product", p.product}, {"worker", l.worker},
                                  {"points", format_milli_points(l.milli_points)}, {"share", l.share}});
          }
        }
      }
      units.push_back(Json{{"unit", rep.unit},
                           {"period", rep.period},
                           {"approved", rep.approval.has_value()},
                           {"rule_version", rep.reported.rule_version},
                           {"shares", shares},
                           {"shares_problem", rep.shares_problem}});
    }
    Json returns = Json::array();
    for (const PeriodReturn& l : r.returns.at(site)) {
      returns.push_back(Json{{"unit", l.key.unit}, {"period", l.key.period}, {"product", l.key.product},
                             {"quota", l.quota ? Json(*l.quota) : Json(nullptr)}, {"actual", l.actual},
                             {"surplus", l.surplus ? Json(*l.surplus) : Json(nullptr)}, {"approved", l.approved},
                             {"pending", l.pending}});
    }
    sites[site] = Json{{"returns", returns}, {"reports", units}};
  }
  return sites;
}

void print_text(const AuditResult& r) {
  for (const auto& [site, reports] : r.reports) {
    std::cout << "site " << site << "\n";
    for (const PeriodReturn& l : r.returns.at(site)) {
      std::cout << "  return " << l.key.unit << " " << (l.key.period.empty() ? "(none)" : l.key.period) << " "
                << l.key.product << ": quota " << opt(l.quota) << ", actual " << l.actual << ", surplus "
                << opt(l.surplus) << (l.approved ? ", approved" : "")
                << (l.pending != 0 ? ", " + std::to_string(l.pending) + " pending" : "") << "\n";
    }
    for (const UnitPeriodReport& rep : reports) {
      std::cout << "  shares " << rep.unit << " " << rep.period << (rep.approval ? " (approved)" : " (open)");
      if (!rep.shares) {
        std::cout << ": " << rep.shares_problem << "\n";
        continue;
      }
      std::cout << ", rule set " << rep.reported.rule_version << "\n";
      for (const ProductShareout& p : rep.shares->products) {
        for (const ShareLine& l : p.lines) {
          std::cout << "    " << p.product << " " << l.worker << ": " << format_milli_points(l.milli_points)
                    << " points, share " << l.share << "\n";
        }
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string file, key_hex;
  bool json = false;
  CLI::App app{"Checks an audit export of shiftbook-server with the server's public key alone and recomputes the "
               "period returns and shares from its raw events (docs/AUDIT.md). Quantities and shares are in each "
               "product's base unit. Exit status: 0 verified, 9 problems found (each printed), 3 not an export, "
               "4 no such file, 2 usage.",
               "shiftbook-verify-audit"};
  app.add_option("FILE", file, "The export ('shiftbook-server audit export FILE' writes it)")->required();
  app.add_option("--server-key", key_hex, "The server's public key, 64 hex digits, as 'shiftbook-server key' prints "
                                          "it: obtained from head office by a way you trust, never from the export")
      ->required();
  app.add_flag("--json", json, "Print one JSON document instead of text");
  if (auto exit = command::parse(app, argc, argv)) return *exit;
  return command::run("shiftbook-verify-audit", [&]() -> Status {
    auto key = array_from_hex<32>(key_hex);
    if (!key.is_ok()) return invalid_argument("--server-key: '" + key_hex + "' is not a key (64 hex digits)");
    std::ifstream in(file, std::ios::binary);
    if (!in) return not_found(file + ": cannot be opened (does it exist?)");
    AuditVerifier verifier(*key);
    std::string line;
    std::uint64_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      SB_RETURN_IF_ERROR(verifier.line(line).with_context(file + ": "));
    }
    if (n == 0) return invalid_argument(file + ": empty; not an audit export");
    AuditResult r = verifier.finish();
    if (json) {
      console::print_json(Json{{"ok", r.ok()},
                               {"chains", r.chains},
                               {"events", r.events},
                               {"pushes", r.pushes},
                               {"receipts", r.receipts},
                               {"problem_count", r.problem_count},
                               {"problems", r.problems},
                               {"sites", reports_json(r)}});
    } else {
      print_text(r);
      std::size_t matching = 0;
      for (const AuditApproval& a : r.approvals) matching += a.matches ? 1 : 0;
      std::cout << "checked " << r.chains << " chains, " << r.events << " events, " << r.pushes << " signed heads and "
                << r.receipts << " receipts; " << r.approvals.size() << " approvals, " << matching
                << " matching the events held when they were written\n";
      for (const std::string& p : r.problems) std::cout << "problem: " << p << "\n";
      if (r.ok()) std::cout << "no problems\n";
    }
    if (!r.ok()) {
      return data_loss("the export has " + std::to_string(r.problem_count) + " problem" +
                       (r.problem_count == 1 ? "" : "s") + " (listed above)");
    }
    return Status::ok();
  });
}
