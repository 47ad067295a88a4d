// Head office's reference data from the command line: sites, production units, periods,
// products, workers, shift leaders and quotas. Each change is one Service::put_reference, which
// checks it and writes it as a signed event into the chains of the site signers it concerns;
// "add" refuses an id that is taken, "remove" writes the person again with active: false.
#include <sys/stat.h>

#include <algorithm>
#include <iostream>
#include <optional>

#include "admin.h"
#include "server_dir.h"
#include "shiftbook/kinds.h"
#include "shiftbook/platform/console.h"

namespace shiftbook::server::cli {

using console::print_json;
using console::Table;

Result<std::unique_ptr<Service>> Context::open() const { return open_server_dir(dir, clock); }

std::string short_key(const PublicKey& key) { return to_hex(ByteView(key.data(), 4)); }

namespace {

std::string str(const Json& item, const char* field) {
  auto it = item.find(field);
  return it != item.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The current item of `kind` with this id, if any.
Result<std::optional<Json>> find_item(Service& service, const std::string& kind, const std::string& id) {
  SB_ASSIGN_OR_RETURN(std::vector<Json> all, service.reference(kind));
  for (Json& item : all) {
    if (str(item, "id") == id) return std::optional<Json>(std::move(item));
  }
  return std::optional<Json>();
}

Status require_site(Service& service, const std::string& site) {
  SB_ASSIGN_OR_RETURN(std::optional<Json> found, find_item(service, "ref_site", site));
  if (!found) return not_found("site '" + site + "' does not exist; add it first (site add)");
  return Status::ok();
}

// Writes a new item; an id that is taken is already_exists (changing an item is not "add").
Result<Json> put_new(Service& service, const std::string& kind, const std::string& noun, Json body) {
  const std::string id = str(body, "id");
  SB_ASSIGN_OR_RETURN(std::optional<Json> current, find_item(service, kind, id));
  if (current) return already_exists(noun + " '" + id + "' exists already");
  return service.put_reference(kind, std::move(body));
}

// A tz name the service accepts by its syntax may still be missing from the tz database; refuse
// it here when this machine has a tz database to ask, so the typo is caught at head office
// rather than by every terminal of the site.
Status check_zone_known(const std::string& tz) {
  constexpr const char* kZoneDir = "/usr/share/zoneinfo";
  struct stat st {};
  if (tz == "UTC" || tz.find("..") != std::string::npos || tz.empty() || tz.front() == '/') return Status::ok();
  if (::stat(kZoneDir, &st) != 0 || !S_ISDIR(st.st_mode)) return Status::ok();
  const std::string path = std::string(kZoneDir) + "/" + tz;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return invalid_argument("'" + tz + "' is not a time zone of the tz database (give a name such as "
                            "'Europe/Berlin', or 'UTC')");
  }
  return Status::ok();
}

template <typename Items, typename Row>
void print_list(const Context& ctx, const char* key, const Items& items, std::vector<std::string> header, Row row,
                const std::string& none) {
  if (ctx.json) {
    Json doc = Json::object();
    doc[key] = Json::array();
    for (const auto& item : items) doc[key].push_back(item);
    print_json(doc);
    return;
  }
  if (items.empty()) {
    std::cout << none << '\n';
    return;
  }
  Table t(std::move(header));
  for (const auto& item : items) t.add(row(item));
  t.print(std::cout);
}

// ---- sites, units, periods, products

struct SiteOpts {
  std::string id, name, tz;
};
struct UnitOpts {
  std::string id, site, name;
};
struct PeriodOpts {
  std::string id, start, end;
};
struct ProductOpts {
  std::string id, name, unit;
  int decimals = 0;
};
struct ListOpts {
  std::string site;
};

void add_site_commands(CLI::App& app, Context& ctx) {
  auto* site = app.add_subcommand("site", "Sites: a plant, with the time zone its shifts are kept in");
  site->require_subcommand(1);
  auto* add = site->add_subcommand("add", "Add a site (its head-office chain starts with it)");
  auto o = std::make_shared<SiteOpts>();
  add->add_option("ID", o->id, "The site's id, such as S1")->required();
  add->add_option("--name", o->name, "The site's name")->required();
  add->add_option("--tz", o->tz, "Its time zone: a tz database name such as Europe/Berlin, or UTC")->required();
  on_run(add, ctx, o, [](Context& c, const SiteOpts& opts) -> Status {
    SB_RETURN_IF_ERROR(check_zone_known(opts.tz));
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_RETURN_IF_ERROR(put_new(*service, "ref_site", "site",
                                           Json{{"id", opts.id}, {"name", opts.name}, {"tz", opts.tz}}).status());
    std::cout << "added site " << opts.id << " (" << opts.name << ", " << opts.tz << ")\n";
    return Status::ok();
  });
  auto* list = site->add_subcommand("list", "List the sites");
  add_json_flag(list, ctx);
  on_run(list, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(std::vector<Json> items, service->reference("ref_site"));
    print_list(c, "sites", items, {"SITE", "NAME", "TZ"},
               [](const Json& s) { return std::vector<std::string>{str(s, "id"), str(s, "name"), str(s, "tz")}; },
               "no sites yet (add one with 'site add')");
    return Status::ok();
  });
}

void add_unit_commands(CLI::App& app, Context& ctx) {
  auto* unit = app.add_subcommand("unit", "Production units of a site");
  unit->require_subcommand(1);
  auto* add = unit->add_subcommand("add", "Add a production unit to a site");
  auto o = std::make_shared<UnitOpts>();
  add->add_option("ID", o->id, "The unit's id, such as U1")->required();
  add->add_option("--site", o->site, "The site it belongs to")->required();
  add->add_option("--name", o->name, "The unit's name")->required();
  on_run(add, ctx, o, [](Context& c, const UnitOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_RETURN_IF_ERROR(require_site(*service, opts.site));
    SB_RETURN_IF_ERROR(put_new(*service, "ref_unit", "unit",
                                           Json{{"id", opts.id}, {"site", opts.site}, {"name", opts.name}}).status());
    std::cout << "added unit " << opts.id << " (" << opts.name << ") to site " << opts.site << '\n';
    return Status::ok();
  });
  auto* list = unit->add_subcommand("list", "List the production units");
  auto lo = std::make_shared<ListOpts>();
  list->add_option("--site", lo->site, "Only the units of this site");
  add_json_flag(list, ctx);
  on_run(list, ctx, lo, [](Context& c, const ListOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    if (!opts.site.empty()) SB_RETURN_IF_ERROR(require_site(*service, opts.site));
    SB_ASSIGN_OR_RETURN(std::vector<Json> items, service->reference("ref_unit", opts.site));
    print_list(c, "units", items, {"UNIT", "SITE", "NAME"},
               [](const Json& u) { return std::vector<std::string>{str(u, "id"), str(u, "site"), str(u, "name")}; },
               "no units yet (add one with 'unit add')");
    return Status::ok();
  });
}

void add_period_commands(CLI::App& app, Context& ctx) {
  auto* period = app.add_subcommand("period", "Periods that quotas and reports are kept for (all sites)");
  period->require_subcommand(1);
  auto* add = period->add_subcommand("add", "Add a period (days may not overlap another period's)");
  auto o = std::make_shared<PeriodOpts>();
  add->add_option("ID", o->id, "The period's id, such as 2026-11")->required();
  add->add_option("--start", o->start, "Its first day, YYYY-MM-DD")->required();
  add->add_option("--end", o->end, "Its last day, YYYY-MM-DD")->required();
  on_run(add, ctx, o, [](Context& c, const PeriodOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_RETURN_IF_ERROR(put_new(*service, "ref_period", "period",
                                           Json{{"id", opts.id}, {"start", opts.start}, {"end", opts.end}}).status());
    std::cout << "added period " << opts.id << " (" << opts.start << " to " << opts.end << ")\n";
    return Status::ok();
  });
  auto* list = period->add_subcommand("list", "List the periods");
  add_json_flag(list, ctx);
  on_run(list, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(std::vector<Json> items, service->reference("ref_period"));
    print_list(c, "periods", items, {"PERIOD", "START", "END"},
               [](const Json& p) { return std::vector<std::string>{str(p, "id"), str(p, "start"), str(p, "end")}; },
               "no periods yet (add one with 'period add')");
    return Status::ok();
  });
}

