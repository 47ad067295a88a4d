// The dashboard's pages about the field (docs/DASHBOARD.md, step 3): the terminals with their
// revoke action and the enrollment codes, and the queue of conflicts, anomalies and integrity
// signals with the events behind each side by side and the actions that decide them. Each action
// is the command line's Service call, with the signed-in account as the author of what it writes.
#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>

#include "dashboard_impl.h"
#include "service_impl.h"
#include "shiftbook/anomalies.h"
#include "shiftbook/kinds.h"
#include "shiftbook/ledger.h"

namespace shiftbook::server::dash {
namespace {

constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kMaxCodeHours = 720;

// A body's value as text: a string as it is, anything else as JSON.
std::string value_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, Json::error_handler_t::replace); }

// A body field by field, a map one level down as "entry.worker".
std::vector<std::pair<std::string, std::string>> body_fields(const Json& body) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : body.items()) {
    if (value.is_object()) {
      for (const auto& [sub, v] : value.items()) out.emplace_back(key + "." + sub, value_text(v));
    } else {
      out.emplace_back(key, value_text(value));
    }
  }
  return out;
}

Result<std::string> terminals_html(Service& service, const SessionInfo& session) {
  const std::int64_t now = service.clock().now_ms();
  SB_ASSIGN_OR_RETURN(std::vector<DeviceHealth> health, service.device_health());
  std::sort(health.begin(), health.end(), [](const DeviceHealth& a, const DeviceHealth& b) {
    return std::tie(a.device.site, a.device.key) < std::tie(b.device.site, b.device.key);
  });
  std::string body = "<h2>Terminals</h2>\n";
  if (health.empty()) {
    body += "<p>No terminal is enrolled yet: make an enrollment code below.</p>\n";
  } else {
    body += "<table id=\"terminals\"><tr><th>Terminal</th><th>Site</th><th>Units</th><th>Enrolled</th>"
            "<th>Last contact</th><th>Delivered</th><th>Behind</th><th>Clock skew</th><th>Flags</th><th>Action</th></tr>\n";
    for (const DeviceHealth& h : health) {
      const DeviceRecord& d = h.device;
      std::vector<std::string> flags;
      if (d.revoked_ms != 0) flags.push_back("revoked: " + d.revoke_reason + " (" + utc_or_never(d.revoked_ms) + ")");
      if (!d.flag.empty()) flags.push_back("equivocation: " + d.flag);
      if (d.quarantined != 0) flags.push_back(std::to_string(d.quarantined) + " in quarantine");
      const std::string skew =
          d.last_sync_ms == 0 ? "-" : std::to_string((d.last_client_ms - d.last_sync_ms) / 1000) + " s";
      std::string action = "-";
      if (d.revoked_ms == 0) {
        action = form_start("/dashboard/terminals/revoke", session, "revoke") + hidden("device", to_hex(d.key)) +
                 "<input name=\"reason\" required maxlength=\"500\" placeholder=\"reason\" aria-label=\"Reason to revoke " +
                 short_device(d.key) + "\"> <button type=\"submit\">Revoke</button></form>";
      }
      body += "<tr><td><code title=\"" + to_hex(d.key) + "\">" + short_device(d.key) + "</code></td><td>" +
              html_escape(d.site) + "</td><td>" + escaped_list(d.units, ", ") + "</td><td>" + utc_or_never(d.enrolled_ms) +
              "</td><td>" + utc_or_never(d.last_sync_ms) + "</td><td class=\"n\">" + std::to_string(d.seq) +
              "</td><td class=\"n\">" + (h.behind ? std::to_string(*h.behind) : std::string("-")) +
              "</td><td class=\"n\">" + skew + "</td><td>" + escaped_list(flags, "; ") + "</td><td>" + action +
              "</td></tr>\n";
    }
    body += "</table>\n";
  }

  SB_ASSIGN_OR_RETURN(std::vector<CodeRecord> codes, service.codes());
  body += "<h2>Enrollment codes</h2>\n";
  if (codes.empty()) {
    body += "<p>No enrollment code has been made.</p>\n";
  } else {
    body += "<table id=\"codes\"><tr><th>Site</th><th>Units</th><th>Created</th><th>Expires</th><th>State</th></tr>\n";
    for (const CodeRecord& c : codes) {
      const std::string state = c.used_ms != 0 ? "used by " + short_device(c.used_by) + " at " + utc_or_never(c.used_ms)
                                : c.expires_ms <= now ? std::string("expired")
                                                      : std::string("unused");
      body += "<tr><td>" + html_escape(c.site) + "</td><td>" + escaped_list(c.units, ", ") + "</td><td>" +
              utc_or_never(c.created_ms) + "</td><td>" + utc_or_never(c.expires_ms) + "</td><td>" + state + "</td></tr>\n";
    }
    body += "</table>\n";
  }
  SB_ASSIGN_OR_RETURN(std::vector<std::string> sites, service.sites());
  body += "<h3>New enrollment code</h3>\n" + form_start("/dashboard/codes", session, "code") +
          "<p><label>Site <select name=\"site\">";
  for (const std::string& s : sites) body += "<option value=\"" + html_escape(s) + "\">" + html_escape(s) + "</option>";
  body += "</select></label> <label>Units <input name=\"units\" required placeholder=\"U1 U2\"></label> "
          "<label>Valid for <input name=\"hours\" type=\"number\" min=\"1\" max=\"720\" value=\"24\"> hours</label> "
          "<button type=\"submit\">Create code</button></p></form>\n";
  return body;
}

