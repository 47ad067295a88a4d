#include "shiftbook/kinds.h"

#include "field_rules.h"

#include <chrono>
#include <cstdio>
#include <initializer_list>

namespace shiftbook {
namespace {

bool is_one_of(std::string_view kind, std::initializer_list<std::string_view> kinds) {
  for (auto k : kinds) {
    if (k == kind) return true;
  }
  return false;
}

// Field access helpers that produce shift-leader messages.
class Fields {
 public:
  Fields(const Json& body, std::string_view kind) : body_(body), kind_(kind) {}

  Status only(std::initializer_list<std::string_view> allowed) const {
    if (!body_.is_object()) return invalid_argument(std::string(kind_) + " entry must be a map of fields");
    // A linear scan: the lists hold at most five names, and this runs for every field of every
    // pushed event (building a set per call showed up as a tenth of the server's push CPU).
    for (auto it = body_.begin(); it != body_.end(); ++it) {
      if (!is_one_of(it.key(), allowed)) {
        return invalid_argument(std::string(kind_) + " entry has an unknown field '" + it.key() + "'");
      }
    }
    return Status::ok();
  }
  bool has(const char* name) const { return body_.contains(name); }
  Result<std::string> str(const char* name) const {
    auto it = body_.find(name);
    if (it == body_.end()) return missing(name);
    if (!it->is_string()) return invalid_argument(field(name) + " must be text");
    return it->get<std::string>();
  }
  Result<std::int64_t> integer(const char* name) const {
    auto it = body_.find(name);
    if (it == body_.end()) return missing(name);
    if (!it->is_number_integer()) return invalid_argument(field(name) + " must be a whole number");
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      return invalid_argument(field(name) + " is too large");
    }
    return it->get<std::int64_t>();
  }
  Result<bool> boolean(const char* name) const {
    auto it = body_.find(name);
    if (it == body_.end()) return missing(name);
    if (!it->is_boolean()) return invalid_argument(field(name) + " must be true or false");
    return it->get<bool>();
  }
  Status id(const char* name) const {
    SB_ASSIGN_OR_RETURN(std::string v, str(name));
    return check_id(field(name), v);
  }
  Status ref(const char* name) const {
    SB_ASSIGN_OR_RETURN(std::string v, str(name));
    auto h = parse_hash_ref(v);
    if (!h.is_ok()) return invalid_argument(field(name) + " must name an entry by its 64-digit hash");
    return Status::ok();
  }
  Status text(const char* name, std::size_t max = kMaxTextBytes) const {
    SB_ASSIGN_OR_RETURN(std::string v, str(name));
    return check_text(field(name), v, max);
  }
  std::string field(const char* name) const { return std::string(kind_) + " field '" + name + "'"; }

 private:
  Status missing(const char* name) const { return invalid_argument(field(name) + " is missing"); }
  const Json& body_;
  std::string_view kind_;
};

Status validate_shift_open(const Fields& f, const Json& body) {
  SB_RETURN_IF_ERROR(f.only({"unit", "date", "name", "receipt"}));
  SB_RETURN_IF_ERROR(f.id("unit"));
  SB_ASSIGN_OR_RETURN(std::string date, f.str("date"));
  SB_RETURN_IF_ERROR(parse_date(date).status());
  if (f.has("name")) SB_RETURN_IF_ERROR(f.text("name", 32));
  return shift_open_receipt(body, PublicKey{}).status();
}

Status validate_hours(const Fields& f) {
  SB_RETURN_IF_ERROR(f.only({"shift", "worker", "start", "end", "special"}));
  SB_RETURN_IF_ERROR(f.ref("shift"));
  SB_RETURN_IF_ERROR(f.id("worker"));
  SB_ASSIGN_OR_RETURN(std::int64_t start, f.integer("start"));
  SB_ASSIGN_OR_RETURN(std::int64_t end, f.integer("end"));
  SB_RETURN_IF_ERROR(f.boolean("special").status());
  return detail::check_hours_times(start, end);
}

Status validate_output(const Fields& f) {
  SB_RETURN_IF_ERROR(f.only({"shift", "product", "quantity", "quota_version"}));
  SB_RETURN_IF_ERROR(f.ref("shift"));
  SB_RETURN_IF_ERROR(f.id("product"));
  SB_ASSIGN_OR_RETURN(std::int64_t q, f.integer("quantity"));
  SB_RETURN_IF_ERROR(detail::check_output_quantity(q));
  if (f.has("quota_version")) {
    SB_ASSIGN_OR_RETURN(std::int64_t v, f.integer("quota_version"));
    SB_RETURN_IF_ERROR(detail::check_quota_version(v));
  }
  return Status::ok();
}

Status validate_bonus(const Fields& f) {
  SB_RETURN_IF_ERROR(f.only({"shift", "worker", "type", "note"}));
  SB_RETURN_IF_ERROR(f.ref("shift"));
  SB_RETURN_IF_ERROR(f.id("worker"));
  SB_ASSIGN_OR_RETURN(std::string type, f.str("type"));
  SB_RETURN_IF_ERROR(detail::check_bonus_type(type));
  if (f.has("note")) SB_RETURN_IF_ERROR(f.text("note"));
  return Status::ok();
}

}  // namespace

