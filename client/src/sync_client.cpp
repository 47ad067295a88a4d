// The sync driver (sync_client.h): enrollment, and round trips until neither side has more. Errors
// read the same whatever failed: what was refused, by whom, and what the terminal kept.
#include "sync_client.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "shiftbook/envelope.h"

namespace shiftbook::client {
namespace {

// Why a request failed, as the health record and watch read it; unset while nothing said.
struct Why {
  std::optional<SyncOutcome> outcome;
  std::string code;  // the server's code, when it gave one
  void set(SyncOutcome o, std::string c = {}) {
    outcome = o;
    code = std::move(c);
  }
};

// A reply that is not 200 carries {"error": {"code", "message"}} (docs/PROTOCOL.md); anything
// else came from something that is not a Shiftbook server.
Status http_error(const std::string& url, const HttpReply& reply, Why& why) {
  std::string code, message;
  Json doc = Json::parse(reply.body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const Json& e = doc["error"];
    if (e.contains("code") && e["code"].is_string()) code = e["code"].get<std::string>();
    if (e.contains("message") && e["message"].is_string()) message = e["message"].get<std::string>();
  }
  const std::string said = code.empty() ? "HTTP " + std::to_string(reply.status)
                                        : code + (message.empty() ? "" : ": " + message);
  const std::string server = "the server at " + url;
  why.set(SyncOutcome::kRefused, code.empty() ? "HTTP " + std::to_string(reply.status) : code);
  if (code == "rate_limited") {
    why.outcome = SyncOutcome::kServerBusy;
    return unavailable(server + " refuses for now (" + said + "); try again" +
                       (reply.retry_after.empty() ? "" : " in " + reply.retry_after + " seconds"));
  }
  if (code == "shutting_down" || reply.status == 502 || reply.status == 503 || reply.status == 504) {
    why.outcome = SyncOutcome::kUnreachable;
    return unavailable(server + " is not serving (" + said +
                       "); entries stay on this terminal and go with the next sync");
  }
  if (code == "internal" || reply.status == 500) {
    why.outcome = SyncOutcome::kServerBusy;
    return unavailable(server + " failed (" + said + "); entries stay on this terminal and go with the next sync");
  }
  if (code == "unknown_device") {
    return failed_precondition(server + " does not know this terminal (" + said +
                               "); ask head office whether it was removed, and for a new enrollment");
  }
  if (code == "unauthenticated") return unauthenticated(server + " could not authenticate this terminal (" + said + ")");
  if (code == "too_large") return resource_exhausted(server + " refused a request as too large (" + said + ")");
  if (code == "version") return failed_precondition(server + " speaks another protocol version (" + said +
                                                    "); update shiftbook");
  if (code == "malformed") return internal_error(server + " could not read this terminal's request (" + said + ")");
  return failed_precondition(server + " answered " + said + "; is it head office's Shiftbook server?");
}

// A refusal inside an encrypted answer: {"type":"error","code":NAME,"message":TEXT,...}.
Status protocol_refusal(const std::string& url, const Json& header, Why& why) {
  std::string code = header.contains("code") && header["code"].is_string() ? header["code"].get<std::string>() : "";
  std::string message =
      header.contains("message") && header["message"].is_string() ? header["message"].get<std::string>() : "";
  const std::string said = "head office (" + url + ") refused: " + (code.empty() ? "an error" : code) +
                           (message.empty() ? "" : ": " + message);
  auto e = parse_protocol_error(code);
  why.set(e == ProtocolError::kInternal ? SyncOutcome::kServerBusy : SyncOutcome::kRefused, code);
  if (!e) return internal_error(said);
  switch (*e) {
    case ProtocolError::kEquivocation:
    case ProtocolError::kChain:
      return data_loss(said + "; this terminal's log and the server's disagree. Nothing was changed here; "
                              "ask head office (the device may be flagged)");
    case ProtocolError::kLimit:
      return resource_exhausted(said);
    case ProtocolError::kInternal:
      return unavailable(said + "; entries stay on this terminal and go with the next sync");
    case ProtocolError::kCode:
      // The server's message says what to do (check the code, or ask for a new one): advice is
      // added here only when it gave none, so that it reads once.
      return failed_precondition("head office (" + url + ") refused the enrollment code: " +
                                 (message.empty() ? "ask head office for a new one" : message));
    case ProtocolError::kForeignDevice:
    case ProtocolError::kKind:
    case ProtocolError::kInvalid:
    case ProtocolError::kScope:
      return failed_precondition(said + "; the events stay on this terminal. Ask head office");
    case ProtocolError::kGap:
    case ProtocolError::kMalformed:
    case ProtocolError::kVersion:
      return internal_error(said);
  }
  return internal_error(said);
}

// Seals `m` for the pinned server, posts it, and opens and decodes the answer.
Result<Message> round_trip(Store& store, Transport& t, const PublicKey& server, const std::string& path,
                           const Message& m, Why& why) {
  // Each copy of a batch is let go as soon as the next one is made: memory holds at most two.
  SealedRequest sealed;
  {
    SB_ASSIGN_OR_RETURN(Bytes plain, encode_message(m));
    SB_ASSIGN_OR_RETURN(sealed, store.seal_request_for(server, plain));
  }
  auto reply = t.post(path, sealed.wire);
  Bytes().swap(sealed.wire);
  if (!reply.is_ok()) {
    why.set(reply.status().code() == Code::kUnavailable ? SyncOutcome::kUnreachable : SyncOutcome::kFailed);
    return reply.status();
  }
  if (reply->status != 200) return http_error(t.url(), *reply, why);
  why.set(SyncOutcome::kRejected);  // until the answer opens and decodes
  auto opened = open_response(sealed.context, as_bytes(reply->body));
  if (!opened.is_ok()) {
    return unauthenticated("the server's answer did not authenticate with the pinned key (fingerprint " +
                           format_fingerprint(server) + "); nothing from it was stored. Check that " + t.url() +
                           " is still head office's server");
  }
  std::string().swap(reply->body);
  auto answer = decode_message(*opened);
  Bytes().swap(*opened);
  if (!answer.is_ok()) {
    return data_loss("the server's answer does not follow the protocol (" + answer.status().message() +
                     "); nothing from it was stored");
  }
  why = Why{};
  return answer;
}

std::string type_of(const Message& m) {
  auto it = m.header.find("type");
  return it != m.header.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// What GET /v1/hello says: the server's key, and the protocol version both sides speak.
struct Hello {
  PublicKey key{};
  int version = kOldestProtocolVersion;
};

std::string version_range(std::int64_t low, std::int64_t high) {
  return low == high ? std::to_string(low) : std::to_string(low) + " to " + std::to_string(high);
}

// The highest version in the hello's "versions" (from protocol version 2 on) that this shiftbook
// speaks; a server that lists none says only "protocol", the one version it speaks (1).
Result<int> choose_version(const Json& doc, const std::string& url) {
  std::vector<std::int64_t> offered;
  if (doc.contains("versions")) {
    const Json& listed = doc["versions"];
    if (!listed.is_array() || listed.empty()) {
      return failed_precondition("the server at " + url + " is not a Shiftbook server (its protocol versions are "
                                 "not a list of numbers)");
    }
    for (const Json& v : listed) {
      if (!v.is_number_integer()) {
        return failed_precondition("the server at " + url + " is not a Shiftbook server (its protocol versions are "
                                   "not a list of numbers)");
      }
      offered.push_back(v.get<std::int64_t>());
    }
  } else {
    offered.push_back(doc["protocol"].get<std::int64_t>());
  }
  std::optional<int> best;
  for (std::int64_t v : offered) {
    if (v >= kOldestProtocolVersion && v <= kProtocolVersion && (!best || v > *best)) best = static_cast<int>(v);
  }
  if (best) return *best;
  const auto [low, high] = std::minmax_element(offered.begin(), offered.end());
  return failed_precondition("the server at " + url + " speaks protocol " + version_range(*low, *high) +
                             ", this shiftbook speaks " + version_range(kOldestProtocolVersion, kProtocolVersion) +
                             "; update shiftbook");
}

Result<Hello> hello(Transport& t, Why& why) {
  auto reply = t.get("/v1/hello");
  if (!reply.is_ok()) {
    why.set(reply.status().code() == Code::kUnavailable ? SyncOutcome::kUnreachable : SyncOutcome::kFailed);
    return reply.status();
  }
  if (reply->status != 200) return http_error(t.url(), *reply, why);
  Json doc = Json::parse(reply->body, nullptr, false);
  const auto not_shiftbook = [&](const std::string& reason) {
    return failed_precondition("the server at " + t.url() + " is not a Shiftbook server (" + reason + ")");
  };
  if (!doc.is_object() || !doc.contains("protocol") || !doc.contains("server_key")) {
    return not_shiftbook("its /v1/hello answer is not the protocol's");
  }
  if (!doc["protocol"].is_number_integer()) return not_shiftbook("its protocol version is not a number");
  Hello out;
  SB_ASSIGN_OR_RETURN(out.version, choose_version(doc, t.url()));
  if (!doc["server_key"].is_string()) return not_shiftbook("its key is not text");
  auto key = array_from_hex<32>(doc["server_key"].get<std::string>());
  if (!key.is_ok()) return not_shiftbook("its key is not 64 hex digits");
  out.key = *key;
  return out;
}

// The "enrolled" answer's fields (protocol.h).
struct Enrolled {
  std::string site;
  std::vector<std::string> units;
  std::int64_t server_ms = 0;
  Delegation signer;
};

Result<Enrolled> read_enrolled(const Json& h) {
  const auto bad = [](const std::string& what) {
    return data_loss("the server's enrollment answer does not follow the protocol (" + what + "); nothing was stored");
  };
  Enrolled out;
  if (!h.contains("site") || !h["site"].is_string()) return bad("site");
  out.site = h["site"].get<std::string>();
  if (!h.contains("units") || !h["units"].is_array()) return bad("units");
  for (const Json& u : h["units"]) {
    if (!u.is_string()) return bad("units");
    out.units.push_back(u.get<std::string>());
  }
  if (!h.contains("server_ms") || !h["server_ms"].is_number_integer()) return bad("server_ms");
  out.server_ms = h["server_ms"].get<std::int64_t>();
  if (!h.contains("signer") || !h["signer"].is_object()) return bad("signer");
  const Json& s = h["signer"];
  if (!s.contains("site") || !s["site"].is_string() || !s.contains("key") || !s["key"].is_string() ||
      !s.contains("sig") || !s["sig"].is_string()) {
    return bad("signer");
  }
  out.signer.site = s["site"].get<std::string>();
  auto key = array_from_hex<32>(s["key"].get<std::string>());
  auto sig = array_from_hex<64>(s["sig"].get<std::string>());
  if (!key.is_ok() || !sig.is_ok()) return bad("signer key or signature");
  out.signer.signer = *key;
  out.signer.signature = *sig;
  return out;
}

}  // namespace

Message sync_request(std::uint64_t cursor, std::size_t pull_bytes, std::int64_t client_ms, PushBatch& push) {
  Message request;
  request.header = Json{{"type", "sync"},
                        {"v", kProtocolVersion},
                        {"cursor", static_cast<std::int64_t>(cursor)},
                        {"pull_max", static_cast<std::int64_t>(pull_bytes)},
                        {"client_ms", client_ms}};
  if (push.head) {
    request.header["head"] = Json{{"seq", static_cast<std::int64_t>(push.head->seq)},
                                  {"hash", to_hex(push.head->hash)},
                                  {"sig", to_hex(push.head->signature)}};
  }
  request.events = std::move(push.events);
  push.events.clear();
  return request;
}

Status enroll(Store& store, Transport& transport, const std::string& code_text, EnrollReport& report) {
  report = EnrollReport{};
  report.server_url = transport.url();
  auto code = parse_enroll_code(code_text);
  if (!code.is_ok()) {
    return invalid_argument("that enrollment code is not valid (" + code.status().message() +
                            "); check it against the one head office gave you");
  }
  // Refused before the code is spent: a terminal is enrolled once.
  auto state = store.sync_state();
  if (state.is_ok()) {
    return already_exists("this terminal is already enrolled with " + state->enrollment.server_url + " for site " +
                          state->enrollment.site + "; the code was not used");
  }
  if (state.status().code() != Code::kFailedPrecondition) return state.status();

  Why why;
  const auto unreachable = [&](const Status& failed) {
    report.unreachable = why.outcome == SyncOutcome::kUnreachable;
    return failed;
  };
  auto said = hello(transport, why);
  if (!said.is_ok()) return unreachable(said.status());
  const PublicKey server = said->key;
  report.fingerprint = format_fingerprint(server);
  if (!code_matches_server(*code, server)) {
    return unauthenticated("the server at " + transport.url() + " is not the one this code was made for (its key's "
                           "fingerprint is " + report.fingerprint + "); nothing was sent. Check the address, or ask "
                           "head office for a new code");
  }
  Message request;
  request.header = Json{{"type", "enroll"}, {"v", said->version}, {"code", to_hex(code->secret)}};
  auto answer = round_trip(store, transport, server, "/v1/enroll", request, why);
  if (!answer.is_ok()) return unreachable(answer.status());
  const std::string type = type_of(*answer);
  if (type == "error") return protocol_refusal(transport.url(), answer->header, why);
  if (type != "enrolled") {
    return data_loss("the server answered the enrollment with a '" + type + "' message; nothing was stored");
  }
  SB_ASSIGN_OR_RETURN(Enrolled e, read_enrolled(answer->header));
  SB_RETURN_IF_ERROR(store.enroll(transport.url(), server, e.site, e.units, e.server_ms, e.signer));
  report.site = e.site;
  report.units = e.units;
  return Status::ok();
}

namespace {

// A "revoked" answer: checked, and the first one of a sync accepted by the store (which verifies
// the notice with the pinned key). Every later one only counts what head office took in.
Status take_revocation(Store& store, const Json& header, SyncReport& report, Why& why) {
  why.set(SyncOutcome::kRejected);
  SB_ASSIGN_OR_RETURN(RevokedAnswer answer, read_revoked_answer(header, store.device()));
  if (!report.revoked) {
    auto done = store.accept_revocation(answer.notice);
    if (!done.is_ok()) {
      const Code c = done.status().code();
      if (c != Code::kUnauthenticated && c != Code::kInvalidArgument) why = Why{};
      return done.status();
    }
    report.revoked = *done;
  }
  why.set(SyncOutcome::kRevoked);
  report.quarantined += answer.quarantined;
  return Status::ok();
}

// The receipt seq an answer claims, read without checking anything (0 when it does not read):
// only to tell a rolled-back store from an answer that does not check out.
std::uint64_t claimed_receipt_seq(const Json& header) {
  auto r = header.find("receipt");
  if (r == header.end() || !r->is_object()) return 0;
  auto seq = r->find("seq");
  return seq != r->end() && seq->is_number_integer() && seq->get<std::int64_t>() > 0
             ? static_cast<std::uint64_t>(seq->get<std::int64_t>())
             : 0;
}

// The protocol version to say a sync in after the server refused the one sent ("version"): the
// highest both sides speak, as GET /v1/hello tells. The hello must name the pinned key.
Result<int> spoken_version(Transport& t, const PublicKey& pinned, Why& why) {
  SB_ASSIGN_OR_RETURN(Hello h, hello(t, why));
  if (h.key != pinned) {
    why.set(SyncOutcome::kRejected);
    return unauthenticated("the server at " + t.url() + " names another key (fingerprint " + format_fingerprint(h.key) +
                           ") than the one this terminal was enrolled with; nothing was sent. Check that " + t.url() +
                           " is still head office's server");
  }
  return h.version;
}

// The round trips of one sync; `why` says what a failure came to when the failing step knew.
// Requests say the newest protocol version; a server that refuses it is asked (once) which
// versions it speaks, and the sync goes on in the highest one both know.

Status run_rounds(Store& store, Transport& transport, const Clock& clock, SyncState state, SyncReport& report,
                  const std::function<void(const SyncReport&)>& progress, const SyncOptions& options, Why& why) {
  const PublicKey server = state.enrollment.server_key;
  std::optional<std::uint64_t> restart;  // where a "gap" answer asked the next push to start
  bool gap_answered = false;
  std::optional<std::uint64_t> lost_from;  // where the server stood when it had lost acknowledged events
  std::uint64_t revoked_sent = 0;  // own events pushed in requests answered "revoked"
  int version = kProtocolVersion;
  bool version_asked = false;
  for (;;) {
    if (options.stop && options.stop()) {
      why.set(SyncOutcome::kStopped);
      return aborted("the sync was stopped after " + std::to_string(report.round_trips) +
                     " round trips; what they brought is kept");
    }
    if (report.round_trips >= options.max_round_trips) {
      why.set(SyncOutcome::kStalled);
      return aborted("the sync stopped after " + std::to_string(report.round_trips) +
                     " round trips with work left; what they brought is kept. Run 'shiftbook sync' again");
    }
    auto next = store.next_push(restart, options.push_bytes);
    if (!next.is_ok()) {
      // The server expects events this terminal does not have: its store is older than what it sent.
      if (restart && next.status().code() == Code::kDataLoss) why.set(SyncOutcome::kRolledBack);
      return next.status();
    }
    PushBatch push = std::move(next).value();
    restart.reset();
    Message request = sync_request(state.cursor, options.pull_bytes, clock.now_ms(), push);
    request.header["v"] = version;
    ++report.round_trips;
    SB_ASSIGN_OR_RETURN(Message answer, round_trip(store, transport, server, "/v1/sync", request, why));
    request = Message{};
    const std::string type = type_of(answer);
    if (type == "error") {
      const auto& h = answer.header;
      if (!version_asked && h.contains("code") && h["code"] == "version") {
        // An older server refused the request before reading it: nothing was taken. The same
        // events go again in a version it speaks.
        version_asked = true;
        SB_ASSIGN_OR_RETURN(int spoken, spoken_version(transport, server, why));
        if (spoken < version) {
          version = spoken;
          continue;
        }
        return protocol_refusal(transport.url(), h, why);
      }
      const bool gap = h.contains("code") && h["code"] == "gap";
      if (!gap || gap_answered || !h.contains("expected_seq") || !h["expected_seq"].is_number_integer() ||
          h["expected_seq"].get<std::int64_t>() < 1) {
        return protocol_refusal(transport.url(), h, why);
      }
      // The server holds less than the last receipt said (or a retry crossed a commit): push from
      // where it stands, once; a second gap in a row is a refusal.
      restart = static_cast<std::uint64_t>(h["expected_seq"].get<std::int64_t>() - 1);
      gap_answered = true;
      continue;
    }
    if (type == "revoked") {
      SB_RETURN_IF_ERROR(take_revocation(store, answer.header, report, why));
      // Head office keeps what a revoked terminal pushes, checked, in quarantine: the rest of its
      // own events go too, batch after batch, and then the sync ends saying it was revoked.
      if (push.head) {
        revoked_sent += push.head->seq - push.first_seq + 1;
        if (push.head->seq < state.own_seq) {
          restart = push.head->seq;
          continue;
        }
      }
      return permission_denied(revoked_message(*report.revoked, revoked_sent));
    }
    gap_answered = false;
    auto taken = store.accept_sync(push, answer);
    if (!taken.is_ok()) {
      const Code c = taken.status().code();
      if (c == Code::kDataLoss || c == Code::kUnauthenticated) {
        const bool rolled_back = !push.head && claimed_receipt_seq(answer.header) > state.own_seq;
        why.set(rolled_back ? SyncOutcome::kRolledBack : SyncOutcome::kRejected);
      }
      return taken.status();
    }
    const SyncAccepted& accepted = *taken;
    answer = Message{};
    report.pushed += accepted.pushed;
    report.pulled += accepted.pulled;
    report.unshown += accepted.unshown;
    report.cursor_moved = report.cursor_moved || accepted.cursor != state.cursor;
    const bool moved = accepted.pulled > 0 || accepted.cursor != state.cursor ||
                       accepted.receipt.seq != report.server_seq || accepted.pushed > 0;
    report.server_seq = accepted.receipt.seq;
    report.server_ms = accepted.receipt.server_ms;
    SB_ASSIGN_OR_RETURN(state, store.sync_state());
    report.unsynced = state.unacknowledged();
    if (progress) progress(report);
    // The server holds less of this chain than it once acknowledged: its store was put back to a
    // backup (docs/DEPLOYMENT.md). What it lost goes again from where it stands, batch after batch
    // while it takes them; the terminal keeps the receipt it holds, which the server signed.
    if (accepted.server_seq < accepted.receipt.seq) {
      if (lost_from && accepted.server_seq <= *lost_from) {
        why.set(SyncOutcome::kStalled);
        return aborted("the server at " + transport.url() + " holds this terminal's events only up to " +
                       std::to_string(accepted.server_seq) + " of the " + std::to_string(accepted.receipt.seq) +
                       " it acknowledged, and took none of them again; ask head office");
      }
      restart = lost_from = accepted.server_seq;
      continue;
    }
    if (report.unsynced == 0 && !accepted.more) return Status::ok();
    if (!moved) {
      why.set(SyncOutcome::kStalled);
      return aborted("the server at " + transport.url() + " answered a round trip without taking or giving anything "
                     "while work remained (" + std::to_string(report.unsynced) + " events to push" +
                     (accepted.more ? ", more to pull" : "") + "); what earlier round trips brought is kept");
    }
  }
}

SyncOutcome outcome_of_code(Code code) {
  switch (code) {
    case Code::kOk: return SyncOutcome::kOk;
    case Code::kUnavailable: return SyncOutcome::kStoreBusy;  // the network's were named where they happened
    case Code::kAborted: return SyncOutcome::kStalled;
    default: return SyncOutcome::kFailed;
  }
}

}  // namespace

std::string_view sync_outcome_name(SyncOutcome outcome) {
  switch (outcome) {
    case SyncOutcome::kOk: return "ok";
    case SyncOutcome::kUnreachable: return "unreachable";
    case SyncOutcome::kServerBusy: return "server_busy";
    case SyncOutcome::kStoreBusy: return "store_busy";
    case SyncOutcome::kStalled: return "stalled";
    case SyncOutcome::kStopped: return "stopped";
    case SyncOutcome::kRefused: return "refused";
    case SyncOutcome::kRevoked: return "revoked";
    case SyncOutcome::kRejected: return "rejected";
    case SyncOutcome::kRolledBack: return "rolled_back";
    case SyncOutcome::kFailed: return "failed";
  }
  return "failed";
}

bool is_transient(SyncOutcome outcome) {
  return outcome == SyncOutcome::kUnreachable || outcome == SyncOutcome::kServerBusy ||
         outcome == SyncOutcome::kStoreBusy || outcome == SyncOutcome::kStalled;
}

Status sync(Store& store, Transport& transport, const Clock& clock, SyncReport& report,
            const std::function<void(const SyncReport&)>& progress, SyncOptions options) {
  report = SyncReport{};
  report.server_url = transport.url();
  auto loaded = store.sync_state();
  if (!loaded.is_ok()) {
    // Not enrolled (nothing to record it in), or the store is busy.
    report.outcome = outcome_of_code(loaded.status().code());
    return loaded.status();
  }
  SyncState state = std::move(loaded).value();
  report.to_push = state.unacknowledged();
  report.unsynced = report.to_push;
  if (state.receipt) {
    report.server_seq = state.receipt->seq;
    report.server_ms = state.receipt->server_ms;
  }
  Why why;
  Status s = run_rounds(store, transport, clock, std::move(state), report, progress, options, why);
  report.outcome = s.is_ok() ? SyncOutcome::kOk : why.outcome.value_or(outcome_of_code(s.code()));
  report.server_code = s.is_ok() ? std::string() : why.code;
  report.unreachable = report.outcome == SyncOutcome::kUnreachable;
  if (report.outcome == SyncOutcome::kStopped) return s;
  Status recorded = store.record_sync_attempt(
      SyncAttempt{std::string(sync_outcome_name(report.outcome)), report.server_code, s.is_ok() ? "" : s.message()});
  if (s.is_ok() && !recorded.is_ok()) {
    // Everything was exchanged and stored; only the health record could not be written.
    report.outcome = outcome_of_code(recorded.code());
    return recorded;
  }
  return s;
}

}  // namespace shiftbook::client