// The unit ids of a form field: separated by spaces or commas.
std::vector<std::string> unit_list(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  for (char c : text + " ") {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!current.empty()) out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  return out;
}

Result<std::int64_t> code_hours(const std::string& text) {
  const std::string t = text.empty() ? "24" : text;
  std::int64_t hours = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), hours);
  if (ec != std::errc() || end != t.data() + t.size() || hours < 1 || hours > kMaxCodeHours) {
    return invalid_argument("a code is valid for a whole number of hours from 1 to " + std::to_string(kMaxCodeHours) +
                            "; '" + text + "' is not one");
  }
  return hours;
}

// What the queue shows of one site, read under its ledger.
struct SiteQueue {
  std::string site;
  std::vector<LedgerConflict> conflicts;
  std::vector<std::string> entry_kinds;  // of each conflict's entry
  std::vector<Anomaly> anomalies;        // anomalies, then integrity signals
  std::map<std::string, AnomalyNote> notes;
};

std::string conflict_section(Service& service, const SessionInfo& session, const SiteQueue& q, std::size_t i) {
  const LedgerConflict& lc = q.conflicts[i];
  const Conflict& c = lc.conflict;
  const std::string id = shown_hash(c.fork);
  std::string out = "<section class=\"conflict\" id=\"fork-" + id + "\"><h3>Entry " + event_link(lc.root) + " (" +
                    html_escape(q.entry_kinds[i]) + "), unit " + html_escape(lc.unit.empty() ? "-" : lc.unit) +
                    ", site " + html_escape(q.site) + ": <span class=\"state\">" +
                    (c.resolved ? "resolved" : "open") + "</span></h3>\n<p>Fork " + event_link(c.fork) + ": " +
                    std::to_string(c.children.size()) + " versions supersede it without having seen each other. " +
                    "The current winner, " + shown_hash(c.winner) + ", was chosen by " +
                    (c.chosen_by == ChosenBy::kResolution ? "head office's resolution " + event_link(*c.resolution)
                                                          : std::string("the rule (the later trusted time)")) +
                    ".</p>\n";
  std::vector<Hash> events{c.fork};
  std::vector<std::string> headings{"the version they supersede"};
  for (std::size_t k = 0; k < c.children.size(); ++k) {
    events.push_back(c.children[k]);
    headings.push_back("version " + std::to_string(k + 1));
  }
  out += events_side_by_side(service, events, headings, c.winner);
  out += form_start("/dashboard/conflicts/resolve", session, "resolve") + hidden("site", q.site) +
         hidden("fork", to_hex(c.fork)) + "<p>Winner: ";
  for (std::size_t k = 0; k < c.children.size(); ++k) {
    out += "<label><input type=\"radio\" name=\"winner\" required value=\"" + to_hex(c.children[k]) + "\"> version " +
           std::to_string(k + 1) + " (" + shown_hash(c.children[k]) + ")</label> ";
  }
  out += "</p><p><label>Reason <input name=\"reason\" required maxlength=\"500\" size=\"60\"></label> "
         "<button type=\"submit\">Resolve</button></p></form></section>\n";
  return out;
}

