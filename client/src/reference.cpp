// Reference data from head office (docs/REFERENCE.md): the whole document is checked first, with
// every error naming the place in the file ("workers[3].site: unknown site 'S9'"), and only then
// are the six reference tables replaced, in one transaction, by a logged-in leader (or by anyone
// on a terminal that has no leader yet). Nothing else in the store changes. An enrolled terminal
// takes its reference data from head office by sync instead (reference_events.cpp).
#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "shiftbook/kinds.h"
#include "store_impl.h"

namespace shiftbook::client {
namespace {

constexpr const char* kReferenceFormat = "shiftbook-reference/1";
constexpr std::size_t kMaxNameBytes = 64;
constexpr std::size_t kMaxUnitNameBytes = 16;
constexpr const char* kZoneDir = "/usr/share/zoneinfo/";

struct Site { std::string id, name, tz; };
struct Unit { std::string id, site, name; };
struct Period { std::string id; std::int64_t start = 0, end = 0; };
struct Product { std::string id, name, unit; std::int64_t decimals = 0; };
struct Worker { std::string id, site, name, pin_hash; };
struct Quota { std::string unit, period, product; std::int64_t quantity = 0, version = 0; };

struct Reference {
  std::vector<Site> sites;
  std::vector<Unit> units;
  std::vector<Period> periods;
  std::vector<Product> products;
  std::vector<Worker> workers;
  std::vector<Quota> quotas;
};

// One object of the document at `path` ("workers[3]"), read field by field. Every message starts
// with the path of the field it is about.
class Item {
 public:
  Item(const Json& j, std::string path) : j_(j), path_(std::move(path)) {}

  // The object has no fields but these, and (with `all`) every one of them.
  Status shape(std::initializer_list<const char*> fields, const char* what, bool all = true) const {
    if (!j_.is_object()) return invalid_argument(path_ + ": must be an object with the fields of " + what);
    std::string names;
    for (const char* f : fields) names += std::string(names.empty() ? "" : ", ") + f;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      bool known = std::any_of(fields.begin(), fields.end(), [&](const char* f) { return it.key() == f; });
      if (!known) return invalid_argument(at(it.key()) + ": unknown field; " + what + " has " + names);
    }
    for (const char* f : fields) {
      if (all && !j_.contains(f)) return invalid_argument(at(f) + ": missing; " + what + " has " + names);
    }
    return Status::ok();
  }
  Result<std::string> text(const char* f) const {
    const Json& v = j_.at(f);
    if (!v.is_string()) return invalid_argument(at(f) + ": must be text");
    return v.get<std::string>();
  }
  Result<std::string> id(const char* f) const {
    SB_ASSIGN_OR_RETURN(std::string v, text(f));
    SB_RETURN_IF_ERROR(check_id("it", v).with_context(at(f) + ": "));
    return v;
  }
  Result<std::string> name(const char* f, std::size_t max = kMaxNameBytes) const {
    SB_ASSIGN_OR_RETURN(std::string v, text(f));
    SB_RETURN_IF_ERROR(check_text("it", v, max).with_context(at(f) + ": "));
    return v;
  }
  Result<std::int64_t> integer(const char* f, std::int64_t lo, std::int64_t hi) const {
    const Json& v = j_.at(f);
    bool fits = v.is_number_integer() &&
                (!v.is_number_unsigned() || v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi));
    if (!fits || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi) {
      std::string range = hi == std::numeric_limits<std::int64_t>::max()
                              ? std::to_string(lo) + " or more"
                              : "from " + std::to_string(lo) + " to " + std::to_string(hi);
      return invalid_argument(at(f) + ": must be a whole number " + range);
    }
    return v.get<std::int64_t>();
  }
  Result<std::int64_t> date(const char* f) const {
    if (!j_.at(f).is_string()) return invalid_argument(at(f) + ": must be a date as text, \"YYYY-MM-DD\"");
    std::string v = j_.at(f).get<std::string>();
    auto day = parse_date(v);
    if (!day.is_ok()) return day.status().with_context(at(f) + ": ");
    return *day;
  }
  std::string at(const std::string& f) const { return path_.empty() ? f : path_ + "." + f; }
  const std::string& path() const { return path_; }

