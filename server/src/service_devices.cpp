// Head office's logic (service.h): the terminals in the field, as head office watches them. A
// device found by a prefix of its key; each device's health (how far behind it is); what
// quarantine holds; and a terminal's events with the two server-signed times that bracket each
// (docs/PROTOCOL.md, "Trusted time").
#include <algorithm>
#include <cctype>
#include <utility>

#include "service_impl.h"
#include "shiftbook/clock.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
using namespace detail;

namespace {

constexpr std::size_t kMinPrefixDigits = 8;
constexpr std::size_t kNamedWhenAmbiguous = 3;

// The receipt a shift_open names, verified; nullopt when it names none.
Result<std::optional<Receipt>> named_receipt(const Event& shift, const PublicKey& server) {
  SB_ASSIGN_OR_RETURN(std::optional<Receipt> r, shift_open_receipt(shift.body, shift.device));
  if (r && !verify_receipt(server, *r)) {
    return data_loss(event_name(shift.device, shift.seq) +
                     " names a receipt that does not verify with this server's key; the store was altered");
  }
  return r;
}

Result<Event> decode_stored(const Bytes& raw) {
  auto e = decode_event(raw);
  if (!e.is_ok()) {
    return data_loss("a stored event does not decode (" + e.status().message() + "); the store is damaged");
  }
  return std::move(*e);
}

}  // namespace

Result<DeviceRecord> Service::find_device(std::string_view prefix) {
  std::string digits(prefix);
  std::transform(digits.begin(), digits.end(), digits.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool hex = std::all_of(digits.begin(), digits.end(),
                               [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  if (!hex || digits.size() < kMinPrefixDigits || digits.size() > 64) {
    return invalid_argument("'" + std::string(prefix) +
                            "' is not a device: give 8 to 64 hex digits of its key, as 'devices' shows it");
  }
  SB_ASSIGN_OR_RETURN(std::vector<DeviceRecord> all, impl_->storage->devices());
  std::vector<DeviceRecord> found;
  for (DeviceRecord& d : all) {
    if (to_hex(d.key).compare(0, digits.size(), digits) == 0) found.push_back(std::move(d));
  }
  if (found.empty()) return not_found("no enrolled terminal's key starts with " + digits + " (see 'devices')");
  if (found.size() > 1) {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < std::min(found.size(), kNamedWhenAmbiguous); ++i) names.push_back(to_hex(found[i].key));
    return invalid_argument(digits + " starts the keys of " + std::to_string(found.size()) + " terminals (" +
                            join(names, ", ") + (found.size() > kNamedWhenAmbiguous ? ", ..." : "") +
                            "); give more digits");
  }
  return std::move(found.front());
}

Result<std::vector<DeviceHealth>> Service::device_health() {
  SB_ASSIGN_OR_RETURN(std::vector<DeviceRecord> all, impl_->storage->devices());
  std::vector<DeviceHealth> out;
  out.reserve(all.size());
  for (DeviceRecord& d : all) {
    DeviceHealth h;
    if (d.last_sync_ms != 0) {
      SB_ASSIGN_OR_RETURN(std::vector<PublicKey> visible, impl_->visible_to(d));
      SB_ASSIGN_OR_RETURN(h.behind, impl_->storage->events_after(visible, d.last_cursor));
    }
    h.device = std::move(d);
    out.push_back(std::move(h));
  }
  return out;
}

Result<std::vector<QuarantinedEvent>> Service::quarantined(const PublicKey* device) {
  return impl_->storage->quarantined(device);
}

// `after` changes at each shift_open: from there on, it is the receipt that shift names (none
// when it names none), so the first events of the range start from the shift_open before it.
Result<std::vector<BracketedEvent>> Service::events(const PublicKey& device, std::uint64_t from, std::size_t limit) {
  const PublicKey& server = impl_->server_key.public_key();
  Storage& st = *impl_->storage;
  from = std::max<std::uint64_t>(from, 1);
  std::optional<Receipt> after;
  std::uint64_t after_shift = 0;
  if (from > 1) {
    SB_ASSIGN_OR_RETURN(std::optional<Bytes> raw,
                        st.last_event_of_kind(device, std::string(kind::kShiftOpen), from - 1));
    if (raw) {
      SB_ASSIGN_OR_RETURN(Event shift, decode_stored(*raw));
      SB_ASSIGN_OR_RETURN(after, named_receipt(shift, server));
      after_shift = shift.seq;
    }
  }
  SB_ASSIGN_OR_RETURN(std::vector<ChainEvent> rows, st.chain_events(device, from, limit));
  std::vector<BracketedEvent> out;
  out.reserve(rows.size());
  for (const ChainEvent& row : rows) {
    SB_ASSIGN_OR_RETURN(Event e, decode_stored(row.raw));
    if (e.kind == kind::kShiftOpen) {
      SB_ASSIGN_OR_RETURN(after, named_receipt(e, server));
      after_shift = e.seq;
    }
    if (row.receipt && !verify_receipt(server, *row.receipt)) {
      return data_loss("the receipt stored for the push of " + event_name(device, e.seq) +
                       " does not verify with this server's key; the store was altered");
    }
    BracketedEvent b;
    b.seq = e.seq;
    b.hash = e.hash;
    b.kind = e.kind;
    b.terminal_ms = static_cast<std::int64_t>(hlc_ms(e.hlc));
    b.received_ms = row.received_ms;
    b.after = after;
    b.after_shift = after_shift;
    b.before = row.receipt;
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace shiftbook::server
