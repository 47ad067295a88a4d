// Head-office kinds and the shape of their bodies (protocol.h, docs/PROTOCOL.md "Head-office
// events"). Checks one body on its own: fields, types, ranges. Whether what it names exists (a
// unit's site, a quota's product) is for the server that holds the reference data. Messages are
// written for a head-office clerk: they name the item ("worker 'W3'"), the field and the rule,
// and never repeat a PIN hash.
#include <algorithm>
#include <initializer_list>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"
#include "shiftbook/shareout.h"

namespace shiftbook {
namespace {

constexpr std::size_t kMaxNameBytes = 64;
constexpr std::size_t kMaxUnitNameBytes = 16;
constexpr std::size_t kMaxTzBytes = 64;

struct Shape {
  std::string_view kind;
  const char* noun;  // what a clerk calls it
  std::vector<std::string_view> fields;
};

const Shape kShapes[] = {
    {"ref_site", "site", {"id", "name", "tz"}},
    {"ref_unit", "production unit", {"id", "site", "name"}},
    {"ref_period", "period", {"id", "start", "end"}},
    {"ref_product", "product", {"id", "name", "unit", "decimals"}},
    {"ref_worker", "worker", {"id", "site", "name", "pin_hash", "active"}},
    {"ref_leader", "shift leader", {"id", "site", "name", "pin_hash", "active"}},
    {"ref_quota", "quota", {"unit", "period", "product", "quantity", "version"}},
    {"device_revoke", "device revocation", {"device", "reason"}},
    {"resolution", "resolution", {"fork", "winner", "losers", "reason"}},
    {"anomaly_note", "anomaly decision", {"anomaly", "reason"}},
    {"ref_rules", "rule set",
     {"version", "from", "pool_share_permille", "special_weight_permille", "skill_points", "innovation_points"}},
    {"ref_achievement", "achievement figure", {"worker", "period", "permille"}},
    {"period_approval", "approval", {"unit", "period", "rule_version", "products", "workers"}},
    {"period_reopen", "reopening", {"unit", "period", "reason"}},
    {"signal_note", "integrity signal decision", {"signal", "reason"}},
};
constexpr std::string_view kReserved[] = {"approval", "period_lock"};
constexpr std::size_t kMaxLosers = 64;

// One item of an approval's `products` or `workers` list: its own fields, each an integer in range
// but for the id field that names it.
struct ListField {
  const char* name;
  std::int64_t lo, hi;
};
const ListField kProductFields[] = {
    {"actual", 0, kMaxShareoutQuantity}, {"quota", 0, kMaxShareoutQuantity}, {"quota_version", 0, INT64_MAX}};
const ListField kWorkerFields[] = {{"achievement_permille", 0, kMaxWeightPermille},
                                   {"innovations", 0, kMaxBonusCount},
                                   {"minutes", 0, kMaxWorkerMinutes},
                                   {"skill_upgrades", 0, kMaxBonusCount},
                                   {"special_minutes", 0, kMaxWorkerMinutes}};

// Reads one body's fields; every error names the item and the field.
class Item {
 public:
  Item(const Json& body, const Shape& shape) : body_(body), shape_(shape), name_(shape.noun) {
    // Name the item by its id (a quota by what it is for) when that is presentable, so a clerk
    // can find it.
    if (shape.kind == "ref_quota") {
      if (presentable("unit") && presentable("period") && presentable("product")) {
        name_ += " for unit '" + body.at("unit").get<std::string>() + "', period '" +
                 body.at("period").get<std::string>() + "' and product '" + body.at("product").get<std::string>() +
                 "'";
      }
    } else if (shape.kind == "ref_rules" && body.is_object() && body.contains("version") &&
               body.at("version").is_number_integer()) {
      name_ += " version " + std::to_string(body.at("version").get<std::int64_t>());
    } else if (shape.kind == "ref_achievement" && presentable("worker") && presentable("period")) {
      name_ += " of worker '" + body.at("worker").get<std::string>() + "' in period '" +
               body.at("period").get<std::string>() + "'";
    } else if ((shape.kind == "period_approval" || shape.kind == "period_reopen") && presentable("unit") &&
               presentable("period")) {
      name_ += " of unit '" + body.at("unit").get<std::string>() + "', period '" + body.at("period").get<std::string>() +
               "'";
    } else if (presentable("id")) {
      name_ += " '" + body.at("id").get<std::string>() + "'";
    }
  }

