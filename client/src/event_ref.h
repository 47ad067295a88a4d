// How the terminal names an event to a person, by the one rule of is_entry_number (store.h):
// this terminal's own events by their seq ("12"), every other device's events by a prefix of
// their hash, kMinHashRefDigits hex digits or more, lengthened until no other event the store
// holds starts the same way. So whatever list, show or a message shows can be typed back and
// names that event alone, and a number never names another terminal's event. Borrows the
// store's Db; one thread, like the store.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "shiftbook/crypto.h"
#include "shiftbook/platform/db.h"
#include "shiftbook/status.h"

namespace shiftbook::client {

inline constexpr std::size_t kMinHashRefDigits = 8;

class EventRefs {
 public:
  EventRefs(Db& db, const PublicKey& me) : db_(db), me_(me) {}

  bool mine(const PublicKey& device) const { return device == me_; }
  // "12" for this terminal's event 12 (while its seq has at most 7 digits); else the shortest
  // hash prefix of at least kMinHashRefDigits digits that names only this event among those held.
  Result<std::string> ref(const PublicKey& device, std::int64_t seq, const Hash& hash);

 private:
  Db& db_;
  PublicKey me_;
  std::map<Hash, std::string> named_;  // hash prefixes already worked out (a shift names many rows)
};

}  // namespace shiftbook::client
