// The benchmark's table and JSON (bench_report.h).
#include "bench_report.h"

#include <cmath>
#include <cstdio>
#include <ostream>

#include "shiftbook/platform/console.h"

namespace shiftbook::bench {

std::string with_commas(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(v));
  std::string digits(buf);
  const std::size_t point = digits.find('.');
  std::string whole = digits.substr(0, point), rest = point == std::string::npos ? "" : digits.substr(point);
  std::string out;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) out += ',';
    out += whole[i];
  }
  return (v < 0 ? "-" : "") + out + rest;
}

void print_table(std::ostream& out, const std::vector<Figure>& figures) {
  console::Table table({"ROW", "FIGURE", "TARGET", "MET", "RATIO", "CEILING"});
  for (const Figure& f : figures) {
    const std::string met = !f.met ? "-" : *f.met ? "yes" : "NO";
    char ratio[32] = "-";
    if (f.ratio) std::snprintf(ratio, sizeof ratio, "%.2f", *f.ratio);
    table.add({f.what, f.shown, f.target, met, ratio, f.ceiling.empty() ? "-" : f.ceiling});
  }
  table.print(out);
}

Json figures_json(const std::vector<Figure>& figures) {
  Json rows = Json::array();
  for (const Figure& f : figures) {
    Json r = {{"row", f.row}, {"what", f.what}, {"shown", f.shown}, {"target", f.target}, {"ceiling", f.ceiling},
              {"detail", f.detail}};
    r["value"] = f.value ? Json(*f.value) : Json(nullptr);
    r["unit"] = f.unit;
    if (!f.store.empty()) r["store"] = f.store;
    r["met"] = f.met ? Json(*f.met) : Json(nullptr);
    r["ratio"] = f.ratio ? Json(*f.ratio) : Json(nullptr);
    rows.push_back(std::move(r));
  }
  return rows;
}

}  // namespace shiftbook::bench