namespace detail {

Status check_hours_times(std::int64_t start, std::int64_t end) {
  if (start < 0 || start >= kMinutesPerDay) {
    return invalid_argument("hours must start between 00:00 and 23:59 of the shift date");
  }
  if (end == start) return invalid_argument("hours end when they start: zero-length hours are not recorded");
  if (end < start) return invalid_argument("hours end before they start");
  if (end - start > kMinutesPerDay) {
    return invalid_argument("hours end more than 24 hours after they start (" + format_minutes(start) + " to " +
                            format_minutes(end) + ")");
  }
  return Status::ok();
}

Status check_output_quantity(std::int64_t quantity) {
  if (quantity <= 0) return invalid_argument("output quantity must be more than zero");
  if (quantity > kMaxQuantity) return invalid_argument("output quantity is implausibly large");
  return Status::ok();
}

Status check_quota_version(std::int64_t version) {
  if (version < 1) return invalid_argument("quota version must be 1 or more");
  return Status::ok();
}

Status check_bonus_type(std::string_view type) {
  if (type != "special_environment" && type != "skill_upgrade" && type != "innovation") {
    return invalid_argument("bonus type '" + std::string(type) +
                            "' is not one of special_environment, skill_upgrade, innovation");
  }
  return Status::ok();
}

}  // namespace detail

bool is_terminal_kind(std::string_view k) {
  return is_one_of(k, {kind::kShiftOpen, kind::kShiftClose, kind::kHours, kind::kOutput, kind::kBonus,
                       kind::kConfirm, kind::kCorrection, kind::kVoid});
}
bool is_correctable_kind(std::string_view k) { return is_one_of(k, {kind::kHours, kind::kOutput, kind::kBonus}); }
bool is_voidable_kind(std::string_view k) {
  return is_one_of(k, {kind::kHours, kind::kOutput, kind::kBonus, kind::kConfirm});
}

Status validate_body(std::string_view k, const Json& body, std::string_view corrected_kind) {
  Fields f(body, k);
  if (!body.is_object()) return invalid_argument(std::string(k) + " entry must be a map of fields");
  if (k == kind::kShiftOpen) return validate_shift_open(f, body);
  if (k == kind::kShiftClose) {
    SB_RETURN_IF_ERROR(f.only({"shift"}));
    return f.ref("shift");
  }
  if (k == kind::kHours) return validate_hours(f);
  if (k == kind::kOutput) return validate_output(f);
  if (k == kind::kBonus) return validate_bonus(f);
  if (k == kind::kConfirm) {
    SB_RETURN_IF_ERROR(f.only({"entry", "worker"}));
    SB_RETURN_IF_ERROR(f.ref("entry"));
    return f.id("worker");
  }
  if (k == kind::kVoid) {
    SB_RETURN_IF_ERROR(f.only({"target", "reason"}));
    SB_RETURN_IF_ERROR(f.ref("target"));
    return f.text("reason");
  }
  if (k == kind::kCorrection) {
    SB_RETURN_IF_ERROR(f.only({"target", "reason", "entry"}));
    SB_RETURN_IF_ERROR(f.ref("target"));
    SB_RETURN_IF_ERROR(f.text("reason"));
    if (!is_correctable_kind(corrected_kind)) {
      return invalid_argument("only hours, output and bonus entries can be corrected");
    }
    auto it = body.find("entry");
    if (it == body.end()) return invalid_argument("correction field 'entry' is missing");
    return validate_body(corrected_kind, *it);
  }
  return invalid_argument("'" + std::string(k) + "' is not a kind of entry this terminal records");
}

