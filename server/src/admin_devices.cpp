// The terminals in the field from the command line: `devices` (each terminal's last contact, what
// it delivered, how far behind it is, its clock skew and flags; `device list` is the same),
// `device revoke`, `quarantine` (what revoked terminals sent since), and `events` (a terminal's
// events with the two server-signed times that bracket each). A terminal is named by 8 to 64
// hex digits of its key (Service::find_device).
#include <cstdlib>
#include <iostream>

#include "admin.h"
#include "shiftbook/clock.h"
#include "shiftbook/kinds.h"
#include "shiftbook/platform/console.h"

namespace shiftbook::server::cli {

using console::print_json;
using console::Table;

namespace {

constexpr std::int64_t kDefaultEventLimit = 1000;
constexpr std::int64_t kMaxEventLimit = 100'000;

// "42 s", "5 min", "3 h 20 min", "2 d 4 h": a length of time, for people.
std::string format_duration(std::int64_t ms) {
  const std::int64_t s = std::llabs(ms) / 1000;
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + " min";
  if (s < 86'400) return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
  return std::to_string(s / 86'400) + " d " + std::to_string(s % 86'400 / 3600) + " h";
}

// The terminal's clock against the server's at its last sync: "+2 h 0 min" when it ran ahead,
// "0 s" within a second.
std::string format_skew(std::int64_t ms) {
  if (std::llabs(ms) < 1000) return "0 s";
  return (ms < 0 ? "-" : "+") + format_duration(ms);
}

// "2026-11-17 08:00:05 UTC": a bracket's ends are often seconds apart.
std::string format_utc_seconds(std::int64_t ms) {
  if (ms <= 0) return utc_or_never(ms);
  const std::int64_t s = ms % 60'000 / 1000;
  return format_date(ms / 86'400'000) + " " + format_minutes(ms % 86'400'000 / 60'000) + ":" + (s < 10 ? "0" : "") +
         std::to_string(s) + " UTC";
}

Json nullable(bool present, std::int64_t value) { return present ? Json(value) : Json(nullptr); }

Json receipt_json(const Receipt& r) {
  return Json{{"seq", r.seq}, {"hash", to_hex(r.hash)}, {"server_ms", r.server_ms}, {"sig", to_hex(r.signature)}};
}

std::vector<std::string> flag_names(const DeviceRecord& d) {
  std::vector<std::string> out;
  if (!d.flag.empty()) out.push_back("equivocation");
  if (d.revoked_ms != 0) out.push_back("revoked");
  if (d.quarantined > 0) out.push_back("quarantined");
  return out;
}

Json health_json(const DeviceHealth& h, std::int64_t now_ms) {
  const DeviceRecord& d = h.device;
  const bool synced = d.last_sync_ms != 0;
  return Json{{"device", to_hex(d.key)},
              {"short", short_key(d.key)},
              {"site", d.site},
              {"units", d.units},
              {"enrolled_ms", d.enrolled_ms},
              {"seq", d.seq},
              {"delivered", d.seq},
              {"head", d.seq > 0 ? to_hex(d.head) : std::string()},
              {"last_sync_ms", d.last_sync_ms},
              {"last_client_ms", d.last_client_ms},
              {"ago_ms", nullable(synced, now_ms - d.last_sync_ms)},
              {"skew_ms", nullable(synced, d.last_client_ms - d.last_sync_ms)},
              {"cursor", d.last_cursor},
              {"behind", h.behind ? Json(*h.behind) : Json(nullptr)},
              {"quarantined", d.quarantined},
              {"flag", d.flag},
              {"flagged_ms", d.flagged_ms},
              {"revoked_ms", d.revoked_ms},
              {"revoke_reason", d.revoke_reason},
              {"flags", flag_names(d)}};
}

std::string flags_text(const DeviceRecord& d) {
  std::vector<std::string> parts;
  if (d.revoked_ms != 0) parts.push_back("revoked " + utc_or_never(d.revoked_ms) + " (" + d.revoke_reason + ")");
  if (!d.flag.empty()) parts.push_back(d.flag + " (" + utc_or_never(d.flagged_ms) + ")");
  if (d.quarantined > 0) parts.push_back("quarantined " + std::to_string(d.quarantined));
  return parts.empty() ? "-" : join(parts, "; ");
}

Status print_devices(Context& c) {
  SB_ASSIGN_OR_RETURN(auto service, c.open());
  SB_ASSIGN_OR_RETURN(std::vector<DeviceHealth> all, service->device_health());
  const std::int64_t now = c.clock.now_ms();
  if (c.json) {
    Json doc = {{"devices", Json::array()}};
    for (const DeviceHealth& h : all) doc["devices"].push_back(health_json(h, now));
    print_json(doc);
    return Status::ok();
  }
  if (all.empty()) {
    std::cout << "no terminals enrolled yet (make a code with 'code create')\n";
    return Status::ok();
  }
  Table t({"DEVICE", "SITE", "UNITS", "LAST CONTACT", "DELIVERED", "QUARANTINED", "BEHIND", "SKEW", "FLAGS"});
  for (const DeviceHealth& h : all) {
    const DeviceRecord& d = h.device;
    const bool synced = d.last_sync_ms != 0;
    t.add({short_key(d.key), d.site, join(d.units, ","),
           synced ? utc_or_never(d.last_sync_ms) + " (" + format_duration(now - d.last_sync_ms) + " ago)" : "never",
           std::to_string(d.seq), std::to_string(d.quarantined),
           h.behind ? std::to_string(*h.behind) : "never synced",
           synced ? format_skew(d.last_client_ms - d.last_sync_ms) : "-", flags_text(d)});
  }
  t.print(std::cout);
  return Status::ok();
}

struct RevokeOpts {
  std::string device, reason;
};

void add_device_group(CLI::App& app, Context& ctx) {
  auto* device = app.add_subcommand("device", "Terminals enrolled with this server");
  device->require_subcommand(1);
  auto* list = device->add_subcommand("list", "The same as 'devices'");
  add_json_flag(list, ctx);
  on_run(list, ctx, print_devices);

  auto* revoke = device->add_subcommand(
      "revoke", "Revoke a terminal: from its next sync on it is told so, and what it sends is kept in quarantine, "
                "never counted; what it delivered before stays");
  auto o = std::make_shared<RevokeOpts>();
  revoke->add_option("DEVICE", o->device, "8 to 64 hex digits of the terminal's key, as 'devices' shows it")
      ->required();
  revoke->add_option("--reason", o->reason, "Why (1 to 500 bytes); the terminal and the site's terminals see it")
      ->required();
  add_json_flag(revoke, ctx);
  on_run(revoke, ctx, o, [](Context& c, const RevokeOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(DeviceRecord found, service->find_device(opts.device));
    SB_ASSIGN_OR_RETURN(DeviceRecord d, service->revoke_device(found.key, opts.reason));
    if (c.json) {
      print_json(Json{{"device", to_hex(d.key)}, {"short", short_key(d.key)}, {"site", d.site},
                      {"revoked_ms", d.revoked_ms}, {"reason", d.revoke_reason}});
      return Status::ok();
    }
    std::cout << "revoked terminal " << short_key(d.key) << " of site " << d.site << " (units " << join(d.units, ",")
              << ") at " << utc_or_never(d.revoked_ms) << ": " << d.revoke_reason << '\n'
              << "it holds " << d.seq << " events delivered before; what it sends from now on is kept in quarantine "
              << "(see 'quarantine')\n";
    return Status::ok();
  });
}

struct QuarantineOpts {
  std::string device;
};

void add_quarantine(CLI::App& app, Context& ctx) {
  auto* q = app.add_subcommand("quarantine", "What revoked terminals sent after their revocation (never counted)");
  auto o = std::make_shared<QuarantineOpts>();
  q->add_option("--device", o->device, "Only this terminal's (8 to 64 hex digits of its key)");
  add_json_flag(q, ctx);
  on_run(q, ctx, o, [](Context& c, const QuarantineOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    std::optional<PublicKey> only;
    if (!opts.device.empty()) {
      SB_ASSIGN_OR_RETURN(DeviceRecord d, service->find_device(opts.device));
      only = d.key;
    }
    SB_ASSIGN_OR_RETURN(std::vector<QuarantinedEvent> held, service->quarantined(only ? &*only : nullptr));
    if (c.json) {
      Json doc = {{"quarantine", Json::array()}};
      for (const QuarantinedEvent& e : held) {
        doc["quarantine"].push_back(Json{{"device", to_hex(e.device)},
                                         {"short", short_key(e.device)},
                                         {"seq", e.seq},
                                         {"hash", to_hex(e.hash)},
                                         {"kind", e.kind},
                                         {"received_ms", e.received_ms},
                                         {"head", Json{{"seq", e.head.seq},
                                                       {"hash", to_hex(e.head.hash)},
                                                       {"sig", to_hex(e.head.signature)}}}});
      }
      print_json(doc);
      return Status::ok();
    }
    if (held.empty()) {
      std::cout << "nothing in quarantine\n";
      return Status::ok();
    }
    Table t({"DEVICE", "SEQ", "KIND", "RECEIVED", "HEAD"});
    for (const QuarantinedEvent& e : held) {
      t.add({short_key(e.device), std::to_string(e.seq), e.kind, utc_or_never(e.received_ms),
             "seq " + std::to_string(e.head.seq) + " " + to_hex(ByteView(e.head.hash.data(), 4))});
    }
    t.print(std::cout);
    return Status::ok();
  });
}

struct EventsOpts {
  std::string device;
  std::int64_t from = 1;
  std::int64_t limit = kDefaultEventLimit;
};

void add_events(CLI::App& app, Context& ctx) {
  auto* ev = app.add_subcommand(
      "events", "A terminal's events in seq order, with its own time and the two server-signed times around each");
  auto o = std::make_shared<EventsOpts>();
  ev->add_option("--device", o->device, "The terminal (8 to 64 hex digits of its key)")->required();
  ev->add_option("--from", o->from, "The first seq to show (default 1)")->check(CLI::PositiveNumber);
  ev->add_option("--limit", o->limit, "At most this many events (default 1000, at most 100000)")
      ->check(CLI::Range(std::int64_t{1}, kMaxEventLimit));
  add_json_flag(ev, ctx);
  on_run(ev, ctx, o, [](Context& c, const EventsOpts& opts) -> Status {
    SB_ASSIGN_OR_RETURN(auto service, c.open());
    SB_ASSIGN_OR_RETURN(DeviceRecord d, service->find_device(opts.device));
    const auto limit = static_cast<std::size_t>(opts.limit);
    SB_ASSIGN_OR_RETURN(std::vector<BracketedEvent> events,
                        service->events(d.key, static_cast<std::uint64_t>(opts.from), limit));
    const bool more = events.size() == limit && events.back().seq < d.seq;
    if (c.json) {
      Json doc = {{"device", to_hex(d.key)}, {"events", Json::array()}};
      for (const BracketedEvent& e : events) {
        Json after = nullptr;
        if (e.after) {
          after = receipt_json(*e.after);
          after["shift"] = e.after_shift;
        }
        doc["events"].push_back(Json{{"seq", e.seq},
                                     {"hash", to_hex(e.hash)},
                                     {"kind", e.kind},
                                     {"terminal_ms", e.terminal_ms},
                                     {"received_ms", e.received_ms},
                                     {"after", after},
                                     {"before", e.before ? receipt_json(*e.before) : Json(nullptr)}});
      }
      doc["next"] = more ? Json(events.back().seq + 1) : Json(nullptr);
      print_json(doc);
      return Status::ok();
    }
    if (events.empty()) {
      std::cout << "terminal " << short_key(d.key) << " has delivered no events from seq " << opts.from << " (it holds "
                << d.seq << ")\n";
      return Status::ok();
    }
    Table t({"SEQ", "KIND", "TERMINAL TIME", "AFTER (SERVER)", "BEFORE (SERVER)"});
    for (const BracketedEvent& e : events) {
      t.add({std::to_string(e.seq), e.kind, format_utc_seconds(e.terminal_ms),
             e.after ? format_utc_seconds(e.after->server_ms) : "-",
             e.before ? format_utc_seconds(e.before->server_ms) : "-"});
    }
    t.print(std::cout);
    if (more) std::cout << "more from seq " << events.back().seq + 1 << " (--from " << events.back().seq + 1 << ")\n";
    return Status::ok();
  });
}

}  // namespace

void add_device_commands(CLI::App& app, Context& ctx) {
  auto* devices = app.add_subcommand(
      "devices", "The enrolled terminals: last contact, events delivered, quarantined, how far behind, clock skew, "
                 "flags");
  add_json_flag(devices, ctx);
  on_run(devices, ctx, print_devices);
  add_device_group(app, ctx);
  add_quarantine(app, ctx);
  add_events(app, ctx);
}

}  // namespace shiftbook::server::cli
