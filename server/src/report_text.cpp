// How head office's reports read as text (report_text.h): amounts in each product's unit, rates,
// a report's state and the adjustments carried between periods. The command line and the
// dashboard both show reports through these.
#include "report_text.h"

#include "service_impl.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {

std::string format_utc(std::int64_t ms) {
  const std::int64_t days = ms >= 0 ? ms / 86'400'000 : 0;
  const std::int64_t minutes = ms >= 0 ? (ms % 86'400'000) / 60'000 : 0;
  return format_date(days) + " " + format_minutes(minutes) + " UTC";
}

std::string utc_or_never(std::int64_t ms) { return ms <= 0 ? "never" : format_utc(ms); }

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

namespace {

constexpr std::size_t kShownHexDigits = 16;

}  // namespace

std::string shown_hash(const Hash& h) { return to_hex(h).substr(0, kShownHexDigits); }

std::string rate_text(std::int64_t permille) {
  return std::to_string(permille / 10) + "." + std::to_string(permille % 10) + " %";
}

// "approved at 2026-12-01 09:00 UTC (signer seq 14)", or "open"
std::string state_text(const UnitPeriodReport& r) {
  if (!r.approval) return "open";
  return "approved at " + format_utc(r.approval->written_ms) + " (signer seq " +
         std::to_string(r.approval->signer_seq) + ")";
}

// "P1 +20 pcs; W2 +60 min" for an adjustment's differences.
std::string adjustment_text(const Adjustment& a, const ProductAmounts& products) {
  std::vector<std::string> parts;
  auto sign = [](std::int64_t v) { return v > 0 ? "+" : ""; };
  for (const auto& [id, v] : a.actual) parts.push_back(id + " " + sign(v) + products.amount(v, id));
  for (const auto& [id, w] : a.workers) {
    std::vector<std::string> counts;
    if (w.minutes != 0) counts.push_back(sign(w.minutes) + std::to_string(w.minutes) + " min");
    if (w.special_minutes != 0) counts.push_back(sign(w.special_minutes) + std::to_string(w.special_minutes) + " special min");
    if (w.skill_upgrades != 0) counts.push_back(sign(w.skill_upgrades) + std::to_string(w.skill_upgrades) + " skill upgrades");
    if (w.innovations != 0) counts.push_back(sign(w.innovations) + std::to_string(w.innovations) + " innovations");
    parts.push_back(id + " " + join(counts, ", "));
  }
  return join(parts, "; ");
}

Result<ProductAmounts> ProductAmounts::read(Service& service) {
  SB_ASSIGN_OR_RETURN(std::vector<Json> all, service.reference("ref_product"));
  ProductAmounts out;
  for (const Json& p : all) {
    out.products_[p.value("id", std::string())] = {p.value("decimals", 0), p.value("unit", std::string())};
  }
  return out;
}

int ProductAmounts::decimals(const std::string& id) const {
  auto it = products_.find(id);
  return it == products_.end() ? 0 : it->second.first;
}

std::string ProductAmounts::amount(std::int64_t base, const std::string& id) const {
  auto it = products_.find(id);
  if (it == products_.end()) return std::to_string(base);
  return format_quantity(base, it->second.first) + " " + it->second.second;
}

std::string ProductAmounts::exact(const ShareLine& line, const std::string& id) const {
  std::string text = format_exact_share(line, 2);
  if (text == "-") return text;
  // Two decimals of the base unit: a product kept to thousandths moves the point three places.
  const int d = decimals(id);
  if (d > 0) {
    std::string whole = text.substr(0, text.find('.'));
    const std::string fraction = text.substr(text.find('.') + 1);
    while (whole.size() <= static_cast<std::size_t>(d)) whole.insert(whole.begin(), '0');
    text = whole.substr(0, whole.size() - d) + "." + whole.substr(whole.size() - d) + fraction;
  }
  auto it = products_.find(id);
  return it == products_.end() ? text : text + " " + it->second.second;
}

}  // namespace shiftbook::server
