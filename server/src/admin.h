// The `shiftbook-server` subcommands. Each registers its arguments with CLI11 and, once parsing
// has succeeded, leaves one action in the Context for main() to run; the action opens the server
// folder, makes one or two Service calls and prints. Actions return a Status and never exit
// themselves, so main() maps every failure to an exit status in one place. One thread.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "report_text.h"
#include "service.h"
#include "shiftbook/platform/command.h"
#include "shiftbook/clock.h"
#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook::server::cli {

struct Context : command::ContextBase {
  std::string dir;                 // --dir, or $SHIFTBOOK_SERVER_DIR

  // The Service over the server in `dir`.
  Result<std::unique_ptr<Service>> open() const;
};

using command::add_json_flag;
using command::on_run;

// The first 8 hex digits of a key, as terminals show their own.
std::string short_key(const PublicKey& key);

// site, unit, period, product, worker, leader, quota: head office's reference data.
void add_reference_commands(CLI::App& app, Context& ctx);
// code create|list, and the device commands below: who may enroll, and who did.
void add_access_commands(CLI::App& app, Context& ctx);
// devices, device list|revoke, quarantine, events: the terminals in the field (admin_devices.cpp).
void add_device_commands(CLI::App& app, Context& ctx);
// bundle import: sync with a terminal that has no network, by files (admin_bundle.cpp).
void add_bundle_commands(CLI::App& app, Context& ctx);
// conflicts, anomalies, resolve: the merged state of the sites' logs (admin_conflicts.cpp).
void add_conflict_commands(CLI::App& app, Context& ctx);
// rules, achievement, approve, reopen, shares, export payroll: sharing out and paying
// (admin_payroll.cpp).
void add_payroll_commands(CLI::App& app, Context& ctx);
// token create|list|revoke: the API tokens of the report endpoints (admin_tokens.cpp).
void add_token_commands(CLI::App& app, Context& ctx);
// account create|list|password|disable: who may sign in to the dashboard (admin_accounts.cpp).
void add_account_commands(CLI::App& app, Context& ctx);
// audit, audit export, restored: re-verify everything, write the export for an outside auditor, or ready a
// store put back to a backup (admin_audit.cpp).
void add_audit_commands(CLI::App& app, Context& ctx);
// migrate: move the head office from its SQLite store to PostgreSQL (admin_migrate.cpp).
void add_migrate_commands(CLI::App& app, Context& ctx);

}  // namespace shiftbook::server::cli
