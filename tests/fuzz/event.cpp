// Fuzz target "event": the canonical encodings of docs/EVENTS.md, as a pushed or pulled event
// arrives, and the body rules every decoded event goes through.
//
// The input is tried as one canonical value (decode_value) and as one event (decode_event). Each
// has exactly one encoding, so whatever decodes must encode back to the very input, and an
// event's hash must be the BLAKE2b-256 of its bytes. Every map that decodes (an event's body, or
// the value itself) is checked as a body of every kind a terminal writes (validate_body; a
// correction as correcting each correctable kind) and of every head-office kind
// (validate_head_office_body), and read for a shift_open receipt. Properties: a valid shift_open
// body has a readable receipt field; a valid correctable body keeps its own fields
// (check_correction_keeps with itself). Text values go through the parsers the command line uses
// for dates, clock times and quantities, whose results must format and parse back the same.
#include <string_view>

#include "fuzz_support.h"
#include "shiftbook/canonical.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"

namespace {

using namespace shiftbook;
using namespace shiftbook::fuzz;

constexpr std::string_view kTerminalKinds[] = {"shift_open", "shift_close", "hours",      "output",
                                               "bonus",      "confirm",     "correction", "void"};
constexpr std::string_view kCorrectable[] = {"hours", "output", "bonus"};
constexpr std::string_view kHeadOfficeKinds[] = {"ref_site",   "ref_unit",  "ref_period", "ref_product",
                                                 "ref_worker", "ref_leader", "ref_quota", "resolution",
                                                 "approval",   "period_lock", "device_revoke"};

void check_body(const Json& body, const PublicKey& device) {
  for (std::string_view kind : kTerminalKinds) {
    if (kind == "correction") {
      for (std::string_view corrected : kCorrectable) (void)validate_body(kind, body, corrected);
      continue;
    }
    Status valid = validate_body(kind, body);
    if (valid.is_ok() && is_correctable_kind(kind)) {
      Status keeps = check_correction_keeps(kind, body, body);
      check(keeps.is_ok(), "a valid " + std::string(kind) + " body does not keep its own fields: " + keeps.to_string());
    }
  }
  auto receipt = shift_open_receipt(body, device);
  if (validate_body("shift_open", body).is_ok()) {
    check(receipt.is_ok(), "a valid shift_open body has an unreadable receipt: " + receipt.status().to_string());
  }
  if (receipt.is_ok() && *receipt) {
    check((*receipt)->device == device, "shift_open_receipt did not set the event's device");
    Json field = receipt_field(**receipt);
    check(field == body["receipt"], "receipt_field does not give back the receipt field it was read from");
  }
  for (std::string_view kind : kHeadOfficeKinds) {
    check(is_head_office_kind(kind), std::string(kind) + " is not a head-office kind");
    (void)validate_head_office_body(kind, body);
  }
}

void check_text_parsers(const std::string& text) {
  if (auto day = parse_date(text); day.is_ok()) {
    check(parse_date(format_date(*day)).is_ok() && *parse_date(format_date(*day)) == *day,
          "a parsed date does not format and parse back: " + text);
  }
  if (auto minutes = parse_clock_time(text); minutes.is_ok()) {
    auto again = parse_clock_time(format_minutes(*minutes));
    check(again.is_ok() && *again == *minutes, "a parsed clock time does not format and parse back: " + text);
  }
  for (int decimals : {0, 3}) {
    if (auto q = parse_quantity(text, decimals); q.is_ok()) {
      auto again = parse_quantity(format_quantity(*q, decimals), decimals);
      check(again.is_ok() && *again == *q, "a parsed quantity does not format and parse back: " + text);
    }
  }
  if (auto h = parse_hash_ref(text); h.is_ok()) check(hash_ref(*h) == text, "a hash ref is not lower-case hex");
  (void)check_id("id", text);
  (void)check_text("text", text);
}

void check_value(ByteView input) {
  auto value = decode_value(input);
  if (!value.is_ok()) return;
  auto again = encode_value(*value);
  check(again.is_ok() && Bytes(input.begin(), input.end()) == *again,
        "decode_value took bytes that encode_value does not give back: a value has two encodings");
  if (value->is_object()) check_body(*value, terminal_a().public_key());
  if (value->is_string()) check_text_parsers(value->get<std::string>());
  if (value->is_array()) {
    for (const Json& item : *value) {
      if (item.is_string()) check_text_parsers(item.get<std::string>());
    }
  }
}

void check_event(ByteView input) {
  auto event = decode_event(input);
  if (!event.is_ok()) return;
  check(event->hash == blake2b_256(input), "decode_event set a hash that is not the BLAKE2b-256 of its bytes");
  auto again = encode_event(*event);
  check(again.is_ok() && Bytes(input.begin(), input.end()) == *again,
        "decode_event took bytes that encode_event does not give back: an event has two encodings");
  check(check_author(event->author).is_ok() && check_kind_name(event->kind).is_ok(),
        "decode_event took an author or kind that the rules refuse");
  check(check_link(nullptr, *event).is_ok() == (event->seq == 1),
        "check_link on a first event disagrees with its seq");
  check_body(event->body, event->device);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  init_crypto();
  const ByteView input(data, size);
  check_value(input);
  check_event(input);
  return 0;
}