 private:
  const Json& j_;
  std::string path_;
};

// True when `tz` names a zone the C library can load: "UTC", or a TZif file below the zoneinfo
// folder. Only plain relative names are looked up, so a name can never reach outside that folder.
bool names_time_zone(const std::string& tz) {
  if (tz == "UTC") return true;
  bool segment_start = true;
  for (char c : tz) {
    bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '-' || c == '+';
    if (c == '/' && !segment_start) {
      segment_start = true;
    } else if (plain) {
      segment_start = false;
    } else {
      return false;
    }
  }
  if (segment_start) return false;  // empty, or ends with '/'
  std::ifstream file(std::string(kZoneDir) + tz, std::ios::binary);
  char magic[4] = {};
  return file.read(magic, sizeof magic) && std::string_view(magic, 4) == "TZif";
}

// The list `name` of the document, or why it is not one.
Result<const Json*> list(const Json& doc, const char* name) {
  auto it = doc.find(name);
  if (it == doc.end()) return invalid_argument(std::string(name) + ": missing (give [] when there are none)");
  if (!it->is_array()) return invalid_argument(std::string(name) + ": must be a list");
  return &*it;
}

std::string path_of(const char* table, std::size_t i) { return std::string(table) + "[" + std::to_string(i) + "]"; }

// Records `id` as the id of the item at `path`; a repeated id is an error naming both items.
Status unique_id(std::map<std::string, std::string>& seen, const std::string& id, const std::string& path) {
  auto [it, fresh] = seen.emplace(id, path);
  if (!fresh) return invalid_argument(path + ".id: '" + id + "' is already the id of " + it->second);
  return Status::ok();
}

Status known(const std::map<std::string, std::string>& ids, const std::string& id, const std::string& at,
             const char* what) {
  if (!ids.count(id)) return invalid_argument(at + ": unknown " + what + " '" + id + "'");
  return Status::ok();
}

Status check_periods_apart(const std::vector<Period>& periods) {
  std::vector<std::size_t> order(periods.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::tie(periods[a].start, a) < std::tie(periods[b].start, b);
  });
  // Sweeping in start order, a period overlaps some earlier one exactly when it starts before the
  // latest end seen so far.
  std::size_t latest = order.empty() ? 0 : order[0];
  for (std::size_t k = 1; k < order.size(); ++k) {
    const std::size_t i = order[k];
    if (periods[i].start <= periods[latest].end) {
      std::size_t later = std::max(i, latest), earlier = std::min(i, latest);
      return invalid_argument(path_of("periods", later) + ": its dates overlap period '" + periods[earlier].id +
                              "' (" + path_of("periods", earlier) + ", " + format_date(periods[earlier].start) +
                              " to " + format_date(periods[earlier].end) + ")");
    }
    if (periods[i].end > periods[latest].end) latest = i;
  }
  return Status::ok();
}

