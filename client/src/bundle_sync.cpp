// Sync by files, the terminal's side (bundle.h): writing a request bundle, and taking the reply.
// The requests are the ones an HTTP sync sends, and the answers go through the same
// Store::accept_sync; what differs is that the answers come back later, all at once, and perhaps
// twice or out of order, which the store's receipt and cursor rules make harmless.
#include "bundle.h"

#include <filesystem>
#include <fstream>
#include <utility>

#include "shiftbook/envelope.h"
#include "shiftbook/platform/files.h"
#include "sync_client.h"

namespace shiftbook::client {
namespace {

// The file a reply is read from; a folder or a missing file is refused by name.
Status open_input(const std::string& path, std::ifstream& in) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return invalid_argument(path + " is a folder, not a bundle file");
  in.open(path, std::ios::binary);
  if (!in) return errno_status("cannot read " + path);
  return Status::ok();
}

// One request of the bundle: `push` sealed as the sync request HTTP would send.
Result<BundleEntry> seal_part(Store& store, const SyncState& state, std::int64_t now, PushBatch& push,
                              BundlePart& part) {
  Message request = sync_request(state.cursor, kMaxPullBytes, now, push);
  SB_ASSIGN_OR_RETURN(Bytes plain, encode_message(request));
  request = Message{};
  SB_ASSIGN_OR_RETURN(SealedRequest sealed, store.seal_request_for(state.enrollment.server_key, plain));
  part.context = std::move(sealed.context);
  BundleEntry entry;
  entry.envelope = std::move(sealed.wire);
  return entry;
}

// What head office's refusal inside a reply means here. The answers after it were still taken.
Status refusal_status(const BundleImportReport& r, const BundleRefusal& first) {
  std::string said = "head office refused request " + std::to_string(first.part + 1) + " of bundle " +
                     short_bundle(r.id) + " (reply " + r.file + "): " + first.code + ": " + first.message;
  if (r.refused.size() > 1) said += " (and " + std::to_string(r.refused.size() - 1) + " more of its requests)";
  said += "; the reply's other answers were taken (pushed " + std::to_string(r.pushed) + ", pulled " +
          std::to_string(r.pulled) + " events)";
  if (first.code == "equivocation" || first.code == "chain") {
    return data_loss(said + ". This terminal's log and the server's disagree; ask head office (the device may be "
                            "flagged)");
  }
  if (first.code == "internal") return unavailable(said + ". Export a new bundle and take it to head office again");
  if (first.code == "gap") {
    return failed_precondition(said + ". Head office holds less than an earlier request pushed; export a new bundle");
  }
  return failed_precondition(said + ". The events stay on this terminal; ask head office");
}

// The answers of a reply, opened with the keys of the requests they answer and decoded; `take`
// sees each in order, with the index of the request it answers. A reply whose answer does not open was changed after head office sealed it.
template <typename Take>
Status each_answer(BundleReader& reader, const BundleRecord& record, const std::string& file, Take take) {
  SB_RETURN_IF_ERROR(reader.rewind());
  for (std::uint64_t n = 1;; ++n) {
    SB_ASSIGN_OR_RETURN(std::optional<BundleEntry> entry, reader.next());
    if (!entry) return Status::ok();
    const std::string which = "answer " + std::to_string(n) + " of reply " + file;
    if (entry->part >= record.parts.size()) {
      return data_loss(which + " answers request " + std::to_string(entry->part + 1) + ", but bundle " +
                       short_bundle(record.id) + " held " + std::to_string(record.parts.size()) +
                       "; nothing from the reply was stored");
    }
    const BundlePart& part = record.parts[entry->part];
    auto opened = open_response(part.context, entry->envelope);
    if (!opened.is_ok()) {
      return unauthenticated(which + " does not open with the key of the request it answers: the reply was changed "
                             "after head office sealed it, or another server made it; nothing from it was stored");
    }
    Bytes().swap(entry->envelope);
    auto message = decode_message(*opened);
    if (!message.is_ok()) {
      return data_loss(which + " does not follow the protocol (" + message.status().message() +
                       "); nothing from the reply was stored");
    }
    SB_RETURN_IF_ERROR(take(entry->part, part, std::move(message).value()));
  }
}

std::string type_of(const Message& m) {
  auto it = m.header.find("type");
  return it != m.header.end() && it->is_string() ? it->get<std::string>() : std::string();
}

BundleRefusal read_refusal(std::uint32_t part, const Json& h) {
  BundleRefusal r;
  r.part = part;
  r.code = h.contains("code") && h["code"].is_string() ? h["code"].get<std::string>() : "internal";
  r.message = h.contains("message") && h["message"].is_string() ? h["message"].get<std::string>() : "";
  return r;
}

// Takes the answers of a reply, one by one, as an HTTP sync takes its answers.
struct AnswerTaker {
  Store& store;
  BundleImportReport& report;
  const std::string& context;
  std::uint64_t revoked_sent = 0;  // own events of the requests answered "revoked"

  Status take(std::uint32_t index, const BundlePart& part, const Message& answer) {
    const std::string type = type_of(answer);
    if (type == "error") {
      report.refused.push_back(read_refusal(index, answer.header));
      return Status::ok();
    }
    if (type == "revoked") return take_revoked(part, answer);
    if (type != "sync") {
      return data_loss(context + "head office answered request " + std::to_string(index + 1) + " with a '" + type +
                       "' message, which a bundle does not carry; the answers before it were taken");
    }
    PushBatch pushed;
    pushed.first_seq = part.first_seq;
    pushed.head = part.head;
    auto accepted = store.accept_sync(pushed, answer);
    if (!accepted.is_ok()) {
      return accepted.status().with_context(context + "the answer to request " + std::to_string(index + 1) +
                                            " was not taken (the answers before it were): ");
    }
    ++report.answers;
    report.pushed += accepted->pushed;
    report.pulled += accepted->pulled;
    report.unshown += accepted->unshown;
    report.more = accepted->more;
    return Status::ok();
  }

