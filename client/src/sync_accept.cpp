// Accepting the server's answer to a sync request (Store::accept_sync): one transaction that takes
// the whole answer (events, heads, receipt, cursor and what they show) or nothing. Only what
// verifies is taken: the receipt with the pinned server key, each pulled event by its chain and the
// answer's signed head of its device, reference data only from the site signer the server key
// delegated at enrollment. Pulled events do not move this terminal's clock stamp (hlc): a terminal
// whose clock runs days ahead would otherwise drag every other terminal's stamps with it; what an
// event depends on it names by hash. The server's signed receipt time does move it forward.
#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <optional>

#include "shiftbook/kinds.h"
#include "store_impl.h"

namespace shiftbook::client {
namespace {

// The last stored event of a device, decoded; nullopt when the terminal holds none of it.
Result<std::optional<Event>> last_event(Db& db, const PublicKey& device) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT raw FROM events WHERE device = ? ORDER BY seq DESC LIMIT 1"));
  st.bind_blob(1, device);
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<Event>();
  auto e = decode_event(st.blob(0));
  if (!e.is_ok()) return data_loss("a stored event of device " + short_device(device) + " is damaged: " +
                                   e.status().message() + "; run 'shiftbook verify'");
  return std::optional<Event>(std::move(e).value());
}

// The hash of a stored event, by device and seq; nullopt when it is not held.
Result<std::optional<Hash>> stored_hash(Db& db, const PublicKey& device, std::uint64_t seq) {
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT hash FROM events WHERE device = ? AND seq = ?"));
  st.bind_blob(1, device).bind(2, static_cast<std::int64_t>(seq));
  SB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return std::optional<Hash>();
  return std::optional<Hash>(st.blob32(0));
}

// Reads the fields of one map in the answer's header; every refusal names the field.
class Fields {
 public:
  Fields(const Json& j, std::string where) : j_(j), where_(std::move(where)) {}
  Status is_map() const {
    if (!j_.is_object()) return bad("is not a map");
    return Status::ok();
  }
  Result<std::int64_t> integer(const char* f, std::int64_t min = 0) const {
    auto it = j_.find(f);
    if (it == j_.end() || !it->is_number_integer() || it->get<std::int64_t>() < min) {
      return bad(std::string(f) + " is missing or not a whole number of at least " + std::to_string(min));
    }
    return it->get<std::int64_t>();
  }
  Result<bool> boolean(const char* f) const {
    auto it = j_.find(f);
    if (it == j_.end() || !it->is_boolean()) return bad(std::string(f) + " is missing or not true/false");
    return it->get<bool>();
  }
  template <std::size_t N>
  Result<std::array<std::uint8_t, N>> hex(const char* f) const {
    auto it = j_.find(f);
    if (it == j_.end() || !it->is_string()) return bad(std::string(f) + " is missing or not text");
    auto v = array_from_hex<N>(it->get<std::string>());
    if (!v.is_ok()) return bad(std::string(f) + ": " + v.status().message());
    return v;
  }
  Result<const Json*> list(const char* f) const {
    auto it = j_.find(f);
    if (it == j_.end() || !it->is_array()) return bad(std::string(f) + " is missing or not a list");
    return &*it;
  }
  Result<const Json*> map(const char* f) const {
    auto it = j_.find(f);
    if (it == j_.end() || !it->is_object()) return bad(std::string(f) + " is missing or not a map");
    return &*it;
  }