Result<Reference> parse_reference(const Json& doc) {
  if (!doc.is_object()) return invalid_argument("the reference document must be a JSON object");
  // Missing lists are reported by list(), which says how to give an empty one.
  SB_RETURN_IF_ERROR(Item(doc, "").shape({"format", "sites", "units", "periods", "products", "workers", "quotas"},
                                         "a reference document", false));
  auto format = doc.find("format");
  if (format == doc.end() || !format->is_string() || format->get<std::string>() != kReferenceFormat) {
    return invalid_argument(std::string("format: must be \"") + kReferenceFormat + "\"");
  }
  Reference ref;
  std::map<std::string, std::string> sites, units, periods, products, workers;

  SB_ASSIGN_OR_RETURN(const Json* site_list, list(doc, "sites"));
  for (std::size_t i = 0; i < site_list->size(); ++i) {
    Item it((*site_list)[i], path_of("sites", i));
    SB_RETURN_IF_ERROR(it.shape({"id", "name", "tz"}, "a site"));
    Site s;
    SB_ASSIGN_OR_RETURN(s.id, it.id("id"));
    SB_RETURN_IF_ERROR(unique_id(sites, s.id, it.path()));
    SB_ASSIGN_OR_RETURN(s.name, it.name("name"));
    SB_ASSIGN_OR_RETURN(s.tz, it.name("tz"));
    if (!names_time_zone(s.tz)) {
      return invalid_argument(it.at("tz") + ": '" + s.tz + "' is not a time zone this terminal knows "
                              "(give a name like 'Europe/Berlin', or 'UTC')");
    }
    ref.sites.push_back(std::move(s));
  }

  SB_ASSIGN_OR_RETURN(const Json* unit_list, list(doc, "units"));
  for (std::size_t i = 0; i < unit_list->size(); ++i) {
    Item it((*unit_list)[i], path_of("units", i));
    SB_RETURN_IF_ERROR(it.shape({"id", "site", "name"}, "a production unit"));
    Unit u;
    SB_ASSIGN_OR_RETURN(u.id, it.id("id"));
    SB_RETURN_IF_ERROR(unique_id(units, u.id, it.path()));
    SB_ASSIGN_OR_RETURN(u.site, it.id("site"));
    SB_RETURN_IF_ERROR(known(sites, u.site, it.at("site"), "site"));
    SB_ASSIGN_OR_RETURN(u.name, it.name("name"));
    ref.units.push_back(std::move(u));
  }

  SB_ASSIGN_OR_RETURN(const Json* period_list, list(doc, "periods"));
  for (std::size_t i = 0; i < period_list->size(); ++i) {
    Item it((*period_list)[i], path_of("periods", i));
    SB_RETURN_IF_ERROR(it.shape({"id", "start", "end"}, "a period"));
    Period p;
    SB_ASSIGN_OR_RETURN(p.id, it.id("id"));
    SB_RETURN_IF_ERROR(unique_id(periods, p.id, it.path()));
    SB_ASSIGN_OR_RETURN(p.start, it.date("start"));
    SB_ASSIGN_OR_RETURN(p.end, it.date("end"));
    if (p.end < p.start) {
      return invalid_argument(it.at("end") + ": the period ends (" + format_date(p.end) + ") before it starts (" +
                              format_date(p.start) + ")");
    }
    ref.periods.push_back(std::move(p));
  }
  SB_RETURN_IF_ERROR(check_periods_apart(ref.periods));

  SB_ASSIGN_OR_RETURN(const Json* product_list, list(doc, "products"));
  for (std::size_t i = 0; i < product_list->size(); ++i) {
    Item it((*product_list)[i], path_of("products", i));
    SB_RETURN_IF_ERROR(it.shape({"id", "name", "unit", "decimals"}, "a product"));
    Product p;
    SB_ASSIGN_OR_RETURN(p.id, it.id("id"));
    SB_RETURN_IF_ERROR(unique_id(products, p.id, it.path()));
    SB_ASSIGN_OR_RETURN(p.name, it.name("name"));
    SB_ASSIGN_OR_RETURN(p.unit, it.name("unit", kMaxUnitNameBytes));
    auto decimals = it.integer("decimals", 0, 3);
    if (!decimals.is_ok() || (*decimals != 0 && *decimals != 3)) {
      return invalid_argument(it.at("decimals") + ": must be 0 (whole units) or 3 (thousandths)");
    }
    p.decimals = *decimals;
    ref.products.push_back(std::move(p));
  }

  SB_ASSIGN_OR_RETURN(const Json* worker_list, list(doc, "workers"));
  for (std::size_t i = 0; i < worker_list->size(); ++i) {
    Item it((*worker_list)[i], path_of("workers", i));
    SB_RETURN_IF_ERROR(it.shape({"id", "site", "name", "pin_hash"}, "a worker"));
    Worker w;
    SB_ASSIGN_OR_RETURN(w.id, it.id("id"));
    SB_RETURN_IF_ERROR(unique_id(workers, w.id, it.path()));
    SB_ASSIGN_OR_RETURN(w.site, it.id("site"));
    SB_RETURN_IF_ERROR(known(sites, w.site, it.at("site"), "site"));
    SB_ASSIGN_OR_RETURN(w.name, it.name("name"));
    SB_ASSIGN_OR_RETURN(w.pin_hash, it.text("pin_hash"));
    // The hash itself is never repeated in the message: it is as good as a secret.
    if (!is_pin_hash(w.pin_hash)) {
      return invalid_argument(it.at("pin_hash") + ": not an Argon2id PIN hash (\"$argon2id$...\") this terminal "
                              "can check");
    }
    ref.workers.push_back(std::move(w));
  }

  SB_ASSIGN_OR_RETURN(const Json* quota_list, list(doc, "quotas"));
  std::map<std::tuple<std::string, std::string, std::string>, std::string> quota_keys;
  for (std::size_t i = 0; i < quota_list->size(); ++i) {
    Item it((*quota_list)[i], path_of("quotas", i));
    SB_RETURN_IF_ERROR(it.shape({"unit", "period", "product", "quantity", "version"}, "a quota"));
    Quota q;
    SB_ASSIGN_OR_RETURN(q.unit, it.id("unit"));
    SB_RETURN_IF_ERROR(known(units, q.unit, it.at("unit"), "production unit"));
    SB_ASSIGN_OR_RETURN(q.period, it.id("period"));
    SB_RETURN_IF_ERROR(known(periods, q.period, it.at("period"), "period"));
    SB_ASSIGN_OR_RETURN(q.product, it.id("product"));
    SB_RETURN_IF_ERROR(known(products, q.product, it.at("product"), "product"));
    SB_ASSIGN_OR_RETURN(q.quantity, it.integer("quantity", 0, kMaxQuantity));
    SB_ASSIGN_OR_RETURN(q.version, it.integer("version", 1, std::numeric_limits<std::int64_t>::max()));
    auto [prior, fresh] = quota_keys.emplace(std::make_tuple(q.unit, q.period, q.product), it.path());
    if (!fresh) {
      return invalid_argument(it.path() + ": a second quota for unit '" + q.unit + "', period '" + q.period +
                              "' and product '" + q.product + "' (the first is " + prior->second + ")");
    }
    ref.quotas.push_back(std::move(q));
  }
  return ref;
}

