// A unit's report for a period (SiteReport, Service::reports) as the admin commands show it: the
// text of `shares`, `approve` and `reopen`, and the JSON document of each (docs/SERVER.md,
// "shares"), with amounts in each product's decimals and unit. Plain functions; one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "admin.h"
#include "report_text.h"
#include "shiftbook/ledger.h"

namespace shiftbook::server::cli {

// One report of `shares --json`.
Json report_json(const SiteReport& report, const ProductAmounts& products);
// The report as text on standard output; `explain` adds the entries behind the figures.
void print_report(const SiteReport& report, const ProductAmounts& products, bool explain);

// shares: every unit's report per period (admin_report.cpp).
void add_shares_command(CLI::App& app, Context& ctx);

}  // namespace shiftbook::server::cli