 private:
  Status bad(const std::string& what) const {
    return data_loss("the server's answer does not follow the protocol: " + where_ + " " + what +
                     "; nothing from it was stored");
  }
  const Json& j_;
  std::string where_;
};

struct Answer {
  Receipt receipt;
  std::uint64_t cursor = 0;
  bool more = false;
  std::map<PublicKey, SignedHead> heads;
};

Result<Answer> read_answer(const Json& header, const PublicKey& me) {
  Fields top(header, "the sync answer's header");
  SB_RETURN_IF_ERROR(top.is_map());
  auto type = header.find("type");
  if (type == header.end() || !type->is_string() || type->get<std::string>() != "sync") {
    return data_loss("the server's answer is not a sync answer; nothing from it was stored");
  }
  Answer a;
  SB_ASSIGN_OR_RETURN(const Json* receipt, top.map("receipt"));
  Fields r(*receipt, "its receipt:");
  a.receipt.device = me;
  SB_ASSIGN_OR_RETURN(std::int64_t seq, r.integer("seq"));
  a.receipt.seq = static_cast<std::uint64_t>(seq);
  SB_ASSIGN_OR_RETURN(a.receipt.hash, r.hex<32>("hash"));
  SB_ASSIGN_OR_RETURN(a.receipt.server_ms, r.integer("server_ms", std::numeric_limits<std::int64_t>::min()));
  SB_ASSIGN_OR_RETURN(a.receipt.signature, r.hex<64>("sig"));
  SB_ASSIGN_OR_RETURN(std::int64_t cursor, top.integer("cursor"));
  a.cursor = static_cast<std::uint64_t>(cursor);
  SB_ASSIGN_OR_RETURN(a.more, top.boolean("more"));
  SB_ASSIGN_OR_RETURN(const Json* heads, top.list("heads"));
  if (heads->size() > kMaxHeadsPerMessage) {
    return data_loss("the server's answer carries " + std::to_string(heads->size()) + " chain heads, more than " +
                     std::to_string(kMaxHeadsPerMessage) + "; nothing from it was stored");
  }
  for (std::size_t i = 0; i < heads->size(); ++i) {
    Fields h((*heads)[i], "its heads[" + std::to_string(i) + "]:");
    SB_RETURN_IF_ERROR(h.is_map());
    SignedHead head;
    SB_ASSIGN_OR_RETURN(head.device, h.hex<32>("device"));
    SB_ASSIGN_OR_RETURN(std::int64_t hseq, h.integer("seq", 1));
    head.seq = static_cast<std::uint64_t>(hseq);
    SB_ASSIGN_OR_RETURN(head.hash, h.hex<32>("hash"));
    SB_ASSIGN_OR_RETURN(head.signature, h.hex<64>("sig"));
    if (!a.heads.emplace(head.device, head).second) {
      return data_loss("the server's answer carries two chain heads for device " + short_device(head.device) +
                       "; nothing from it was stored");
    }
  }
  return a;
}

// The receipt must be the pinned server's, for this device, and name a point of its own chain
// that this terminal can check: at or beyond the head it pushed, if it pushed. Beyond is no
// error: the server may hold more than this push already (a later bundle, or an HTTP sync, got
// there first), and says so.
Status check_receipt(Db& db, const SyncState& state, const PushBatch& pushed, const Receipt& r) {
  if (!verify_receipt(state.enrollment.server_key, r)) {
    return unauthenticated("the server's receipt does not verify with the pinned server key (for this terminal, "
                           "event " + std::to_string(r.seq) + "); nothing from the answer was stored");
  }
  if (pushed.head && r.seq < pushed.head->seq) {
    return data_loss("the server's receipt names event " + std::to_string(r.seq) + " of this terminal, but this "
                     "sync pushed up to event " + std::to_string(pushed.head->seq) + "; nothing was stored");
  }
  if (r.seq > state.own_seq) {
    return data_loss("the server holds this terminal's events up to " + std::to_string(r.seq) + ", but the terminal "
                     "has only " + std::to_string(state.own_seq) + ": its store is older than what it sent (restored "
                     "from a backup?); nothing was stored. Ask head office before recording more");
  }
  if (r.seq == 0) {
    if (r.hash != Hash{}) return data_loss("the server's receipt for no events names a hash; nothing was stored");
    return Status::ok();
  }
  SB_ASSIGN_OR_RETURN(std::optional<Hash> mine, stored_hash(db, r.device, r.seq));
  if (!mine || *mine != r.hash) {
    return data_loss("the server holds a different " + event_name(r.device, r.seq) + " than this terminal; "
                     "nothing was stored. Ask head office (the device may be flagged)");
  }
  return Status::ok();
}

// Whether `r` says more than the receipt the terminal holds: a later point of its chain, or the
// same point at a later server time. Answers taken out of order never move it backwards.
bool newer_receipt(const std::optional<Receipt>& held, const Receipt& r) {
  return !held || r.seq > held->seq || (r.seq == held->seq && r.server_ms > held->server_ms);
}

// The devices of the batch: what the terminal held of each, and its last event in the batch.
struct DeviceInBatch {
  std::optional<Event> held;   // the terminal's last event of it (stored before or by this answer)
  std::uint64_t last_seq = 0;  // its last event in the batch (duplicates included)
  Hash last_hash{};
  bool added = false;          // a new event of it is in the batch
};

// Checks one pulled event on its own: not this terminal's, and of a kind its author may write.
// The site signer's bodies are checked here; a terminal event's body when it is shown
// (apply_event), a correction's against the kind of the entry it corrects. A kind this version
// does not know (protocol version 2, docs/PROTOCOL.md) is no error: the event is kept in the log
// and changes nothing here (projection.cpp skips it), whoever signed it. Authority comes from the
// signer: only the site signer's head-office kinds are taken as head office's word.
Status check_pulled_event(const Event& e, const PublicKey& me, const SiteScope& scope) {
  if (e.device == me) {
    return data_loss("the answer holds " + event_name(e.device, e.seq) +
                     ", an event of this terminal itself; nothing was stored");
  }
  if (e.device == scope.signer) {
    if (is_terminal_kind(e.kind)) {
      return data_loss(event_name(e.device, e.seq) + " (the site signer's) is of kind '" + e.kind +
                       "', which only terminals write; nothing from the answer was stored");
    }
    if (!is_head_office_kind(e.kind)) return Status::ok();  // a later version's head-office kind: kept
    Status body = validate_head_office_body(e.kind, e.body);
    if (!body.is_ok()) {
      return data_loss(event_name(e.device, e.seq) + ": " + body.message() + "; nothing from the answer was stored");
    }
    return Status::ok();
  }
  if (is_head_office_kind(e.kind)) {
    return data_loss(event_name(e.device, e.seq) + " is head-office data (" + e.kind + ") from a device that is not "
                     "site " + scope.site + "'s signer; nothing from the answer was stored");
  }
  // The body of a known kind is checked by apply_event, which every terminal event goes through
  // (project_event); a kind this version does not know is kept unapplied (the server checked
  // that it names a shift of its terminal). Its name was checked when it decoded.
  return Status::ok();
}

// Takes the answer's events in one pass, in their order of arrival: each is decoded, checked,
// linked to what the terminal holds of its device, stored and shown as it comes (so that an event
// naming an earlier one of the same answer finds it); then each device's events must end exactly
// at the answer's signed head for it. Any failure is returned and the caller's transaction rolls
// back everything this wrote: one pass holds one decoded event at a time, not the whole answer.
// The heads' signatures were verified before (verify_heads), so a forged answer fails before
// anything is written.
Status take_pulled(Store::Impl& impl, const PublicKey& me, const PublicKey& server, const SiteScope& scope,
                   const Message& answer, const std::map<PublicKey, SignedHead>& heads, std::int64_t now_ms,
                   SyncAccepted& out) {
  Db& db = impl.db;
  if (!answer.events.empty()) {
    // Up to 16 MiB of page cache for this connection from now on (SQLite's default is 2 MiB),
    // taken only as pages are read: the events land in one index in hash order (events.hash;
    // entries and versions are keyed by arrival and appended), and with a small cache every insert
    // into it reads its page back from the file and dirty pages go out to the WAL before the commit. With the largest pull batch the
    // terminal stays under 64 MiB (docs/SYNC_FIGURES.md).
    SB_RETURN_IF_ERROR(db.exec("PRAGMA cache_size = -16384"));
  }
  std::map<PublicKey, DeviceInBatch> devices;
  MemoScope memo(impl);
  // arrival, the rowid, is numbered by SQLite: after every event stored before.
  SB_ASSIGN_OR_RETURN(Stmt insert, db.prepare("INSERT INTO events(device, seq, hlc, author, kind, hash, raw, "
                                              "recorded_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
  for (std::size_t i = 0; i < answer.events.size(); ++i) {
    const Bytes& raw = answer.events[i];
    auto decoded = decode_event(raw);
    if (!decoded.is_ok()) {
      return data_loss("pulled event " + std::to_string(i + 1) + " of the answer does not decode (" +
                       decoded.status().message() + "); nothing from the answer was stored");
    }
    Event& e = decoded.value();
    SB_RETURN_IF_ERROR(check_pulled_event(e, me, scope));
    auto [it, fresh] = devices.try_emplace(e.device);
    DeviceInBatch& d = it->second;
    if (fresh) {
      if (!heads.count(e.device)) {
        return data_loss("the answer carries events of device " + short_device(e.device) +
                         " without a signed head that covers them; nothing was stored");
      }
      SB_ASSIGN_OR_RETURN(d.held, last_event(db, e.device));
    }
    const std::uint64_t held_seq = d.held ? d.held->seq : 0;
    d.last_seq = e.seq;
    d.last_hash = e.hash;
    // After a device's first new event every later one of it must link on.
    if (e.seq <= held_seq && !d.added) {
      // Held already (an answer repeated after a lost commit): it must be the very same event.
      SB_ASSIGN_OR_RETURN(std::optional<Hash> have, stored_hash(db, e.device, e.seq));
      if (!have || *have != e.hash) {
        return data_loss(event_name(e.device, e.seq) + " differs from the one this terminal holds: the device wrote "
                         "two different events with one number; nothing from the answer was stored");
      }
      continue;
    }
    Status link = check_link(d.held ? &*d.held : nullptr, e);
    if (!link.is_ok()) return data_loss(link.message() + " (pulled); nothing from the answer was stored");
    // Trusted time: the receipt a shift_open names is the pinned server's, for an earlier event
    // of the same chain (held, or earlier in this answer).
    Status receipt = check_shift_open_receipt(db, e, &server);
    if (!receipt.is_ok()) return data_loss(receipt.message() + " (pulled); nothing from the answer was stored");
    insert.bind_blob(1, e.device)
        .bind(2, static_cast<std::int64_t>(e.seq))
        .bind(3, static_cast<std::int64_t>(e.hlc))
        .bind(4, e.author)
        .bind(5, e.kind)
        .bind_blob(6, e.hash)
        .bind_blob(7, raw)
        .bind(8, now_ms);
    Status inserted = insert.run();
    if (!inserted.is_ok()) {
      // The hash is unique: the same event under another (device, seq) cannot be, but say so.
      return inserted.code() == Code::kInternal
                 ? data_loss("cannot store pulled " + event_name(e.device, e.seq) + ": " + inserted.message())
                 : inserted;
    }
    const std::int64_t arrival = sqlite3_last_insert_rowid(db.handle());
    auto shown = impl.project_event(e, raw, arrival, &scope);
    if (!shown.is_ok()) {
      if (shown.status().code() != Code::kInvalidArgument && shown.status().code() != Code::kDataLoss) {
        return shown.status();
      }
      return data_loss("pulled " + shown.status().message() + "; nothing from the answer was stored");
    }
    ++out.pulled;
    if (!*shown) ++out.unshown;
    d.added = true;
    d.held = std::move(e);
  }
  for (const auto& [device, d] : devices) {
    const SignedHead& h = heads.at(device);
    if (h.seq != d.last_seq || h.hash != d.last_hash) {
      return data_loss("the signed head of device " + short_device(device) + " names event " + std::to_string(h.seq) +
                       ", but its events in the answer end at " + event_name(device, d.last_seq) +
                       " or differ from it; nothing was stored");
    }
  }
  for (const auto& [device, head] : heads) {
    if (!devices.count(device)) {
      return data_loss("the answer carries a signed head for device " + short_device(device) +
                       " but none of its events; nothing was stored");
    }
  }
  return Status::ok();
}

// Every head of the answer must be signed by its device, whatever its events turn out to be.
Status verify_heads(const std::map<PublicKey, SignedHead>& heads) {
  for (const auto& [device, h] : heads) {
    if (!verify_head(h)) {
      return unauthenticated("the signed head of device " + short_device(device) + " at event " +
                             std::to_string(h.seq) + " does not verify; nothing from the answer was stored");
    }
  }
  return Status::ok();
}

Status store_heads(Db& db, const std::map<PublicKey, SignedHead>& heads) {
  for (const auto& [device, h] : heads) {
    // Only forward: an answer whose events were all held already leaves a later head in place.
    SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("INSERT INTO heads(device, seq, hash, signature) VALUES(?, ?, ?, ?) "
                                            "ON CONFLICT(device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
                                            "signature = excluded.signature WHERE excluded.seq > heads.seq"));
    SB_RETURN_IF_ERROR(st.bind_blob(1, device)
                           .bind(2, static_cast<std::int64_t>(h.seq))
                           .bind_blob(3, h.hash)
                           .bind_blob(4, h.signature)
                           .run());
  }
  return Status::ok();
}

// Whether the answer says the server has more to give: the next answer follows at once.
bool says_more(const Message& answer) {
  auto more = answer.header.find("more");
  return more != answer.header.end() && more->is_boolean() && more->get<bool>();
}

}  // namespace

// An answer that says more follows is committed without waiting for the disk (WAL with
// synchronous=NORMAL: a power cut may lose the latest such commits, never tear one, and a process
// kill loses nothing); the sync's last answer is committed with the store's own setting (FULL),
// whose fsync of the WAL makes every earlier commit durable too (the WAL is only appended to). What
// a power cut takes back this way is the cursor with what it pulled, and a receipt the server gives
// again: the next sync pulls and pushes it again (docs/DURABILITY.md, "Sync answers"). A pull of a
// million events waits for one fsync instead of one per 8 MiB answer.
Result<SyncAccepted> Store::accept_sync(const PushBatch& pushed, const Message& answer) {
  if (impl_->options.relaxed_durability || !says_more(answer)) return impl_->accept_answer(pushed, answer);
  Result<SyncAccepted> taken = internal_error("the answer was not taken");
  SB_RETURN_IF_ERROR(without_own_fsync(impl_->db, [&] {
    taken = impl_->accept_answer(pushed, answer);
    return Status::ok();
  }));
  return taken;
}

Result<SyncAccepted> Store::Impl::accept_answer(const PushBatch& pushed, const Message& answer) {
  const PublicKey& me = key.public_key();
  SB_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db));
  SB_ASSIGN_OR_RETURN(SyncState state, enrolled_state());
  SB_ASSIGN_OR_RETURN(Answer a, read_answer(answer.header, me));
  SB_RETURN_IF_ERROR(check_receipt(db, state, pushed, a.receipt));
  const SiteScope scope{state.enrollment.signer.signer, state.enrollment.site, state.enrollment.units};
  SB_RETURN_IF_ERROR(verify_heads(a.heads));

  SyncAccepted out;
  const std::uint64_t before = state.receipt ? state.receipt->seq : 0;
  out.receipt = newer_receipt(state.receipt, a.receipt) ? a.receipt : *state.receipt;
  out.pushed = out.receipt.seq - std::min(before, out.receipt.seq);
  out.server_seq = a.receipt.seq;
  out.cursor = std::max(state.cursor, a.cursor);
  out.more = a.more;
  const std::int64_t now = clock->now_ms();
  SB_RETURN_IF_ERROR(take_pulled(*this, me, state.enrollment.server_key, scope, answer, a.heads, now, out));
  SB_RETURN_IF_ERROR(store_heads(db, a.heads));
  SB_ASSIGN_OR_RETURN(Stmt st, db.prepare("UPDATE enrollment SET cursor = ?, last_sync_ms = ?, receipt_seq = ?, "
                                          "receipt_hash = ?, receipt_server_ms = ?, receipt_sig = ?"));
  SB_RETURN_IF_ERROR(st.bind(1, static_cast<std::int64_t>(out.cursor))
                         .bind(2, now)
                         .bind(3, static_cast<std::int64_t>(out.receipt.seq))
                         .bind_blob(4, out.receipt.hash)
                         .bind(5, out.receipt.server_ms)
                         .bind_blob(6, out.receipt.signature)
                         .run());
  // The server's signed time moves this terminal's clock stamp forward, never back: a terminal
  // whose clock reset to 1970 after a power loss stamps its next events after the last server
  // time it saw (docs/MERGE.md, "Clocks"). Other terminals' stamps never move it.
  SB_ASSIGN_OR_RETURN(Stmt hlc, db.prepare("UPDATE meta SET value = max(value, ?) WHERE key = 'hlc'"));
  const std::uint64_t server_stamp =
      hlc_pack(static_cast<std::uint64_t>(std::clamp<std::int64_t>(a.receipt.server_ms, 0, (std::int64_t{1} << 48) - 1)), 0);
  SB_RETURN_IF_ERROR(hlc.bind(1, static_cast<std::int64_t>(server_stamp)).run());
  SB_RETURN_IF_ERROR(tx.commit());
  return out;
}

}  // namespace shiftbook::client
