// Head office's logic (service.h): the merged state of a site's log, and head office's decisions
// of its forks. A site's Ledger (shiftbook/ledger.h) is built on demand from storage: every
// accepted event of the site's terminals and of its site signer. A resolution is written into the
// site signer's chain like reference data and revocations (append_to_chain, under admin_mu), so
// the site's terminals pull it.
#include <algorithm>
#include <cctype>
#include <utility>

#include "service_impl.h"
#include "shiftbook/anomalies.h"
#include "shiftbook/signals.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
using namespace detail;

namespace {

constexpr const char* kResolution = "resolution";
constexpr std::string_view kAnomalyNote = "anomaly_note";
constexpr std::string_view kSignalNote = "signal_note";
constexpr std::size_t kChainPage = 10'000;
constexpr std::size_t kMinPrefixDigits = 8;
constexpr std::size_t kNamedWhenAmbiguous = 3;

// Every accepted event of `device` after seq `after`, page by page, into the ledger; each terminal
// event with the time its push was acknowledged. The seq of the last event read (`after` when
// there is none).
Result<std::uint64_t> add_chain(Storage& st, const PublicKey& device, bool terminal, Ledger& ledger,
                                std::uint64_t after) {
  std::uint64_t from = after + 1;
  for (;;) {
    SB_ASSIGN_OR_RETURN(std::vector<ChainEvent> rows, st.chain_events(device, from, kChainPage));
    for (const ChainEvent& row : rows) {
      auto e = decode_event(row.raw);
      if (!e.is_ok()) {
        return data_loss("a stored event of device " + short_device(device) + " does not decode (" +
                         e.status().message() + "); the store is damaged");
      }
      // The server checked every body before storing it, so one the ledger cannot read is damage.
      if (Status added = ledger.add(*e); !added.is_ok()) {
        return data_loss("a stored event cannot be merged (" + added.message() + "); the store is damaged");
      }
      if (terminal) ledger.set_acknowledged(e->hash, row.received_ms);
      from = e->seq + 1;
    }
    if (rows.size() < kChainPage) return from - 1;
  }
}

}  // namespace

namespace detail {

Status known_site(Storage& st, const std::string& site) {
  SB_ASSIGN_OR_RETURN(std::optional<Json> known, st.reference_item("ref_site", site));
  if (!known) return not_found("site '" + site + "' does not exist (see 'site list')");
  return Status::ok();
}

Result<SiteLedger> build_ledger(Storage& st, const std::string& site, const PublicKey& signer) {
  SiteLedger out{site, {}, Ledger(signer), ReadChains{site, {}}, 0};
  SB_RETURN_IF_ERROR(update_ledger(st, out, signer));
  return out;
}

Status update_ledger(Storage& st, SiteLedger& l, const PublicKey& signer, const std::atomic<bool>* stop) {
  SB_ASSIGN_OR_RETURN(std::vector<DeviceRecord> all, st.devices());
  std::vector<DeviceRecord> enrolled;
  for (DeviceRecord& d : all) {
    if (d.site != l.site) continue;
    // Stopped between two chains, the ledger holds whole chains and the ends it read them to.
    if (stop != nullptr && stop->load()) return aborted("the server is stopping");
    std::uint64_t& end = l.read.ends[d.key];
    SB_ASSIGN_OR_RETURN(end, add_chain(st, d.key, true, l.ledger, end));
    enrolled.push_back(std::move(d));
  }
  l.devices = std::move(enrolled);
  SB_ASSIGN_OR_RETURN(l.signer_end, add_chain(st, signer, false, l.ledger, l.signer_end));
  return Status::ok();
}

}  // namespace detail