Status check_correction_keeps(std::string_view entry_kind, const Json& current, const Json& next) {
  for (const char* field : {"shift", "product", "quota_version"}) {
    if (std::string_view(field) != "shift" && entry_kind != kind::kOutput) continue;
    const bool in_current = current.contains(field);
    if (in_current != next.contains(field) || (in_current && current.at(field) != next.at(field))) {
      return invalid_argument(std::string("a correction may not change the ") + field + " of an entry");
    }
  }
  return Status::ok();
}

Result<std::optional<Receipt>> shift_open_receipt(const Json& body, const PublicKey& device) {
  auto it = body.find("receipt");
  if (it == body.end()) return std::optional<Receipt>{};
  const Json& r = *it;
  const auto bad = [](const std::string& why) {
    return invalid_argument("shift_open field 'receipt' " + why);
  };
  if (!r.is_object() || r.size() != 4 || !r.contains("seq") || !r.contains("hash") || !r.contains("server_ms") ||
      !r.contains("sig")) {
    return bad("must be a map of seq, hash, server_ms and sig");
  }
  const Json& seq = r["seq"];
  const Json& ms = r["server_ms"];
  if (!seq.is_number_integer() || (!seq.is_number_unsigned() && seq.get<std::int64_t>() < 0) ||
      (seq.is_number_unsigned() && seq.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
    return bad("seq must be a whole number, 0 or more");
  }
  if (!ms.is_number_integer() ||
      (ms.is_number_unsigned() && ms.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
    return bad("server_ms must be a whole number");
  }
  if (!r["hash"].is_string() || !r["sig"].is_string()) return bad("hash and sig must be lower-case hex");
  Receipt out;
  out.device = device;
  out.seq = seq.get<std::uint64_t>();
  out.server_ms = ms.get<std::int64_t>();
  auto hash = parse_hash_ref(r["hash"].get<std::string>());
  if (!hash.is_ok()) return bad("hash must be 64 lower-case hex digits");
  out.hash = *hash;
  const std::string sig = r["sig"].get<std::string>();
  auto sig_bytes = array_from_hex<64>(sig);
  if (!sig_bytes.is_ok() || to_hex(*sig_bytes) != sig) return bad("sig must be 128 lower-case hex digits");
  out.signature = *sig_bytes;
  if (out.seq == 0 && out.hash != Hash{}) return bad("for seq 0 must name the all-zero hash");
  return std::optional<Receipt>(out);
}

Json receipt_field(const Receipt& r) {
  return Json{{"seq", static_cast<std::int64_t>(r.seq)},
              {"hash", to_hex(r.hash)},
              {"server_ms", r.server_ms},
              {"sig", to_hex(r.signature)}};
}

Status check_id(std::string_view what, std::string_view id) {
  if (id.empty() || id.size() > 64) return invalid_argument(std::string(what) + " must be 1 to 64 characters");
  if (!is_valid_utf8(id)) return invalid_argument(std::string(what) + " is not valid UTF-8");
  if (id.front() == ' ' || id.back() == ' ') {
    return invalid_argument(std::string(what) + " must not start or end with a space");
  }
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f) return invalid_argument(std::string(what) + " holds a control character");
  }
  return Status::ok();
}

