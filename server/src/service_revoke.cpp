// Head office's logic (service.h): revocation. Revoking writes a device_revoke into the chain of
// the device's site signer, and the same append marks the device revoked (storage.h). Every sync
// of a revoked device is then answered "revoked" with the server's signed notice; what it pushes
// is checked like any push for framing, sender, links and head signature, and kept in quarantine:
// never positioned, pulled or counted (docs/PROTOCOL.md, "Revocation and quarantine").
#include <utility>

#include "service_check.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
using namespace detail;

namespace {

constexpr const char* kDeviceRevoke = "device_revoke";

Json notice_json(const RevocationNotice& n) {
  return Json{{"revoked_ms", n.revoked_ms}, {"reason", n.reason}, {"sig", to_hex(n.signature)}};
}

std::string seq_range(const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return "";
  return " (seq " + std::to_string(seqs.front()) +
         (seqs.size() > 1 ? ".." + std::to_string(seqs.back()) : std::string()) + ")";
}

}  // namespace

SyncAnswer Service::Impl::answer_revoked(const DeviceRecord& rec, Message& msg, const SyncRequest& req,
                                         const std::string& prefix) {
  std::string line = prefix + " revoked:";
  std::size_t added = 0;
  if (!msg.events.empty()) {
    auto read = read_push(msg.events, rec.key, *req.head);
    if (auto* r = std::get_if<Refusal>(&read)) return refused_answer(*r, prefix);
    QuarantineBatch batch;
    batch.device = rec.key;
    batch.events = std::move(std::get<std::vector<NewEvent>>(read));
    batch.head = *req.head;
    batch.received_ms = clock.now_ms();
    auto kept = storage->quarantine(batch);
    if (!kept.is_ok()) return refused_answer(internal_refusal(kept.status()), prefix);
    added = kept->added.size();
    line += " quarantined " + std::to_string(added) + seq_range(kept->added);
    for (const QuarantineConflict& c : kept->conflicts) {
      // The first event stays; a second one under the same seq is evidence for head office.
      const std::string what = "seq " + std::to_string(c.seq) + " pushed " + short_hash(c.pushed) + "..., held " +
                               short_hash(c.held) + "..." + (c.in_events ? "" : " in quarantine");
      line += "; conflict at " + what;
      if (Status s = storage->flag_device(rec.key, "equivocation after revocation at " + what, batch.received_ms);
          !s.is_ok()) {
        line += " (not flagged: " + s.to_string() + ")";
      }
    }
  } else {
    line += " pushed nothing";
  }
  // Nothing is pulled: the terminal pulls from where it asked next time too.
  if (Status s = storage->note_sync(rec.key, clock.now_ms(), req.client_ms, req.cursor); !s.is_ok()) {
    line += " (last sync not noted: " + s.to_string() + ")";
  }
  SyncAnswer a;
  a.message.header["type"] = "revoked";
  a.message.header["notice"] = notice_json(sign_revocation(server_key, rec.key, rec.revoked_ms, rec.revoke_reason));
  a.message.header["quarantined"] = static_cast<std::int64_t>(added);
  a.log_line = std::move(line);
  return a;
}

Result<DeviceRecord> Service::revoke_device(const PublicKey& device, const std::string& reason,
                                             const std::string& author) {
  Impl& m = *impl_;
  const Json body{{"device", to_hex(device)}, {"reason", reason}};
  SB_RETURN_IF_ERROR(validate_head_office_body(kDeviceRevoke, body));
  std::lock_guard lock(m.admin_mu);
  SB_ASSIGN_OR_RETURN(std::optional<DeviceRecord> rec, m.storage->device(device));
  if (!rec) return not_found("device " + short_device(device) + " is not enrolled with this server");
  if (rec->revoked_ms != 0) {
    return failed_precondition("terminal " + short_device(device) + " was revoked already on " +
                               format_utc(rec->revoked_ms) + " (" + rec->revoke_reason + ")");
  }
  ChainItem item{kDeviceRevoke, body, std::string(), Revocation{device, reason}, author};
  SB_RETURN_IF_ERROR(m.append_to_chain(rec->site, {std::move(item)}).with_context("site " + rec->site + ": "));
  SB_ASSIGN_OR_RETURN(rec, m.storage->device(device));
  if (!rec) return internal_error("device " + short_device(device) + " vanished while it was revoked");
  return std::move(*rec);
}

}  // namespace shiftbook::server
