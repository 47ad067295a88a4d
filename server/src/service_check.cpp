// Reading a push, and the checks of one new event of a push (service_check.h): kind, body,
// references (a shift_open's receipt among them) and scope, and the lookups of referenced events
// they need, from the push itself first, then from storage.
#include "service_check.h"

#include <algorithm>
#include <utility>

#include "shiftbook/body_scan.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server::detail {
namespace {

// At most this many steps from a stored correction back to the entry it corrects; more means a
// damaged store (each step goes to an event stored before the one naming it: no cycle is possible).
constexpr std::size_t kMaxCorrectionSteps = 1'000'000;

bool has_unit(const DeviceRecord& rec, const std::string& unit) {
  return std::find(rec.units.begin(), rec.units.end(), unit) != rec.units.end();
}

// The hash a body field names, or nullopt when the field is absent or not a ref (validate_body
// reports those). The same rule as parse_hash_ref (64 lower-case hex digits), without allocating:
// it runs for nearly every pushed event.
std::optional<Hash> ref_field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  const std::string& text = it->get_ref<const std::string&>();
  if (text.size() != 64) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  Hash h{};
  for (std::size_t i = 0; i < h.size(); ++i) {
    int hi = digit(text[2 * i]);
    int lo = digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    h[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return h;
}

// The reference a body field names, read as ref_field reads it: from the fields scan_body read
// when the body was checked on its bytes, else from the built body.
std::optional<Hash> named_ref(const Event& e, const BodyRefs* scanned, const char* name) {
  if (scanned == nullptr) return ref_field(e.body, name);
  const std::string_view field = name;
  if (field == "shift") return scanned->shift;
  if (field == "target") return scanned->target;
  if (field == "entry") return scanned->entry;
  return std::nullopt;
}

// Builds the body of a pushed event that read_push left in its bytes (they were checked there).
Status build_body(NewEvent& ne) {
  if (ne.body_at == 0) return Status::ok();
  std::size_t pos = ne.body_at;
  auto body = decode_value(ne.raw, pos);
  if (!body.is_ok()) return internal_error("a pushed body that was checked does not decode: " + body.status().message());
  ne.event.body = std::move(*body);
  ne.body_at = 0;
  return Status::ok();
}

}  // namespace

void RefLookup::add(std::size_t index, std::string entry_kind, std::string unit) {
  const Event& e = batch_[index].event;
  RefInfo info;
  info.device = e.device;
  info.kind = e.kind;
  info.entry_kind = std::move(entry_kind);
  info.unit = std::move(unit);
  info.batch_index = index;
  added_.insert_or_assign(e.hash, std::move(info));
}

Result<RefInfo*> RefLookup::lookup(const Hash& h) {
  if (auto it = added_.find(h); it != added_.end()) return &it->second;
  if (auto it = stored_.find(h); it != stored_.end()) return it->second ? &*it->second : nullptr;
  SB_ASSIGN_OR_RETURN(std::optional<EventInfo> info, storage_.event_info(h));
  std::optional<RefInfo> ref;
  if (info) {
    ref.emplace();
    ref->device = info->device;
    ref->kind = std::move(info->kind);
    if (is_correctable_kind(ref->kind)) ref->entry_kind = ref->kind;
    ref->unit = std::move(info->unit);
  }
  auto it = stored_.emplace(h, std::move(ref)).first;
  return it->second ? &*it->second : nullptr;
}

Result<const RefInfo*> RefLookup::find(const Hash& h) {
  SB_ASSIGN_OR_RETURN(RefInfo* info, lookup(h));
  return info;
}

// Storage keeps kinds, not bodies: a stored version's body is read from its bytes, and a stored
// correction's entry kind is that of the version it superseded, followed back until it is known.
Result<const RefInfo*> RefLookup::version(const Hash& h) {
  std::vector<RefInfo*> corrections;  // followed back through, in order; they take the kind found
  Hash at = h;
  for (std::size_t step = 0; step < kMaxCorrectionSteps; ++step) {
    SB_ASSIGN_OR_RETURN(RefInfo* info, lookup(at));
    if (info == nullptr) {
      if (corrections.empty()) return nullptr;
      return data_loss("a stored correction supersedes event " + short_hash(at) + "..., which the store does not hold");
    }
    // Anything else cannot be corrected, as validate_body says; its bytes are not needed.
    const bool version_kind = info->kind == kind::kCorrection || is_correctable_kind(info->kind);
    if (version_kind && !info->batch_index && !info->loaded) SB_RETURN_IF_ERROR(load(*info, at));
    if (info->kind != kind::kCorrection || !info->entry_kind.empty()) {
      for (RefInfo* c : corrections) c->entry_kind = info->entry_kind;
      return corrections.empty() ? info : corrections.front();
    }
    corrections.push_back(info);
    at = info->target;
  }
  return data_loss("event " + short_hash(h) + "... follows more than " + std::to_string(kMaxCorrectionSteps) +
                   " corrections back; the store is damaged");
}

Status RefLookup::load(RefInfo& info, const Hash& h) {
  SB_ASSIGN_OR_RETURN(std::optional<Bytes> raw, storage_.event_raw(h));
  if (!raw) return data_loss("the store describes event " + short_hash(h) + "... but does not hold its bytes");
  auto e = decode_event(*raw);
  if (!e.is_ok()) return data_loss("the stored event " + short_hash(h) + "... does not decode: " + e.status().message());
  if (e->kind == kind::kCorrection) {
    auto entry = e->body.find("entry");
    auto target = ref_field(e->body, "target");
    if (entry == e->body.end() || !target) {
      return data_loss("the stored correction " + short_hash(h) + "... has no entry or no target");
    }
    info.entry = std::move(*entry);
    info.target = *target;
  } else {
    info.entry = std::move(e->body);
  }
  info.loaded = true;
  return Status::ok();
}

Result<std::optional<Hash>> RefLookup::own_hash(std::uint64_t seq) {
  const std::uint64_t first = batch_.front().event.seq;
  if (seq >= first && seq - first < batch_.size()) return std::optional<Hash>(batch_[seq - first].event.hash);
  const PublicKey& device = batch_.front().event.device;
  auto held = storage_.hashes(device, seq, seq);
  if (held.status().code() == Code::kNotFound) return std::optional<Hash>();
  if (!held.is_ok()) return held.status();
  return std::optional<Hash>(held->front());
}

const Json& RefLookup::entry_of(const RefInfo& version) const {
  if (!version.batch_index) return version.entry;
  const Event& e = batch_[*version.batch_index].event;
  return e.kind == kind::kCorrection ? e.body.at("entry") : e.body;
}

std::variant<std::vector<NewEvent>, Refusal> read_push(std::vector<Bytes>& raw, const PublicKey& sender,
                                                       const SignedHead& head) {
  std::vector<NewEvent> events;
  events.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    // The bodies are checked as canonical maps here and by their kind's rules in check_new_event.
    std::size_t body_at = 0;
    auto e = decode_event_keep_body(raw[i], body_at);
    if (!e.is_ok()) {
      return refuse(ProtocolError::kMalformed, "pushed event " + std::to_string(i + 1) + " of " +
                                                   std::to_string(raw.size()) + ": " + e.status().message());
    }
    if (e->device != sender) {
      return refuse(ProtocolError::kForeignDevice, event_name(e->device, e->seq) +
                                                       ": is not an event of this terminal (device " +
                                                       short_device(sender) + "); a terminal pushes only its own events");
    }
    if (!events.empty()) {
      const Event& prev = events.back().event;
      if (e->seq != prev.seq + 1) {
        return refuse(ProtocolError::kChain, event_name(e->device, e->seq) + ": follows event " +
                                                 std::to_string(prev.seq) + " in the push; pushed events must be consecutive");
      }
      if (Status s = check_link(&prev, *e); !s.is_ok()) return refuse(ProtocolError::kChain, s.message());
    }
    NewEvent ne;
    ne.event = std::move(*e);
    ne.raw = std::move(raw[i]);
    ne.body_at = body_at;
    events.push_back(std::move(ne));
  }
  // One signature for the whole batch, before any per-event database work.
  const Event& last = events.back().event;
  if (head.seq != last.seq || head.hash != last.hash) {
    return refuse(ProtocolError::kChain, "the signed head (seq " + std::to_string(head.seq) +
                                             ") is not at the last pushed event, " + event_name(sender, last.seq));
  }
  if (!verify_head(head)) {
    return refuse(ProtocolError::kChain,
                  "the head signature at " + event_name(sender, last.seq) + " does not verify with the device's key");
  }
  return events;
}

