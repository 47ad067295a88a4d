// The bundle file format (bundle.h, docs/PROTOCOL.md "Bundles"): writing a whole bundle with its
// checksum, and reading one back an entry at a time. The reader checks the framing against the
// file's size before it reads an entry, so a file cut short is named as such, with the bytes it
// lacks, and never read past its end.
#include "shiftbook/bundle.h"

#include <sodium.h>

#include <algorithm>
#include <istream>
#include <ostream>
#include <string>

#include "shiftbook/envelope.h"

namespace shiftbook {
namespace {

constexpr std::uint8_t kMagic[4] = {'S', 'B', 'B', 'N'};
constexpr std::size_t kChunkBytes = 64 * 1024;

static_assert(kBundleChecksumBytes == crypto_generichash_BYTES);

std::size_t frame_bytes(BundleKind kind) { return kind == BundleKind::kReply ? 8 : 4; }

// The smallest envelope an entry of this kind of bundle can hold (an empty plaintext).
std::size_t min_envelope(BundleKind kind) {
  return (kind == BundleKind::kReply ? kResponseHeaderBytes : kRequestHeaderBytes) + kEnvelopeTagBytes;
}

std::string kind_name(BundleKind kind) { return kind == BundleKind::kReply ? "reply" : "request"; }
std::string entry_name(BundleKind kind) { return kind == BundleKind::kReply ? "answer" : "request"; }

void put_u8(Bytes& out, std::uint8_t v) { out.push_back(v); }

Bytes header_bytes(const BundleHeader& h, std::uint32_t count) {
  Bytes out;
  out.reserve(kBundleHeaderBytes);
  out.insert(out.end(), std::begin(kMagic), std::end(kMagic));
  put_u8(out, kBundleVersion);
  put_u8(out, static_cast<std::uint8_t>(h.kind));
  out.insert(out.end(), h.id.begin(), h.id.end());
  out.insert(out.end(), h.server.begin(), h.server.end());
  out.insert(out.end(), h.device.begin(), h.device.end());
  put_u64(out, static_cast<std::uint64_t>(h.ms));
  put_u32(out, count);
  return out;
}

// The running BLAKE2b-256 of what is written or read.
class Checksum {
 public:
  Checksum() { crypto_generichash_init(&state_, nullptr, 0, kBundleChecksumBytes); }
  void update(const std::uint8_t* p, std::size_t n) { crypto_generichash_update(&state_, p, n); }
  void update(ByteView b) { update(b.data(), b.size()); }
  Hash final() {
    Hash h{};
    crypto_generichash_final(&state_, h.data(), h.size());
    return h;
  }

 private:
  crypto_generichash_state state_;
};

Status write_bytes(std::ostream& out, Checksum* sum, ByteView b) {
  if (sum) sum->update(b);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!out) return internal_error("the bundle could not be written");
  return Status::ok();
}

Status check_entries(const BundleFile& file) {
  if (file.entries.size() > kMaxBundleEntries) {
    return invalid_argument("a bundle holds at most " + std::to_string(kMaxBundleEntries) + " entries, not " +
                            std::to_string(file.entries.size()));
  }
  for (std::size_t i = 0; i < file.entries.size(); ++i) {
    const BundleEntry& e = file.entries[i];
    if (e.envelope.size() < min_envelope(file.header.kind) || e.envelope.size() > kMaxEnvelopeBytes) {
      return invalid_argument("bundle entry " + std::to_string(i + 1) + " is not an envelope (" +
                              std::to_string(e.envelope.size()) + " bytes)");
    }
    if (file.header.kind == BundleKind::kRequest && e.part != i) {
      return invalid_argument("request bundle entry " + std::to_string(i + 1) + " names part " + std::to_string(e.part));
    }
    if (file.header.kind == BundleKind::kReply && i > 0 && e.part < file.entries[i - 1].part) {
      return invalid_argument("reply bundle entries must follow the order of the requests they answer");
    }
  }
  return Status::ok();
}

std::string cut_short(std::uint64_t missing, bool exact) {
  return "it is cut short (truncated): " + std::string(exact ? "" : "at least ") + std::to_string(missing) +
         (missing == 1 ? " byte is" : " bytes are") + " missing; copy it again from where it was made";
}

Status damaged(const std::string& what) {
  return invalid_argument("it is damaged (" + what + "); copy it again from where it was made");
}

}  // namespace

