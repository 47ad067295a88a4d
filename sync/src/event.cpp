#include "shiftbook/event.h"

#include <algorithm>
#include <cstring>

#include "shiftbook/body_scan.h"

namespace shiftbook {
namespace {

constexpr std::uint8_t kEventMagic[5] = {'S', 'B', 'E', 'V', 0x01};
constexpr std::uint8_t kHeadMagic[5] = {'S', 'B', 'H', 'D', 0x01};
constexpr std::size_t kFixedPrefix = 5 + 32 + 8 + 8 + 32;

void put_string(Bytes& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

}  // namespace

Status check_author(std::string_view author) {
  if (author.empty() || author.size() > kMaxAuthorBytes) {
    return invalid_argument("author must be 1 to " + std::to_string(kMaxAuthorBytes) + " bytes");
  }
  if (!is_valid_utf8(author)) return invalid_argument("author is not valid UTF-8");
  for (unsigned char c : author) {
    if (c < 0x20 || c == 0x7f) return invalid_argument("author holds a control character");
  }
  return Status::ok();
}

Status check_kind_name(std::string_view kind) {
  if (kind.empty() || kind.size() > kMaxKindBytes) {
    return invalid_argument("kind must be 1 to " + std::to_string(kMaxKindBytes) + " characters");
  }
  if (kind[0] < 'a' || kind[0] > 'z') return invalid_argument("kind must start with a letter a-z");
  for (char c : kind) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return invalid_argument("kind may hold only a-z, 0-9 and _");
  }
  return Status::ok();
}

Result<Bytes> encode_event(const Event& e) {
  if (e.seq == 0) return invalid_argument("seq starts at 1");
  SB_RETURN_IF_ERROR(check_author(e.author));
  SB_RETURN_IF_ERROR(check_kind_name(e.kind));
  if (!e.body.is_object()) return invalid_argument("event body must be a map");
  if (e.seq == 1 && e.prev != Hash{}) return invalid_argument("the first event of a device has no predecessor");
  Bytes out;
  out.reserve(256);
  out.insert(out.end(), std::begin(kEventMagic), std::end(kEventMagic));
  out.insert(out.end(), e.device.begin(), e.device.end());
  put_u64(out, e.seq);
  put_u64(out, e.hlc);
  out.insert(out.end(), e.prev.begin(), e.prev.end());
  put_string(out, e.author);
  put_string(out, e.kind);
  SB_RETURN_IF_ERROR(encode_value(e.body, out).with_context("body: "));
  if (out.size() > kMaxEventBytes) {
    return invalid_argument("event is " + std::to_string(out.size()) + " bytes, more than the limit of " +
                            std::to_string(kMaxEventBytes));
  }
  return out;
}

namespace {

// Every rule of decode_event up to the body; `pos` is left where the body starts.
Status decode_fields(ByteView in, Event& e, std::size_t& pos) {
  if (in.size() > kMaxEventBytes) return invalid_argument("event is larger than the limit");
  if (in.size() < kFixedPrefix + 8) return invalid_argument("event is truncated");
  if (std::memcmp(in.data(), kEventMagic, 4) != 0) return invalid_argument("not an event (bad magic)");
  if (in[4] != kEventMagic[4]) {
    return invalid_argument("event format version " + std::to_string(in[4]) + " is not supported");
  }
  pos = 5;
  std::memcpy(e.device.data(), in.data() + pos, 32);
  pos += 32;
  e.seq = get_u64(in.data() + pos);
  pos += 8;
  e.hlc = get_u64(in.data() + pos);
  pos += 8;
  std::memcpy(e.prev.data(), in.data() + pos, 32);
  pos += 32;
  for (std::string* field : {&e.author, &e.kind}) {
    if (in.size() - pos < 4) return invalid_argument("event is truncated");
    std::uint32_t len = get_u32(in.data() + pos);
    pos += 4;
    if (len > kMaxKindBytes + kMaxAuthorBytes || in.size() - pos < len) {
      return invalid_argument("event is truncated or has an oversized field");
    }
    field->assign(reinterpret_cast<const char*>(in.data() + pos), len);
    pos += len;
  }
  if (e.seq == 0) return invalid_argument("event has seq 0; seq starts at 1");
  if (e.seq == 1 && e.prev != Hash{}) return invalid_argument("the first event of a device has a predecessor");
  SB_RETURN_IF_ERROR(check_author(e.author).with_context("event: "));
  return check_kind_name(e.kind).with_context("event: ");
}

}  // namespace

Result<Event> decode_event(ByteView in) {
  Event e;
  std::size_t pos = 0;
  SB_RETURN_IF_ERROR(decode_fields(in, e, pos));
  SB_ASSIGN_OR_RETURN(e.body, decode_value(in, pos));
  if (!e.body.is_object()) return invalid_argument("event body is not a map");
  if (pos != in.size()) return invalid_argument("event has bytes after its body");
  e.hash = blake2b_256(in);
  return e;
}

Result<Event> decode_event_keep_body(ByteView in, std::size_t& body_at) {
  Event e;
  std::size_t pos = 0;
  SB_RETURN_IF_ERROR(decode_fields(in, e, pos));
  body_at = pos;
  SB_RETURN_IF_ERROR(check_value(in, pos));
  if (in[body_at] != kCanonicalMapTag) return invalid_argument("event body is not a map");
  if (pos != in.size()) return invalid_argument("event has bytes after its body");
  e.hash = blake2b_256(in);
  return e;
}

Result<SealedEvent> seal_event(Event e) {
  SB_ASSIGN_OR_RETURN(Bytes bytes, encode_event(e));
  e.hash = blake2b_256(bytes);
  return SealedEvent{std::move(e), std::move(bytes)};
}

Status check_link(const Event* previous, const Event& e) {
  if (previous == nullptr) {
    if (e.seq != 1) {
      return data_loss(event_name(e.device, e.seq) + ": the chain has a gap before it (expected seq 1)");
    }
    if (e.prev != Hash{}) return data_loss(event_name(e.device, e.seq) + ": first event names a predecessor");
    return Status::ok();
  }
  if (e.device != previous->device) {
    return data_loss(event_name(e.device, e.seq) + ": follows an event of another device");
  }
  if (e.seq != previous->seq + 1) {
    return data_loss(event_name(e.device, e.seq) + ": the chain has a gap (expected seq " +
                     std::to_string(previous->seq + 1) + ")");
  }
  if (e.prev != previous->hash) {
    return data_loss(event_name(e.device, e.seq) + ": its predecessor hash does not match event " +
                     std::to_string(previous->seq));
  }
  // hlc_next makes a device's stamps strictly increase; a chain that goes back in its own
  // order was not written by this program.
  if (e.hlc <= previous->hlc) {
    return data_loss(event_name(e.device, e.seq) + ": its clock stamp is not later than event " +
                     std::to_string(previous->seq) + "'s");
  }
  return Status::ok();
}

Bytes head_message(const PublicKey& device, std::uint64_t seq, const Hash& hash) {
  Bytes out;
  out.reserve(5 + 32 + 8 + 32);
  out.insert(out.end(), std::begin(kHeadMagic), std::end(kHeadMagic));
  out.insert(out.end(), device.begin(), device.end());
  put_u64(out, seq);
  out.insert(out.end(), hash.begin(), hash.end());
  return out;
}

SignedHead sign_head(const DeviceKey& key, std::uint64_t seq, const Hash& hash) {
  SignedHead h;
  h.device = key.public_key();
  h.seq = seq;
  h.hash = hash;
  h.signature = key.sign(head_message(h.device, seq, hash));
  return h;
}

bool verify_head(const SignedHead& head) {
  return verify_signature(head.device, head_message(head.device, head.seq, head.hash), head.signature);
}

std::string short_device(const PublicKey& device) { return to_hex(ByteView(device.data(), 4)); }

std::string event_name(const PublicKey& device, std::uint64_t seq) {
  return "event " + std::to_string(seq) + " of device " + short_device(device);
}

}  // namespace shiftbook
