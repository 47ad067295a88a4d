// The merged state of the sites' logs from the command line: `conflicts` (every fork of every
// entry: its children, the winner and what chose it), `anomalies` (find_anomalies over each
// site's Ledger) and `resolve` (head office's decision of a fork, written as a `resolution` into
// the site signer's chain). Each builds the Ledgers it reads on demand from storage
// (Service::ledger); docs/SERVER.md has each command's output.
#include <iostream>
#include <set>

#include "admin.h"
#include "report_api.h"
#include "shiftbook/anomalies.h"
#include "shiftbook/signals.h"
#include "shiftbook/kinds.h"
#include "shiftbook/ledger.h"
#include "shiftbook/platform/console.h"

namespace shiftbook::server::cli {

using console::print_json;
using console::Table;

namespace {

// Enough of an event hash to tell one from another, and to give to `resolve`.
constexpr std::size_t kShownHexDigits = 16;

std::string shown(const Hash& h) { return to_hex(h).substr(0, kShownHexDigits); }

// The sites to read: `site` alone (not_found when unknown, from Service::ledger), or every site.
Result<std::vector<SiteLedger>> ledgers(Service& service, const std::string& site) {
  std::vector<std::string> names{site};
  if (site.empty()) {
    SB_ASSIGN_OR_RETURN(std::vector<std::string> all, service.sites());
    names = std::move(all);
  }
  std::vector<SiteLedger> out;
  for (const std::string& s : names) {
    SB_ASSIGN_OR_RETURN(SiteLedger l, service.ledger(s));
    out.push_back(std::move(l));
  }
  return out;
}

Json event_json(const Ledger& ledger, const Hash& h) {
  Json j = {{"hash", to_hex(h)}, {"device", nullptr}, {"short", nullptr}, {"seq", nullptr}, {"kind", nullptr}};
  if (auto src = ledger.source(h)) {
    j["device"] = to_hex(src->device);
    j["short"] = short_key(src->device);
    j["seq"] = src->seq;
    j["kind"] = src->kind;
  }
  return j;
}

// "0a1b2c3d4e5f6071 (7f3a9c21 seq 4)"
std::string event_text(const Ledger& ledger, const Hash& h) {
  std::string out = shown(h);
  if (auto src = ledger.source(h)) out += " (" + short_key(src->device) + " seq " + std::to_string(src->seq) + ")";
  return out;
}

const char* chosen_by_name(ChosenBy by) { return by == ChosenBy::kResolution ? "resolution" : "rule"; }

struct ConflictsOpts {
  std::string site;
  bool open_only = false;
};

// A listing as --json asked: the document, or the table, or `none` when it has no rows.
Status print_listing(const Context& c, const Json& doc, const Table& t, std::size_t rows, const char* none) {
  if (c.json) {
    print_json(doc);
  } else if (rows == 0) {
    std::cout << none << '\n';
  } else {
    t.print(std::cout);
  }
  return Status::ok();
}

Status print_conflicts(Context& c, const ConflictsOpts& opts) {
  SB_ASSIGN_OR_RETURN(auto service, c.open());
  SB_ASSIGN_OR_RETURN(std::vector<SiteLedger> sites, ledgers(*service, opts.site));
  Json doc = {{"conflicts", Json::array()}};
  Table t({"SITE", "UNIT", "ENTRY", "FORK", "CHILDREN", "WINNER", "CHOSEN BY", "STATE"});
  std::size_t shown_rows = 0;
  for (SiteLedger& s : sites) {
    std::map<Hash, LedgerEntry> entries = s.ledger.entries();
    for (const LedgerConflict& lc : s.ledger.conflicts()) {
      const Conflict& k = lc.conflict;
      if (opts.open_only && k.resolved) continue;
      ++shown_rows;
      if (c.json) {
        Json children = Json::array();
        for (const Hash& child : k.children) children.push_back(event_json(s.ledger, child));
        Json ignored = Json::array();
        for (const Hash& r : k.ignored_resolutions) ignored.push_back(to_hex(r));
        doc["conflicts"].push_back(Json{{"site", s.site},
                                        {"unit", lc.unit},
                                        {"entry", to_hex(lc.root)},
                                        {"kind", entries.at(lc.root).kind},
                                        {"fork", event_json(s.ledger, k.fork)},
                                        {"children", children},
                                        {"winner", to_hex(k.winner)},
                                        {"chosen_by", chosen_by_name(k.chosen_by)},
                                        {"resolution", k.resolution ? Json(to_hex(*k.resolution)) : Json(nullptr)},
                                        {"resolved", k.resolved},
                                        {"open", !k.resolved},
                                        {"on_current_path", k.on_current_path},
                                        {"ignored_resolutions", ignored}});
        continue;
      }
      std::vector<std::string> children;
      for (const Hash& child : k.children) children.push_back(event_text(s.ledger, child));
      t.add({s.site, lc.unit.empty() ? "-" : lc.unit, shown(lc.root) + " " + entries.at(lc.root).kind,
             event_text(s.ledger, k.fork), join(children, ", "), shown(k.winner), chosen_by_name(k.chosen_by),
             k.resolved ? "resolved" : "open"});
    }
  }
  return print_listing(c, doc, t, shown_rows, opts.open_only ? "no open conflicts" : "no conflicts");
}

void add_conflicts(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "conflicts", "Entries that terminals changed without seeing each other's change: each fork, its children, "
                   "the winner, and whether head office resolved it");
  auto o = std::make_shared<ConflictsOpts>();
  cmd->add_option("--site", o->site, "Only this site's (default: every site)");
  cmd->add_flag("--open", o->open_only, "Only those head office has not resolved");
  add_json_flag(cmd, ctx);
  on_run(cmd, ctx, o, print_conflicts);
}

struct AnomaliesOpts {
  std::string site, kind;
  bool open_only = false;
};

// Anomalies or integrity signals (`signals`), as `find` gives them for each site, with head
// office's decision of each; `list` names the JSON array and what the listing is of.
Status print_findings(Context& c, const AnomaliesOpts& opts, std::vector<Anomaly> (*find)(SiteLedger&),
                      const std::string& list) {
  SB_ASSIGN_OR_RETURN(auto service, c.open());
  SB_ASSIGN_OR_RETURN(std::vector<SiteLedger> sites, ledgers(*service, opts.site));
  Json doc = {{list, Json::array()}};
  Table t({"SITE", "KIND", "ID", "DETAIL", "EVENTS", "DECIDED"});
  std::size_t shown_rows = 0;
  for (SiteLedger& s : sites) {
    for (const Anomaly& a : find(s)) {
      if (!opts.kind.empty() && a.kind != opts.kind) continue;
      auto note = s.ledger.anomaly_notes().find(a.id);
      const bool decided = note != s.ledger.anomaly_notes().end();
      if (opts.open_only && decided) continue;
      ++shown_rows;
      if (c.json) {
        Json events = Json::array();
        for (const Hash& h : a.events) events.push_back(event_json(s.ledger, h));
        Json item{{"site", s.site}, {"kind", a.kind}, {"id", a.id}, {"subject", a.subject},
                  {"detail", a.detail}, {"events", events}, {"decided", nullptr}};
        if (decided) {
          item["decided"] = Json{{"reason", note->second.reason}, {"event", to_hex(note->second.event)},
                                 {"signer_seq", note->second.signer_seq}};
        }
        doc[list].push_back(std::move(item));
        continue;
      }
      std::vector<std::string> events;
      for (const Hash& h : a.events) events.push_back(event_text(s.ledger, h));
      t.add({s.site, a.kind, a.id, a.detail, events.empty() ? "-" : join(events, ", "),
             decided ? note->second.reason : "-"});
    }
  }
  const std::string none = "no " + list;
  return print_listing(c, doc, t, shown_rows, none.c_str());
}

// The options `anomalies` and `signals` share; `kinds` are what --kind takes.
std::shared_ptr<AnomaliesOpts> add_finding_options(CLI::App* cmd, Context& ctx, std::vector<std::string> kinds) {
  auto o = std::make_shared<AnomaliesOpts>();
  cmd->add_option("--site", o->site, "Only this site's (default: every site)");
  cmd->add_option("--kind", o->kind, "Only this kind")->check(CLI::IsMember(std::move(kinds)));
  cmd->add_flag("--open", o->open_only, "Only those head office has not decided ('resolve ID --reason')");
  add_json_flag(cmd, ctx);
  return o;
}

void add_anomalies(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "anomalies", "Numbers from the terminals that cannot all be true, and terminal clocks that cannot be trusted "
                   "(docs/ANOMALIES.md): flagged for head office, never dropped");
  auto o = add_finding_options(cmd, ctx,
                               {std::string(anomaly::kOverlap), std::string(anomaly::kOverDay),
                                std::string(anomaly::kStaleQuota), std::string(anomaly::kClockSkew)});
  on_run(cmd, ctx, o, [](Context& c, const AnomaliesOpts& opts) {
    return print_findings(c, opts, site_anomalies, "anomalies");
  });
}

