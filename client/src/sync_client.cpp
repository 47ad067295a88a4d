// The sync driver (sync_client.h): enrollment, and round trips until neither side has more. Errors
// read the same whatever failed: what was refused, by whom, and what the terminal kept.
#include "sync_client.h"

#include <utility>

#include "shiftbook/envelope.h"

namespace shiftbook::client {
namespace {

// A reply that is not 200 carries {"error": {"code", "message"}} (docs/PROTOCOL.md); anything
// else came from something that is not a Shiftbook server.
Status http_error(const std::string& url, const HttpReply& reply, bool& unreachable) {
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
  if (code == "rate_limited") {
    return unavailable(server + " refuses for now (" + said + "); try again" +
                       (reply.retry_after.empty() ? "" : " in " + reply.retry_after + " seconds"));
  }
  if (code == "shutting_down" || reply.status == 502 || reply.status == 503 || reply.status == 504) {
    unreachable = true;
    return unavailable(server + " is not serving (" + said +
                       "); entries stay on this terminal and go with the next sync");
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
Status protocol_refusal(const std::string& url, const Json& header) {
  std::string code = header.contains("code") && header["code"].is_string() ? header["code"].get<std::string>() : "";
  std::string message =
      header.contains("message") && header["message"].is_string() ? header["message"].get<std::string>() : "";
  const std::string said = "head office (" + url + ") refused: " + (code.empty() ? "an error" : code) +
                           (message.empty() ? "" : ": " + message);
  auto e = parse_protocol_error(code);
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
                           const Message& m, bool& unreachable) {
  // Each copy of a batch is let go as soon as the next one is made: memory holds at most two.
  SealedRequest sealed;
  {
    SB_ASSIGN_OR_RETURN(Bytes plain, encode_message(m));
    SB_ASSIGN_OR_RETURN(sealed, store.seal_request_for(server, plain));
  }
  auto reply = t.post(path, sealed.wire);
  Bytes().swap(sealed.wire);
  if (!reply.is_ok()) {
    unreachable = reply.status().code() == Code::kUnavailable;
    return reply.status();
  }
  if (reply->status != 200) return http_error(t.url(), *reply, unreachable);
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
  return answer;
}

std::string type_of(const Message& m) {
  auto it = m.header.find("type");
  return it != m.header.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<PublicKey> hello(Transport& t, bool& unreachable) {
  auto reply = t.get("/v1/hello");
  if (!reply.is_ok()) {
    unreachable = reply.status().code() == Code::kUnavailable;
    return reply.status();
  }
  if (reply->status != 200) return http_error(t.url(), *reply, unreachable);
  Json doc = Json::parse(reply->body, nullptr, false);
  const auto not_shiftbook = [&](const std::string& why) {
    return failed_precondition("the server at " + t.url() + " is not a Shiftbook server (" + why + ")");
  };
  if (!doc.is_object() || !doc.contains("protocol") || !doc.contains("server_key")) {
    return not_shiftbook("its /v1/hello answer is not the protocol's");
  }
  if (!doc["protocol"].is_number_integer() || doc["protocol"].get<std::int64_t>() != kProtocolVersion) {
    return failed_precondition("the server at " + t.url() + " speaks protocol " + doc["protocol"].dump() +
                               ", this shiftbook speaks " + std::to_string(kProtocolVersion) + "; update shiftbook");
  }
  if (!doc["server_key"].is_string()) return not_shiftbook("its key is not text");
  auto key = array_from_hex<32>(doc["server_key"].get<std::string>());
  if (!key.is_ok()) return not_shiftbook("its key is not 64 hex digits");
  return *key;
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

  SB_ASSIGN_OR_RETURN(PublicKey server, hello(transport, report.unreachable));
  report.fingerprint = format_fingerprint(server);
  if (!code_matches_server(*code, server)) {
    return unauthenticated("the server at " + transport.url() + " is not the one this code was made for (its key's "
                           "fingerprint is " + report.fingerprint + "); nothing was sent. Check the address, or ask "
                           "head office for a new code");
  }
  Message request;
  request.header = Json{{"type", "enroll"}, {"v", kProtocolVersion}, {"code", to_hex(code->secret)}};
  SB_ASSIGN_OR_RETURN(Message answer, round_trip(store, transport, server, "/v1/enroll", request, report.unreachable));
  const std::string type = type_of(answer);
  if (type == "error") return protocol_refusal(transport.url(), answer.header);
  if (type != "enrolled") {
    return data_loss("the server answered the enrollment with a '" + type + "' message; nothing was stored");
  }
  SB_ASSIGN_OR_RETURN(Enrolled e, read_enrolled(answer.header));
  SB_RETURN_IF_ERROR(store.enroll(transport.url(), server, e.site, e.units, e.server_ms, e.signer));
  report.site = e.site;
  report.units = e.units;
  return Status::ok();
}

Status sync(Store& store, Transport& transport, const Clock& clock, SyncReport& report,
            const std::function<void(const SyncReport&)>& progress, SyncOptions options) {
  report = SyncReport{};
  report.server_url = transport.url();
  SB_ASSIGN_OR_RETURN(SyncState state, store.sync_state());
  report.to_push = state.unacknowledged();
  report.unsynced = report.to_push;
  if (state.receipt) {
    report.server_seq = state.receipt->seq;
    report.server_ms = state.receipt->server_ms;
  }
  const PublicKey server = state.enrollment.server_key;
  std::optional<std::uint64_t> restart;  // where a "gap" answer asked the next push to start
  bool gap_answered = false;
  for (;;) {
    if (report.round_trips >= options.max_round_trips) {
      return aborted("the sync stopped after " + std::to_string(report.round_trips) +
                     " round trips with work left; what they brought is kept. Run 'shiftbook sync' again");
    }
    SB_ASSIGN_OR_RETURN(PushBatch push, store.next_push(restart, options.push_bytes));
    restart.reset();
    Message request;
    request.header = Json{{"type", "sync"},
                          {"v", kProtocolVersion},
                          {"cursor", static_cast<std::int64_t>(state.cursor)},
                          {"pull_max", static_cast<std::int64_t>(options.pull_bytes)},
                          {"client_ms", clock.now_ms()}};
    if (push.head) {
      request.header["head"] = Json{{"seq", static_cast<std::int64_t>(push.head->seq)},
                                    {"hash", to_hex(push.head->hash)},
                                    {"sig", to_hex(push.head->signature)}};
    }
    request.events = std::move(push.events);
    push.events.clear();
    ++report.round_trips;
    SB_ASSIGN_OR_RETURN(Message answer, round_trip(store, transport, server, "/v1/sync", request, report.unreachable));
    request = Message{};
    const std::string type = type_of(answer);
    if (type == "error") {
      const auto& h = answer.header;
      const bool gap = h.contains("code") && h["code"] == "gap";
      if (!gap || gap_answered || !h.contains("expected_seq") || !h["expected_seq"].is_number_integer() ||
          h["expected_seq"].get<std::int64_t>() < 1) {
        return protocol_refusal(transport.url(), h);
      }
      // The server holds less than the last receipt said (or a retry crossed a commit): push from
      // where it stands, once; a second gap in a row is a refusal.
      restart = static_cast<std::uint64_t>(h["expected_seq"].get<std::int64_t>() - 1);
      gap_answered = true;
      continue;
    }
    gap_answered = false;
    SB_ASSIGN_OR_RETURN(SyncAccepted accepted, store.accept_sync(push, answer));
    answer = Message{};
    report.pushed += accepted.pushed;
    report.pulled += accepted.pulled;
    report.unshown += accepted.unshown;
    const bool moved = accepted.pulled > 0 || accepted.cursor != state.cursor ||
                       accepted.receipt.seq != report.server_seq || accepted.pushed > 0;
    report.server_seq = accepted.receipt.seq;
    report.server_ms = accepted.receipt.server_ms;
    SB_ASSIGN_OR_RETURN(state, store.sync_state());
    report.unsynced = state.unacknowledged();
    if (progress) progress(report);
    if (report.unsynced == 0 && !accepted.more) return Status::ok();
    if (!moved) {
      return aborted("the server at " + transport.url() + " answered a round trip without taking or giving anything "
                     "while work remained (" + std::to_string(report.unsynced) + " events to push" +
                     (accepted.more ? ", more to pull" : "") + "); what earlier round trips brought is kept");
    }
  }
}

}  // namespace shiftbook::client
