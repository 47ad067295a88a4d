// How head office's reports read as text, for the command line (admin_report.cpp) and the
// dashboard alike: amounts in each product's decimals and unit, rates, a report's state and the
// adjustments carried between periods. Plain functions; one thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "service.h"
#include "shiftbook/ledger.h"

namespace shiftbook::server {

// "2026-11-17 08:00 UTC" (a time before 1970 as 1970-01-01 00:00 UTC).
std::string format_utc(std::int64_t ms);
// The same, and "never" for 0 or less: a time that may not have come yet (a last contact, a use).
std::string utc_or_never(std::int64_t ms);
// The items with `sep` between them.
std::string join(const std::vector<std::string>& items, const char* sep);

// The first 16 hex digits of an event's hash, as the admin commands show events.
std::string shown_hash(const Hash& h);
// 1100 -> "110.0 %"
std::string rate_text(std::int64_t permille);
// "approved at 2026-12-01 09:00 UTC (signer seq 14)", or "open"
std::string state_text(const UnitPeriodReport& r);

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

// "P1 +20 pcs; W2 +60 min" for an adjustment's differences.
std::string adjustment_text(const Adjustment& a, const ProductAmounts& products);

}  // namespace shiftbook::server