  Status shape() const {
    std::string list;
    for (std::string_view f : shape_.fields) list += (list.empty() ? "" : ", ") + std::string(f);
    for (auto it = body_.begin(); it != body_.end(); ++it) {
      bool known = false;
      for (std::string_view f : shape_.fields) known = known || it.key() == f;
      if (!known) {
        return invalid_argument(name_ + ": unknown field '" + it.key() + "'; a " + shape_.noun + " has " + list);
      }
    }
    for (std::string_view f : shape_.fields) {
      if (!body_.contains(std::string(f))) {
        return invalid_argument(name_ + ": field '" + std::string(f) + "' is missing; a " + shape_.noun + " has " +
                                list);
      }
    }
    return Status::ok();
  }

  Result<std::string> text(const char* f) const {
    const Json& v = body_.at(f);
    if (!v.is_string()) return invalid_argument(at(f) + " must be text");
    return v.get<std::string>();
  }
  Status id(const char* f) const {
    SB_ASSIGN_OR_RETURN(std::string v, text(f));
    return check_id(at(f), v);
  }
  Status name(const char* f, std::size_t max = kMaxNameBytes) const {
    SB_ASSIGN_OR_RETURN(std::string v, text(f));
    return check_text(at(f), v, max);
  }
  Result<std::int64_t> date(const char* f) const {
    SB_ASSIGN_OR_RETURN(std::string v, text(f));
    auto day = parse_date(v);
    if (!day.is_ok()) return day.status().with_context(at(f) + ": ");
    return *day;
  }
  Result<std::int64_t> integer(const char* f, std::int64_t lo, std::int64_t hi) const {
    const Json& v = body_.at(f);
    bool fits = v.is_number_integer() &&
                (!v.is_number_unsigned() || v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi)) &&
                v.get<std::int64_t>() >= lo && v.get<std::int64_t>() <= hi;
    if (!fits) {
      std::string range = hi == INT64_MAX ? std::to_string(lo) + " or more"
                                          : "from " + std::to_string(lo) + " to " + std::to_string(hi);
      return invalid_argument(at(f) + " must be a whole number " + range);
    }
    return v.get<std::int64_t>();
  }
  Result<Hash> ref(const char* f) const {
    SB_ASSIGN_OR_RETURN(std::string v, text(f));
    auto h = parse_hash_ref(v);
    if (!h.is_ok()) return invalid_argument(at(f) + " must name an event by its hash, 64 lower-case hex digits");
    return *h;
  }
  Status boolean(const char* f) const {
    if (!body_.at(f).is_boolean()) return invalid_argument(at(f) + " must be true or false");
    return Status::ok();
  }
  Status pin_hash(const char* f) const {
    SB_ASSIGN_OR_RETURN(std::string v, text(f));
    if (!is_pin_hash(v)) {
      return invalid_argument(at(f) + " is not an Argon2id PIN hash a terminal can check (make one with "
                                      "'shiftbook ref hash-pin')");
    }
    return Status::ok();
  }
  Status tz(const char* f) const {
    SB_ASSIGN_OR_RETURN(std::string v, text(f));
    if (!is_tz_name(v)) {
      return invalid_argument(at(f) + " is not a time zone name (give a tz database name such as "
                                      "'Europe/Berlin', or 'UTC')");
    }
    return Status::ok();
  }

  std::string at(const char* f) const { return name_ + ": field '" + f + "'"; }
  const std::string& name() const { return name_; }