void add_product_commands(CLI::App& app, Context& ctx) {
  auto* product = app.add_subcommand("product", "Products that output is recorded in (all sites)");
  product->require_subcommand(1);
  auto* add = product->add_subcommand("add", "Add a product");
  auto o = std::make_shared<ProductOpts>();
  add->add_option("ID", o->id, "The product's id, such as P1")->required();
  add->add_option("--name", o->name, "The product's name")->required();
  add->add_option("--unit", o->unit, "What it is counted in, such as pcs or kg (1 to 16 bytes)")->required();
  add->add_option("--decimals", o->decimals, "0: whole units; 3: kept to thousandths")->required();
  on_run(add, ctx, o, [](Context& c, const ProductOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_RETURN_IF_ERROR(put_new(*service, "ref_product", "product",
                                           Json{{"id", opts.id}, {"name", opts.name}, {"unit", opts.unit},
                                                {"decimals", opts.decimals}}).status());
    std::cout << "added product " << opts.id << " (" << opts.name << ", counted in " << opts.unit
              << (opts.decimals == 0 ? ", whole units" : ", to 3 decimals") << ")\n";
    return Status::ok();
  });
  auto* list = product->add_subcommand("list", "List the products");
  add_json_flag(list, ctx);
  on_run(list, ctx, [](Context& c) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(std::vector<Json> items, service->reference("ref_product"));
    print_list(c, "products", items, {"PRODUCT", "NAME", "UNIT", "DECIMALS"},
               [](const Json& p) {
                 return std::vector<std::string>{str(p, "id"), str(p, "name"), str(p, "unit"),
                                                 std::to_string(p.value("decimals", 0))};
               },
               "no products yet (add one with 'product add')");
    return Status::ok();
  });
}

