// Head office's side of sync by files (service.h, Service::bundle): a terminal's requests come in
// a file instead of over HTTP, and are answered by the very code that answers POST /v1/sync
// (answer_sync); the answers, sealed for their requests, go back in a reply file. Nothing is
// stored until every request of the bundle has opened: a bundle changed anywhere is refused whole.
#include <algorithm>
#include <istream>
#include <utility>

#include "service_impl.h"

namespace shiftbook::server {
using namespace detail;

namespace {

// The receipt of a "sync" answer, as answer_pull wrote it.
Result<Receipt> receipt_of(const Json& header, const PublicKey& device) {
  auto it = header.find("receipt");
  if (it == header.end() || !it->is_object()) return internal_error("the sync answer carries no receipt");
  Receipt r;
  r.device = device;
  SB_ASSIGN_OR_RETURN(std::int64_t seq, int_field(*it, "seq"));
  r.seq = static_cast<std::uint64_t>(seq);
  SB_ASSIGN_OR_RETURN(r.hash, hex_field<32>(*it, "hash"));
  SB_ASSIGN_OR_RETURN(r.server_ms, int_field(*it, "server_ms"));
  SB_ASSIGN_OR_RETURN(r.signature, hex_field<64>(*it, "sig"));
  return r;
}

BundleRefusal refusal_of(std::uint32_t part, const Json& header) {
  BundleRefusal r;
  r.part = part;
  r.code = header.value("code", "internal");
  r.message = header.value("message", "");
  return r;
}

// Opens request `n` of the bundle with the server key; one that does not open, or that another
// device sealed, was changed after the terminal sealed it.
Result<OpenedRequest> open_part(const DeviceKey& server, const BundleHeader& h, const BundleEntry& e) {
  const std::string which = "request " + std::to_string(e.part + 1) + " of " + std::to_string(h.count);
  auto opened = open_request(server, e.envelope);
  if (!opened.is_ok()) {
    if (opened.status().code() != Code::kUnauthenticated) return opened.status().with_context(which + ": ");
    return unauthenticated(which + " does not open with this server's key: it was changed after the terminal "
                           "sealed it, or sealed without the terminal's key; nothing was stored and no reply written");
  }
  if (opened->device != h.device) {
    return unauthenticated(which + " was sealed by terminal " + short_device(opened->device) + ", not by terminal " +
                           short_device(h.device) + " that the bundle names; nothing was stored and no reply written");
  }
  return opened;
}

// Every request of the bundle opens, before any is answered: a bundle changed anywhere stores
// nothing.
Status open_all(BundleReader& reader, const DeviceKey& server, const BundleHeader& h) {
  for (;;) {
    SB_ASSIGN_OR_RETURN(std::optional<BundleEntry> e, reader.next());
    if (!e) return reader.rewind();
    SB_RETURN_IF_ERROR(open_part(server, h, *e).status());
  }
}

// The reply as it grows, and what the report says of it.
class ReplyBuilder {
 public:
  ReplyBuilder(const BundleHeader& request, BundleReport& report) : report_(report) {
    file_.header = request;
    file_.header.kind = BundleKind::kReply;
    size_ = bundle_size(file_);
  }
  std::uint64_t size() const { return size_; }
  std::size_t answers() const { return file_.entries.size(); }
  // The answer to request `part`, sealed for it.
  Result<Bytes> seal(const EnvelopeContext& ctx, const SyncAnswer& a) const {
    SB_ASSIGN_OR_RETURN(Bytes plain, encode_message(a.message));
    return seal_response(ctx, plain);
  }
  void keep(std::uint32_t part, Bytes wire, SyncAnswer& a) {
    size_ += 8 + wire.size();
    file_.entries.push_back(BundleEntry{part, std::move(wire)});
    report_.log_lines.push_back(std::move(a.log_line));
    if (a.pulled) report_.pulled += a.message.events.size();
    if (a.message.header.value("type", "") == "error") report_.refused.push_back(refusal_of(part, a.message.header));
  }
  BundleFile finish(std::int64_t server_ms) {
    report_.answers = file_.entries.size();
    file_.header.ms = server_ms;
    return std::move(file_);
  }

