#include "shiftbook/shareout.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <string>

#include "shiftbook/kinds.h"

namespace shiftbook {
namespace {

__extension__ using Int128 = __int128;

// The largest milli-points one worker can hold within the bounds: every term at its maximum.
constexpr Int128 kMaxWorkerMilli = Int128{kMaxWorkerMinutes} * kMaxWeightPermille * 2 +
                                   Int128{1000} * kMaxBonusCount * kMaxBonusPoints * 2;
constexpr Int128 kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr Int128 kInt128Max = ~(Int128{1} << 127);

// The bounds are what keeps the arithmetic exact, so they are checked here rather than trusted:
// a worker's milli-points and their total P fit in 64 bits, pool * p in 128, surplus * permille in 64.
static_assert(kMaxWorkerMilli <= kInt64Max);
static_assert(kMaxWorkerMilli * static_cast<std::int64_t>(kMaxShareoutWorkers) <= kInt64Max);
static_assert(kMaxWorkerMilli <= kInt128Max / kMaxShareoutQuantity);
static_assert(Int128{kMaxShareoutQuantity} * kMaxPoolSharePermille <= kInt64Max);

std::string range_text(std::int64_t lo, std::int64_t hi) {
  return std::to_string(lo) + ".." + std::to_string(hi);
}

Status check_range(const std::string& where, const char* field, std::int64_t value, std::int64_t lo,
                   std::int64_t hi) {
  if (value >= lo && value <= hi) return Status::ok();
  return invalid_argument(where + ": " + field + " " + std::to_string(value) + " is out of range " +
                          range_text(lo, hi));
}

std::string product_where(std::size_t i, const ProductOutput& p) {
  return "product '" + p.product + "' (products[" + std::to_string(i) + "])";
}

std::string worker_where(std::size_t i, const WorkerInput& w) {
  return "worker '" + w.worker + "' (workers[" + std::to_string(i) + "])";
}

Status check_product(std::size_t i, const ProductOutput& p) {
  SB_RETURN_IF_ERROR(check_id("products[" + std::to_string(i) + "]: product id", p.product));
  const std::string where = product_where(i, p);
  SB_RETURN_IF_ERROR(check_range(where, "quota", p.quota, 0, kMaxShareoutQuantity));
  return check_range(where, "actual", p.actual, 0, kMaxShareoutQuantity);
}

Status check_worker(std::size_t i, const WorkerInput& w) {
  SB_RETURN_IF_ERROR(check_id("workers[" + std::to_string(i) + "]: worker id", w.worker));
  const std::string where = worker_where(i, w);
  SB_RETURN_IF_ERROR(check_range(where, "minutes", w.minutes, 0, kMaxWorkerMinutes));
  SB_RETURN_IF_ERROR(check_range(where, "special_minutes", w.special_minutes, 0, kMaxWorkerMinutes));
  if (w.special_minutes > w.minutes) {
    return invalid_argument(where + ": special_minutes " + std::to_string(w.special_minutes) +
                            " are more than the " + std::to_string(w.minutes) +
                            " minutes worked (special-environment minutes are part of them)");
  }
  SB_RETURN_IF_ERROR(check_range(where, "skill_upgrades", w.skill_upgrades, 0, kMaxBonusCount));
  SB_RETURN_IF_ERROR(check_range(where, "innovations", w.innovations, 0, kMaxBonusCount));
  return check_range(where, "achievement_permille", w.achievement_permille, 0, kMaxWeightPermille);
}

// Ids must be unique: a second entry would split or double one product's or worker's figures.
template <typename T, typename Id, typename Where>
Status check_unique(const std::vector<T>& items, Id id_of, Where where, const char* list) {
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto [it, inserted] = seen.emplace(id_of(items[i]), i);
    if (!inserted) {
      return invalid_argument(where(i, items[i]) + ": listed twice, first as " + list + "[" +
                              std::to_string(it->second) + "]; give one entry per id");
    }
  }
  return Status::ok();
}

// Divides one pool; the lines are sorted by worker id, P > 0.
void divide_pool(ProductShareout& out, const std::vector<WorkerPoints>& points, std::int64_t total) {
  out.lines.reserve(points.size());
  std::int64_t floors = 0;
  for (const WorkerPoints& w : points) {
    const Int128 scaled = Int128{out.pool} * w.milli_points;
    ShareLine line;
    line.worker = w.worker;
    line.milli_points = w.milli_points;
    line.floor = static_cast<std::int64_t>(scaled / total);
    line.remainder = static_cast<std::int64_t>(scaled % total);
    line.denominator = total;
    line.share = line.floor;
    floors += line.floor;
    out.lines.push_back(std::move(line));
  }
  out.leftover_units = out.pool - floors;
  // Lines are in worker-id order, so a stable sort on the remainder alone breaks ties by id.
  std::vector<std::size_t> order(out.lines.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return out.lines[a].remainder > out.lines[b].remainder;
  });
  for (std::size_t r = 0; r < order.size(); ++r) {
    ShareLine& line = out.lines[order[r]];
    line.rank = static_cast<std::int64_t>(r) + 1;
    line.leftover = line.rank <= out.leftover_units;
    if (line.leftover) ++line.share;
  }
}