// ---- workers and shift leaders: people of a site, with a PIN hash

struct PersonOpts {
  std::string id, site, name, pin_hash, pin_cost = "interactive";
};
struct RemoveOpts {
  std::string id;
};

struct PersonKind {
  const char* kind;     // ref_worker, ref_leader
  const char* noun;     // worker, shift leader
  const char* plural;   // workers, leaders (the JSON key)
  const char* command;  // worker, leader
  const char* about;
};
constexpr PersonKind kWorker{"ref_worker", "worker", "workers", "worker",
                             "Workers of a site (the roster terminals check PINs against)"};
constexpr PersonKind kLeader{"ref_leader", "shift leader", "leaders", "leader",
                             "Shift leaders of a site (they log in on the site's terminals)"};

// The PIN hash for a new person: --pin-hash as given, else a PIN read from the terminal (twice)
// or one line of standard input, hashed here; the PIN itself is wiped at once.
Result<std::string> person_pin_hash(const PersonKind& k, const PersonOpts& opts) {
  if (!opts.pin_hash.empty()) return opts.pin_hash;
  SB_ASSIGN_OR_RETURN(std::string pin, console::read_pin(std::string("PIN for ") + k.noun + " " + opts.id, true));
  Status shape = console::check_pin_text(pin);
  if (!shape.is_ok()) {
    console::wipe(pin);
    return shape;
  }
  auto hash = hash_pin(pin, opts.pin_cost == "minimum" ? PinCost::kMinimum : PinCost::kInteractive);
  console::wipe(pin);
  return hash;
}

