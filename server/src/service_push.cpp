// Head office's logic (service.h): a sync request's push, checked by the rules of
// docs/PROTOCOL.md in their order (decoding and sender, consecutive seqs, the signed head, what is
// held already, the link to the stored chain end, then each new event's kind, body, references
// and scope, service_check.cpp) and stored by one append. Nothing of a refused push is stored.
#include <algorithm>
#include <iterator>
#include <utility>

#include "service_check.h"

namespace shiftbook::server {
using namespace detail;

std::variant<Service::Impl::PushOutcome, Refusal> Service::Impl::stored_receipt(const DeviceRecord& rec) {
  auto stored = storage->receipt(rec.key);
  if (!stored.is_ok()) return internal_refusal(stored.status());
  PushOutcome out;
  if (*stored && (*stored)->seq == rec.seq) {
    out.receipt = **stored;
  } else {
    // Nothing held (seq 0, zero hash), or a store without the receipt: vouch for what is held now.
    out.receipt = sign_receipt(server_key, rec.key, rec.seq, rec.seq == 0 ? Hash{} : rec.head, clock.now_ms());
  }
  return out;
}

std::variant<Service::Impl::PushOutcome, Refusal> Service::Impl::push(DeviceRecord rec, std::vector<Bytes>& raw,
                                                                      const SignedHead& head, int version) {
  const PublicKey& sender = rec.key;
  // 1. Decode once; every event must be the sender's, consecutive, and linked within the batch;
  // 2. one signature for the whole batch, before any per-event database work.
  auto read = read_push(raw, sender, head);
  if (auto* r = std::get_if<Refusal>(&read)) return *r;
  std::vector<NewEvent> events = std::move(std::get<std::vector<NewEvent>>(read));
  // Copied: the events move into the append batch below.
  const std::uint64_t last_seq = events.back().event.seq;
  const Hash last_hash = events.back().event.hash;

  // Reads the events where they are whenever it is asked: an append that loses a race hands
  // them back to `events` before they are judged again.
  RefLookup refs(*storage, events);
  const std::uint64_t first_seq = events.front().event.seq;
  std::size_t checked_from = events.size();  // events at and after this index passed check_new_event
  for (int attempt = 0; attempt < kAppendAttempts; ++attempt) {
    const std::uint64_t held = rec.seq;
    // 3. What the server holds already must be exactly what is pushed again.
    if (first_seq > held + 1) {
      Refusal r = refuse(ProtocolError::kGap, "the push starts at " + event_name(sender, first_seq) +
                                                  " but the server holds this device up to seq " + std::to_string(held) +
                                                  "; push from seq " + std::to_string(held + 1));
      r.expected_seq = held + 1;
      return r;
    }
    if (first_seq <= held) {
      const std::uint64_t to = std::min(last_seq, held);
      auto hashes = storage->hashes(sender, first_seq, to);
      if (!hashes.is_ok()) return internal_refusal(hashes.status());
      if (hashes->size() != to - first_seq + 1) {
        return internal_refusal(internal_error("storage returned " + std::to_string(hashes->size()) +
                                               " hashes for seq " + std::to_string(first_seq) + ".." + std::to_string(to)));
      }
      for (std::uint64_t seq = first_seq; seq <= to; ++seq) {
        const Hash& pushed = events[seq - first_seq].event.hash;
        const Hash& stored = (*hashes)[seq - first_seq];
        if (pushed == stored) continue;
        Status flagged = storage->flag_device(sender, "equivocation at seq " + std::to_string(seq) + ": pushed " +
                                                          short_hash(pushed) + "..., held " + short_hash(stored) + "...",
                                              clock.now_ms());
        Refusal r = refuse(ProtocolError::kEquivocation,
                           event_name(sender, seq) + ": the server holds a different event at this seq (held " + short_hash(stored) +
                               "..., pushed " + short_hash(pushed) + "...); nothing was stored and the device is flagged");
        r.expected_seq = held + 1;
        if (!flagged.is_ok()) r.log_detail = "flagging failed: " + flagged.to_string();
        return r;
      }
    }
    if (last_seq <= held) return stored_receipt(rec);

    // 4. The new events: the first links to the stored chain end (hash and HLC).
    const std::size_t k = static_cast<std::size_t>(held + 1 - first_seq);
    if (k == 0) {
      Status linked;
      if (held == 0) {
        linked = check_link(nullptr, events[0].event);
      } else {
        auto end = storage->event_info(rec.head);
        if (!end.is_ok()) return internal_refusal(end.status());
        if (!*end) return internal_refusal(data_loss("the stored chain end of device " + short_device(sender) + " is missing"));
        Event stored_end;
        stored_end.device = sender;
        stored_end.seq = held;
        stored_end.hash = rec.head;
        stored_end.hlc = (*end)->hlc;
        linked = check_link(&stored_end, events[0].event);
      }
      if (!linked.is_ok()) return refuse(ProtocolError::kChain, linked.message());
    }
    for (std::size_t i = k; i < checked_from; ++i) {
      if (auto r = check_new_event(events, i, rec, server_key.public_key(), refs, version)) return *r;
    }
    checked_from = std::min(checked_from, k);

    // 5. One append: events, head, receipt.
    const std::int64_t now = clock.now_ms();
    AppendBatch batch;
    batch.device = sender;
    batch.expected_seq = held + 1;
    if (k == 0) {
      batch.events = std::move(events);  // the usual case: everything pushed is new
    } else {
      batch.events.assign(std::make_move_iterator(events.begin() + static_cast<std::ptrdiff_t>(k)),
                          std::make_move_iterator(events.end()));
    }
    batch.head = head;
    batch.receipt = sign_receipt(server_key, sender, last_seq, last_hash, now);
    Status appended = storage->append(batch);
    if (appended.is_ok()) {
      PushOutcome out;
      out.receipt = batch.receipt;
      out.added = batch.events.size();
      out.first = held + 1;
      out.last = last_seq;
      return out;
    }
    if (appended.code() != Code::kAborted) return internal_refusal(appended);
    // A concurrent sync of this device won: take the events back and judge again against what
    // it stored (a retry, an equivocation, or a gap).
    if (k == 0) {
      events = std::move(batch.events);
    } else {
      std::move(batch.events.begin(), batch.events.end(), events.begin() + static_cast<std::ptrdiff_t>(k));
    }
    auto again = storage->device(sender);
    if (!again.is_ok()) return internal_refusal(again.status());
    if (!*again) return internal_refusal(not_found("device " + short_device(sender) + " vanished during its sync"));
    rec = std::move(**again);
    if (rec.revoked_ms != 0) {
      // Nothing was stored; its next sync is answered "revoked" and its push kept in quarantine.
      return refuse(ProtocolError::kInternal, "this terminal was revoked during its sync; sync again");
    }
  }
  return refuse(ProtocolError::kInternal, "other syncs of this terminal kept interfering with this one; retry");
}

}  // namespace shiftbook::server