namespace {

// A shift_open's receipt (trusted time): one this server signed for this device, about an
// earlier event of its chain (held, or earlier in the push), or seq 0 before the first.
std::optional<Refusal> check_shift_receipt(const Event& e, const PublicKey& server, RefLookup& refs) {
  auto named = shift_open_receipt(e.body, e.device);
  const std::string name = event_name(e.device, e.seq);
  if (!named.is_ok()) return refuse(ProtocolError::kInvalid, name + ": " + named.status().message());
  if (!*named) return std::nullopt;
  const Receipt& r = **named;
  if (!verify_receipt(server, r)) {
    return refuse(ProtocolError::kInvalid, name + ": the receipt it names does not verify with this server's key for "
                                                  "this terminal; a shift may name only a receipt this server gave it");
  }
  if (r.seq >= e.seq) {
    return refuse(ProtocolError::kInvalid, name + ": the receipt it names is for seq " + std::to_string(r.seq) +
                                                  ", not for an event before the shift");
  }
  if (r.seq == 0) return std::nullopt;
  auto held = refs.own_hash(r.seq);
  if (!held.is_ok()) return internal_refusal(held.status());
  if (!*held || **held != r.hash) {
    return refuse(ProtocolError::kInvalid, name + ": the receipt it names is for event " + std::to_string(r.seq) +
                                                  " with hash " + short_hash(r.hash) +
                                                  "..., which is not this terminal's event at that seq");
  }
  return std::nullopt;
}

// The unit of `shift`, which event `e` names as its shift: a shift_open of the same terminal that
// the server holds (stored, or earlier in the push).
std::variant<std::string, Refusal> own_shift_unit(const Event& e, const Hash& shift, RefLookup& refs) {
  auto found = refs.find(shift);
  if (!found.is_ok()) return internal_refusal(found.status());
  const RefInfo* s = *found;
  if (s == nullptr || s->kind != kind::kShiftOpen) {
    return refuse(ProtocolError::kInvalid, event_name(e.device, e.seq) + ": its shift " + short_hash(shift) +
                                               "... is not a shift the server holds");
  }
  if (s->device != e.device) {
    return refuse(ProtocolError::kInvalid, event_name(e.device, e.seq) + ": its shift " + short_hash(shift) +
                                               "... was opened by another terminal (device " + short_device(s->device) +
                                               ")");
  }
  return s->unit;
}

// Event `e` belongs to `unit`, which must be one of the terminal's units.
std::optional<Refusal> check_scope(const Event& e, const DeviceRecord& rec, const std::string& unit) {
  if (has_unit(rec, unit)) return std::nullopt;
  const std::string units = join(rec.units, ", ");
  return refuse(ProtocolError::kScope,
                event_name(e.device, e.seq) + ": " +
                    (unit.empty() ? "it belongs to no production unit; this terminal writes only for its units (" +
                                        units + ")"
                                  : "unit '" + unit + "' is not one of this terminal's units (" + units + ")"));
}

// An event of a kind this server does not know (check_new_event, version 2): a kind name, and a
// body naming in "shift" a shift this same terminal opened, in one of its units. Nothing else of
// the body is read: its rules are those of a later version.
std::optional<Refusal> check_unknown_kind(std::vector<NewEvent>& events, std::size_t index, const DeviceRecord& rec,
                                          RefLookup& refs) {
  NewEvent& ne = events[index];
  const Event& e = ne.event;
  const std::string unknown = event_name(e.device, e.seq) + ": kind '" + e.kind + "' is not known to this server";
  if (Status named = check_kind_name(e.kind); !named.is_ok()) {
    return refuse(ProtocolError::kKind, unknown + " and is not a kind name (" + named.message() + ")");
  }
  if (Status built = build_body(ne); !built.is_ok()) return internal_refusal(built);
  auto shift = ref_field(e.body, "shift");
  if (!shift) {
    return refuse(ProtocolError::kKind, unknown + "; an event of a kind unknown to this server must name its shift "
                                                  "(field 'shift': the hash of a shift this terminal opened, as 64 "
                                                  "lower-case hex digits)");
  }
  auto unit = own_shift_unit(e, *shift, refs);
  if (auto* r = std::get_if<Refusal>(&unit)) return std::move(*r);
  if (auto r = check_scope(e, rec, std::get<std::string>(unit))) return r;
  ne.unit = std::get<std::string>(unit);
  ne.site = rec.site;
  refs.add(index, std::string(), std::move(std::get<std::string>(unit)));
  return std::nullopt;
}

}  // namespace