ProductShareout share_product(const RuleSet& rules, const ProductOutput& p,
                              const std::vector<WorkerPoints>& points, std::int64_t total) {
  ProductShareout out;
  out.product = p.product;
  out.quota = p.quota;
  out.actual = p.actual;
  out.surplus = std::max<std::int64_t>(0, p.actual - p.quota);
  out.pool = out.surplus * rules.pool_share_permille / 1000;
  out.total_milli_points = total;
  out.distributed = total > 0;
  if (out.distributed) {
    divide_pool(out, points, total);
    return out;
  }
  for (const WorkerPoints& w : points) {
    ShareLine line;
    line.worker = w.worker;
    line.milli_points = w.milli_points;
    out.lines.push_back(std::move(line));
  }
  return out;
}

std::string digits(Int128 v) {
  if (v == 0) return "0";
  std::string s;
  for (; v > 0; v /= 10) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
  return s;
}

// `value` / 10^decimals written with exactly `decimals` decimals; value >= 0.
std::string fixed_point(Int128 value, int decimals) {
  Int128 scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  std::string out = digits(value / scale);
  if (decimals == 0) return out;
  std::string frac = digits(value % scale);
  return out + "." + std::string(static_cast<std::size_t>(decimals) - frac.size(), '0') + frac;
}

}  // namespace

Status validate_rule_set(const RuleSet& rules) {
  const std::string where = "rule set " + std::to_string(rules.version);
  if (rules.version < 1) {
    return invalid_argument("rule set: version " + std::to_string(rules.version) + " must be 1 or more");
  }
  SB_RETURN_IF_ERROR(
      check_range(where, "pool_share_permille", rules.pool_share_permille, 0, kMaxPoolSharePermille));
  SB_RETURN_IF_ERROR(
      check_range(where, "special_weight_permille", rules.special_weight_permille, 0, kMaxWeightPermille));
  SB_RETURN_IF_ERROR(check_range(where, "skill_points", rules.skill_points, 0, kMaxBonusPoints));
  return check_range(where, "innovation_points", rules.innovation_points, 0, kMaxBonusPoints);
}

Status validate_shareout_input(const std::vector<ProductOutput>& products,
                               const std::vector<WorkerInput>& workers) {
  if (workers.size() > kMaxShareoutWorkers) {
    return invalid_argument(std::to_string(workers.size()) + " workers in one unit and period: at most " +
                            std::to_string(kMaxShareoutWorkers) + " can share");
  }
  for (std::size_t i = 0; i < products.size(); ++i) SB_RETURN_IF_ERROR(check_product(i, products[i]));
  for (std::size_t i = 0; i < workers.size(); ++i) SB_RETURN_IF_ERROR(check_worker(i, workers[i]));
  SB_RETURN_IF_ERROR(check_unique(
      products, [](const ProductOutput& p) { return p.product; }, product_where, "products"));
  return check_unique(
      workers, [](const WorkerInput& w) { return w.worker; }, worker_where, "workers");
}

WorkerPoints worker_points(const RuleSet& rules, const WorkerInput& worker) {
  WorkerPoints p;
  p.worker = worker.worker;
  p.achievement_permille = worker.achievement_permille;
  p.minutes_milli = worker.minutes * worker.achievement_permille;
  p.special_milli = worker.special_minutes * rules.special_weight_permille;
  p.skill_milli = 1000 * worker.skill_upgrades * rules.skill_points;
  p.innovation_milli = 1000 * worker.innovations * rules.innovation_points;
  p.milli_points = p.minutes_milli + p.special_milli + p.skill_milli + p.innovation_milli;
  return p;
}

Result<Shareout> share_out(const RuleSet& rules, const std::vector<ProductOutput>& products,
                           const std::vector<WorkerInput>& workers) {
  SB_RETURN_IF_ERROR(validate_rule_set(rules));
  SB_RETURN_IF_ERROR(validate_shareout_input(products, workers));

  Shareout out;
  out.rule_version = rules.version;
  std::int64_t total = 0;
  for (const WorkerInput& w : workers) {
    out.points.push_back(worker_points(rules, w));
    total += out.points.back().milli_points;
  }
  std::sort(out.points.begin(), out.points.end(),
            [](const WorkerPoints& a, const WorkerPoints& b) { return a.worker < b.worker; });

  std::vector<const ProductOutput*> sorted;
  for (const ProductOutput& p : products) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(),
            [](const ProductOutput* a, const ProductOutput* b) { return a->product < b->product; });
  for (const ProductOutput* p : sorted) out.products.push_back(share_product(rules, *p, out.points, total));
  return out;
}

std::string format_milli_points(std::int64_t milli_points) {
  const Int128 v = milli_points;
  return (v < 0 ? "-" : "") + fixed_point(v < 0 ? -v : v, 3);
}

std::string format_exact_share(const ShareLine& line, int decimals) {
  if (line.denominator <= 0) return "-";
  decimals = std::clamp(decimals, 0, 6);
  Int128 scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  // Half up: floor((2 * remainder * scale + P) / (2 * P)), which may carry into the whole part.
  const Int128 p = line.denominator;
  const Int128 fraction = (2 * Int128{line.remainder} * scale + p) / (2 * p);
  return fixed_point(Int128{line.floor} * scale + fraction, decimals);
}

}  // namespace shiftbook
