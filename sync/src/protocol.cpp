// Messages, protocol error names and the signed statements (receipts, delegations, site signers)
// of protocol.h; enrollment codes are in enroll_code.cpp and head-office bodies in head_office.cpp.
// Decoding is total: every length and count read from the input is checked against what remains
// before anything is allocated or copied, so any byte string gives a Message or invalid_argument.
#include <sodium.h>

#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "shiftbook/protocol.h"

namespace shiftbook {

// ---- Messages -------------------------------------------------------------------------------

namespace {

Status check_header(const Json& header) {
  if (!header.is_object()) return invalid_argument("message header is not a map");
  auto type = header.find("type");
  if (type == header.end() || !type->is_string()) {
    return invalid_argument("message header has no \"type\" text saying what the message is");
  }
  return Status::ok();
}

std::string nth_event(std::size_t i) { return "event #" + std::to_string(i + 1) + " of the message"; }

}  // namespace

Result<Bytes> encode_message(const Message& m) {
  SB_RETURN_IF_ERROR(check_header(m.header));
  if (m.events.size() > kMaxEventsPerMessage) {
    return invalid_argument("a message carries at most " + std::to_string(kMaxEventsPerMessage) + " events, not " +
                            std::to_string(m.events.size()));
  }
  SB_ASSIGN_OR_RETURN(Bytes out, encode_value(m.header));
  std::size_t total = out.size() + 4;
  for (std::size_t i = 0; i < m.events.size(); ++i) {
    const Bytes& e = m.events[i];
    if (e.empty() || e.size() > kMaxEventBytes) {
      return invalid_argument(nth_event(i) + " has " + std::to_string(e.size()) + " bytes; an event has 1 to " +
                              std::to_string(kMaxEventBytes));
    }
    total += 4 + e.size();
  }
  out.reserve(total);
  put_u32(out, static_cast<std::uint32_t>(m.events.size()));
  for (const Bytes& e : m.events) {
    put_u32(out, static_cast<std::uint32_t>(e.size()));
    out.insert(out.end(), e.begin(), e.end());
  }
  return out;
}

Result<Message> decode_message(ByteView bytes) {
  Message m;
  std::size_t pos = 0;
  auto header = decode_value(bytes, pos);
  if (!header.is_ok()) return header.status().with_context("message header: ");
  m.header = std::move(header).value();
  SB_RETURN_IF_ERROR(check_header(m.header));

  if (bytes.size() - pos < 4) return invalid_argument("message ends before its event count");
  std::uint32_t count = get_u32(bytes.data() + pos);
  pos += 4;
  if (count > kMaxEventsPerMessage) {
    return invalid_argument("message declares " + std::to_string(count) + " events, more than the limit of " +
                            std::to_string(kMaxEventsPerMessage));
  }
  // Each event takes at least its 4-byte length, so a count the input cannot hold is refused
  // before the vector is sized by it.
  if (count > (bytes.size() - pos) / 4) {
    return invalid_argument("message declares " + std::to_string(count) + " events but holds only " +
                            std::to_string(bytes.size() - pos) + " more bytes");
  }
  m.events.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (bytes.size() - pos < 4) return invalid_argument("message ends inside the length of " + nth_event(i));
    std::uint32_t n = get_u32(bytes.data() + pos);
    pos += 4;
    if (n == 0 || n > kMaxEventBytes) {
      return invalid_argument(nth_event(i) + " declares " + std::to_string(n) + " bytes; an event has 1 to " +
                              std::to_string(kMaxEventBytes));
    }
    if (n > bytes.size() - pos) {
      return invalid_argument(nth_event(i) + " declares " + std::to_string(n) + " bytes but only " +
                              std::to_string(bytes.size() - pos) + " remain");
    }
    m.events.emplace_back(bytes.begin() + pos, bytes.begin() + pos + n);
    pos += n;
  }
  if (pos != bytes.size()) {
    return invalid_argument("message has " + std::to_string(bytes.size() - pos) + " bytes after its last event");
  }
  return m;
}

// ---- Protocol errors ------------------------------------------------------------------------

namespace {
constexpr std::pair<ProtocolError, std::string_view> kErrorNames[] = {
    {ProtocolError::kMalformed, "malformed"},
    {ProtocolError::kVersion, "version"},
    {ProtocolError::kGap, "gap"},
    {ProtocolError::kEquivocation, "equivocation"},
    {ProtocolError::kChain, "chain"},
    {ProtocolError::kForeignDevice, "foreign_device"},
    {ProtocolError::kKind, "kind"},
    {ProtocolError::kInvalid, "invalid"},
    {ProtocolError::kScope, "scope"},
    {ProtocolError::kCode, "code"},
    {ProtocolError::kLimit, "limit"},
    {ProtocolError::kInternal, "internal"},
};
}  // namespace

