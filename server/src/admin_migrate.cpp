// `shiftbook-server migrate --from sqlite:PATH --to postgresql://...`: moves a head office from its
// SQLite store to PostgreSQL, verified by the audit (migrate.h, docs/POSTGRES.md "Migrating a head
// office from SQLite"), and prints what moved.
#include <iomanip>
#include <iostream>
#include <sstream>

#include "admin.h"
#include "migrate.h"
#include "server_dir.h"
#include "shiftbook/platform/console.h"

namespace shiftbook::server::cli {

namespace {

struct MigrateOpts {
  std::string from, to;
  bool copy_only = false;
};

std::string seconds(std::int64_t ms) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << static_cast<double>(ms) / 1000.0 << " s";
  return out.str();
}

// How to make DIR serve its SQLite store again.
std::string way_back(const std::string& dir, const std::string& previous) {
  return previous.empty() ? "remove " + dir + "/" + kServerStoreFile
                          : "write '" + previous + "' into " + dir + "/" + kServerStoreFile + " again";
}

void print_text(const MigrateReport& r, const std::string& dir) {
  std::vector<std::string> rows;
  for (const auto& [table, n] : r.rows) rows.push_back(table + " " + std::to_string(n));
  std::cout << "copied " << r.source << " to " << r.target << " in " << seconds(r.copy_ms) << ": " << join(rows, ", ")
            << '\n';
  std::cout << "verified in " << seconds(r.verify_ms) << ": the same rows in every table; the audit of the copy checked "
            << r.audit.chains << " chains, " << r.audit.events << " events, " << r.audit.pushes
            << " signed heads and " << r.audit.receipts << " receipts: no problems; its audit export is identical "
            << "to the source's\n";
  if (!r.switched) {
    std::cout << dir << "/" << kServerStoreFile << " is not changed (" << r.not_switched_why << ")\n";
    return;
  }
  std::cout << dir << "/" << kServerStoreFile << " now names " << r.target << ": the next 'serve' uses it. "
            << r.source << " is kept as it was; to go back to it, stop serve and " << way_back(dir, r.previous_store)
            << " (what was written to PostgreSQL since is not in it)\n";
}

void print_json(const MigrateReport& r, const std::string& dir) {
  Json rows = Json::object();
  for (const auto& [table, n] : r.rows) rows[table] = n;
  Json doc{{"source", r.source},
           {"target", r.target},
           {"rows", rows},
           {"copy_ms", r.copy_ms},
           {"verify_ms", r.verify_ms},
           {"audit", Json{{"ok", r.audit.ok()},
                          {"chains", r.audit.chains},
                          {"events", r.audit.events},
                          {"pushes", r.audit.pushes},
                          {"receipts", r.audit.receipts}}},
           {"switched", r.switched}};
  if (r.switched) doc["way_back"] = way_back(dir, r.previous_store);
  if (!r.switched) doc["not_switched"] = r.not_switched_why;
  console::print_json(doc);
}

}  // namespace

void add_migrate_commands(CLI::App& app, Context& ctx) {
  auto* migrate = app.add_subcommand(
      "migrate", "Copy the head office's SQLite store into an empty PostgreSQL database, verify the copy with the "
                 "audit, and make DIR serve from it (docs/POSTGRES.md)");
  auto o = std::make_shared<MigrateOpts>();
  migrate->add_option("--from", o->from, "The SQLite store: sqlite:PATH (DIR's is sqlite:DIR/server.db)")->required();
  migrate->add_option("--to", o->to, "The PostgreSQL database: postgresql://USER@HOST:PORT/DBNAME, holding no tables")
      ->required();
  migrate->add_flag("--copy-only", o->copy_only, "Copy and verify, but leave DIR/store as it is");
  add_json_flag(migrate, ctx);
  on_run(migrate, ctx, o, [](Context& c, const MigrateOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(MigrateReport r, migrate_store(MigrateRequest{c.dir, opts.from, opts.to, opts.copy_only}, c.clock));
    if (c.json) {
      print_json(r, c.dir);
    } else {
      print_text(r, c.dir);
    }
    return Status::ok();
  });
}

}  // namespace shiftbook::server::cli
