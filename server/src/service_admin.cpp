// Head office's logic (service.h): administration. Reference data is checked (its body, and that
// what it names exists) and written as signed ref_* events into the chain of every site signer
// it concerns (revocations too, service_revoke.cpp); enrollment codes are made for a site's own units; devices and codes are listed
// from storage. A site signer's chain is only appended to under admin_mu.
#include <algorithm>
#include <utility>

#include "service_impl.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
using namespace detail;

namespace {

constexpr std::int64_t kMinCodeValidMs = 60'000;
constexpr std::int64_t kMaxCodeValidMs = 30LL * 24 * 60 * 60 * 1000;
constexpr std::size_t kMaxCodeUnits = 64;

}  // namespace

namespace detail {

bool is_ref_kind(std::string_view k) {
  return k == "ref_site" || k == "ref_unit" || k == "ref_period" || k == "ref_product" || k == "ref_worker" ||
         k == "ref_leader" || k == "ref_quota" || k == "ref_rules" || k == "ref_achievement";
}

bool is_shared_ref_kind(std::string_view k) { return k == "ref_period" || k == "ref_product" || k == "ref_rules"; }

// The ref_key a reference item is stored under: a quota's "unit/period/product", an achievement's
// "worker/period", a rule set's version as text, else the id.
std::string ref_key_of(std::string_view kind, const Json& body) {
  auto str = [&](const char* name) {
    auto it = body.find(name);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (kind == "ref_quota") return str("unit") + "/" + str("period") + "/" + str("product");
  if (kind == "ref_achievement") return str("worker") + "/" + str("period");
  if (kind == "ref_rules") {
    auto v = body.find("version");
    return v != body.end() && v->is_number_integer() ? std::to_string(v->get<std::int64_t>()) : std::string();
  }
  return str("id");
}

}  // namespace detail

Status Service::Impl::append_to_chain(const std::string& site, std::vector<ChainItem> items,
                                      const std::optional<ReadChains>& unchanged, std::uint64_t signer_end) {
  auto s = signer(site);
  const PublicKey& device = s->key.public_key();
  for (int attempt = 0; attempt < kAppendAttempts; ++attempt) {
    SB_ASSIGN_OR_RETURN(auto end, storage->chain_end(device));
    // A decision made on figures read at signer_end: another one written since (an approval by
    // another server process, say) may have made it wrong. The append's expected seq then keeps
    // a third from slipping in between this read and the commit.
    if (unchanged && end.first != signer_end) {
      return aborted("site " + site + "'s head-office chain changed since the figures were read");
    }
    std::uint64_t hlc = 0;
    if (end.first > 0) {
      SB_ASSIGN_OR_RETURN(std::optional<EventInfo> info, storage->event_info(end.second));
      if (!info) return data_loss("the last event of site " + site + "'s head-office chain is missing");
      hlc = info->hlc;
    }
    const std::int64_t now = clock.now_ms();
    AppendBatch batch;
    batch.device = device;
    batch.expected_seq = end.first + 1;
    std::uint64_t seq = end.first;
    Hash prev = end.second;
    for (const ChainItem& item : items) {
      Event e;
      e.device = device;
      e.seq = ++seq;
      hlc = hlc_next(hlc, now);
      e.hlc = hlc;
      e.prev = seq == 1 ? Hash{} : prev;
      e.author = item.author;
      e.kind = item.kind;
      e.body = item.body;
      auto sealed_event = seal_event(std::move(e));
      if (!sealed_event.is_ok()) return sealed_event.status().with_context(item.kind + " " + item.ref_key + ": ");
      prev = sealed_event->event.hash;
      NewEvent ne;
      ne.event = std::move(sealed_event->event);
      ne.raw = std::move(sealed_event->bytes);
      ne.site = site;
      ne.ref_key = item.ref_key;
      ne.revokes = item.revokes;
      batch.events.push_back(std::move(ne));
    }
    batch.head = sign_head(s->key, seq, prev);
    batch.receipt = sign_receipt(server_key, device, seq, prev, now);
    batch.unchanged = unchanged;
    Status appended = storage->append(batch);
    if (appended.code() != Code::kAborted || unchanged) return appended;
  }
  return aborted("site " + site + "'s head-office chain kept changing under this change (another admin command?); retry");
}

Result<Json> Service::Impl::put_reference(const std::string& kind, Json body) {
  if (!is_ref_kind(kind)) {
    return invalid_argument("'" + kind +
                            "' is not a kind of reference data (ref_site, ref_unit, ref_period, ref_product, "
                            "ref_worker, ref_leader, ref_quota, ref_rules, ref_achievement)");
  }
  if (!body.is_object()) return invalid_argument(kind + " must be a map of fields");
  std::lock_guard lock(admin_mu);

  auto item = [&](const std::string& k, const std::string& key) -> Result<std::optional<Json>> {
    return storage->reference_item(k, key);
  };
  auto need = [&](const char* k, const char* what, const std::string& id, const char* command) -> Result<Json> {
    SB_ASSIGN_OR_RETURN(std::optional<Json> found, item(k, id));
    if (!found) return not_found(std::string(what) + " '" + id + "' does not exist; add it first (" + command + ")");
    return *found;
  };
  auto str = [&](const char* name) -> std::string {
    auto it = body.find(name);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };

  if (kind == "ref_quota" && !body.contains("version")) {
    // One more than the current quota's; a body too broken to name a quota fails validation below.
    SB_ASSIGN_OR_RETURN(std::optional<Json> current, item(kind, str("unit") + "/" + str("period") + "/" + str("product")));
    std::int64_t version = 1;
    if (current && current->contains("version") && current->at("version").is_number_integer()) {
      version = current->at("version").get<std::int64_t>() + 1;
    }
    body["version"] = version;
  }
  std::int64_t highest_rules = 0;
  if (kind == "ref_rules") {
    SB_ASSIGN_OR_RETURN(std::vector<Json> held, storage->reference(kind, ""));
    for (const Json& r : held) highest_rules = std::max(highest_rules, r.value("version", std::int64_t{0}));
    if (!body.contains("version")) body["version"] = highest_rules + 1;
  }
  SB_RETURN_IF_ERROR(validate_head_office_body(kind, body));

  // Periods, products and rule sets travel in every site's chain.
  auto every_site = [&](const char* what) -> Result<std::vector<std::string>> {
    SB_ASSIGN_OR_RETURN(std::vector<Json> all_sites, storage->reference("ref_site", ""));
    if (all_sites.empty()) {
      return failed_precondition(std::string(what) +
                                 " travel in every site's head-office chain, and there is no site yet; add a site first");
    }
    std::vector<std::string> out;
    for (const Json& site : all_sites) out.push_back(site.value("id", std::string()));
    return out;
  };

  std::vector<std::string> sites;
  std::vector<ChainItem> items;
  const std::string ref_key = ref_key_of(kind, body);
  if (kind == "ref_quota") {
    SB_ASSIGN_OR_RETURN(Json unit, need("ref_unit", "unit", str("unit"), "unit add"));
    SB_RETURN_IF_ERROR(need("ref_period", "period", str("period"), "period add").status());
    SB_RETURN_IF_ERROR(need("ref_product", "product", str("product"), "product add").status());
    SB_ASSIGN_OR_RETURN(std::optional<Json> current, item(kind, ref_key));
    if (current && current->contains("version") && current->at("version").is_number_integer()) {
      std::int64_t held = current->at("version").get<std::int64_t>();
      if (body.at("version").get<std::int64_t>() <= held) {
        return invalid_argument("quota " + ref_key + " is at version " + std::to_string(held) +
                                "; a change needs version " + std::to_string(held + 1) +
                                " or more (or leave the version out)");
      }
    }
    sites.push_back(unit.at("site").get<std::string>());
  } else if (kind == "ref_rules") {
    SB_ASSIGN_OR_RETURN(std::optional<Json> current, item(kind, ref_key));
    if (current) {
      return already_exists("rule set version " + ref_key + " exists and is never changed; write version " +
                            std::to_string(highest_rules + 1));
    }
    SB_ASSIGN_OR_RETURN(sites, every_site("rule sets"));
  } else if (kind == "ref_achievement") {
    SB_ASSIGN_OR_RETURN(Json worker, need("ref_worker", "worker", str("worker"), "worker add"));
    SB_RETURN_IF_ERROR(need("ref_period", "period", str("period"), "period add").status());
    sites.push_back(worker.value("site", std::string()));
  } else {
    if (kind == "ref_site") {
      sites.push_back(ref_key);
      SB_ASSIGN_OR_RETURN(std::optional<Json> current, item(kind, ref_key));
      if (!current) {
        // A new site's chain starts with the site, then everything every site shares.
        items.push_back({kind, body, ref_key});
        for (const char* shared : {"ref_period", "ref_product", "ref_rules"}) {
          SB_ASSIGN_OR_RETURN(std::vector<Json> all, storage->reference(shared, ""));
          for (Json& j : all) {
            std::string key = ref_key_of(shared, j);
            items.push_back({shared, std::move(j), std::move(key)});
          }
        }
      }
    } else if (kind == "ref_period" || kind == "ref_product") {
      SB_ASSIGN_OR_RETURN(sites, every_site(kind == "ref_period" ? "periods" : "products"));
      if (kind == "ref_period") {
        SB_ASSIGN_OR_RETURN(std::vector<Json> periods, storage->reference("ref_period", ""));
        std::int64_t start = *parse_date(str("start"));
        std::int64_t end = *parse_date(str("end"));
        for (const Json& p : periods) {
          if (p.value("id", std::string()) == ref_key) continue;
          auto ps = parse_date(p.value("start", std::string()));
          auto pe = parse_date(p.value("end", std::string()));
          if (ps.is_ok() && pe.is_ok() && start <= *pe && *ps <= end) {
            return invalid_argument("period " + ref_key + " (" + str("start") + " to " + str("end") + ") overlaps period " +
                                    p.value("id", std::string()) + " (" + p.value("start", std::string()) + " to " +
                                    p.value("end", std::string()) + "); a day belongs to at most one period");
          }
        }
      }
    } else {  // ref_unit, ref_worker, ref_leader: one site's
      const std::string site = str("site");
      SB_RETURN_IF_ERROR(need("ref_site", "site", site, "site add").status());
      SB_ASSIGN_OR_RETURN(std::optional<Json> current, item(kind, ref_key));
      if (current && current->value("site", std::string()) != site) {
        const char* what = kind == "ref_unit" ? "unit" : kind == "ref_worker" ? "worker" : "shift leader";
        return failed_precondition(std::string(what) + " '" + ref_key + "' belongs to site " +
                                   current->value("site", std::string()) + " and cannot move to site " + site +
                                   "; add it under a new id instead");
      }
      sites.push_back(site);
    }
  }
  if (items.empty()) items.push_back({kind, body, ref_key});
  for (const std::string& site : sites) {
    SB_RETURN_IF_ERROR(append_to_chain(site, items).with_context("site " + site + ": "));
  }
  return body;
}

Result<std::string> Service::Impl::create_code(const std::string& site, const std::vector<std::string>& units,
                                               std::int64_t valid_ms) {
  if (valid_ms < kMinCodeValidMs || valid_ms > kMaxCodeValidMs) {
    return invalid_argument("an enrollment code is valid for 1 minute to 30 days, not " + std::to_string(valid_ms / 1000) +
                            " s");
  }
  if (units.empty() || units.size() > kMaxCodeUnits) {
    return invalid_argument("an enrollment code names 1 to " + std::to_string(kMaxCodeUnits) + " production units");
  }
  SB_ASSIGN_OR_RETURN(std::optional<Json> site_item, storage->reference_item("ref_site", site));
  if (!site_item) return not_found("site '" + site + "' does not exist; add it first (site add)");
  for (std::size_t i = 0; i < units.size(); ++i) {
    if (std::find(units.begin(), units.begin() + static_cast<std::ptrdiff_t>(i), units[i]) !=
        units.begin() + static_cast<std::ptrdiff_t>(i)) {
      return invalid_argument("unit '" + units[i] + "' is named twice");
    }
    SB_ASSIGN_OR_RETURN(std::optional<Json> unit, storage->reference_item("ref_unit", units[i]));
    if (!unit) return not_found("unit '" + units[i] + "' does not exist; add it first (unit add)");
    if (unit->value("site", std::string()) != site) {
      return invalid_argument("unit '" + units[i] + "' belongs to site " + unit->value("site", std::string()) +
                              ", not to site " + site);
    }
  }
  EnrollCode code;
  random_bytes(code.secret);
  Hash fingerprint = server_fingerprint(server_key.public_key());
  std::copy_n(fingerprint.begin(), code.fingerprint.size(), code.fingerprint.begin());

  CodeRecord rec;
  rec.secret_hash = blake2b_256(code.secret);
  rec.site = site;
  rec.units = units;
  rec.created_ms = clock.now_ms();
  rec.expires_ms = rec.created_ms + valid_ms;
  SB_RETURN_IF_ERROR(storage->add_code(rec));
  return format_enroll_code(code);
}

Result<Json> Service::put_reference(const std::string& kind, Json body) {
  return impl_->put_reference(kind, std::move(body));
}

Result<std::vector<Json>> Service::reference(const std::string& kind, const std::string& site) {
  if (!is_ref_kind(kind)) return invalid_argument("'" + kind + "' is not a kind of reference data");
  // Periods, products and rule sets belong to every site.
  return impl_->storage->reference(kind, is_shared_ref_kind(kind) ? std::string() : site);
}

Result<std::string> Service::create_code(const std::string& site, const std::vector<std::string>& units,
                                         std::int64_t valid_ms) {
  return impl_->create_code(site, units, valid_ms);
}

Result<std::vector<CodeRecord>> Service::codes() { return impl_->storage->codes(); }
Result<std::vector<DeviceRecord>> Service::devices() { return impl_->storage->devices(); }

}  // namespace shiftbook::server
