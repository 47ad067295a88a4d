// The audit from the command line (docs/AUDIT.md): `audit` checks the store as an outside auditor
// checks an export (every delegation, chain, signed head and receipt; every approval against the
// events held when it was written), `audit export FILE` writes the export for one, and `restored`
// readies a store restored from a backup (docs/DEPLOYMENT.md) and audits it.
#include <filesystem>
#include <iostream>

#include "admin.h"
#include "shiftbook/audit.h"
#include "shiftbook/platform/console.h"
#include "shiftbook/platform/files.h"

namespace shiftbook::server::cli {

using console::print_json;

namespace {

constexpr unsigned kExportMode = 0640;

Json approvals_json(const std::vector<AuditApproval>& approvals) {
  Json out = Json::array();
  for (const AuditApproval& a : approvals) {
    out.push_back(Json{{"site", a.site},
                       {"unit", a.unit},
                       {"period", a.period},
                       {"signer_seq", a.signer_seq},
                       {"event", to_hex(a.event)},
                       {"matches", a.matches},
                       {"differences", a.differences}});
  }
  return out;
}

// Audits the store and prints what was found (with `json`'s fields too, in --json).
Status print_audit(Context& c, Service& service, Json json = Json::object()) {
  SB_ASSIGN_OR_RETURN(AuditResult r, service.audit());
  std::size_t matching = 0;
  for (const AuditApproval& a : r.approvals) matching += a.matches ? 1 : 0;
  if (c.json) {
    json.update(Json{{"ok", r.ok()},
                     {"chains", r.chains},
                     {"events", r.events},
                     {"pushes", r.pushes},
                     {"receipts", r.receipts},
                     {"approvals", approvals_json(r.approvals)},
                     {"problem_count", r.problem_count},
                     {"problems", r.problems}});
    print_json(json);
  } else {
    std::cout << "checked " << r.chains << " chains, " << r.events << " events, " << r.pushes << " signed heads and "
              << r.receipts << " receipts; " << r.approvals.size() << " approvals, " << matching
              << " matching the events held when they were written\n";
    for (const std::string& p : r.problems) std::cout << "problem: " << p << '\n';
    if (r.problem_count > r.problems.size()) {
      std::cout << "... and " << (r.problem_count - r.problems.size()) << " more problems\n";
    }
    if (r.ok()) std::cout << "no problems\n";
  }
  if (!r.ok()) {
    return data_loss("the audit found " + std::to_string(r.problem_count) + " problem" +
                     (r.problem_count == 1 ? "" : "s") + " (listed above); keep the store as it is and investigate");
  }
  return Status::ok();
}

Status run_audit(Context& c) {
  SB_ASSIGN_OR_RETURN(auto service, c.open());
  return print_audit(c, *service);
}

// After the store was restored to an earlier state than terminals were told of: positions skip
// ahead so that no terminal's cursor is past an event stored from now on, then the audit.
Status run_restored(Context& c) {
  SB_ASSIGN_OR_RETURN(auto service, c.open());
  SB_ASSIGN_OR_RETURN(std::uint64_t next, service->storage().skip_positions(kRestoreGap));
  if (!c.json) {
    std::cout << "positions continue from " << next << " (" << kRestoreGap
              << " skipped): a terminal's pull cursor from before the restore is behind every event stored from now "
                 "on\n";
  }
  return print_audit(c, *service, Json{{"next_position", next}, {"skipped", kRestoreGap}});
}

struct ExportOpts {
  std::string file;
  bool force = false;
};

Status run_export(Context& c, const ExportOpts& o) {
  if (!o.force && std::filesystem::exists(o.file)) {
    return already_exists(o.file + " exists; give another file, or --force to replace it");
  }
  SB_ASSIGN_OR_RETURN(auto service, c.open());
  std::uint64_t lines = 0;
  SB_RETURN_IF_ERROR(write_file_atomic(o.file, kExportMode, [&](std::ostream& out) -> Status {
    return service->audit_export([&](const Json& line) -> Status {
      out << line.dump() << '\n';
      ++lines;
      return out ? Status::ok() : resource_exhausted("writing " + o.file + " failed (disk full?)");
    });
  }));
  if (c.json) {
    print_json(Json{{"file", o.file}, {"lines", lines}});
  } else {
    std::cout << "wrote " << o.file << " (" << lines << " lines); check it with 'shiftbook-verify-audit " << o.file
              << " --server-key KEY' (the key 'shiftbook-server key' prints)\n";
  }
  return Status::ok();
}

}  // namespace

void add_audit_commands(CLI::App& app, Context& ctx) {
  auto* audit = app.add_subcommand(
      "audit", "Re-verify every chain, signed head and receipt, recompute every report from the raw events and check "
               "every approval against the events held when it was written (docs/AUDIT.md)");
  add_json_flag(audit, ctx);
  auto* exp = audit->add_subcommand("export", "Write the audit export: every event, signed head and receipt, the "
                                              "sites' delegations, in one file an auditor checks with the public key");
  auto o = std::make_shared<ExportOpts>();
  exp->add_option("FILE", o->file, "The file to write (JSON lines)")->required();
  exp->add_flag("--force", o->force, "Replace FILE when it exists");
  add_json_flag(exp, ctx);
  on_run(exp, ctx, o, run_export);
  // `audit` alone checks; `audit export` only writes.
  audit->callback([&ctx, exp] {
    if (!exp->parsed()) ctx.action = [&ctx] { return run_audit(ctx); };
  });
  auto* restored = app.add_subcommand(
      "restored", "Run once after the store was restored from a backup, or a standby was promoted that may lack the "
                  "last commits: positions skip ahead so no terminal's pull cursor passes new events, then the "
                  "audit (docs/DEPLOYMENT.md)");
  add_json_flag(restored, ctx);
  restored->callback([&ctx] { ctx.action = [&ctx] { return run_restored(ctx); }; });
}

}  // namespace shiftbook::server::cli