 private:
  // "UTC", or parts of letters, digits, '_', '-' and '+' joined by single '/'. Syntax only: a
  // terminal looks the name up in its own tz database.
  bool presentable(const char* f) const {
    auto v = body_.find(f);
    return v != body_.end() && v->is_string() && check_id(f, v->get<std::string>()).is_ok();
  }

  static bool is_tz_name(const std::string& tz) {
    if (tz.empty() || tz.size() > kMaxTzBytes) return false;
    bool part_start = true;
    for (char c : tz) {
      bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                   c == '-' || c == '+';
      if (c == '/' && !part_start) {
        part_start = true;
      } else if (plain) {
        part_start = false;
      } else {
        return false;
      }
    }
    return !part_start;
  }

  const Json& body_;
  const Shape& shape_;
  std::string name_;
};

// A resolution names the fork, the child that wins it and the children that lose (docs/MERGE.md).
// Whether they are versions of one entry is the merge's to see, not the body's.
Status validate_resolution(const Item& item, const Json& body) {
  SB_ASSIGN_OR_RETURN(Hash fork, item.ref("fork"));
  SB_ASSIGN_OR_RETURN(Hash winner, item.ref("winner"));
  if (winner == fork) {
    return invalid_argument(item.at("winner") + " names the fork itself; it must name one of its children");
  }
  const Json& losers = body.at("losers");
  if (!losers.is_array() || losers.size() > kMaxLosers) {
    return invalid_argument(item.at("losers") + " must be a list of at most " + std::to_string(kMaxLosers) +
                            " event hashes");
  }
  std::vector<Hash> seen;
  for (const Json& l : losers) {
    const std::string text = l.is_string() ? l.get<std::string>() : std::string();
    auto h = parse_hash_ref(text);
    if (!h.is_ok()) {
      return invalid_argument(item.at("losers") + " must hold event hashes, 64 lower-case hex digits each");
    }
    if (*h == winner) return invalid_argument(item.at("losers") + " names the winner " + to_hex(winner) + " too");
    if (*h == fork) return invalid_argument(item.at("losers") + " names the fork itself; it holds children of it");
    if (std::find(seen.begin(), seen.end(), *h) != seen.end()) {
      return invalid_argument(item.at("losers") + " names " + to_hex(*h) + " twice");
    }
    seen.push_back(*h);
  }
  return item.name("reason", kMaxTextBytes);
}

// An anomaly decision names the anomaly by its identifier (docs/ANOMALIES.md, "Identifiers"):
// its kind, a colon and 32 lower-case hex digits; a signal decision names a signal the same way
// (docs/SIGNALS.md). `field` holds the identifier, `kinds` are the kinds it may name.
Status validate_note(const Item& item, const char* field, std::initializer_list<std::string_view> kinds,
                     const char* what) {
  SB_ASSIGN_OR_RETURN(std::string id, item.text(field));
  const std::size_t colon = id.find(':');
  const std::string_view kind = std::string_view(id).substr(0, colon == std::string::npos ? 0 : colon);
  const std::string_view digits = colon == std::string::npos ? std::string_view() : std::string_view(id).substr(colon + 1);
  const bool known = std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
  const bool hex = digits.size() == 32 && std::all_of(digits.begin(), digits.end(), [](char ch) {
                     return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
                   });
  if (!known || !hex) {
    std::string names;
    for (std::string_view k : kinds) names += (names.empty() ? "" : ", ") + std::string(k);
    return invalid_argument(item.at(field) + " must be " + what + "'s id: its kind (" + names +
                            "), a colon and 32 lower-case hex digits");
  }
  return item.name("reason", kMaxTextBytes);
}

// A rule set: shareout.h's bounds, and the date it is in force from.
Status validate_rules(const Item& item) {
  SB_RETURN_IF_ERROR(item.integer("version", 1, INT64_MAX).status());
  SB_RETURN_IF_ERROR(item.date("from").status());
  SB_RETURN_IF_ERROR(item.integer("pool_share_permille", 0, kMaxPoolSharePermille).status());
  SB_RETURN_IF_ERROR(item.integer("special_weight_permille", 0, kMaxWeightPermille).status());
  SB_RETURN_IF_ERROR(item.integer("skill_points", 0, kMaxBonusPoints).status());
  return item.integer("innovation_points", 0, kMaxBonusPoints).status();
}

// An approval's list: at most `max` maps, each of `key` (an id, ascending and unique) and `fields`.
Status validate_figure_list(const Item& item, const Json& list, const char* what, const char* key,
                            std::span<const ListField> fields, std::size_t max) {
  if (!list.is_array() || list.size() > max) {
    return invalid_argument(item.at(what) + " must be a list of at most " + std::to_string(max) + " items");
  }
  std::string previous;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Json& it = list[i];
    const std::string place = item.at(what) + ", item " + std::to_string(i);
    if (!it.is_object() || it.size() != fields.size() + 1 || !it.contains(key)) {
      std::string names = key;
      for (const ListField& f : fields) names += std::string(", ") + f.name;
      return invalid_argument(place + ": must be a map of exactly " + names);
    }
    const Json& id = it.at(key);
    if (!id.is_string() || !check_id(key, id.get<std::string>()).is_ok()) {
      return invalid_argument(place + ": '" + key + "' must be an id");
    }
    if (i > 0 && id.get<std::string>() <= previous) {
      return invalid_argument(place + ": the items must be in ascending order of '" + key + "', each once");
    }
    previous = id.get<std::string>();
    for (const ListField& f : fields) {
      auto v = it.find(f.name);
      const bool fits = v != it.end() && v->is_number_integer() &&
                        (!v->is_number_unsigned() || v->get<std::uint64_t>() <= static_cast<std::uint64_t>(f.hi)) &&
                        v->get<std::int64_t>() >= f.lo && v->get<std::int64_t>() <= f.hi;
      if (!fits) {
        return invalid_argument(place + " ('" + previous + "'): '" + f.name + "' must be a whole number from " +
                                std::to_string(f.lo) + " to " + std::to_string(f.hi));
      }
    }
  }
  return Status::ok();
}

