// Terminals made inside the benchmark, for the rows that need many devices or many events without
// a store: ChainMaker writes a device's events as a terminal records them (a shift_open, then
// outputs in that shift, each linked to the one before), and WireTerminal speaks the protocol of
// docs/PROTOCOL.md for a device key over one keep-alive HTTP connection (cpp-httplib, TCP_NODELAY
// on both ends), checking every answer it reads: the receipt and each pulled head must verify with
// the pinned server key and the device keys; enroll_terminals enrolls many in a server, and
// push_chain pushes a whole chain in batches. One thread per ChainMaker and per WireTerminal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench_common.h"
#include "shiftbook/bytes.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/protocol.h"
#include "shiftbook/status.h"

namespace shiftbook::bench {

// One event of a chain: its canonical bytes and its hash.
struct ChainLink {
  Bytes bytes;
  Hash hash{};
};

// A terminal's chain as `shiftbook` records it: seq 1 opens a shift of `unit` on `day`, then
// outputs of product P1 in that shift (quantity 1..1000, quota version 1), author L1, the HLC one
// tick after the last. The bodies are the ones Store::log_output writes.
class ChainMaker {
 public:
  ChainMaker(const DeviceKey& key, std::string unit, std::int64_t day, std::int64_t start_ms);
  // The next event's canonical bytes.
  Result<Bytes> next();
  // The last event made: its seq (0 before the first) and hash.
  std::uint64_t seq() const { return seq_; }
  const Hash& last_hash() const { return prev_; }

 private:
  PublicKey device_{};
  std::string unit_;
  std::int64_t day_ = 0;
  std::uint64_t hlc_ = 0;
  std::uint64_t seq_ = 0;
  Hash prev_{};
  std::string shift_ref_;
};

// A device key from a 32-byte seed made of `label` and `n`: the same label and number give the
// same device in every run.
Result<DeviceKey> seeded_key(const std::string& label, std::uint64_t n);

// A "sync" request: its header, with a head signed at the last of `events` when there are any.
Message sync_request(const DeviceKey& key, std::uint64_t cursor, std::size_t pull_max, std::int64_t client_ms,
                     std::vector<Bytes> events, const Hash& last_hash);

// What one "sync" answer brought, after its checks.
struct SyncAnswerRead {
  Receipt receipt;
  std::uint64_t cursor = 0;
  bool more = false;
  std::size_t events = 0;
  std::map<PublicKey, std::size_t> events_by_device;
  std::map<PublicKey, SignedHead> heads;  // verified
};

class WireTerminal {
 public:
  WireTerminal(DeviceKey key, const std::string& host, int port);
  ~WireTerminal();
  WireTerminal(WireTerminal&&) noexcept;
  WireTerminal& operator=(WireTerminal&&) = delete;
  WireTerminal(const WireTerminal&) = delete;

  const DeviceKey& key() const { return key_; }
  // Set by enroll(): the pinned server key and the site signer's key from the delegation.
  const PublicKey& server_key() const { return server_; }
  const PublicKey& signer_key() const { return signer_; }
  void pin(const PublicKey& server, const PublicKey& signer) {
    server_ = server;
    signer_ = signer;
  }

  // GET /v1/hello, the server key checked against the code's fingerprint, then POST /v1/enroll
  // with the code's secret; the delegation of the site's signer must verify.
  Status enroll(const std::string& code_text);
  // Seals `request`, posts it to /v1/sync and returns the opened, decoded answer. An "error"
  // answer or a refusal over HTTP is failed_precondition with the server's words; unavailable
  // when the server cannot be reached.
  Result<Message> sync(const Message& request);
  // Checks a "sync" answer to a request that pushed up to (`pushed_seq`, `pushed_hash`) (seq 0:
  // nothing pushed, any receipt of this device): the receipt verifies with the pinned key and
  // names exactly that head; each head verifies.
  Result<SyncAnswerRead> read_answer(const Message& answer, std::uint64_t pushed_seq, const Hash& pushed_hash) const;
  // Drops the connection (a terminal that finished its sync goes away).
  void disconnect();

 private:
  struct Http;
  DeviceKey key_;
  PublicKey server_{};
  PublicKey signer_{};
  std::unique_ptr<Http> http_;
};

// Terminals enrolled in a running server.
struct EnrolledTerminals {
  std::unique_ptr<ServerChild> server;  // still running
  std::vector<WireTerminal> terminals;  // terminal i's key is seeded_key(label, i); none connected
};
// Makes one enrollment code per entry of `units` (site S1 and that unit) with the admin command in
// the server folder `dir`, starts `serve` on it, and enrolls a WireTerminal with each code over HTTP.
Result<EnrolledTerminals> enroll_terminals(Launcher& launcher, const std::string& dir, const std::string& scratch,
                                           const std::string& label, const std::vector<std::string>& units);

// Pushes the chain `next` gives (from seq 1 on; nullopt after its last event) in round trips of up
// to kMaxPushBytes, each asking for the least pull (kMinPullBytes), each receipt checked; then
// drops the connection. The events pushed.
Result<std::uint64_t> push_chain(WireTerminal& w, const std::function<Result<std::optional<ChainLink>>()>& next);

}  // namespace shiftbook::bench