Status write_reference(Db& db, const Reference& ref) {
  for (const char* table : {"quotas", "workers", "products", "periods", "units", "sites"}) {
    SB_RETURN_IF_ERROR(db.exec(std::string("DELETE FROM ") + table));
  }
  SB_ASSIGN_OR_RETURN(Stmt site, db.prepare("INSERT INTO sites(id, name, tz) VALUES(?, ?, ?)"));
  for (const Site& s : ref.sites) SB_RETURN_IF_ERROR(site.bind(1, s.id).bind(2, s.name).bind(3, s.tz).run());
  SB_ASSIGN_OR_RETURN(Stmt unit, db.prepare("INSERT INTO units(id, site, name) VALUES(?, ?, ?)"));
  for (const Unit& u : ref.units) SB_RETURN_IF_ERROR(unit.bind(1, u.id).bind(2, u.site).bind(3, u.name).run());
  SB_ASSIGN_OR_RETURN(Stmt period, db.prepare("INSERT INTO periods(id, start_day, end_day) VALUES(?, ?, ?)"));
  for (const Period& p : ref.periods) SB_RETURN_IF_ERROR(period.bind(1, p.id).bind(2, p.start).bind(3, p.end).run());
  SB_ASSIGN_OR_RETURN(Stmt product,
                      db.prepare("INSERT INTO products(id, name, unit_name, decimals) VALUES(?, ?, ?, ?)"));
  for (const Product& p : ref.products) {
    SB_RETURN_IF_ERROR(product.bind(1, p.id).bind(2, p.name).bind(3, p.unit).bind(4, p.decimals).run());
  }
  SB_ASSIGN_OR_RETURN(Stmt worker, db.prepare("INSERT INTO workers(id, site, name, pin_hash) VALUES(?, ?, ?, ?)"));
  for (const Worker& w : ref.workers) {
    SB_RETURN_IF_ERROR(worker.bind(1, w.id).bind(2, w.site).bind(3, w.name).bind(4, w.pin_hash).run());
  }
  SB_ASSIGN_OR_RETURN(Stmt quota, db.prepare("INSERT INTO quotas(unit, period, product, quantity, version) "
                                             "VALUES(?, ?, ?, ?, ?)"));
  for (const Quota& q : ref.quotas) {
    SB_RETURN_IF_ERROR(
        quota.bind(1, q.unit).bind(2, q.period).bind(3, q.product).bind(4, q.quantity).bind(5, q.version).run());
  }
  return Status::ok();
}