  // Head office revoked this terminal: the first notice is the store's to check and take.
  Status take_revoked(const BundlePart& part, const Message& answer) {
    SB_ASSIGN_OR_RETURN(RevokedAnswer revoked, read_revoked_answer(answer.header, store.device()));
    if (!report.revoked) {
      SB_ASSIGN_OR_RETURN(report.revoked, store.accept_revocation(revoked.notice));
    }
    report.quarantined += revoked.quarantined;
    if (part.head) revoked_sent += part.head->seq - part.first_seq + 1;
    ++report.answers;
    return Status::ok();
  }
};

}  // namespace

Status export_bundle(Store& store, const Clock& clock, const std::string& path, BundleExportReport& report) {
  report = BundleExportReport{};
  report.file = path;
  SB_ASSIGN_OR_RETURN(SyncState state, store.sync_state());
  const std::int64_t now = clock.now_ms();
  BundleFile file;
  file.header.kind = BundleKind::kRequest;
  random_bytes(file.header.id);
  file.header.server = state.enrollment.server_key;
  file.header.device = store.device();
  file.header.ms = now;
  BundleRecord record;
  record.id = file.header.id;
  record.exported_ms = now;

  // Part k+1 starts after part k's last event, as if part k had been taken.
  std::uint64_t after = state.receipt ? state.receipt->seq : 0;
  for (;;) {
    if (file.entries.size() == kMaxBundleEntries) {
      return resource_exhausted("the unsent events need more than " + std::to_string(kMaxBundleEntries) +
                                " requests, more than one bundle holds; nothing was written");
    }
    SB_ASSIGN_OR_RETURN(PushBatch push, store.next_push(after, kMaxPushBytes));
    if (!push.head && !file.entries.empty()) break;
    BundlePart part;
    part.first_seq = push.first_seq;
    part.head = push.head;
    if (push.head) {
      if (report.first_seq == 0) report.first_seq = push.first_seq;
      report.last_seq = push.head->seq;
      report.events += push.events.size();
    }
    SB_ASSIGN_OR_RETURN(BundleEntry entry, seal_part(store, state, now, push, part));
    entry.part = static_cast<std::uint32_t>(file.entries.size());
    file.entries.push_back(std::move(entry));
    record.parts.push_back(std::move(part));
    if (!push.head) break;  // nothing to push: one request, to pull
    after = push.head->seq;
  }
  record.events = report.events;
  record.bytes = bundle_size(file);
  SB_RETURN_IF_ERROR(store.remember_bundle(record));
  Status written = write_file_atomic(path, 0600, [&](std::ostream& out) { return write_bundle(out, file); });
  if (!written.is_ok()) {
    // The keys of a bundle nobody can carry are no use; the write's error is the one to report.
    (void)store.forget_bundle(record.id);
    return written;
  }
  report.id = record.id;
  report.parts = record.parts.size();
  report.bytes = record.bytes;
  report.fingerprint = format_fingerprint(state.enrollment.server_key);
  return Status::ok();
}

Status import_bundle_reply(Store& store, const std::string& path, BundleImportReport& report) {
  report = BundleImportReport{};
  report.file = path;
  const std::string context = "reply bundle " + path + ": ";
  std::ifstream in;
  SB_RETURN_IF_ERROR(open_input(path, in));
  auto opened = BundleReader::open(in, BundleKind::kReply);
  if (!opened.is_ok()) return opened.status().with_context(context);
  BundleReader& reader = *opened;
  SB_RETURN_IF_ERROR(reader.check().with_context(context));
  const BundleHeader& h = reader.header();
  report.id = h.id;
  report.server_ms = h.ms;

  SB_ASSIGN_OR_RETURN(SyncState state, store.sync_state());
  if (h.server != state.enrollment.server_key) {
    return invalid_argument(context + "it is meant for another server: it was made by the server with fingerprint " +
                            format_fingerprint(h.server) + ", and this terminal's server is " +
                            format_fingerprint(state.enrollment.server_key) + "; nothing was stored");
  }
  if (h.device != store.device()) {
    return invalid_argument(context + "it is meant for terminal " + short_device(h.device) + ", not this one (" +
                            short_device(store.device()) + "); take it to that terminal. Nothing was stored");
  }
  auto kept = store.bundle(h.id);
  if (!kept.is_ok()) return kept.status().with_context(context);
  const BundleRecord& record = *kept;

  // Every answer must open before any is taken: a reply changed anywhere stores nothing.
  SB_RETURN_IF_ERROR(each_answer(reader, record, path, [](std::uint32_t, const BundlePart&, Message) {
    return Status::ok();
  }));
  AnswerTaker taker{store, report, context};
  SB_RETURN_IF_ERROR(each_answer(reader, record, path, [&](std::uint32_t index, const BundlePart& part, Message m) {
    return taker.take(index, part, m);
  }));
  SB_ASSIGN_OR_RETURN(SyncState after, store.sync_state());
  report.server_seq = after.receipt ? after.receipt->seq : 0;
  report.unsynced = after.unacknowledged();
  if (report.revoked) return permission_denied(revoked_message(*report.revoked, taker.revoked_sent));
  if (!report.refused.empty()) return refusal_status(report, report.refused.front());
  // A reply taken whole is a sync that completed, as far as `status` tells a shift leader: at a
  // site without network it is the only kind there is.
  return store.record_sync_attempt(SyncAttempt{"ok", {}, {}}).with_context(
      context + "every answer was stored, but the sync health record could not be written: ");
}

}  // namespace shiftbook::client
