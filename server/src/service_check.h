// Reading a push (framing, sender, links, head signature: what every push must pass, a revoked
// device's too), and the checks of one new event of a push (service_push.cpp) that need no chain
// state: its kind, its body, what it refers to, and its scope (docs/PROTOCOL.md). An event a
// terminal would refuse to apply when it pulls it is refused here, before anything is stored:
// one accepted event that every other terminal of the unit refuses would stop all their syncs.
// Used by one request thread at a time (a RefLookup lives for one push).
#pragma once

#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "service_impl.h"
#include "shiftbook/hash_key.h"

namespace shiftbook::server::detail {

// What a pushed event's references need to know about the event they name.
struct RefInfo {
  PublicKey device{};
  std::string kind;
  // hours/output/bonus for an entry's versions: its own kind, or for a correction the kind of the
  // entry it corrects. Empty for other kinds, and for a stored correction until RefLookup::version.
  std::string entry_kind;
  std::string unit;
  // Where the version's body is: an event of the push (its index there), or, for a stored event,
  // what RefLookup::version read of its bytes (the body it gave its entry, and for a correction
  // the version it superseded).
  std::optional<std::size_t> batch_index;
  bool loaded = false;
  Json entry;
  Hash target{};
};

// Finds referenced events: first among the push's own events, then in what storage holds (each
// stored event asked for once per push).
class RefLookup {
 public:
  // `batch` is the push's events; they are in it whenever the lookup is asked.
  RefLookup(Storage& storage, const std::vector<NewEvent>& batch) : storage_(storage), batch_(batch) {}

  // Makes event `index` of the push known, once it passed its checks.
  void add(std::size_t index, std::string entry_kind, std::string unit);

  // The event, or nullptr when it is not known.
  Result<const RefInfo*> find(const Hash& h);
  // As find, for the version a correction supersedes: with its entry kind (for a stored
  // correction, that of the entry at the start of its corrections) and its body at hand.
  Result<const RefInfo*> version(const Hash& h);
  // The body a version (from version()) gave its entry: an entry's own, a correction's "entry".
  const Json& entry_of(const RefInfo& version) const;
  // The hash of the pushing device's event at `seq` (>= 1): earlier in the push, or held;
  // nullopt when it is neither.
  Result<std::optional<Hash>> own_hash(std::uint64_t seq);

 private:
  Result<RefInfo*> lookup(const Hash& h);
  Status load(RefInfo& info, const Hash& h);

  Storage& storage_;
  const std::vector<NewEvent>& batch_;
  std::unordered_map<Hash, RefInfo, HashKey> added_;
  std::unordered_map<Hash, std::optional<RefInfo>, HashKey> stored_;
};

// Reads a push (rules 5 and 6 of docs/PROTOCOL.md section 9): each event decodes, is the
// sender's, and follows the one before it (seq and check_link); the head is at the last event and
// its signature verifies. Moves the bytes out of `raw`.
std::variant<std::vector<NewEvent>, Refusal> read_push(std::vector<Bytes>& raw, const PublicKey& sender,
                                                       const SignedHead& head);

// Checks new event `index` of the push `events` of the device `rec`: kind, body, references
// (a shift_open's receipt, verified with `server`, among them), scope, in that order. Sets its
// unit and site, and adds it to `refs` for the events after it. In a request of `version` 2 or
// later, a kind this server does not know (neither a terminal kind nor a head-office kind) is
// taken when its name is a kind name and its body names in "shift" a shift_open of the same
// device that the server holds (its unit gives the scope); it is stored and relayed unchanged,
// and no check of a known kind applies to it. Head-office kinds stay refused (kKind), and a
// version 1 request is refused any kind but the terminal kinds, as version 1 was.
std::optional<Refusal> check_new_event(std::vector<NewEvent>& events, std::size_t index, const DeviceRecord& rec,
                                       const PublicKey& server, RefLookup& refs, int version);

}  // namespace shiftbook::server::detail