Status check_text(std::string_view what, std::string_view text, std::size_t max_bytes) {
  if (text.empty()) return invalid_argument(std::string(what) + " must not be empty");
  if (text.size() > max_bytes) {
    return invalid_argument(std::string(what) + " is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (!is_valid_utf8(text)) return invalid_argument(std::string(what) + " is not valid UTF-8");
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return invalid_argument(std::string(what) + " holds a control character");
  }
  return Status::ok();
}

std::string hash_ref(const Hash& h) { return to_hex(h); }

Result<Hash> parse_hash_ref(std::string_view text) {
  for (char c : text) {
    if ((c >= 'A' && c <= 'F')) return invalid_argument("entry hash must be lower-case hex");
  }
  return array_from_hex<32>(text);
}

Result<std::int64_t> parse_date(std::string_view text) {
  using namespace std::chrono;
  auto bad = [&] { return invalid_argument("'" + std::string(text) + "' is not a date of the form YYYY-MM-DD"); };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  int parts[3] = {0, 0, 0};
  const std::size_t starts[3] = {0, 5, 8};
  const std::size_t lens[3] = {4, 2, 2};
  for (int p = 0; p < 3; ++p) {
    for (std::size_t i = 0; i < lens[p]; ++i) {
      char c = text[starts[p] + i];
      if (c < '0' || c > '9') return bad();
      parts[p] = parts[p] * 10 + (c - '0');
    }
  }
  year_month_day ymd{year{parts[0]}, month{static_cast<unsigned>(parts[1])}, day{static_cast<unsigned>(parts[2])}};
  if (!ymd.ok() || parts[0] < 1970) {
    return invalid_argument("'" + std::string(text) + "' is not a calendar date (1970 or later)");
  }
  return static_cast<std::int64_t>(sys_days(ymd).time_since_epoch().count());
}

std::string format_date(std::int64_t days) {
  using namespace std::chrono;
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

Result<std::int64_t> parse_clock_time(std::string_view text) {
  auto bad = [&] { return invalid_argument("'" + std::string(text) + "' is not a time of the form HH:MM"); };
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || text.size() - colon != 3) return bad();
  int hh = 0, mm = 0;
  for (std::size_t i = 0; i < colon; ++i) {
    if (text[i] < '0' || text[i] > '9') return bad();
    hh = hh * 10 + (text[i] - '0');
  }
  for (std::size_t i = colon + 1; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return bad();
    mm = mm * 10 + (text[i] - '0');
  }
  if (mm > 59 || hh > 48 || (hh == 48 && mm > 0)) {
    return invalid_argument("'" + std::string(text) + "' is not a time between 00:00 and 48:00");
  }
  return static_cast<std::int64_t>(hh * 60 + mm);
}

std::string format_minutes(std::int64_t minutes) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld", static_cast<long long>(minutes / 60),
                static_cast<long long>(minutes % 60));
  return buf;
}

Result<std::int64_t> parse_quantity(std::string_view text, int decimals) {
  auto bad = [&] {
    return invalid_argument("'" + std::string(text) + "' is not a quantity (a positive number" +
                            (decimals == 0 ? std::string(" of whole units") : " with up to 3 decimals") + ")");
  };
  if (decimals != 0 && decimals != 3) {
    // Any other scale would silently drop digits below; products are kept to 0 or 3 decimals.
    return invalid_argument("a product is counted in whole units or to 3 decimals, not " +
                            std::to_string(decimals));
  }
  if (text.empty() || text.size() > 20) return bad();
  auto dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole.empty()) return bad();
  if (dot != std::string_view::npos && (frac.empty() || decimals == 0)) {
    if (decimals == 0) {
      return invalid_argument("'" + std::string(text) + "': this product is counted in whole units");
    }
    return bad();
  }
  if (frac.size() > static_cast<std::size_t>(decimals)) {
    return invalid_argument("'" + std::string(text) + "' has more than " + std::to_string(decimals) + " decimals");
  }
  std::int64_t value = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return bad();
    value = value * 10 + (c - '0');
    if (value > kMaxQuantity) return invalid_argument("'" + std::string(text) + "' is implausibly large");
  }
  std::int64_t scale = decimals == 3 ? 1000 : 1;
  std::int64_t fraction = 0;
  std::int64_t place = scale;
  for (char c : frac) {
    if (c < '0' || c > '9') return bad();
    place /= 10;
    fraction += (c - '0') * place;
  }
  std::int64_t base = value * scale + fraction;
  if (base > kMaxQuantity) return invalid_argument("'" + std::string(text) + "' is implausibly large");
  return base;
}

std::string format_quantity(std::int64_t base_units, int decimals) {
  if (decimals != 3) return std::to_string(base_units);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(base_units / 1000),
                static_cast<long long>(base_units % 1000));
  return buf;
}

}  // namespace shiftbook
