// Fuzz target "bundle": a bundle file as it comes off a USB stick (bundle.h), read as a request
// bundle (the server's import) and as a reply bundle (the terminal's). BundleReader::open, check
// and next must refuse it or read it; a bundle that checks out must give exactly its header's
// count of entries, the same ones again after rewind, and be written back by write_bundle to the
// very input (one encoding per bundle). The envelopes of a request bundle go on to request_device
// and open_request with server_key(), as the server's import opens them.
//
// A seed may end in 32 0xff bytes where the checksum goes: the target puts the real checksum
// there, so that a mutated bundle still reaches the framing rules behind the checksum.
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "shiftbook/bundle.h"
#include "shiftbook/envelope.h"
#include "shiftbook/protocol.h"

namespace {

using namespace shiftbook;
using namespace shiftbook::fuzz;

// The input, with a placeholder checksum replaced by the real one.
std::string with_checksum(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (size < kBundleChecksumBytes) return bytes;
  const std::size_t body = size - kBundleChecksumBytes;
  if (bytes.find_first_not_of(static_cast<char>(kPrevByte), body) != std::string::npos) return bytes;
  Hash sum = blake2b_256(ByteView(data, body));
  bytes.replace(body, kBundleChecksumBytes, reinterpret_cast<const char*>(sum.data()), sum.size());
  return bytes;
}

std::vector<BundleEntry> read_all(BundleReader& reader) {
  std::vector<BundleEntry> out;
  for (std::uint32_t i = 0; i <= reader.header().count; ++i) {
    auto entry = reader.next();
    check(entry.is_ok(), "a bundle that checked out fails at entry " + std::to_string(i) + ": " +
                             entry.status().to_string());
    if (!*entry) return out;
    out.push_back(std::move(**entry));
  }
  fail("a bundle gave more entries than its count");
}

bool same(const std::vector<BundleEntry>& a, const std::vector<BundleEntry>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].part != b[i].part || a[i].envelope != b[i].envelope) return false;
  }
  return true;
}

void read_as(const std::string& bytes, BundleKind kind) {
  std::istringstream in(bytes);
  auto reader = BundleReader::open(in, kind);
  if (!reader.is_ok() || !reader->check().is_ok()) return;
  std::vector<BundleEntry> entries = read_all(*reader);
  check(entries.size() == reader->header().count, "a bundle gave fewer entries than its count");
  check(reader->rewind().is_ok(), "a bundle that checked out does not rewind");
  check(same(read_all(*reader), entries), "a bundle gave other entries after rewind");

  BundleFile file{reader->header(), entries};
  std::ostringstream out;
  Status written = write_bundle(out, file);
  check(written.is_ok(), "a bundle that was read cannot be written: " + written.to_string());
  check(out.str() == bytes, "write_bundle does not give back the bundle that was read: two encodings");
  check(bundle_size(file) == bytes.size(), "bundle_size disagrees with the bundle's size");

  if (kind != BundleKind::kRequest) return;
  for (const BundleEntry& e : entries) {
    (void)request_device(e.envelope);
    auto opened = open_request(server_key(), e.envelope);
    if (opened.is_ok()) (void)decode_message(opened->plaintext);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  init_crypto();
  const std::string bytes = with_checksum(data, size);
  read_as(bytes, BundleKind::kRequest);
  read_as(bytes, BundleKind::kReply);
  return 0;
}
