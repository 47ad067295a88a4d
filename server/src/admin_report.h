// A unit's report for a period (SiteReport, Service::reports) as the admin commands show it: the
// text of `shares`, `approve` and `reopen`, and the JSON document of each (docs/SERVER.md,
// "shares"), with amounts in each product's decimals and unit. Plain functions; one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "admin.h"
#include "shiftbook/ledger.h"

namespace shiftbook::server::cli {

// The first 16 hex digits of an event's hash, as the admin commands show events.
std::string shown_hash(const Hash& h);
// 1100 -> "110.0 %"
std::string rate_text(std::int64_t permille);

// The products as head office defined them: how to show an amount of each.
class ProductAmounts {
 public:
  static Result<ProductAmounts> read(Service& service);
  int decimals(const std::string& id) const;
  // "1234.500 kg" from base units; the base units alone for a product not known.
  std::string amount(std::int64_t base, const std::string& id) const;
  // An exact share (2 decimals of the base unit) in the product's unit: "32.83 pcs", "12.34567 kg";
  // "-" for a line of an undistributed pool.
  std::string exact(const ShareLine& line, const std::string& id) const;

 private:
  std::map<std::string, std::pair<int, std::string>> products_;  // id -> decimals, unit name
};

// One report of `shares --json`.
Json report_json(const SiteReport& report, const ProductAmounts& products);
// The report as text on standard output; `explain` adds the entries behind the figures.
void print_report(const SiteReport& report, const ProductAmounts& products, bool explain);

// shares: every unit's report per period (admin_report.cpp).
void add_shares_command(CLI::App& app, Context& ctx);

}  // namespace shiftbook::server::cli
