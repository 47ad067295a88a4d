// Sharing out above-quota output (docs/SHAREOUT.md): for one production unit and period, each
// product's surplus above quota makes a pool of goods, divided among the unit's workers in
// proportion to their points by the largest-remainder method. Integer arithmetic throughout, exact
// to the last unit: the server's period returns, the audit and the standalone verifier all call
// share_out and must get the same shares. Pure functions over values; thread-safe.
//
// Specification of share_out:
// - Inputs are checked first (validate_rule_set, validate_shareout_input); on a bad input the
//   result is invalid_argument naming the field and the product or worker, and nothing else.
// - The result depends only on the inputs, never on their order: products and workers come out
//   sorted by id (bytewise), and ties are broken by worker id.
// - Per product: surplus = max(0, actual - quota); pool = floor(surplus * pool_share_permille /
//   1000). A shortfall on one product never touches another.
// - Per worker: milli_points = minutes * achievement_permille + special_minutes *
//   special_weight_permille + 1000 * (skill_upgrades * skill_points + innovations *
//   innovation_points), that is the points exactly, in thousandths.
// - With P the sum of every worker's milli_points: when P > 0, a worker's exact share of a pool is
//   pool * p / P = floor + remainder / P; everyone gets the floor, and the units left over
//   (pool - sum of floors, fewer than the workers) go one each to the largest remainders, ties to
//   the lower worker id. Shares sum to the pool. When P = 0 nothing is shared: every share is 0
//   and the pool is reported undistributed (ProductShareout::distributed is false).
// - The bounds below keep every intermediate exact: P fits in 64 bits, pool * p in 128.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shiftbook/status.h"

namespace shiftbook {

// Bounds of the inputs (docs/SHAREOUT.md, "Bounds").
inline constexpr std::int64_t kMaxPoolSharePermille = 1000;
inline constexpr std::int64_t kMaxWeightPermille = 10'000;  // special weight and achievement
inline constexpr std::int64_t kMaxBonusPoints = 1'000'000;  // skill_points, innovation_points
inline constexpr std::int64_t kMaxShareoutQuantity = 1'000'000'000'000;  // quota, actual (base units)
inline constexpr std::int64_t kMaxWorkerMinutes = 10'000'000;            // minutes, special_minutes
inline constexpr std::int64_t kMaxBonusCount = 10'000;                   // skill upgrades, innovations
inline constexpr std::size_t kMaxShareoutWorkers = 100'000;              // workers in one unit and period
// An approval records a unit's figures in one event (docs/RETURNS.md, "Approval"): at most this
// many workers and products, and the whole event within kMaxEventBytes.
inline constexpr std::size_t kMaxApprovalWorkers = 300;
inline constexpr std::size_t kMaxApprovalProducts = 64;

// Head office's rule set: reference data, versioned; a period uses the version in force for it.
struct RuleSet {
  std::int64_t version = 1;                  // >= 1
  std::int64_t pool_share_permille = 0;      // 0..1000: the part of the surplus shared out
  std::int64_t special_weight_permille = 0;  // 0..10000: points per special-environment minute, x1000
  std::int64_t skill_points = 0;             // 0..10^6: points per skill upgrade
  std::int64_t innovation_points = 0;        // 0..10^6: points per innovation
};

// invalid_argument naming the field out of range ("rule set 3: pool_share_permille 1200 is ...").
Status validate_rule_set(const RuleSet& rules);

// A product's figures for the unit and period, in the product's base unit.
struct ProductOutput {
  std::string product;     // id (kinds.h, check_id), unique among the products
  std::int64_t quota = 0;  // 0..10^12
  std::int64_t actual = 0;  // 0..10^12
};

// A worker's figures in the unit and period.
struct WorkerInput {
  std::string worker;                       // id, unique among the workers
  std::int64_t minutes = 0;                 // 0..10^7, all minutes worked in the unit
  std::int64_t special_minutes = 0;         // 0..minutes: those of them in a special environment
  std::int64_t skill_upgrades = 0;          // 0..10^4
  std::int64_t innovations = 0;             // 0..10^4
  std::int64_t achievement_permille = 1000;  // 0..10000, set by head office (1000 when unset)
};

// invalid_argument naming the product or worker (by position and id) and the field.
Status validate_shareout_input(const std::vector<ProductOutput>& products,
                               const std::vector<WorkerInput>& workers);

// A worker's points in thousandths, term by term; milli_points is their sum.
struct WorkerPoints {
  std::string worker;
  std::int64_t achievement_permille = 1000;
  std::int64_t minutes_milli = 0;     // minutes * achievement_permille
  std::int64_t special_milli = 0;     // special_minutes * special_weight_permille
  std::int64_t skill_milli = 0;       // 1000 * skill_upgrades * skill_points
  std::int64_t innovation_milli = 0;  // 1000 * innovations * innovation_points
  std::int64_t milli_points = 0;
};

// One worker's share of one product's pool. The exact share is floor + remainder / denominator
// (denominator = P, the unit's total milli-points; not reduced). rank orders the workers by
// remainder, largest first, ties to the lower worker id (1 = first); the first leftover_units of
// them get one unit more. When the pool is not distributed (P = 0) every field but worker and
// milli_points is 0 and leftover is false.
struct ShareLine {
  std::string worker;
  std::int64_t milli_points = 0;
  std::int64_t floor = 0;
  std::int64_t remainder = 0;    // pool * milli_points mod P, 0 <= remainder < P
  std::int64_t denominator = 0;  // P
  std::int64_t rank = 0;
  bool leftover = false;
  std::int64_t share = 0;  // floor, plus 1 when leftover: goods in the product's base unit
};

struct ProductShareout {
  std::string product;
  std::int64_t quota = 0;
  std::int64_t actual = 0;
  std::int64_t surplus = 0;  // max(0, actual - quota)
  std::int64_t pool = 0;     // floor(surplus * pool_share_permille / 1000)
  std::int64_t total_milli_points = 0;  // P
  bool distributed = false;  // false when P = 0: the pool stays with the unit, undivided
  std::int64_t leftover_units = 0;  // pool - sum of floors
  std::vector<ShareLine> lines;  // one per worker, sorted by worker id
};

struct Shareout {
  std::int64_t rule_version = 0;
  std::vector<WorkerPoints> points;         // sorted by worker id
  std::vector<ProductShareout> products;    // sorted by product id
};

// The points of one worker under a rule set; both must be valid (checked by share_out).
WorkerPoints worker_points(const RuleSet& rules, const WorkerInput& worker);

// Shares every product's pool among the workers. invalid_argument on any bad input.
Result<Shareout> share_out(const RuleSet& rules, const std::vector<ProductOutput>& products,
                           const std::vector<WorkerInput>& workers);

// 2880000 -> "2880.000": milli-points as points with three decimals.
std::string format_milli_points(std::int64_t milli_points);

// A line's exact share with `decimals` digits (0..6), rounded half up:
// 32 + 5440000/6580000 -> "32.83".
// "-" for a line of an undistributed pool.
std::string format_exact_share(const ShareLine& line, int decimals = 2);

}  // namespace shiftbook