void add_signals(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "signals", "Integrity signals (docs/SIGNALS.md): output exactly at quota period after period, more hours than "
                 "the people logged could work, changes after an approval, bursts of late entries, terminal clocks "
                 "that are off and devices that signed two histories; each with its evidence");
  auto o = add_finding_options(cmd, ctx,
                               {std::string(signal::kExactQuota), std::string(signal::kOverCapacity),
                                std::string(signal::kAfterApproval), std::string(signal::kLateBurst),
                                std::string(anomaly::kClockSkew), std::string(signal::kEquivocation)});
  on_run(cmd, ctx, o, [](Context& c, const AnomaliesOpts& opts) {
    return print_findings(c, opts, site_signals, "signals");
  });
}

struct ResolveOpts {
  std::string fork, winner, reason, site;
};

// Head office's decision of an anomaly or an integrity signal: noted in the site's head-office
// chain; it stays listed, marked decided.
Status run_note(Context& c, const ResolveOpts& opts) {
  const bool is_signal = is_signal_kind(opts.fork.substr(0, opts.fork.find(':')));
  const std::string what = is_signal ? "signal" : "anomaly";
  if (!opts.winner.empty()) {
    return invalid_argument("an " + std::string(is_signal ? "integrity signal" : "anomaly") +
                            " has no winner: give only its id and --reason (--winner is for a fork)");
  }
  SB_ASSIGN_OR_RETURN(auto service, c.open());
  SB_ASSIGN_OR_RETURN(RecordedNote r, service->note_anomaly(opts.site, opts.fork, opts.reason));
  if (c.json) {
    print_json(Json{{"site", r.site}, {what, r.anomaly}, {"reason", r.reason}, {"event", to_hex(r.event)},
                    {"signer_seq", r.signer_seq}});
    return Status::ok();
  }
  std::cout << "recorded: " << what << " " << r.anomaly << " (site " << r.site << ") decided: " << r.reason << '\n'
            << "written as event " << shown(r.event) << ", seq " << r.signer_seq << " of site " << r.site
            << "'s head-office chain; the site's terminals receive it at their next sync\n";
  return Status::ok();
}