std::string anomaly_section(Service& service, const SessionInfo& session, const SiteQueue& q, const Anomaly& a) {
  auto note = q.notes.find(a.id);
  const bool signal = is_signal_kind(a.kind);
  std::string out = "<section class=\"anomaly\" id=\"" + html_escape(a.id) + "\"><h3>" +
                    (signal ? "Integrity signal " : "Anomaly ") + html_escape(a.kind) + ", site " + html_escape(q.site) +
                    ": <span class=\"state\">" +
                    (note == q.notes.end() ? std::string("open")
                                           : "decided: " + html_escape(note->second.reason) + " (" +
                                                 event_link(note->second.event) + ")") +
                    "</span></h3>\n<p>" + html_escape(a.detail) + " <small>(" + html_escape(a.id) + ")</small></p>\n";
  std::vector<std::string> headings;
  for (std::size_t k = 0; k < a.events.size(); ++k) headings.push_back("event " + std::to_string(k + 1));
  out += events_side_by_side(service, a.events, headings, std::nullopt);
  out += form_start("/dashboard/anomalies/note", session, "note") + hidden("site", q.site) + hidden("anomaly", a.id) +
         "<p><label>Decision <input name=\"reason\" required maxlength=\"500\" size=\"60\"></label> "
         "<button type=\"submit\">Note decision</button></p></form></section>\n";
  return out;
}

Result<std::string> conflicts_html(Service& service, const SessionInfo& session) {
  SB_ASSIGN_OR_RETURN(std::vector<std::string> sites, service.sites());
  std::vector<SiteQueue> queues;
  for (const std::string& site : sites) {
    SiteQueue q;
    q.site = site;
    SB_RETURN_IF_ERROR(service.with_ledger(site, [&](SiteLedger& l) {
      q.conflicts = l.ledger.conflicts();
      for (const LedgerConflict& c : q.conflicts) {
        auto src = l.ledger.source(c.root);
        q.entry_kinds.push_back(src ? src->kind : std::string("not held"));
      }
      q.anomalies = site_anomalies(l);
      for (Anomaly& s : site_signals(l)) q.anomalies.push_back(std::move(s));
      q.notes = l.ledger.anomaly_notes();
      return Status::ok();
    }));
    queues.push_back(std::move(q));
  }
  std::string open_conflicts, closed_conflicts, open_items, closed_items;
  std::size_t conflicts = 0, open_count = 0, items = 0, open_item_count = 0;
  for (const SiteQueue& q : queues) {
    for (std::size_t i = 0; i < q.conflicts.size(); ++i) {
      const bool open = !q.conflicts[i].conflict.resolved;
      (open ? open_conflicts : closed_conflicts) += conflict_section(service, session, q, i);
      ++conflicts;
      open_count += open ? 1 : 0;
    }
    for (const Anomaly& a : q.anomalies) {
      const bool open = q.notes.count(a.id) == 0;
      (open ? open_items : closed_items) += anomaly_section(service, session, q, a);
      ++items;
      open_item_count += open ? 1 : 0;
    }
  }
  std::string body = "<h2>Conflicts</h2>\n<p>" + std::to_string(conflicts) + " conflicts, " +
                     std::to_string(open_count) + " open.</p>\n" + open_conflicts + closed_conflicts +
                     "<h2>Anomalies and integrity signals</h2>\n<p>" + std::to_string(items) + " found, " +
                     std::to_string(open_item_count) + " not decided.</p>\n" + open_items + closed_items;
  return body;
}

}  // namespace

std::string events_side_by_side(Service& service, const std::vector<Hash>& events,
                                const std::vector<std::string>& headings, const std::optional<Hash>& marked) {
  struct Column {
    std::optional<Event> event;
    std::vector<std::pair<std::string, std::string>> fields;
  };
  std::vector<Column> columns;
  std::vector<std::string> names;  // every body field, in the order first seen
  for (const Hash& h : events) {
    Column col;
    if (auto e = stored_event(service, h); e.is_ok()) col.event = std::move(e).value();
    if (col.event) col.fields = body_fields(col.event->body);
    for (const auto& [name, value] : col.fields) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    columns.push_back(std::move(col));
  }
  std::string out = "<table class=\"events\"><tr><th></th>";
  for (std::size_t i = 0; i < events.size(); ++i) {
    const bool win = marked && events[i] == *marked;
    out += std::string("<th") + (win ? " class=\"win\"" : "") + ">" +
           html_escape(i < headings.size() ? headings[i] : std::string()) + (win ? " (current winner)" : "") + "</th>";
  }
  out += "</tr>\n";
  auto row = [&](const std::string& label, const std::function<std::string(std::size_t)>& cell) {
    out += "<tr><th>" + html_escape(label) + "</th>";
    for (std::size_t i = 0; i < events.size(); ++i) out += "<td>" + cell(i) + "</td>";
    out += "</tr>\n";
  };
  row("event", [&](std::size_t i) { return event_link(events[i]); });
  row("terminal, seq", [&](std::size_t i) {
    const auto& e = columns[i].event;
    return e ? "<code title=\"" + to_hex(e->device) + "\">" + short_device(e->device) + "</code> seq " +
                   std::to_string(e->seq)
             : std::string("not held");
  });
  row("kind", [&](std::size_t i) { return columns[i].event ? html_escape(columns[i].event->kind) : std::string("-"); });
  row("author", [&](std::size_t i) { return columns[i].event ? html_escape(columns[i].event->author) : std::string("-"); });
  row("terminal's clock", [&](std::size_t i) {
    return columns[i].event ? utc_or_never(static_cast<std::int64_t>(columns[i].event->hlc >> 16)) : std::string("-");
  });
  for (const std::string& name : names) {
    row(name, [&](std::size_t i) {
      for (const auto& [n, v] : columns[i].fields) {
        if (n != name) continue;
        // A field naming an event (a shift, a target) is a link to it.
        auto named = array_from_hex<32>(v);
        if (v.size() == 64 && named.is_ok() && v == to_hex(*named)) return event_link(*named);
        return html_escape(v);
      }
      return std::string("-");
    });
  }
  return out + "</table>\n";
}

