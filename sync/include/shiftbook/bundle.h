// Bundles: the sync protocol's envelopes carried in files, for sites with no network at all
// (docs/PROTOCOL.md, "Bundles"). A request bundle holds a terminal's sync requests, sealed exactly
// as for POST /v1/sync; a reply bundle holds the server's response envelopes to them. This header
// is the file format only: framing and a checksum around envelopes it never opens. The checksum
// tells a damaged or cut-short file from a whole one; authenticity comes from the envelopes.
//
// Layout (integers big-endian):
//   "SBBN" 0x01       magic and bundle version (5 bytes)
//   kind              1 byte: 'Q' request bundle, 'R' reply bundle
//   bundle id         16 bytes, random, made by the terminal; a reply repeats its request's
//   server            32 bytes, the server's Ed25519 key the envelopes are sealed for
//   device            32 bytes, the terminal's Ed25519 key
//   ms                i64: request: the terminal's clock at export (informational); reply: the server's
//   count             u32: the number of entries
//   count times:      request: u32 length | request envelope
//                     reply:   u32 request index (0-based) | u32 length | response envelope
//   checksum          BLAKE2b-256 of every byte before it
// Reading streams the file (BundleReader), so a bundle larger than memory can be checked and taken
// one envelope at a time. Pure functions over streams; safe from any thread on different streams
// once crypto_init() has run.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "shiftbook/bytes.h"
#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook {

inline constexpr std::uint8_t kBundleVersion = 1;
inline constexpr std::size_t kBundleIdBytes = 16;
inline constexpr std::size_t kBundleHeaderBytes = 4 + 1 + 1 + kBundleIdBytes + 32 + 32 + 8 + 4;  // 98
inline constexpr std::size_t kBundleChecksumBytes = 32;
// Entries in one bundle: far above any backlog (a request part carries up to 4 MiB of events).
inline constexpr std::uint32_t kMaxBundleEntries = 65'536;

using BundleId = std::array<std::uint8_t, kBundleIdBytes>;

enum class BundleKind : std::uint8_t { kRequest = 'Q', kReply = 'R' };

struct BundleHeader {
  BundleKind kind = BundleKind::kRequest;
  BundleId id{};
  PublicKey server{};
  PublicKey device{};
  std::int64_t ms = 0;     // request: the terminal's clock at export; reply: the server's clock
  std::uint32_t count = 0;  // set from the entries when written
};

struct BundleEntry {
  std::uint32_t part = 0;  // request: its own index; reply: the index of the request it answers
  Bytes envelope;
};

// A whole bundle in memory, as its writer builds it.
struct BundleFile {
  BundleHeader header;
  std::vector<BundleEntry> entries;
};

// "5f2c91aa": the first 8 hex digits of a bundle id, how people see a bundle.
std::string short_bundle(const BundleId& id);

// The size in bytes of `file` as write_bundle writes it.
std::uint64_t bundle_size(const BundleFile& file);

// Writes `file` to `out` with its count and checksum. invalid_argument (a caller's bug) for more
// than kMaxBundleEntries entries, an envelope that is empty or over kMaxEnvelopeBytes, request
// entries whose part is not their index, or reply entries whose request indexes go down;
// internal when the stream fails.
Status write_bundle(std::ostream& out, const BundleFile& file);

// Reads a bundle from a seekable stream (a file, or a string in tests), one entry at a time.
// Refusals are invalid_argument unless said, and name what was wrong in words for the person who
// carried the file; the caller adds the file's name.
class BundleReader {
 public:
  // Reads the header and checks, in this order: the magic (as far as the bytes go: "not a
  // bundle"), the version (failed_precondition naming both), the kind (a reply given where a
  // request is expected, or the reverse), and that the file holds a header and a checksum at
  // least ("cut short").
  static Result<BundleReader> open(std::istream& in, BundleKind expected);

  const BundleHeader& header() const { return header_; }
  std::uint64_t size() const { return size_; }

  // Reads the whole file once and checks its framing: every entry within the file (else "cut
  // short", naming how many bytes are missing, exactly when the lengths read tell it, else as a
  // least number), lengths from the smallest envelope to kMaxEnvelopeBytes, a reply's request
  // indexes in order, nothing between the last entry and the checksum, and the checksum
  // ("damaged"). Call it before next().
  Status check();
  // The next entry, from the first; nullopt after the last. rewind() starts again from the first.
  Result<std::optional<BundleEntry>> next();
  Status rewind();

 private:
  BundleReader(std::istream& in, BundleHeader header, std::uint64_t size)
      : in_(&in), header_(header), size_(size) {}
  Status read_at(std::uint64_t pos, std::uint8_t* out, std::size_t n);

  std::istream* in_;
  BundleHeader header_;
  std::uint64_t size_ = 0;
  bool checked_ = false;
  std::uint64_t pos_ = kBundleHeaderBytes;  // of the next entry
  std::uint32_t read_ = 0;                   // entries next() has returned
};

}  // namespace shiftbook