// An approval records the figures approved (docs/RETURNS.md, "Approval").
Status validate_approval(const Item& item, const Json& body) {
  SB_RETURN_IF_ERROR(item.id("unit"));
  SB_RETURN_IF_ERROR(item.id("period"));
  SB_RETURN_IF_ERROR(item.integer("rule_version", 0, INT64_MAX).status());
  SB_RETURN_IF_ERROR(
      validate_figure_list(item, body.at("products"), "products", "product", kProductFields, kMaxApprovalProducts));
  SB_RETURN_IF_ERROR(
      validate_figure_list(item, body.at("workers"), "workers", "worker", kWorkerFields, kMaxApprovalWorkers));
  for (const Json& p : body.at("products")) {
    if (p.at("quota_version").get<std::int64_t>() == 0 && p.at("quota").get<std::int64_t>() != 0) {
      return invalid_argument(item.at("products") + ": product '" + p.at("product").get<std::string>() +
                              "' has no quota in force (quota_version 0) but a quota of " +
                              std::to_string(p.at("quota").get<std::int64_t>()));
    }
  }
  for (const Json& w : body.at("workers")) {
    if (w.at("special_minutes").get<std::int64_t>() > w.at("minutes").get<std::int64_t>()) {
      return invalid_argument(item.at("workers") + ": worker '" + w.at("worker").get<std::string>() +
                              "' has more special minutes than minutes");
    }
  }
  return Status::ok();
}

