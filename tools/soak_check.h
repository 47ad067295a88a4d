// What the soak checks at the end: the chains each terminal store holds and the chains the server
// holds, read straight from their SQLite files (after the programs have stopped), the server's
// re-verified from the raw events, and compared. Plain functions; each opens its own connection.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook::soak {

// A device's chain as the hashes of its events: chain[i] is the hash of event seq i + 1.
using Chain = std::vector<Hash>;
// Chains by device key in hex.
using Chains = std::map<std::string, Chain>;

// The device key (hex) of the terminal store in `store_dir`.
Result<std::string> terminal_device(const std::string& store_dir);

// Every chain the terminal store holds (its own and those it pulled). data_loss when a device's
// seqs there are not 1..n.
Result<Chains> terminal_chains(const std::string& store_dir);

struct ServerChains {
  Chains chains;                       // every chain: the terminals' and the site signers'
  std::vector<std::string> terminals;  // the enrolled devices (hex)
};
// Every chain the server in `server_dir` holds, each checked from its raw events: every event
// decodes and hashes to the hash stored beside it, links to the one before (seq, prev, clock),
// every stored signed head verifies with the device's key and names an event of the chain, the
// last one names the chain's end, and each enrolled device's receipt is for its chain's end.
// data_loss naming the first thing that is wrong.
Result<ServerChains> verified_server_chains(const std::string& server_dir);

// A terminal as the soak knows it: its store, its device key (hex), and how many events of its
// own the commands that succeeded recorded.
struct TerminalRecord {
  std::string store;
  std::string device;
  std::uint64_t events = 0;
};
// Compares every terminal's store with the server: each holds exactly `events` events of its own
// (nothing lost), the server holds exactly that chain (nothing duplicated or changed) and no
// terminal it was not told of, and each holds every chain the server holds, event for event, and
// no other (converged). One line per problem found; adds the terminals' events the server holds to
// `on_server`.
std::vector<std::string> compare_replicas(const std::vector<TerminalRecord>& terminals, const ServerChains& server,
                                          std::uint64_t& on_server);

}  // namespace shiftbook::soak