std::optional<Refusal> check_new_event(std::vector<NewEvent>& events, std::size_t index, const DeviceRecord& rec,
                                       const PublicKey& server, RefLookup& refs, int version) {
  NewEvent& ne = events[index];
  const Event& e = ne.event;
  // Named only when refusing: building the name for every event costs more than the checks.
  auto name = [&e] { return event_name(e.device, e.seq); };
  if (!is_terminal_kind(e.kind)) {
    // Authority comes from the signer, never from a kind's name: a terminal's head-office kind
    // is refused whatever the version.
    if (version >= 2 && !is_head_office_kind(e.kind)) return check_unknown_kind(events, index, rec, refs);
    return refuse(ProtocolError::kKind,
                  name() + ": kind '" + e.kind + "' " +
                      (is_head_office_kind(e.kind) ? "is written only by head office"
                                                   : "is not a kind a terminal may write"));
  }
  // Bodies of the kinds terminals push most are checked on their bytes; a shift_open's (its
  // receipt) and a correction's (its new entry) are built and checked as Json.
  BodyRefs scanned_refs;
  std::optional<Status> scanned;
  if (ne.body_at != 0 && body_scan_supports(e.kind)) {
    scanned = scan_body(e.kind, ByteView(ne.raw).subspan(ne.body_at), scanned_refs);
  } else if (Status built = build_body(ne); !built.is_ok()) {
    return internal_refusal(built);
  }
  const BodyRefs* refs_read = scanned ? &scanned_refs : nullptr;
  const bool is_correction = e.kind == kind::kCorrection;
  const bool names_target = is_correction || e.kind == kind::kVoid || e.kind == kind::kConfirm;
  const char* target_field = e.kind == kind::kConfirm ? "entry" : "target";
  const RefInfo* target = nullptr;
  std::string corrected_kind;
  if (names_target) {
    if (auto h = named_ref(e, refs_read, target_field)) {
      // A correction is checked against the whole version it supersedes: its kind and its body.
      auto found = is_correction ? refs.version(*h) : refs.find(*h);
      if (!found.is_ok()) return internal_refusal(found.status());
      target = *found;
      if (target == nullptr) {
        return refuse(ProtocolError::kInvalid, name() + ": its " + target_field + " " + short_hash(*h) +
                                                   "... is not an event the server holds");
      }
      if (is_correction) corrected_kind = target->entry_kind;
    }
  }
  if (Status s = scanned ? *scanned : validate_body(e.kind, e.body, corrected_kind); !s.is_ok()) {
    return refuse(ProtocolError::kInvalid, name() + ": " + s.message());
  }
  // The rule every terminal applies to a correction it pulls (it refuses the whole answer
  // otherwise): the entry stays in its shift, and output keeps its product and quota version.
  if (is_correction && target != nullptr) {
    if (target->batch_index) {
      if (Status built = build_body(events[*target->batch_index]); !built.is_ok()) return internal_refusal(built);
    }
    if (Status s = check_correction_keeps(corrected_kind, refs.entry_of(*target), e.body.at("entry")); !s.is_ok()) {
      return refuse(ProtocolError::kInvalid, name() + ": " + s.message());
    }
  }

  std::string unit;
  if (e.kind == kind::kShiftOpen) {
    if (auto r = check_shift_receipt(e, server, refs)) return r;
    unit = e.body.at("unit").get<std::string>();
  } else if (auto shift = named_ref(e, refs_read, "shift")) {
    auto found = own_shift_unit(e, *shift, refs);
    if (auto* r = std::get_if<Refusal>(&found)) return std::move(*r);
    unit = std::move(std::get<std::string>(found));
  } else if (target != nullptr) {
    unit = target->unit;
  }
  if (is_correction) {
    // The new version names its shift too; it must be a shift, though possibly another
    // terminal's (a terminal may correct what a colleague recorded in its unit).
    auto shift = ref_field(e.body.at("entry"), "shift");
    const RefInfo* s = nullptr;
    if (shift) {
      auto found = refs.find(*shift);
      if (!found.is_ok()) return internal_refusal(found.status());
      s = *found;
    }
    if (s == nullptr || s->kind != kind::kShiftOpen) {
      return refuse(ProtocolError::kInvalid, name() + ": the corrected entry's shift is not a shift the server holds");
    }
  }
  if (auto r = check_scope(e, rec, unit)) return r;
  ne.unit = unit;
  ne.site = rec.site;
  std::string entry_kind;
  if (is_correctable_kind(e.kind)) entry_kind = e.kind;
  if (is_correction) entry_kind = corrected_kind;
  refs.add(index, std::move(entry_kind), std::move(unit));
  return std::nullopt;
}

}  // namespace shiftbook::server::detail
