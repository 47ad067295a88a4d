// Reference data by sync: an enrolled terminal's reference tables and shift leaders are the
// projection of its site signer's ref_* events (bodies in protocol.h), folded in the order they
// were stored, so a later event for the same key replaces an earlier one and `active: false`
// removes a worker or leader. Units are kept only when the terminal is enrolled for them: a shift
// can then be opened only where the server will accept it. A device_revoke (a terminal of the
// site that head office revoked) changes no table: it stays in the log, and status lists it
// (sync_state.cpp). Kinds reserved for head office that this version does not know change
// nothing here either and stay in the log.
#include "shiftbook/kinds.h"
#include "store_impl.h"

#include <algorithm>
#include <initializer_list>
#include <variant>

namespace shiftbook::client {
namespace {

std::string text_of(const Json& body, const char* field) { return body.at(field).get<std::string>(); }

Status upsert(Db& db, std::string_view sql, std::initializer_list<std::variant<std::string, std::int64_t>> values) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(sql));
  int i = 1;
  for (const auto& v : values) {
    if (std::holds_alternative<std::string>(v)) st.bind(i++, std::get<std::string>(v));
    else st.bind(i++, std::get<std::int64_t>(v));
  }
  return st.run();
}

Status remove(Db& db, std::string_view sql, const std::string& id) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare(sql));
  return st.bind(1, id).run();
}

}  // namespace

Status Store::Impl::clear_reference() {
  for (const char* table : {"quotas", "workers", "products", "periods", "units", "sites", "leaders"}) {
    SB_RETURN_IF_ERROR(db.exec(std::string("DELETE FROM ") + table));
  }
  return Status::ok();
}

Status Store::Impl::apply_reference_event(const Event& e, const SiteScope& scope) {
  const Json& b = e.body;
  // Everything read below was checked by validate_head_office_body when the event was pulled;
  // a body that no longer reads so was changed in the store, and json's exception says where.
  try {
    if (e.kind == "ref_site") {
      return upsert(db, "INSERT OR REPLACE INTO sites(id, name, tz) VALUES(?, ?, ?)",
                    {text_of(b, "id"), text_of(b, "name"), text_of(b, "tz")});
    }
    if (e.kind == "ref_unit") {
      const std::string id = text_of(b, "id");
      if (!std::binary_search(scope.units.begin(), scope.units.end(), id)) return Status::ok();
      return upsert(db, "INSERT OR REPLACE INTO units(id, site, name) VALUES(?, ?, ?)",
                    {id, text_of(b, "site"), text_of(b, "name")});
    }
    if (e.kind == "ref_period") {
      SB_ASSIGN_OR_RETURN(std::int64_t start, parse_date(text_of(b, "start")));
      SB_ASSIGN_OR_RETURN(std::int64_t end, parse_date(text_of(b, "end")));
      return upsert(db, "INSERT OR REPLACE INTO periods(id, start_day, end_day) VALUES(?, ?, ?)",
                    {text_of(b, "id"), start, end});
    }
    if (e.kind == "ref_product") {
      return upsert(db, "INSERT OR REPLACE INTO products(id, name, unit_name, decimals) VALUES(?, ?, ?, ?)",
                    {text_of(b, "id"), text_of(b, "name"), text_of(b, "unit"), b.at("decimals").get<std::int64_t>()});
    }
    if (e.kind == "ref_worker") {
      if (!b.at("active").get<bool>()) return remove(db, "DELETE FROM workers WHERE id = ?", text_of(b, "id"));
      return upsert(db, "INSERT OR REPLACE INTO workers(id, site, name, pin_hash) VALUES(?, ?, ?, ?)",
                    {text_of(b, "id"), text_of(b, "site"), text_of(b, "name"), text_of(b, "pin_hash")});
    }
    if (e.kind == "ref_leader") {
      const std::string id = text_of(b, "id");
      if (!b.at("active").get<bool>()) {
        // A leader head office removed cannot go on recording under a login made before.
        SB_RETURN_IF_ERROR(remove(db, "DELETE FROM session WHERE leader = ?", id));
        return remove(db, "DELETE FROM leaders WHERE id = ?", id);
      }
      // The signed stamp, not the arrival time: a replay must give the same row.
      return upsert(db, "INSERT OR REPLACE INTO leaders(id, name, pin_hash, added_ms) VALUES(?, ?, ?, ?)",
                    {id, text_of(b, "name"), text_of(b, "pin_hash"), static_cast<std::int64_t>(hlc_ms(e.hlc))});
    }
    if (e.kind == "ref_quota") {
      return upsert(db, "INSERT OR REPLACE INTO quotas(unit, period, product, quantity, version) VALUES(?, ?, ?, ?, ?)",
                    {text_of(b, "unit"), text_of(b, "period"), text_of(b, "product"),
                     b.at("quantity").get<std::int64_t>(), b.at("version").get<std::int64_t>()});
    }
  } catch (const Json::exception& ex) {
    return data_loss(event_name(e.device, e.seq) + ": a head-office " + e.kind + " whose body does not read (" +
                     ex.what() + "); run 'shiftbook verify'");
  }
  return Status::ok();
}

}  // namespace shiftbook::client