void add_person_commands(CLI::App& app, Context& ctx, const PersonKind& k) {
  const std::string noun = k.noun;
  auto* group = app.add_subcommand(k.command, k.about);
  group->require_subcommand(1);

  auto* add = group->add_subcommand(
      "add", "Add a " + noun + "; reads the PIN (twice at a terminal, else one line of standard input) unless "
             "--pin-hash is given");
  auto o = std::make_shared<PersonOpts>();
  add->add_option("ID", o->id, "The " + noun + "'s id")->required();
  add->add_option("--site", o->site, "The site they work at")->required();
  add->add_option("--name", o->name, "Their name")->required();
  add->add_option("--pin-hash", o->pin_hash,
                  "An Argon2id PIN hash made elsewhere ('shiftbook ref hash-pin'), instead of reading a PIN");
  add->add_option("--pin-cost", o->pin_cost,
                  "Argon2id cost of the PIN hash: interactive (default), or minimum for tests and demos only "
                  "(a cheap hash is cheap to guess from a stolen roster)")
      ->check(CLI::IsMember({"interactive", "minimum"}));
  on_run(add, ctx, o, [k, noun](Context& c, const PersonOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_RETURN_IF_ERROR(require_site(*service, opts.site));
    SB_ASSIGN_OR_RETURN(std::optional<Json> current, find_item(*service, k.kind, opts.id));
    // A removed person's id may be used again (to give them a new PIN, remove then add).
    if (current && current->value("active", false)) {
      return already_exists(noun + " '" + opts.id + "' exists already (on site " + str(*current, "site") +
                            "); to give them a new PIN, remove them and add them again");
    }
    SB_ASSIGN_OR_RETURN(std::string pin_hash, person_pin_hash(k, opts));
    SB_ASSIGN_OR_RETURN(Json body, service->put_reference(k.kind, Json{{"id", opts.id},
                                                                       {"site", opts.site},
                                                                       {"name", opts.name},
                                                                       {"pin_hash", pin_hash},
                                                                       {"active", true}}));
    std::cout << "added " << noun << " " << opts.id << " (" << opts.name << ") to site " << opts.site << '\n';
    return Status::ok();
  });

  auto* remove = group->add_subcommand(
      "remove", "Remove a " + noun + ": terminals of the site refuse their PIN from their next sync on");
  auto ro = std::make_shared<RemoveOpts>();
  remove->add_option("ID", ro->id, "The " + noun + "'s id")->required();
  on_run(remove, ctx, ro, [k, noun](Context& c, const RemoveOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(std::optional<Json> current, find_item(*service, k.kind, opts.id));
    if (!current) return not_found("no " + noun + " '" + opts.id + "'");
    if (!current->value("active", false)) return failed_precondition(noun + " '" + opts.id + "' was removed already");
    Json body = *current;
    body["active"] = false;
    SB_ASSIGN_OR_RETURN(Json written, service->put_reference(k.kind, std::move(body)));
    std::cout << "removed " << noun << " " << opts.id << " from site " << str(written, "site")
              << "; what they recorded stays in the log\n";
    return Status::ok();
  });

  auto* list = group->add_subcommand("list", "List the " + std::string(k.plural) + " (PIN hashes left out)");
  auto lo = std::make_shared<ListOpts>();
  list->add_option("--site", lo->site, "Only those of this site");
  add_json_flag(list, ctx);
  on_run(list, ctx, lo, [k](Context& c, const ListOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    if (!opts.site.empty()) SB_RETURN_IF_ERROR(require_site(*service, opts.site));
    SB_ASSIGN_OR_RETURN(std::vector<Json> items, service->reference(k.kind, opts.site));
    for (Json& item : items) item.erase("pin_hash");
    print_list(c, k.plural, items, {"ID", "SITE", "NAME", "STATE"},
               [](const Json& p) {
                 return std::vector<std::string>{str(p, "id"), str(p, "site"), str(p, "name"),
                                                 p.value("active", false) ? "active" : "removed"};
               },
               std::string("no ") + k.plural + " yet (add one with '" + k.command + " add')");
    return Status::ok();
  });
}