Status run_resolve(Context& c, const ResolveOpts& opts) {
  if (opts.fork.find(':') != std::string::npos) return run_note(c, opts);
  if (opts.winner.empty()) {
    return invalid_argument("say which child wins the fork with --winner (8 to 64 hex digits of its hash, as "
                            "'conflicts' shows the children)");
  }
  SB_ASSIGN_OR_RETURN(auto service, c.open());
  SB_ASSIGN_OR_RETURN(RecordedResolution r, service->resolve(opts.site, opts.fork, opts.winner, opts.reason));
  if (c.json) {
    Json losers = Json::array();
    for (const Hash& l : r.losers) losers.push_back(to_hex(l));
    print_json(Json{{"site", r.site},
                    {"unit", r.unit},
                    {"entry", to_hex(r.root)},
                    {"fork", to_hex(r.fork)},
                    {"winner", to_hex(r.winner)},
                    {"losers", losers},
                    {"reason", r.reason},
                    {"event", to_hex(r.event)},
                    {"signer_seq", r.signer_seq}});
    return Status::ok();
  }
  std::vector<std::string> losers;
  for (const Hash& l : r.losers) losers.push_back(shown(l));
  std::cout << "recorded: fork " << shown(r.fork) << " of entry " << shown(r.root) << " (unit "
            << (r.unit.empty() ? "-" : r.unit) << ", site " << r.site << ") goes to " << shown(r.winner)
            << "; set aside " << join(losers, ", ") << ": " << r.reason << '\n'
            << "written as event " << shown(r.event) << ", seq " << r.signer_seq << " of site " << r.site
            << "'s head-office chain; the site's terminals receive it at their next sync\n";
  return Status::ok();
}