namespace {

// 8 to 64 hex digits, lower-cased; `what` names the argument in the message.
Result<std::string> hex_prefix(std::string_view text, const char* what) {
  std::string digits(text);
  std::transform(digits.begin(), digits.end(), digits.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool hex = std::all_of(digits.begin(), digits.end(),
                               [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  if (!hex || digits.size() < kMinPrefixDigits || digits.size() > 64) {
    return invalid_argument("'" + std::string(text) + "' is not " + what +
                            ": give 8 to 64 hex digits of its hash, as 'conflicts' shows it");
  }
  return digits;
}

bool starts(const Hash& h, const std::string& prefix) { return to_hex(h).compare(0, prefix.size(), prefix) == 0; }

std::string named(const Ledger& ledger, const Hash& h) {
  auto src = ledger.source(h);
  std::string out = to_hex(h).substr(0, 16);
  if (src) out += " (seq " + std::to_string(src->seq) + " of terminal " + short_device(src->device) + ")";
  return out;
}

struct FoundFork {
  SiteLedger* site = nullptr;
  LedgerConflict conflict;
};

Result<FoundFork> find_fork(std::vector<SiteLedger>& sites, const std::string& prefix) {
  std::vector<FoundFork> found;
  std::string other;  // an event that matches but is no fork, for the message
  for (SiteLedger& s : sites) {
    for (LedgerConflict& c : s.ledger.conflicts()) {
      if (starts(c.conflict.fork, prefix)) found.push_back(FoundFork{&s, std::move(c)});
    }
    if (!other.empty()) continue;
    for (const Hash& h : s.ledger.event_hashes()) {
      if (starts(h, prefix)) {
        other = named(s.ledger, h);
        break;
      }
    }
  }
  if (found.size() > 1) {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < std::min(found.size(), kNamedWhenAmbiguous); ++i) {
      names.push_back(to_hex(found[i].conflict.conflict.fork));
    }
    return invalid_argument(prefix + " starts " + std::to_string(found.size()) + " forks (" + join(names, ", ") +
                            (found.size() > kNamedWhenAmbiguous ? ", ..." : "") + "); give more digits");
  }
  if (found.empty()) {
    if (!other.empty()) {
      return not_found("event " + other + " is no fork: fewer than two versions supersede it (see 'conflicts')");
    }
    return not_found("no fork the server holds starts with " + prefix + " (see 'conflicts')");
  }
  return std::move(found.front());
}

}  // namespace

Result<std::vector<std::string>> Service::sites() {
  SB_ASSIGN_OR_RETURN(std::vector<Json> all, impl_->storage->reference("ref_site", ""));
  std::vector<std::string> out;
  for (const Json& s : all) out.push_back(s.value("id", std::string()));
  std::sort(out.begin(), out.end());
  return out;
}

Result<SiteLedger> Service::ledger(const std::string& site) {
  SB_RETURN_IF_ERROR(known_site(*impl_->storage, site));
  return build_ledger(*impl_->storage, site, impl_->signer(site)->key.public_key());
}

Status Service::with_ledger(const std::string& site, const std::function<Status(SiteLedger&)>& read) {
  return impl_->with_ledger(site, read, nullptr);
}

Status Service::warm_ledgers(const std::atomic<bool>& stop) {
  if (!impl_->options.keep_ledgers) return Status::ok();
  SB_ASSIGN_OR_RETURN(std::vector<std::string> all, sites());
  for (const std::string& site : all) {
    SB_RETURN_IF_ERROR(impl_->with_ledger(site, [](SiteLedger&) { return Status::ok(); }, &stop));
  }
  return Status::ok();
}

Status Service::Impl::with_ledger(const std::string& site, const std::function<Status(SiteLedger&)>& read,
                                  const std::atomic<bool>* stop) {
  Impl& m = *this;
  SB_RETURN_IF_ERROR(known_site(*m.storage, site));
  const PublicKey signer = m.signer(site)->key.public_key();
  if (!m.options.keep_ledgers) {
    SB_ASSIGN_OR_RETURN(SiteLedger l, build_ledger(*m.storage, site, signer));
    return read(l);
  }
  detail::KeptLedger* kept = nullptr;
  {
    std::lock_guard lock(m.kept_ledgers_mu);
    std::unique_ptr<detail::KeptLedger>& slot = m.kept_ledgers[site];
    if (!slot) slot = std::make_unique<detail::KeptLedger>(site, signer);
    kept = slot.get();
  }
  std::lock_guard lock(kept->mu);
  // A failure part way leaves events added and ends not moved: read again, they count once.
  SB_RETURN_IF_ERROR(update_ledger(*m.storage, kept->l, signer, stop));
  return read(kept->l);
}

Result<RecordedResolution> Service::resolve(const std::string& site, std::string_view fork, std::string_view winner,
                                            const std::string& reason, const std::string& author) {
  Impl& m = *impl_;
  SB_ASSIGN_OR_RETURN(std::string fork_prefix, hex_prefix(fork, "a fork"));
  SB_ASSIGN_OR_RETURN(std::string winner_prefix, hex_prefix(winner, "a version"));
  SB_RETURN_IF_ERROR(check_text("the reason", reason));
  std::lock_guard lock(m.admin_mu);
  std::vector<std::string> names{site};
  if (site.empty()) {
    SB_ASSIGN_OR_RETURN(std::vector<std::string> all, sites());
    names = std::move(all);
  }
  std::vector<SiteLedger> ledgers;
  for (const std::string& s : names) {
    SB_RETURN_IF_ERROR(known_site(*m.storage, s));
    SB_ASSIGN_OR_RETURN(SiteLedger l, build_ledger(*m.storage, s, m.signer(s)->key.public_key()));
    ledgers.push_back(std::move(l));
  }
  SB_ASSIGN_OR_RETURN(FoundFork found, find_fork(ledgers, fork_prefix));
  const Conflict& c = found.conflict.conflict;
  const Ledger& ledger = found.site->ledger;
  std::vector<Hash> chosen;
  for (const Hash& child : c.children) {
    if (starts(child, winner_prefix)) chosen.push_back(child);
  }
  if (chosen.size() != 1) {
    std::vector<std::string> children;
    for (const Hash& child : c.children) children.push_back(named(ledger, child));
    return invalid_argument(std::string(chosen.empty() ? "no child" : "more than one child") + " of fork " +
                            to_hex(c.fork).substr(0, 16) + " starts with " + winner_prefix + "; its children are " +
                            join(children, ", "));
  }
  RecordedResolution r;
  r.site = found.site->site;
  r.root = found.conflict.root;
  r.unit = found.conflict.unit;
  r.fork = c.fork;
  r.winner = chosen.front();
  r.reason = reason;
  Json losers = Json::array();
  for (const Hash& child : c.children) {
    if (child == r.winner) continue;
    r.losers.push_back(child);
    losers.push_back(hash_ref(child));
  }
  const Json body{{"fork", hash_ref(r.fork)}, {"winner", hash_ref(r.winner)}, {"losers", losers}, {"reason", reason}};
  SB_RETURN_IF_ERROR(validate_head_office_body(kResolution, body));
  SB_RETURN_IF_ERROR(
      m.append_to_chain(r.site, {ChainItem{kResolution, body, std::string(), std::nullopt, author}}).with_context("site " + r.site + ": "));
  SB_ASSIGN_OR_RETURN(auto end, m.storage->chain_end(ledger.signer()));
  r.signer_seq = end.first;
  r.event = end.second;
  return r;
}

Result<RecordedNote> Service::note_anomaly(const std::string& site, const std::string& anomaly,
                                          const std::string& reason, const std::string& author) {
  Impl& m = *impl_;
  // The identifier's kind says which it is: an integrity signal's decision is a `signal_note`.
  const bool is_signal = is_signal_kind(anomaly.substr(0, anomaly.find(':')));
  const std::string_view note_kind = is_signal ? kSignalNote : kAnomalyNote;
  const Json body{{is_signal ? "signal" : "anomaly", anomaly}, {"reason", reason}};
  SB_RETURN_IF_ERROR(validate_head_office_body(note_kind, body));
  std::lock_guard lock(m.admin_mu);
  std::vector<std::string> names{site};
  if (site.empty()) {
    SB_ASSIGN_OR_RETURN(std::vector<std::string> all, sites());
    names = std::move(all);
  }
  for (const std::string& s : names) {
    SB_RETURN_IF_ERROR(known_site(*m.storage, s));
    SB_ASSIGN_OR_RETURN(SiteLedger l, build_ledger(*m.storage, s, m.signer(s)->key.public_key()));
    bool found = false;
    for (const Anomaly& a : is_signal ? site_signals(l) : site_anomalies(l)) found = found || a.id == anomaly;
    if (!found) continue;
    SB_RETURN_IF_ERROR(
        m.append_to_chain(s, {ChainItem{std::string(note_kind), body, std::string(), std::nullopt, author}}).with_context("site " + s + ": "));
    SB_ASSIGN_OR_RETURN(auto end, m.storage->chain_end(l.ledger.signer()));
    return RecordedNote{s, anomaly, reason, end.second, end.first};
  }
  const char* what = is_signal ? "integrity signal " : "anomaly ";
  return not_found(std::string("no ") + what + anomaly + " is found now" + (site.empty() ? "" : " in site " + site) +
                   (is_signal ? " (see 'signals'" : " (see 'anomalies'") +
                   "; a change to the events behind it gives it another id)");
}

bool is_signal_kind(std::string_view kind) {
  return kind == signal::kExactQuota || kind == signal::kOverCapacity || kind == signal::kAfterApproval ||
         kind == signal::kLateBurst || kind == signal::kEquivocation;
}

std::vector<Anomaly> site_anomalies(SiteLedger& l) { return find_anomalies(l.ledger.anomaly_facts(clock_facts(l.devices))); }

std::vector<Anomaly> site_signals(SiteLedger& l) {
  std::vector<DeviceFlagFact> flags;
  for (const DeviceRecord& d : l.devices) {
    if (!d.flag.empty()) flags.push_back(DeviceFlagFact{d.key, d.flag, d.flagged_ms});
  }
  return find_signals(l.ledger.signal_facts(clock_facts(l.devices), std::move(flags)));
}

std::vector<DeviceClockFact> clock_facts(const std::vector<DeviceRecord>& devices) {
  std::vector<DeviceClockFact> out;
  for (const DeviceRecord& d : devices) {
    DeviceClockFact f{d.key, std::nullopt};
    if (d.last_sync_ms != 0) f.skew_ms = d.last_sync_ms - d.last_client_ms;
    out.push_back(f);
  }
  return out;
}

}  // namespace shiftbook::server