std::string short_bundle(const BundleId& id) { return to_hex(ByteView(id.data(), 4)); }

std::uint64_t bundle_size(const BundleFile& file) {
  std::uint64_t size = kBundleHeaderBytes + kBundleChecksumBytes;
  for (const BundleEntry& e : file.entries) size += frame_bytes(file.header.kind) + e.envelope.size();
  return size;
}

Status write_bundle(std::ostream& out, const BundleFile& file) {
  SB_RETURN_IF_ERROR(check_entries(file));
  Checksum sum;
  SB_RETURN_IF_ERROR(write_bytes(out, &sum, header_bytes(file.header, static_cast<std::uint32_t>(file.entries.size()))));
  for (const BundleEntry& e : file.entries) {
    Bytes frame;
    if (file.header.kind == BundleKind::kReply) put_u32(frame, e.part);
    put_u32(frame, static_cast<std::uint32_t>(e.envelope.size()));
    SB_RETURN_IF_ERROR(write_bytes(out, &sum, frame));
    SB_RETURN_IF_ERROR(write_bytes(out, &sum, e.envelope));
  }
  const Hash checksum = sum.final();
  return write_bytes(out, nullptr, checksum);
}

Result<BundleReader> BundleReader::open(std::istream& in, BundleKind expected) {
  in.clear();
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  if (!in || end < 0) return internal_error("the bundle could not be read");
  const auto size = static_cast<std::uint64_t>(end);
  if (size == 0) return invalid_argument("it is empty, not a Shiftbook bundle");
  Bytes head(static_cast<std::size_t>(std::min<std::uint64_t>(size, kBundleHeaderBytes)));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  if (static_cast<std::size_t>(in.gcount()) != head.size()) return internal_error("the bundle could not be read");

  for (std::size_t i = 0; i < std::min<std::size_t>(head.size(), 4); ++i) {
    if (head[i] != kMagic[i]) return invalid_argument("it is not a Shiftbook bundle");
  }
  if (head.size() > 4 && head[4] != kBundleVersion) {
    return failed_precondition("it is a bundle of format version " + std::to_string(head[4]) + "; this program reads version " +
                               std::to_string(kBundleVersion) + " (update it, or export the bundle again)");
  }
  if (head.size() > 5) {
    const std::uint8_t kind = head[5];
    if (kind != static_cast<std::uint8_t>(BundleKind::kRequest) && kind != static_cast<std::uint8_t>(BundleKind::kReply)) {
      return invalid_argument("it is not a Shiftbook bundle (its kind byte is neither 'Q' nor 'R')");
    }
    if (kind != static_cast<std::uint8_t>(expected)) {
      return invalid_argument("it is a " + kind_name(static_cast<BundleKind>(kind)) + " bundle, not a " +
                              kind_name(expected) + " bundle");
    }
  }
  if (size < kBundleHeaderBytes + kBundleChecksumBytes) {
    return invalid_argument(cut_short(kBundleHeaderBytes + kBundleChecksumBytes - size, false));
  }
  BundleHeader h;
  h.kind = expected;
  const std::uint8_t* p = head.data() + 6;
  std::copy(p, p + kBundleIdBytes, h.id.begin());
  p += kBundleIdBytes;
  std::copy(p, p + 32, h.server.begin());
  p += 32;
  std::copy(p, p + 32, h.device.begin());
  p += 32;
  h.ms = static_cast<std::int64_t>(get_u64(p));
  h.count = get_u32(p + 8);
  if (h.count > kMaxBundleEntries) {
    return damaged("it claims " + std::to_string(h.count) + " entries, more than the " +
                   std::to_string(kMaxBundleEntries) + " a bundle may hold");
  }
  return BundleReader(in, h, size);
}

