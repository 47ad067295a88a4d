// What the crash iterations (crash_world.h) read and check. Reads go through read-only SQLite
// connections, which never checkpoint, recover into or delete a file: reading the server's store
// between a kill and the restart leaves the server exactly what the kill left it. Each check adds
// a sentence per broken promise to a list of failures and never stops early, so one report shows
// everything that went wrong. Free of doctest (the shiftbook-crash tool links it). One thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shiftbook/bytes.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/protocol.h"
#include "shiftbook/status.h"

namespace shiftbook::testing::crash {

// One event as a store keeps it: its seq, its hash and its canonical bytes.
struct StoredEvent {
  std::uint64_t seq = 0;
  Hash hash{};
  Bytes raw;
  bool operator==(const StoredEvent&) const = default;
};

// What the server holds of one device.
struct ServerView {
  std::uint64_t held = 0;           // chains.seq: where the server says the chain ends (0: none)
  Hash held_hash{};                 // chains.hash
  std::vector<StoredEvent> events;  // in seq order
  std::vector<SignedHead> heads;    // one per stored push, in commit order
  std::optional<Receipt> receipt;   // the last receipt the server gave the device
};
Result<ServerView> read_server(const std::string& db_path, const PublicKey& device);
// chains.seq alone, cheap enough to read at the moment of a kill.
Result<std::uint64_t> read_server_held(const std::string& db_path, const PublicKey& device);

// What a terminal holds: one device's chain, and its own sync position.
Result<std::vector<StoredEvent>> read_terminal_chain(const std::string& db_path, const PublicKey& device);
Result<std::uint64_t> read_terminal_count(const std::string& db_path, const PublicKey& device);
struct TerminalSync {
  PublicKey server_key{};
  std::uint64_t receipt_seq = 0;
  std::optional<Hash> receipt_hash;
  std::uint64_t cursor = 0;
};
Result<TerminalSync> read_terminal_sync(const std::string& db_path);

// The round trips in what `shiftbook sync --json` printed; 0 when it printed no report.
std::uint64_t sync_round_trips(const std::string& printed);

using Failures = std::vector<std::string>;

// The server's copy of `device`'s chain is whole: events 1..`expected`, no gap, no duplicate;
// each decodes to its stored hash, is the device's, and links to the one before; every stored
// head verifies with the device key and names an event held at its seq; the last head, the
// chain's end and the receipt (verified with `server_key`) are all at `expected`. `who` names
// the device in the messages ("terminal A").
void check_server_chain(const ServerView& server, const PublicKey& device, const PublicKey& server_key,
                        std::uint64_t expected, const std::string& who, Failures& failures);
// `holder` (a terminal, or the server) holds exactly `want`, byte for byte: the same seqs,
// hashes and bytes, nothing more and nothing less. `what` names the chain and the reference.
void check_same_chain(const std::vector<StoredEvent>& want, const std::vector<StoredEvent>& got,
                      const std::string& what, Failures& failures);

}  // namespace shiftbook::testing::crash