// Reads every row of `sql` into a list of objects, one field per column; `kinds` says per column
// whether it is text ('t'), an integer ('i') or a day number shown as a date ('d').
Result<Json> read_rows(Db& db, const char* sql, std::initializer_list<const char*> names, std::string_view kinds) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(sql));
  Json out = Json::array();
  for (;;) {
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    Json item = Json::object();
    int col = 0;
    for (const char* n : names) {
      char k = kinds[static_cast<std::size_t>(col)];
      if (k == 't') item[n] = st.text(col);
      else if (k == 'i') item[n] = st.int64(col);
      else item[n] = format_date(st.int64(col));
      ++col;
    }
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

Status Store::import_reference(const Json& doc) {
  SB_ASSIGN_OR_RETURN(Reference ref, parse_reference(doc));
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_RETURN_IF_ERROR(impl_->refuse_if_enrolled("import reference data"));
  // The roster carries the workers' PIN hashes: replacing it would let anyone at the terminal set
  // the PIN that confirms a worker's hours. Only a terminal without leaders, being set up, is open.
  SB_ASSIGN_OR_RETURN(std::int64_t leaders, db.query_int("SELECT count(*) FROM leaders"));
  if (leaders > 0) {
    auto session = impl_->require_session(true);
    if (!session.is_ok()) {
      if (session.status().code() != Code::kFailedPrecondition) return session.status();
      return failed_precondition("only a logged-in shift leader can import reference data (" +
                                 session.status().message() + ")");
    }
  }
  SB_RETURN_IF_ERROR(write_reference(db, ref));
  return tx.commit();
}

Result<Json> Store::reference() const {
  Db& db = impl_->db;
  SB_ASSIGN_OR_RETURN(ReadSnapshot snapshot, ReadSnapshot::begin(db));
  Json out{{"format", kReferenceFormat}};
  SB_ASSIGN_OR_RETURN(out["sites"],
                      read_rows(db, "SELECT id, name, tz FROM sites ORDER BY id", {"id", "name", "tz"}, "ttt"));
  SB_ASSIGN_OR_RETURN(out["units"],
                      read_rows(db, "SELECT id, site, name FROM units ORDER BY id", {"id", "site", "name"}, "ttt"));
  SB_ASSIGN_OR_RETURN(out["periods"], read_rows(db, "SELECT id, start_day, end_day FROM periods ORDER BY id",
                                                {"id", "start", "end"}, "tdd"));
  SB_ASSIGN_OR_RETURN(out["products"],
                      read_rows(db, "SELECT id, name, unit_name, decimals FROM products ORDER BY id",
                                {"id", "name", "unit", "decimals"}, "ttti"));
  // Never the PIN hashes: what this returns is printed.
  SB_ASSIGN_OR_RETURN(out["workers"],
                      read_rows(db, "SELECT id, site, name FROM workers ORDER BY id", {"id", "site", "name"}, "ttt"));
  SB_ASSIGN_OR_RETURN(out["quotas"],
                      read_rows(db, "SELECT unit, period, product, quantity, version FROM quotas "
                                    "ORDER BY unit, period, product",
                                {"unit", "period", "product", "quantity", "version"}, "tttii"));
  return out;
}

}  // namespace shiftbook::client