// ---- quotas

struct QuotaOpts {
  std::string unit, period, product, quantity;
};

Result<Json> find_product(Service& service, const std::string& id) {
  SB_ASSIGN_OR_RETURN(std::optional<Json> product, find_item(service, "ref_product", id));
  if (!product) return not_found("product '" + id + "' does not exist; add it first (product add)");
  return *product;
}

std::string quantity_text(std::int64_t base, const Json& product) {
  return format_quantity(base, product.value("decimals", 0)) + " " + str(product, "unit");
}

void add_quota_commands(CLI::App& app, Context& ctx) {
  auto* quota = app.add_subcommand("quota", "Planned output per production unit, period and product");
  quota->require_subcommand(1);
  auto* set = quota->add_subcommand("set", "Set a quota; its version goes up by one with every change");
  auto o = std::make_shared<QuotaOpts>();
  set->add_option("--unit", o->unit, "The production unit")->required();
  set->add_option("--period", o->period, "The period")->required();
  set->add_option("--product", o->product, "The product")->required();
  set->add_option("--quantity", o->quantity,
                  "The planned output in the product's unit: whole units (500), or up to 3 decimals for a product "
                  "kept to thousandths (250.5)")
      ->required();
  on_run(set, ctx, o, [](Context& c, const QuotaOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(Json product, find_product(*service, opts.product));
    SB_ASSIGN_OR_RETURN(std::int64_t base, parse_quantity(opts.quantity, product.value("decimals", 0)));
    SB_ASSIGN_OR_RETURN(Json written, service->put_reference("ref_quota", Json{{"unit", opts.unit},
                                                                               {"period", opts.period},
                                                                               {"product", opts.product},
                                                                               {"quantity", base}}));
    std::cout << "set quota " << opts.unit << " " << opts.period << " " << opts.product << ": "
              << quantity_text(base, product) << " (version " << written.value("version", 0) << ")\n";
    return Status::ok();
  });
  auto* list = quota->add_subcommand("list", "List the quotas (quantities in the product's base unit with --json)");
  auto lo = std::make_shared<ListOpts>();
  list->add_option("--site", lo->site, "Only the quotas of this site's units");
  add_json_flag(list, ctx);
  on_run(list, ctx, lo, [](Context& c, const ListOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    if (!opts.site.empty()) SB_RETURN_IF_ERROR(require_site(*service, opts.site));
    SB_ASSIGN_OR_RETURN(std::vector<Json> items, service->reference("ref_quota", opts.site));
    SB_ASSIGN_OR_RETURN(std::vector<Json> products, service->reference("ref_product"));
    auto row = [&products](const Json& q) {
      const std::string id = str(q, "product");
      auto p = std::find_if(products.begin(), products.end(), [&](const Json& x) { return str(x, "id") == id; });
      const std::int64_t base = q.value("quantity", std::int64_t{0});
      return std::vector<std::string>{str(q, "unit"), str(q, "period"), id,
                                      p == products.end() ? std::to_string(base) : quantity_text(base, *p),
                                      std::to_string(q.value("version", 0))};
    };
    print_list(c, "quotas", items, {"UNIT", "PERIOD", "PRODUCT", "QUANTITY", "VERSION"}, row,
               "no quotas yet (set one with 'quota set')");
    return Status::ok();
  });
}

}  // namespace

void add_reference_commands(CLI::App& app, Context& ctx) {
  add_site_commands(app, ctx);
  add_unit_commands(app, ctx);
  add_period_commands(app, ctx);
  add_product_commands(app, ctx);
  add_person_commands(app, ctx, kWorker);
  add_person_commands(app, ctx, kLeader);
  add_quota_commands(app, ctx);
}

}  // namespace shiftbook::server::cli
