// Summaries of a shift and of a unit's period (docs/READING.md): hours, special-environment and
// confirmed minutes and bonuses per worker, output per product against the quota. Only the current
// version of each entry counts, and void entries not at all. Integer arithmetic throughout.
#include <cstdint>
#include <limits>
#include <map>
#include <optional>

#include "shiftbook/kinds.h"
#include "store_impl.h"
#include "views.h"

namespace shiftbook::client {
namespace {

// Which entries a summary counts: those of one shift, or of a unit's shifts dated in [from, to].
struct Scope {
  std::optional<Hash> shift;
  std::string unit;
  std::int64_t from = 0;
  std::int64_t to = 0;

  // A condition over entries e joined with shifts s; its parameters are bound by bind().
  std::string condition() const { return shift ? "e.shift = ?" : "s.unit = ? AND e.day BETWEEN ? AND ?"; }
  void bind(Stmt& st) const {
    if (shift) {
      st.bind_blob(1, *shift);
    } else {
      st.bind(1, unit).bind(2, from).bind(3, to);
    }
  }
};

// floor(1000 * actual / quota) for 0 <= actual and 0 < quota, without overflowing: the three
// decimal digits of the remainder come from long division that keeps every value below quota.
std::int64_t permille(std::int64_t actual, std::int64_t quota) {
  std::int64_t whole = actual / quota;
  std::int64_t rest = actual % quota;
  if (whole > std::numeric_limits<std::int64_t>::max() / 1000 - 1) return std::numeric_limits<std::int64_t>::max();
  for (int digit = 0; digit < 3; ++digit) {
    std::int64_t d = 0, acc = 0;  // acc + 10 * quota * d == 10 * rest, step by step
    for (int i = 0; i < 10; ++i) {
      if (acc >= quota - rest) {
        acc -= quota - rest;
        ++d;
      } else {
        acc += rest;
      }
    }
    whole = whole * 10 + d;
    rest = acc;
  }
  return whole;
}

Result<Json> worker_rows(Db& db, const Scope& scope) {
  const std::string sql =
      std::string("SELECT e.worker, coalesce(w.name, ''), "
                  "sum(CASE WHEN e.kind = 'hours' THEN e.end_abs - e.start_abs ELSE 0 END), "
                  "sum(CASE WHEN e.kind = 'hours' AND e.special = 1 THEN e.end_abs - e.start_abs ELSE 0 END), "
                  "sum(CASE WHEN cf.target IS NOT NULL THEN e.end_abs - e.start_abs ELSE 0 END), "
                  "sum(e.kind = 'bonus' AND e.bonus_type = 'special_environment'), "
                  "sum(e.kind = 'bonus' AND e.bonus_type = 'skill_upgrade'), "
                  "sum(e.kind = 'bonus' AND e.bonus_type = 'innovation') "
                  "FROM entries e JOIN shifts s ON s.id = e.shift LEFT JOIN workers w ON w.id = e.worker") +
      kConfirmedJoin + "WHERE e.void = 0 AND e.kind IN ('hours', 'bonus') AND " + scope.condition() +
      " GROUP BY e.worker ORDER BY e.worker";
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(sql));
  scope.bind(st);
  Json rows = Json::array();
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    rows.push_back({{"worker", st.text(0)},
                    {"name", st.text(1)},
                    {"minutes", st.int64(2)},
                    {"special_minutes", st.int64(3)},
                    {"confirmed_minutes", st.int64(4)},
                    {"bonuses",
                     {{"special_environment", st.int64(5)},
                      {"skill_upgrade", st.int64(6)},
                      {"innovation", st.int64(7)}}}});
  }
  return rows;
}

struct Quota {
  std::int64_t quantity = 0;
  std::int64_t version = 0;
  std::string period;
};

struct ProductTotal {
  std::int64_t actual = 0;
  std::optional<Quota> quota;
};

