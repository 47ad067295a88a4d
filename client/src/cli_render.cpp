// Text renderings of the read commands' JSON documents (docs/READING.md).
#include "cli_render.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <utility>
#include <ostream>

#include "cli_io.h"
#include "shiftbook/kinds.h"

namespace shiftbook::cli {
namespace {

std::string num(const Json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number_integer()) return "";
  return std::to_string(obj[key].get<std::int64_t>());
}

// "22:00-06:00 8:00": the span as clock times and its length, which says when it ran past
// midnight.
std::string hours_span(const Json& entry) {
  const std::int64_t start = int_of(entry, "start"), end = int_of(entry, "end");
  return format_minutes(start % kMinutesPerDay) + "-" + format_minutes(end % kMinutesPerDay) + " " +
         duration_text(int_of(entry, "minutes", end - start));
}

std::string count_text(const Json& obj, const char* key, const std::string& word) {
  std::int64_t n = int_of(obj, key);
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// Whether an Entry, Shift or version is another terminal's ("mine" false; absent reads as ours).
bool foreign(const Json& obj) { return obj.is_object() && obj.contains("mine") && !bool_of(obj, "mine"); }

// What to type for an Entry, Shift or version: its "ref", else (an older document) its seq.
std::string ref_of(const Json& obj) { return str_of(obj, "ref", num(obj, "seq")); }

// The terminal column: "this" for this terminal's rows, else the other terminal's short id.
std::string terminal_of(const Json& obj) { return foreign(obj) ? str_of(obj, "device_short") : "this"; }

bool any_foreign(const Json& doc, const char* key) {
  const Json& items = array_of(doc, key);
  return std::any_of(items.begin(), items.end(), [](const Json& item) { return foreign(item); });
}

// A table's row (or header) with `terminal` inserted after its first cell when `on`: the
// terminal column appears only in tables that hold another terminal's rows.
std::vector<std::string> with_terminal(std::vector<std::string> row, bool on, const std::string& terminal) {
  if (on) row.insert(row.begin() + 1, terminal);
  return row;
}

std::string entry_detail(const Json& e) {
  const std::string kind = str_of(e, "kind");
  if (kind == "hours") return hours_span(e);
  if (kind == "output") return str_of(e, "quantity_text", num(e, "quantity"));
  if (kind == "bonus") return str_of(e, "type");
  if (kind == "confirm") return "of " + str_of(e, "confirms_ref", str_of(e, "confirms").substr(0, 8));
  return "";
}

std::string entry_who(const Json& e) {
  return str_of(e, "kind") == "output" ? str_of(e, "product") : str_of(e, "worker");
}

std::string entry_flags(const Json& e) {
  std::string flags;
  auto add = [&](const std::string& f) { flags += (flags.empty() ? "" : ",") + f; };
  if (bool_of(e, "special")) add("special");
  if (bool_of(e, "confirmed")) add("confirmed");
  if (int_of(e, "versions", 1) > 1) add("corrected");
  if (bool_of(e, "void")) add("VOID");
  if (int_of(e, "open_conflicts", 0) > 0) add("CONFLICT");
  return flags;
}

// "2026-11-16T08:00:00.000Z" -> "2026-11-16 08:00"
std::string short_time(const std::string& iso) {
  if (iso.size() < 16 || iso[10] != 'T') return iso;
  return iso.substr(0, 10) + " " + iso.substr(11, 5);
}

std::string permille_text(std::int64_t permille) {
  return std::to_string(permille / 10) + "." + std::to_string(permille % 10) + "%";
}

std::string with_unit(const std::string& quantity, const std::string& unit) {
  return unit.empty() ? quantity : quantity + " " + unit;
}

}  // namespace

std::string entry_text(const Json& entry) {
  std::string text = str_of(entry, "kind") + " " + entry_who(entry) + " " + entry_detail(entry);
  std::string flags = entry_flags(entry);
  return flags.empty() ? text : text + " (" + flags + ")";
}

std::string shift_text(const Json& shift) {
  std::string name = str_of(shift, "name");
  return ref_of(shift) + " (" + str_of(shift, "unit") + " " + str_of(shift, "date") + (name.empty() ? "" : " " + name) +
         (foreign(shift) ? ", terminal " + str_of(shift, "device_short") : "") + ")";
}

std::string held_text(std::uint64_t held, std::uint64_t waiting) {
  std::string text = held == 0 ? "head office holds none of this terminal's events yet"
                               : "head office holds this terminal's events 1 to " + std::to_string(held);
  if (waiting > 0) {
    text += "; " + std::to_string(waiting) + (held == 0 ? "" : " more") + (waiting == 1 ? " waits" : " wait") +
            " for the next sync";
  }
  return text;
}

void render_reference(const Json& doc, std::ostream& out) {
  std::map<std::string, int> decimals;
  for (const Json& p : array_of(doc, "products")) decimals[str_of(p, "id")] = static_cast<int>(int_of(p, "decimals"));
  auto section = [&](const char* title, const char* key, std::vector<std::string> header,
                     const std::function<std::vector<std::string>(const Json&)>& row) {
    Table t(std::move(header));
    for (const Json& item : array_of(doc, key)) t.add(row(item));
    out << title << (t.empty() ? ": none\n" : ":\n");
    if (!t.empty()) t.print(out);
  };
  section("sites", "sites", {"id", "name", "time zone"},
          [](const Json& s) { return std::vector<std::string>{str_of(s, "id"), str_of(s, "name"), str_of(s, "tz")}; });
  section("units", "units", {"id", "site", "name"},
          [](const Json& u) { return std::vector<std::string>{str_of(u, "id"), str_of(u, "site"), str_of(u, "name")}; });
  section("periods", "periods", {"id", "from", "to"},
          [](const Json& p) { return std::vector<std::string>{str_of(p, "id"), str_of(p, "start"), str_of(p, "end")}; });
  section("products", "products", {"id", "name", "unit", "decimals"}, [](const Json& p) {
    return std::vector<std::string>{str_of(p, "id"), str_of(p, "name"), str_of(p, "unit"), num(p, "decimals")};
  });
  section("workers", "workers", {"id", "site", "name"},
          [](const Json& w) { return std::vector<std::string>{str_of(w, "id"), str_of(w, "site"), str_of(w, "name")}; });
  section("quotas", "quotas", {"unit", "period", "product", "quota", "version"}, [&](const Json& q) {
    const std::string product = str_of(q, "product");
    return std::vector<std::string>{str_of(q, "unit"), str_of(q, "period"), product,
                                    format_quantity(int_of(q, "quantity"), decimals[product]), num(q, "version")};
  });
}

void render_leaders(const Json& doc, std::ostream& out) {
  Table t({"id", "name", ""});
  for (const Json& l : array_of(doc, "leaders")) {
    t.add({str_of(l, "id"), str_of(l, "name"), bool_of(l, "locked") ? "locked out" : ""});
  }
  if (t.empty()) {
    out << "no shift leaders yet ('shiftbook leader add' adds one)\n";
    return;
  }
  t.print(out);
}

void render_shifts(const Json& doc, std::ostream& out) {
  const bool terminals = any_foreign(doc, "shifts");
  Table t(with_terminal({"#", "unit", "date", "name", "opened by", "state"}, terminals, "terminal"));
  for (const Json& s : array_of(doc, "shifts")) {
    std::string state = "open";
    if (!bool_of(s, "open")) {
      state = "closed";
      // The closing event's number is only a reference on the terminal that recorded it.
      if (!num(s, "closed_seq").empty() && !foreign(s)) state += " (" + num(s, "closed_seq") + ")";
      if (!str_of(s, "closed_by").empty()) state += " by " + str_of(s, "closed_by");
    }
    t.add(with_terminal({ref_of(s), str_of(s, "unit"), str_of(s, "date"), str_of(s, "name"), str_of(s, "opened_by"),
                         state},
                        terminals, terminal_of(s)));
  }
  if (t.empty()) {
    out << "no shifts\n";
    return;
  }
  t.print(out);
}

void render_entries(const Json& doc, std::ostream& out) {
  const bool terminals = any_foreign(doc, "entries");
  Table t(with_terminal({"#", "shift", "kind", "who", "detail", "notes"}, terminals, "terminal"));
  std::size_t n = 0, theirs = 0;
  for (const Json& e : array_of(doc, "entries")) {
    t.add(with_terminal({ref_of(e), str_of(e, "shift_ref", num(e, "shift_seq")), str_of(e, "kind"), entry_who(e),
                         entry_detail(e), entry_flags(e)},
                        terminals, terminal_of(e)));
    ++n;
    if (foreign(e)) ++theirs;
  }
  if (n == 0) {
    out << "no entries\n";
    return;
  }
  t.print(out);
  out << n << (n == 1 ? " entry" : " entries");
  if (theirs > 0) {
    out << " (" << theirs << " from other terminals, named by the start of their hash; plain numbers are this "
        << "terminal's own)";
  }
  out << '\n';
}

void render_show(const Json& doc, std::ostream& out) {
  const Json empty = Json::object();
  const Json& e = doc.is_object() && doc.contains("entry") ? doc["entry"] : empty;
  out << "entry " << ref_of(e) << ": " << entry_text(e) << '\n';
  Table facts({"shift", str_of(e, "shift_ref", num(e, "shift_seq")) + " (" + str_of(e, "unit") + " " +
                            str_of(e, "date") + ")"});
  facts.add({"recorded by", str_of(e, "author") + (foreign(e) ? " on terminal " + str_of(e, "device_short")
                                                                : " on this terminal")});
  if (!num(e, "quota_version").empty()) facts.add({"quota version", num(e, "quota_version")});
  if (!str_of(e, "note").empty()) facts.add({"note", str_of(e, "note")});
  facts.add({"id", str_of(e, "id")});
  facts.print(out);
  const bool terminals = any_foreign(doc, "versions");
  Table versions(with_terminal({"#", "kind", "by", "time", "reason"}, terminals, "terminal"));
  for (const Json& v : array_of(doc, "versions")) {
    versions.add(with_terminal({ref_of(v), str_of(v, "kind"), str_of(v, "author"), short_time(str_of(v, "time")),
                                str_of(v, "reason")},
                               terminals, terminal_of(v)));
  }
  if (!versions.empty()) {
    out << "versions:\n";
    versions.print(out);
  }
}

void render_summary(const Json& doc, std::ostream& out) {
  if (doc.is_object() && doc.contains("shift")) {
    const Json& s = doc["shift"];
    out << "shift " << shift_text(s) << (bool_of(s, "open") ? ", open" : ", closed") << '\n';
  } else {
    out << "unit " << str_of(doc, "unit") << ", period " << str_of(doc, "period") << " (" << str_of(doc, "from")
        << " to " << str_of(doc, "to") << "), " << count_text(doc, "shifts", "shift") << '\n';
  }
  Table workers({"worker", "name", "hours", "special", "confirmed", "bonuses"});
  std::int64_t total = 0, special = 0, confirmed = 0;
  for (const Json& w : array_of(doc, "workers")) {
    std::string bonuses;
    const Json empty = Json::object();
    const Json& b = w.is_object() && w.contains("bonuses") ? w["bonuses"] : empty;
    static constexpr std::pair<const char*, const char*> kBonusLabels[] = {
        {"special_environment", "env"}, {"skill_upgrade", "skill"}, {"innovation", "innov"}};
    for (auto [key, label] : kBonusLabels) {
      std::int64_t n = int_of(b, key);
      if (n > 0) bonuses += (bonuses.empty() ? "" : " ") + std::string(label) + " " + std::to_string(n);
    }
    total += int_of(w, "minutes");
    special += int_of(w, "special_minutes");
    confirmed += int_of(w, "confirmed_minutes");
    workers.add({str_of(w, "worker"), str_of(w, "name"), duration_text(int_of(w, "minutes")),
                 duration_text(int_of(w, "special_minutes")), duration_text(int_of(w, "confirmed_minutes")), bonuses});
  }
  if (workers.empty()) {
    out << "no hours recorded\n";
  } else {
    workers.add({"total", "", duration_text(total), duration_text(special), duration_text(confirmed), ""});
    workers.print(out);
  }
  Table output({"product", "name", "output", "quota", "done", "surplus"});
  for (const Json& p : array_of(doc, "output")) {
    const std::string unit = str_of(p, "unit_name");
    const Json empty = Json::object();
    const Json& q = p.is_object() && p.contains("quota") ? p["quota"] : empty;
    const std::string quota = str_of(q, "quantity_text");
    output.add({str_of(p, "product"), str_of(p, "name"), with_unit(str_of(p, "quantity_text"), unit),
                quota.empty() ? "-" : quota,
                p.contains("fulfilment_permille") ? permille_text(int_of(p, "fulfilment_permille")) : "-",
                str_of(p, "surplus_text", "-")});
  }
  if (output.empty()) {
    out << "no output recorded\n";
  } else {
    output.print(out);
  }
}

std::string utc_time_text(std::int64_t ms) {
  if (ms <= 0) return "-";
  constexpr std::int64_t kDayMs = 86'400'000;
  const std::int64_t in_day = ms % kDayMs;
  char clock[16];
  std::snprintf(clock, sizeof clock, "%02lld:%02lld:%02lld", static_cast<long long>(in_day / 3'600'000),
                static_cast<long long>(in_day / 60'000 % 60), static_cast<long long>(in_day / 1000 % 60));
  return format_date(ms / kDayMs) + " " + clock + " UTC";
}

namespace {

// "just now", "5 min ago", "3 h 20 min ago", "2 days ago": how long before `now_ms` `ms` was.
std::string ago_text(std::int64_t now_ms, std::int64_t ms) {
  const std::int64_t minutes = (now_ms - ms) / 60'000;
  if (minutes < 1) return "just now";
  if (minutes < 60) return std::to_string(minutes) + " min ago";
  if (minutes < 48 * 60) {
    return std::to_string(minutes / 60) + " h" + (minutes % 60 ? " " + std::to_string(minutes % 60) + " min" : "") +
           " ago";
  }
  return std::to_string(minutes / (24 * 60)) + " days ago";
}

// The rows of status about sync's health: the last sync that completed, the failing streak, and
// head office's revocations (of this terminal, and of others of its site).
void add_health_rows(Table& t, const Json& doc) {
  const std::int64_t now = int_of(doc, "now_ms");
  const Json none;
  const Json& health = doc.is_object() && doc.contains("sync_health") ? doc["sync_health"] : none;
  if (health.is_object()) {
    const std::int64_t success = int_of(health, "last_success_ms");
    t.add({"last success", success > 0 ? utc_time_text(success) + " (this terminal's clock), " + ago_text(now, success)
                                       : "never"});
    const std::int64_t failures = int_of(health, "failures");
    if (failures > 0) {
      const std::int64_t since = int_of(health, "failing_since_ms");
      t.add({"sync failing", "since " + utc_time_text(since) + " (" + ago_text(now, since) + "), " +
                                 std::to_string(failures) + (failures == 1 ? " attempt" : " attempts") + "; the last, " +
                                 ago_text(now, int_of(health, "last_attempt_ms")) + ": " +
                                 str_of(health, "last_error")});
    }
  }
  const Json& revoked = doc.is_object() && doc.contains("revoked") ? doc["revoked"] : none;
  if (revoked.is_object()) {
    t.add({"revoked", "by head office on " + utc_time_text(int_of(revoked, "revoked_ms")) +
                          (str_of(revoked, "reason").empty() ? "" : " (" + str_of(revoked, "reason") + ")") +
                          ": this terminal holds only its own entries and records nothing more; contact head office"});
  }
  std::string others;
  for (const Json& r : array_of(doc, "revoked_terminals")) {
    others += (others.empty() ? "" : ", ") + str_of(r, "device_short") + " (" +
              utc_time_text(int_of(r, "revoked_ms")).substr(0, 10) +
              (str_of(r, "reason").empty() ? "" : ": " + str_of(r, "reason")) + ")";
  }
  if (!others.empty()) t.add({"revoked terminals", others});
}

}  // namespace

void render_status(const Json& doc, std::ostream& out) {
  Table t({"device", str_of(doc, "device_short")});
  t.add({"store", str_of(doc, "store")});
  t.add({"schema", num(doc, "schema_version")});
  const Json* enrollment = doc.is_object() && doc.contains("enrollment") ? &doc["enrollment"] : nullptr;
  const bool enrolled = enrollment && enrollment->is_object();
  t.add({"events", num(doc, "events") + " (" + num(doc, "unsynced_events") +
                       (enrolled ? " of this terminal not yet acknowledged by head office)" : " not synced)")});
  if (enrolled) {
    std::string units;
    for (const Json& u : array_of(*enrollment, "units")) units += (units.empty() ? "" : ", ") + u.get<std::string>();
    t.add({"head office", str_of(*enrollment, "server") + " (key " + str_of(*enrollment, "fingerprint") + ")"});
    t.add({"enrolled", "site " + str_of(*enrollment, "site") + ", units " + units});
    const Json* last = doc.contains("last_sync") ? &doc["last_sync"] : nullptr;
    const auto waiting = static_cast<std::uint64_t>(std::max<std::int64_t>(0, int_of(doc, "unsynced_events")));
    if (last && last->is_object()) {
      const auto held = static_cast<std::uint64_t>(std::max<std::int64_t>(0, int_of(*last, "receipt_seq")));
      t.add({"last sync", utc_time_text(int_of(*last, "server_ms")) + " (server time); " + held_text(held, waiting)});
    } else {
      t.add({"last sync", "never; " + held_text(0, waiting)});
    }
    add_health_rows(t, doc);
  } else {
    t.add({"head office", "not enrolled ('shiftbook enroll' with a code from head office)"});
  }
  const Json* leader = doc.is_object() && doc.contains("leader") ? &doc["leader"] : nullptr;
  if (leader && leader->is_object()) {
    t.add({"leader", str_of(*leader, "id") + " " + str_of(*leader, "name") + ", login ends in " +
                         num(*leader, "ends_in_minutes") + " min unless used"});
  } else {
    t.add({"leader", "none logged in"});
  }
  std::string shifts;
  for (const Json& s : array_of(doc, "open_shifts")) shifts += (shifts.empty() ? "" : ", ") + shift_text(s);
  t.add({"open shifts", shifts.empty() ? "none" : shifts});
  std::string counts;
  const Json empty = Json::object();
  const Json& ref = doc.is_object() && doc.contains("reference") ? doc["reference"] : empty;
  for (const char* word : {"site", "unit", "period", "product", "worker", "quota"}) {
    counts += (counts.empty() ? "" : ", ") + count_text(ref, (std::string(word) + "s").c_str(), word);
  }
  t.add({"reference", counts});
  t.print(out);
}

void render_conflicts(const Json& doc, std::ostream& out) {
  const Json& list = doc.contains("conflicts") ? doc["conflicts"] : Json::array();
  if (list.empty()) {
    out << "no open conflicts\n";
    return;
  }
  for (const Json& c : list) {
    out << "entry " << str_of(c, "entry") << " (" << str_of(c, "kind") << ", " << str_of(c, "unit") << ", "
        << str_of(c, "date") << (str_of(c, "worker").empty() ? "" : ", " + str_of(c, "worker")) << "): version "
        << str_of(c, "fork") << " was changed on " << c["children"].size() << " terminals without seeing each other; "
        << (bool_of(c, "resolved") ? "resolved by head office"
                                   : std::string(str_of(c, "chosen_by") == "resolution" ? "head office decided, a later "
                                                                                          "change is open"
                                                                                        : "open, for head office"))
        << "\n";
    Table t({"version", "terminal", "kind", "by", "reason", "shown"});
    for (const Json& ch : array_of(c, "children")) {
      t.add({ref_of(ch), terminal_of(ch), str_of(ch, "kind"), str_of(ch, "author"), str_of(ch, "reason"),
             bool_of(ch, "wins") ? "yes" : ""});
    }
    t.print(out);
  }
}

void render_anomalies(const Json& doc, std::ostream& out) {
  const Json& list = doc.contains("anomalies") ? doc["anomalies"] : Json::array();
  if (list.empty()) {
    out << "no anomalies\n";
    return;
  }
  Table t({"kind", "subject", "detail", "events", "head office"});
  for (const Json& a : list) {
    std::string events;
    for (const Json& e : array_of(a, "events")) events += (events.empty() ? "" : " ") + str_of(e, "ref");
    const std::string decided = a.contains("decided") && a["decided"].is_object() ? str_of(a["decided"], "reason") : "";
    t.add({str_of(a, "kind"), str_of(a, "subject"), str_of(a, "detail"), events, decided.empty() ? "open" : decided});
  }
  t.print(out);
}

}  // namespace shiftbook::cli
