// Head office's logic (service.h): the audit export (docs/AUDIT.md). The lines are written from
// storage as they are read: the header, every site with its signer's delegation, every device,
// then every append in position order, its events before its signed head and receipt. The same
// lines feed an AuditVerifier for `shiftbook-server audit`, so the server checks itself exactly
// as an outside auditor checks the file.
#include <algorithm>

#include "service_impl.h"

namespace shiftbook::server {
using namespace detail;

namespace {

constexpr std::size_t kPushPage = 1'000;

}  // namespace

Status Service::audit_export(const std::function<Status(const Json& line)>& sink) {
  Impl& m = *impl_;
  SB_RETURN_IF_ERROR(sink(audit_header_line(m.server_key.public_key(), m.clock.now_ms())));
  SB_ASSIGN_OR_RETURN(std::vector<std::string> all_sites, sites());
  for (const std::string& s : all_sites) {
    const auto signer = m.signer(s);
    SB_RETURN_IF_ERROR(sink(audit_site_line(AuditSite{s, signer->key.public_key(), signer->delegation.signature})));
  }
  SB_ASSIGN_OR_RETURN(std::vector<DeviceRecord> devices, m.storage->devices());
  std::sort(devices.begin(), devices.end(), [](const DeviceRecord& a, const DeviceRecord& b) { return a.key < b.key; });
  for (const DeviceRecord& d : devices) {
    SB_RETURN_IF_ERROR(sink(audit_device_line(AuditDevice{d.key, d.site, d.units, d.enrolled_ms, d.revoked_ms})));
  }
  std::uint64_t after = 0;
  for (;;) {
    SB_ASSIGN_OR_RETURN(std::vector<AuditPush> pushes, m.storage->pushes(after, kPushPage));
    for (const AuditPush& p : pushes) {
      SB_ASSIGN_OR_RETURN(std::vector<PulledEvent> events, m.storage->events_in(p.first_pos, p.last_pos));
      if (events.size() != p.last_pos - p.first_pos + 1) {
        return data_loss("the head-office store is missing events of the push ending at " +
                         event_name(p.device, p.head.seq) + "; restore it from a backup");
      }
      for (const PulledEvent& e : events) SB_RETURN_IF_ERROR(sink(audit_event_line(e.pos, e.raw)));
      SB_RETURN_IF_ERROR(sink(audit_push_line(p)));
      after = p.last_pos;
    }
    if (pushes.size() < kPushPage) return Status::ok();
  }
}

Result<AuditResult> Service::audit(const std::function<void(std::string_view line)>& each_line) {
  AuditVerifier verifier(impl_->server_key.public_key());
  bool header = true;
  SB_RETURN_IF_ERROR(audit_export([&](const Json& line) -> Status {
    // The store's lines are well formed by construction; dump and read back to check them exactly
    // as a file is checked.
    const std::string text = line.dump();
    if (each_line) each_line(text);
    if (header) {
      header = false;
      return verifier.header(impl_->server_key.public_key());
    }
    return verifier.line(text);
  }));
  return verifier.finish();
}

}  // namespace shiftbook::server