// Output per product against the unit's quotas: those of `period` when it is given, else those of
// the period containing `day` (the latest-starting one, should periods overlap). A product with a
// quota and no output is listed with quantity 0: plan against actual.
Result<Json> output_rows(Db& db, const Scope& scope, const std::optional<std::string>& period, std::int64_t day) {
  std::map<std::string, ProductTotal> totals;
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT e.product, sum(e.quantity) FROM entries e "
                                            "JOIN shifts s ON s.id = e.shift "
                                            "WHERE e.void = 0 AND e.kind = 'output' AND " +
                                            scope.condition() + " GROUP BY e.product"));
    scope.bind(st);
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      totals[st.text(0)].actual = st.int64(1);
    }
  }
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(period ? "SELECT q.product, q.quantity, q.version, q.period FROM quotas q "
                                                     "WHERE q.unit = ? AND q.period = ?"
                                                   : "SELECT q.product, q.quantity, q.version, q.period FROM quotas q "
                                                     "JOIN periods p ON p.id = q.period WHERE q.unit = ? "
                                                     "AND p.start_day <= ? AND p.end_day >= ? "
                                                     "ORDER BY p.start_day DESC, p.id"));
    st.bind(1, scope.unit);
    if (period) st.bind(2, *period); else st.bind(2, day).bind(3, day);
    for (;;) {
      SB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      auto& total = totals[st.text(0)];
      if (!total.quota) total.quota = Quota{st.int64(1), st.int64(2), st.text(3)};
    }
  }
  SB_ASSIGN_OR_RETURN(Stmt product, db.prepare("SELECT name, unit_name, decimals FROM products WHERE id = ?"));
  Json rows = Json::array();
  for (const auto& [id, total] : totals) {
    product.reset();
    product.bind(1, id);
    SB_ASSIGN_OR_RETURN(bool known, product.step());
    // A product missing from the reference data still shows its numbers, in whole units.
    const int decimals = known ? static_cast<int>(product.int64(2)) : 0;
    Json row{{"product", id},
             {"name", known ? product.text(0) : std::string()},
             {"unit_name", known ? product.text(1) : std::string()},
             {"quantity", total.actual},
             {"quantity_text", format_quantity(total.actual, decimals)}};
    if (total.quota) {
      const Quota& q = *total.quota;
      row["quota"] = {{"quantity", q.quantity},
                      {"quantity_text", format_quantity(q.quantity, decimals)},
                      {"version", q.version},
                      {"period", q.period}};
      if (q.quantity > 0) row["fulfilment_permille"] = permille(total.actual, q.quantity);
      const std::int64_t surplus = total.actual > q.quantity ? total.actual - q.quantity : 0;
      row["surplus"] = surplus;
      row["surplus_text"] = format_quantity(surplus, decimals);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// The one shift open on this terminal, for a summary that names none.
Result<Hash> only_open_shift(Db& db, const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT id FROM shifts WHERE device = ? AND closed_seq IS NULL "
                                          "ORDER BY seq LIMIT 2"));
  st.bind_blob(1, device);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) {
    return failed_precondition("no shift is open on this terminal; name the shift to summarise with --shift "
                               "('shiftbook shift list' shows them)");
  }
  Hash id = st.blob32(0);
  SB_ASSIGN_OR_RETURN(bool second, st.step());
  if (second) return failed_precondition("several shifts are open; name the one to summarise with --shift");
  return id;
}

}  // namespace

Result<Json> Store::summary_shift(const std::string& shift_ref) const {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(db));
  Hash id{};
  if (shift_ref.empty()) {
    SB_ASSIGN_OR_RETURN(id, only_open_shift(db, impl_->key.public_key()));
  } else {
    SB_ASSIGN_OR_RETURN(id, impl_->resolve_event(shift_ref));
  }
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(std::string("SELECT s.unit, s.day, ") + kShiftColumns +
                                          " FROM shifts s WHERE s.id = ?"));
  st.bind_blob(1, id);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("'" + shift_ref + "' is not a shift ('shiftbook shift list' shows them)");
  Scope scope{id, st.text(0), st.int64(1), st.int64(1)};
  EventRefs refs(db, impl_->key.public_key());
  SB_ASSIGN_OR_RETURN(Json shift, shift_json(st, 2, refs));
  Json out{{"shift", std::move(shift)},
           {"unit", scope.unit},
           {"from", format_date(scope.from)},
           {"to", format_date(scope.to)},
           {"shifts", 1}};
  SB_ASSIGN_OR_RETURN(out["workers"], worker_rows(db, scope));
  SB_ASSIGN_OR_RETURN(out["output"], output_rows(db, scope, std::nullopt, scope.from));
  return out;
}

Result<Json> Store::summary_period(const std::string& unit, const std::string& period) const {
  Db& db = impl_->db;
  if (unit.empty() || period.empty()) {
    return invalid_argument("a period summary needs a unit (--unit) and a period (--period)");
  }
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(db));
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT 1 FROM units WHERE id = ?"));
    st.bind(1, unit);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) {
      return not_found("unit '" + unit + "' is not in the reference data ('shiftbook ref show' lists the units)");
    }
  }
  Scope scope{std::nullopt, unit, 0, 0};
  {
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT start_day, end_day FROM periods WHERE id = ?"));
    st.bind(1, period);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) {
      return not_found("period '" + period + "' is not in the reference data ('shiftbook ref show' lists the periods)");
    }
    scope.from = st.int64(0);
    scope.to = st.int64(1);
  }
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT count(*) FROM shifts s WHERE s.unit = ? AND s.day BETWEEN ? AND ?"));
  st.bind(1, unit).bind(2, scope.from).bind(3, scope.to);
  SB_ASSIGN_OR_RETURN(bool counted, st.step());
  Json out{{"unit", unit},
           {"period", period},
           {"from", format_date(scope.from)},
           {"to", format_date(scope.to)},
           {"shifts", counted ? st.int64(0) : 0}};
  SB_ASSIGN_OR_RETURN(out["workers"], worker_rows(db, scope));
  SB_ASSIGN_OR_RETURN(out["output"], output_rows(db, scope, period, scope.from));
  return out;
}

}  // namespace shiftbook::client