Reply terminals_page(Service& service, const DashboardRequest& request) {
  return show_page(service, request, "Terminals", [&](const SessionInfo& s) { return terminals_html(service, s); });
}

Reply revoke_action(Service& service, const DashboardRequest& request) {
  return run_action(
      service, request, "Terminals", [&](const SessionInfo& s) { return terminals_html(service, s); },
      [&](const SessionInfo& s) -> Result<Reply> {
        SB_ASSIGN_OR_RETURN(DeviceRecord device, service.find_device(param(request, "device")));
        SB_ASSIGN_OR_RETURN(DeviceRecord revoked, service.revoke_device(device.key, param(request, "reason"), s.account));
        return done_redirect("/dashboard/terminals", "revoked", std::nullopt,
                             "revoked terminal " + short_device(revoked.key));
      });
}

Reply code_action(Service& service, const DashboardRequest& request) {
  return run_action(
      service, request, "Terminals", [&](const SessionInfo& s) { return terminals_html(service, s); },
      [&](const SessionInfo& s) -> Result<Reply> {
        const std::string site = param(request, "site");
        const std::vector<std::string> units = unit_list(param(request, "units"));
        if (units.empty()) return invalid_argument("name at least one unit of site " + site + " for the code");
        SB_ASSIGN_OR_RETURN(std::int64_t hours, code_hours(param(request, "hours")));
        SB_ASSIGN_OR_RETURN(std::string code, service.create_code(site, units, hours * kHourMs));
        const std::string body =
            "<h2>Enrollment code</h2>\n<p>For a terminal of site " + html_escape(site) + ", units " +
            escaped_list(units, ", ") + ": type it on the terminal ('shiftbook enroll'). It is shown this once, works once, and expires " +
            utc_or_never(service.clock().now_ms() + hours * kHourMs) + ".</p>\n<p><code class=\"enroll-code\">" +
            html_escape(code) + "</code></p>\n<p><a href=\"/dashboard/terminals\">Back to the terminals</a></p>\n";
        return framed_page(200, s, "Terminals", body, "made an enrollment code for site " + site);
      });
}

Reply conflicts_page(Service& service, const DashboardRequest& request) {
  return show_page(service, request, "Conflicts", [&](const SessionInfo& s) { return conflicts_html(service, s); });
}

Reply resolve_action(Service& service, const DashboardRequest& request) {
  return run_action(
      service, request, "Conflicts", [&](const SessionInfo& s) { return conflicts_html(service, s); },
      [&](const SessionInfo& s) -> Result<Reply> {
        const std::string winner = param(request, "winner");
        if (winner.empty()) return invalid_argument("choose the version that wins the conflict");
        SB_ASSIGN_OR_RETURN(RecordedResolution r, service.resolve(param(request, "site"), param(request, "fork"), winner,
                                                                  param(request, "reason"), s.account));
        return done_redirect("/dashboard/conflicts", "resolved", r.event,
                             "resolved fork " + shown_hash(r.fork) + " for " + shown_hash(r.winner));
      });
}

Reply note_action(Service& service, const DashboardRequest& request) {
  return run_action(
      service, request, "Conflicts", [&](const SessionInfo& s) { return conflicts_html(service, s); },
      [&](const SessionInfo& s) -> Result<Reply> {
        SB_ASSIGN_OR_RETURN(RecordedNote n, service.note_anomaly(param(request, "site"), param(request, "anomaly"),
                                                                 param(request, "reason"), s.account));
        return done_redirect("/dashboard/conflicts", "noted", n.event, "noted " + n.anomaly);
      });
}

}  // namespace shiftbook::server::dash
