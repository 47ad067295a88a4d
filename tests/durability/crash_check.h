// What must hold of a store after a crash, shared by the durability tests: its chain is whole
// (every event decodes and links to the one before), Store::verify passes, every acknowledged seq
// is there, and it takes a new entry. Checks use doctest's macros; call from the test thread.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "shiftbook/client/store.h"

namespace shiftbook::testing {

// The seqs of the store's own events, after checking that they decode and chain from seq 1.
std::set<std::uint64_t> checked_chain(const client::Store& store);

// Opens the store in `dir` with the default VFS and checks everything above, ending with one new
// output entry on the terminal's only open shift. Returns the seqs present before that entry.
std::set<std::uint64_t> check_after_crash(const std::string& dir, const Clock& clock,
                                          const std::vector<std::uint64_t>& acked);

}  // namespace shiftbook::testing