void add_resolve(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "resolve", "Decide a conflict (which child of a fork is current), an anomaly or an integrity signal (noted "
                 "as decided, with the reason). Written into the site's head-office chain, so the site's terminals follow it");
  auto o = std::make_shared<ResolveOpts>();
  cmd->add_option("ID", o->fork, "The fork (8 to 64 hex digits of its hash, as 'conflicts' shows it) or the "
                                 "anomaly or signal (its id, as 'anomalies' or 'signals' shows it: kind:32 hex digits)")->required();
  cmd->add_option("--winner", o->winner, "For a fork: the child that wins, 8 to 64 hex digits of its hash");
  cmd->add_option("--reason", o->reason, "Why (1 to 500 bytes); the site's terminals see it")->required();
  cmd->add_option("--site", o->site, "The fork's site (default: look in every site)");
  add_json_flag(cmd, ctx);
  on_run(cmd, ctx, o, run_resolve);
}

struct ReturnsOpts {
  std::string site, unit, period;
};

// "1,234.500 kg" from base units, or the base units when the product is not known.
std::string amount_text(std::int64_t base, const std::vector<Json>& products, const std::string& id) {
  for (const Json& p : products) {
    if (p.value("id", std::string()) == id) {
      return format_quantity(base, p.value("decimals", 0)) + " " + p.value("unit", std::string());
    }
  }
  return std::to_string(base);
}

// 1234 -> "123.4 %"
std::string permille_text(std::int64_t permille) {
  return std::to_string(permille / 10) + "." + std::to_string(permille % 10) + " %";
}

// "open", "open (+20 pcs booked in)", "approved (+20 pcs since, booked into 2026-12)"
std::string return_state(const PeriodReturn& r, const std::vector<Json>& products) {
  auto signed_amount = [&](std::int64_t v) { return (v > 0 ? "+" : "") + amount_text(v, products, r.key.product); };
  if (!r.approved) return r.adjustment == 0 ? "open" : "open (" + signed_amount(r.adjustment) + " booked in)";
  if (r.pending == 0) return "approved";
  return "approved (" + signed_amount(r.pending) + " since, " +
         (r.adjusted_into.empty() ? std::string("pending a later period") : "booked into " + r.adjusted_into) + ")";
}

Status print_returns(Context& c, const ReturnsOpts& opts) {
  SB_ASSIGN_OR_RETURN(auto service, c.open());
  SB_ASSIGN_OR_RETURN(std::vector<SiteLedger> sites, ledgers(*service, opts.site));
  SB_ASSIGN_OR_RETURN(std::vector<Json> products, service->reference("ref_product"));
  Json doc = {{"returns", Json::array()}};
  Table t({"SITE", "UNIT", "PERIOD", "PRODUCT", "QUOTA", "ACTUAL", "FULFILMENT", "SURPLUS", "STATE"});
  std::size_t rows = 0;
  for (SiteLedger& s : sites) {
    for (const PeriodReturn& r : s.ledger.returns()) {
      if ((!opts.unit.empty() && r.key.unit != opts.unit) || (!opts.period.empty() && r.key.period != opts.period)) {
        continue;
      }
      ++rows;
      if (c.json) {
        doc["returns"].push_back(return_json(s.site, r));  // as GET /v1/reports/returns lists it
        continue;
      }
      t.add({s.site, r.key.unit, r.key.period.empty() ? "(none)" : r.key.period, r.key.product,
             r.quota ? amount_text(*r.quota, products, r.key.product) + " (v" + std::to_string(*r.quota_version) + ")"
                     : "no quota",
             amount_text(r.actual, products, r.key.product),
             r.fulfilment_permille ? permille_text(*r.fulfilment_permille) : "-",
             r.surplus ? amount_text(*r.surplus, products, r.key.product) : "-", return_state(r, products)});
    }
  }
  return print_listing(c, doc, t, rows, "no returns: no quota set and no output logged");
}

void add_returns(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "returns", "Period returns: per unit, period and product, the quota in force, the actual output from the "
                 "current state of every entry, fulfilment and the surplus above quota (docs/RETURNS.md)");
  auto o = std::make_shared<ReturnsOpts>();
  cmd->add_option("--site", o->site, "Only this site's (default: every site)");
  cmd->add_option("--unit", o->unit, "Only this production unit's");
  cmd->add_option("--period", o->period, "Only this period's");
  add_json_flag(cmd, ctx);
  on_run(cmd, ctx, o, print_returns);
}

}  // namespace

void add_conflict_commands(CLI::App& app, Context& ctx) {
  add_returns(app, ctx);
  add_conflicts(app, ctx);
  add_anomalies(app, ctx);
  add_signals(app, ctx);
  add_resolve(app, ctx);
}

}  // namespace shiftbook::server::cli