std::string_view protocol_error_name(ProtocolError e) {
  for (const auto& [error, name] : kErrorNames) {
    if (error == e) return name;
  }
  return "internal";
}

std::optional<ProtocolError> parse_protocol_error(std::string_view name) {
  for (const auto& [error, n] : kErrorNames) {
    if (n == name) return error;
  }
  return std::nullopt;
}

// ---- Signed statements ----------------------------------------------------------------------

namespace {
void put_magic(Bytes& out, const char (&magic)[5]) {
  out.insert(out.end(), magic, magic + 4);
  out.push_back(0x01);
}
template <std::size_t N>
void put(Bytes& out, const std::array<std::uint8_t, N>& a) {
  out.insert(out.end(), a.begin(), a.end());
}
}  // namespace

Bytes receipt_message(const PublicKey& server, const Receipt& r) {
  Bytes out;
  out.reserve(117);
  put_magic(out, "SBRC");
  put(out, server);
  put(out, r.device);
  put_u64(out, r.seq);
  put(out, r.hash);
  put_u64(out, static_cast<std::uint64_t>(r.server_ms));
  return out;
}

Receipt sign_receipt(const DeviceKey& server, const PublicKey& device, std::uint64_t seq, const Hash& hash,
                     std::int64_t server_ms) {
  Receipt r{device, seq, hash, server_ms, {}};
  r.signature = server.sign(receipt_message(server.public_key(), r));
  return r;
}

bool verify_receipt(const PublicKey& server, const Receipt& r) {
  return verify_signature(server, receipt_message(server, r), r.signature);
}

Bytes revocation_message(const PublicKey& server, const RevocationNotice& n) {
  Bytes out;
  out.reserve(77 + 4 + n.reason.size());
  put_magic(out, "SBRV");
  put(out, server);
  put(out, n.device);
  put_u64(out, static_cast<std::uint64_t>(n.revoked_ms));
  put_u32(out, static_cast<std::uint32_t>(n.reason.size()));
  out.insert(out.end(), n.reason.begin(), n.reason.end());
  return out;
}

RevocationNotice sign_revocation(const DeviceKey& server, const PublicKey& device, std::int64_t revoked_ms,
                                 std::string_view reason) {
  RevocationNotice n{device, revoked_ms, std::string(reason), {}};
  n.signature = server.sign(revocation_message(server.public_key(), n));
  return n;
}

bool verify_revocation(const PublicKey& server, const RevocationNotice& n) {
  return verify_signature(server, revocation_message(server, n), n.signature);
}

Bytes delegation_message(const PublicKey& server, const Delegation& d) {
  Bytes out;
  out.reserve(73 + 4 + d.site.size());
  put_magic(out, "SBDL");
  put(out, server);
  put(out, d.signer);
  put_u32(out, static_cast<std::uint32_t>(d.site.size()));
  out.insert(out.end(), d.site.begin(), d.site.end());
  return out;
}

Delegation sign_delegation(const DeviceKey& server, std::string_view site, const PublicKey& signer) {
  Delegation d{std::string(site), signer, {}};
  d.signature = server.sign(delegation_message(server.public_key(), d));
  return d;
}

bool verify_delegation(const PublicKey& server, const Delegation& d) {
  return verify_signature(server, delegation_message(server, d), d.signature);
}

DeviceKey derive_site_signer(const DeviceKey& server, std::string_view site) {
  static constexpr char kLabel[] = "shiftbook site signer v1";  // followed by one 0x00 byte
  Bytes message(kLabel, kLabel + sizeof kLabel);                  // sizeof counts the terminating 0x00
  message.insert(message.end(), site.begin(), site.end());
  ByteView server_seed = server.secret().first(crypto_sign_SEEDBYTES);
  std::array<std::uint8_t, crypto_sign_SEEDBYTES> seed{};
  crypto_generichash(seed.data(), seed.size(), message.data(), message.size(), server_seed.data(),
                     server_seed.size());
  auto key = DeviceKey::from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  // A 32-byte seed always makes a key; from_seed fails only on a wrong length.
  return std::move(key).value();
}

}  // namespace shiftbook