Status validate(const Shape& shape, const Json& body) {
  if (!body.is_object()) return invalid_argument(std::string("a ") + shape.noun + " must be a map of fields");
  Item item(body, shape);
  SB_RETURN_IF_ERROR(item.shape());
  const std::string_view k = shape.kind;
  if (k == "ref_quota") {
    SB_RETURN_IF_ERROR(item.id("unit"));
    SB_RETURN_IF_ERROR(item.id("period"));
    SB_RETURN_IF_ERROR(item.id("product"));
    SB_RETURN_IF_ERROR(item.integer("quantity", 0, kMaxQuantity).status());
    return item.integer("version", 1, INT64_MAX).status();
  }
  if (k == "device_revoke") {
    SB_ASSIGN_OR_RETURN(std::string device, item.text("device"));
    if (!parse_hash_ref(device).is_ok()) {
      return invalid_argument(item.at("device") + " must be the device's key, 64 lower-case hex digits");
    }
    return item.name("reason", kMaxTextBytes);
  }
  if (k == "resolution") return validate_resolution(item, body);
  if (k == "anomaly_note") {
    return validate_note(item, "anomaly", {"overlap", "over_24h", "stale_quota", "clock_skew"}, "an anomaly");
  }
  if (k == "signal_note") {
    return validate_note(item, "signal", {"exact_quota", "over_capacity", "after_approval", "late_burst", "equivocation"},
                         "an integrity signal");
  }
  if (k == "ref_rules") return validate_rules(item);
  if (k == "ref_achievement") {
    SB_RETURN_IF_ERROR(item.id("worker"));
    SB_RETURN_IF_ERROR(item.id("period"));
    return item.integer("permille", 0, kMaxWeightPermille).status();
  }
  if (k == "period_approval") return validate_approval(item, body);
  if (k == "period_reopen") {
    SB_RETURN_IF_ERROR(item.id("unit"));
    SB_RETURN_IF_ERROR(item.id("period"));
    return item.name("reason", kMaxTextBytes);
  }
  SB_RETURN_IF_ERROR(item.id("id"));
  if (k == "ref_period") {
    SB_ASSIGN_OR_RETURN(std::int64_t start, item.date("start"));
    SB_ASSIGN_OR_RETURN(std::int64_t end, item.date("end"));
    if (end < start) {
      return invalid_argument(item.name() + ": it ends (" + format_date(end) + ") before it starts (" +
                              format_date(start) + ")");
    }
    return Status::ok();
  }
  SB_RETURN_IF_ERROR(item.name("name"));
  if (k == "ref_site") return item.tz("tz");
  if (k == "ref_unit") return item.id("site");
  if (k == "ref_product") {
    SB_RETURN_IF_ERROR(item.name("unit", kMaxUnitNameBytes));
    std::int64_t decimals = body.at("decimals").is_number_integer() ? body.at("decimals").get<std::int64_t>() : -1;
    if (!body.at("decimals").is_number_integer() || (decimals != 0 && decimals != 3)) {
      return invalid_argument(item.at("decimals") + " must be 0 (counted in whole units) or 3 (kept to thousandths)");
    }
    return Status::ok();
  }
  // ref_worker and ref_leader
  SB_RETURN_IF_ERROR(item.id("site"));
  SB_RETURN_IF_ERROR(item.pin_hash("pin_hash"));
  return item.boolean("active");
}

}  // namespace

bool is_head_office_kind(std::string_view kind) {
  for (const Shape& s : kShapes) {
    if (s.kind == kind) return true;
  }
  for (std::string_view r : kReserved) {
    if (r == kind) return true;
  }
  return false;
}

Status validate_head_office_body(std::string_view kind, const Json& body) {
  for (const Shape& s : kShapes) {
    if (s.kind == kind) return validate(s, body);
  }
  for (std::string_view r : kReserved) {
    if (r == kind) {
      return invalid_argument("'" + std::string(kind) + "' is reserved for head office and not defined yet: no " +
                              "body of it is accepted");
    }
  }
  return invalid_argument("'" + std::string(kind) + "' is not a head-office kind");
}

}  // namespace shiftbook