Status BundleReader::read_at(std::uint64_t pos, std::uint8_t* out, std::size_t n) {
  in_->clear();
  in_->seekg(static_cast<std::streamoff>(pos));
  in_->read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(n));
  if (static_cast<std::size_t>(in_->gcount()) != n) {
    return invalid_argument("it changed or became unreadable while it was read");
  }
  return Status::ok();
}

Status BundleReader::check() {
  const BundleKind kind = header_.kind;
  const std::uint64_t frame = frame_bytes(kind);
  const std::uint64_t least_entry = frame + min_envelope(kind);
  const std::uint32_t n = header_.count;
  Checksum sum;
  Bytes buf(kBundleHeaderBytes);
  SB_RETURN_IF_ERROR(read_at(0, buf.data(), buf.size()));
  sum.update(buf);
  std::uint64_t pos = kBundleHeaderBytes;
  std::uint32_t last_part = 0;
  buf.resize(kChunkBytes);
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint64_t after = n - i - 1;  // entries after this one
    const std::uint64_t least = pos + (after + 1) * least_entry + kBundleChecksumBytes;
    if (least > size_) return invalid_argument(cut_short(least - size_, false));
    std::uint8_t f[8];
    SB_RETURN_IF_ERROR(read_at(pos, f, frame));
    sum.update(f, frame);
    const std::uint32_t part = kind == BundleKind::kReply ? get_u32(f) : i;
    const std::uint32_t length = get_u32(f + frame - 4);
    const std::string which = entry_name(kind) + " " + std::to_string(i + 1) + " of " + std::to_string(n);
    if (length < min_envelope(kind) || length > kMaxEnvelopeBytes) {
      return damaged(which + " claims " + std::to_string(length) + " bytes, which no envelope has");
    }
    if (kind == BundleKind::kReply) {
      if (part < last_part) return damaged(which + " answers request " + std::to_string(part + 1) + " out of order");
      last_part = part;
    }
    const std::uint64_t end = pos + frame + length;
    const std::uint64_t needed = end + after * least_entry + kBundleChecksumBytes;
    if (needed > size_) return invalid_argument(cut_short(needed - size_, after == 0));
    for (std::uint64_t at = pos + frame; at < end;) {
      const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(kChunkBytes, end - at));
      SB_RETURN_IF_ERROR(read_at(at, buf.data(), chunk));
      sum.update(buf.data(), chunk);
      at += chunk;
    }
    pos = end;
  }
  if (pos + kBundleChecksumBytes != size_) {
    return damaged(std::to_string(size_ - pos - kBundleChecksumBytes) + " bytes more than its " + std::to_string(n) +
                   " entries and checksum");
  }
  Hash stored{};
  SB_RETURN_IF_ERROR(read_at(pos, stored.data(), stored.size()));
  if (sum.final() != stored) return damaged("its checksum does not match its content");
  checked_ = true;
  return rewind();
}

Status BundleReader::rewind() {
  pos_ = kBundleHeaderBytes;
  read_ = 0;
  return Status::ok();
}

Result<std::optional<BundleEntry>> BundleReader::next() {
  if (!checked_) return internal_error("a bundle's entries are read only after check()");
  if (read_ == header_.count) return std::optional<BundleEntry>();
  const std::size_t frame = frame_bytes(header_.kind);
  std::uint8_t f[8];
  SB_RETURN_IF_ERROR(read_at(pos_, f, frame));
  BundleEntry e;
  e.part = header_.kind == BundleKind::kReply ? get_u32(f) : read_;
  const std::uint32_t length = get_u32(f + frame - 4);
  // check() bounded every length by the file; a file changed since is caught by read_at.
  if (length < min_envelope(header_.kind) || length > kMaxEnvelopeBytes) {
    return invalid_argument("it changed while it was read");
  }
  e.envelope.resize(length);
  SB_RETURN_IF_ERROR(read_at(pos_ + frame, e.envelope.data(), length));
  pos_ += frame + length;
  ++read_;
  return std::optional<BundleEntry>(std::move(e));
}

}  // namespace shiftbook
