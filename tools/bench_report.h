// The benchmark's answer: one line per figure of the design's performance table (docs/BENCHMARK.md),
// with its target, whether it was met, the ceiling it is read against and the ratio to it; printed
// as a text table and written as JSON. Pure functions over values.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "shiftbook/canonical.h"

namespace shiftbook::bench {

struct Figure {
  std::string row;                 // the --only name: push, pull, entry, terminals, report
  std::string store;               // the server's store, "SQLite" or "PostgreSQL"; empty: no server store
  std::string what;                // "push, client to server"
  std::optional<double> value;     // none: not measured (not built yet)
  std::string unit;                // "events/s", "s", "MiB", "ms"
  std::string shown;               // the figure as printed ("102,311 events/s", "not built yet")
  std::string target;              // as DESIGN.md says it ("150,000 events/s or more")
  std::optional<bool> met;         // none: not measured, or no target
  std::string ceiling;             // "1.23 ms: one-row SQLite commit, WAL, FULL"
  std::optional<double> ratio;     // of the ceiling reached: 1.00 is at the ceiling
  Json detail = Json::object();    // every run and the figures behind it
};

// "1,234,567" with `decimals` digits after the point.
std::string with_commas(double v, int decimals = 0);

// Higher is better (rates): figure / ceiling. Lower is better (times, memory): ceiling / figure.
inline double ratio_up(double figure, double ceiling) { return ceiling > 0 ? figure / ceiling : 0; }
inline double ratio_down(double figure, double floor) { return figure > 0 ? floor / figure : 0; }

// The table: what, figure, target, met, ceiling, ratio.
void print_table(std::ostream& out, const std::vector<Figure>& figures);
Json figures_json(const std::vector<Figure>& figures);

}  // namespace shiftbook::bench