 private:
  BundleReport& report_;
  BundleFile file_;
  std::uint64_t size_ = 0;
};

// Where the pull stands after the last answer that pulled, with that answer's receipt.
struct PullState {
  Receipt receipt;
  std::uint64_t cursor = 0;
  bool more = false;
};

// Pull-only answers to the last request (`part`, sealed with `ctx`), each `pull(cursor)` carrying
// the pull on, while there is more and the reply stays within `reply_max` bytes. A pull the
// server fails is answered "internal", as over HTTP, and ends them.
template <typename Pull>
Status pull_more(ReplyBuilder& reply, PullState& at, const EnvelopeContext& ctx, std::uint32_t part,
                 std::size_t reply_max, Pull pull) {
  while (at.more && reply.answers() < kMaxBundleEntries) {
    SyncAnswer a = pull(at.cursor);
    SB_ASSIGN_OR_RETURN(Bytes wire, reply.seal(ctx, a));
    if (reply.size() + 8 + wire.size() > reply_max) return Status::ok();
    const bool pulled = a.pulled;
    if (pulled) {
      at.cursor = a.cursor;
      at.more = a.more;
    }
    reply.keep(part, std::move(wire), a);
    if (!pulled) return Status::ok();
  }
  return Status::ok();
}

}  // namespace

Result<BundleFile> Service::bundle(std::istream& request, std::size_t reply_max, BundleReport& report) {
  Impl& s = *impl_;
  report = BundleReport{};
  SB_ASSIGN_OR_RETURN(BundleReader reader, BundleReader::open(request, BundleKind::kRequest));
  SB_RETURN_IF_ERROR(reader.check());
  const BundleHeader h = reader.header();
  report.id = h.id;
  report.device = h.device;
  report.requests = h.count;
  if (h.server != server_key()) {
    return invalid_argument("it is meant for the server with fingerprint " + format_fingerprint(h.server) +
                            "; this server is " + format_fingerprint(server_key()) + ". Take it to that server");
  }
  SB_ASSIGN_OR_RETURN(std::optional<DeviceRecord> before, s.storage->device(h.device));
  if (!before) {
    return failed_precondition("it comes from terminal " + short_device(h.device) + ", which is not enrolled with "
                               "this server; enroll it first");
  }
  if (h.count == 0) return invalid_argument("it holds no requests");
  SB_RETURN_IF_ERROR(open_all(reader, s.server_key, h));

  ReplyBuilder reply(h, report);
  const std::string prefix = "sync device " + short_device(h.device) + " bundle " + short_bundle(h.id);
  std::optional<PullState> pulled;
  bool last_pulled = false;  // the answer to the latest request pulled
  OpenedRequest last;
  for (;;) {
    SB_ASSIGN_OR_RETURN(std::optional<BundleEntry> e, reader.next());
    if (!e) break;
    SB_ASSIGN_OR_RETURN(last, open_part(s.server_key, h, *e));
    // Each request's push moves the device's chain on: judge it against what the one before stored.
    SB_ASSIGN_OR_RETURN(std::optional<DeviceRecord> rec, s.storage->device(h.device));
    if (!rec) return internal_error("terminal " + short_device(h.device) + " vanished while its bundle was answered");
    const std::string line = prefix + " request " + std::to_string(e->part + 1) + " of " + std::to_string(h.count);
    SyncAnswer a = s.answer_sync(*rec, last.plaintext, line, pulled ? pulled->cursor : 0);
    last_pulled = a.pulled;
    if (a.pulled) {
      SB_ASSIGN_OR_RETURN(Receipt r, receipt_of(a.message.header, h.device));
      pulled = PullState{r, a.cursor, a.more};
    }
    SB_ASSIGN_OR_RETURN(Bytes wire, reply.seal(last.context, a));
    reply.keep(e->part, std::move(wire), a);
  }

  if (last_pulled && pulled->more) {
    // Pulled on with the last request's own pull_max (read and checked when it was answered).
    SB_ASSIGN_OR_RETURN(Message msg, decode_message(last.plaintext));
    auto read = Impl::read_sync_request(msg, h.device);
    if (auto* r = std::get_if<Refusal>(&read)) return internal_error("a request answered before: " + r->message);
    const std::size_t pull_max = std::get<SyncRequest>(read).pull_max;
    SB_ASSIGN_OR_RETURN(std::optional<DeviceRecord> rec, s.storage->device(h.device));
    if (!rec) return internal_error("terminal " + short_device(h.device) + " vanished while its bundle was answered");
    SB_RETURN_IF_ERROR(pull_more(reply, *pulled, last.context, h.count - 1, reply_max, [&](std::uint64_t cursor) {
      return s.answer_pull(*rec, pulled->receipt, cursor, pull_max, prefix + " more");
    }));
  }
  report.more = last_pulled && pulled->more;
  SB_ASSIGN_OR_RETURN(std::optional<DeviceRecord> after, s.storage->device(h.device));
  report.server_seq = after ? after->seq : 0;
  report.pushed = report.server_seq - std::min(report.server_seq, before->seq);
  return reply.finish(s.clock.now_ms());
}

}  // namespace shiftbook::server
