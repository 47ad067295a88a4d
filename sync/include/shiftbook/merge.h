// The merge rules: the current state of every entry as a pure function of the set of events,
// whatever order they arrived in, on any replica. Specified in docs/MERGE.md; this header is its
// code. No SQL, no I/O, no clock: a MergeSet is a value owned by one thread at a time.
//
// The model (docs/MERGE.md has every case):
//   version tree   the event that recorded an entry (hours, output, bonus, confirm) is its root;
//                  each correction or void names in `target` the version it supersedes. Several
//                  children of one version are a fork. A void ends its branch: versions that
//                  name a void are kept, listed in `past_void`, and never current.
//   current        walk from the root, at each version taking its winning child, until a version
//                  without children (or a void: the entry is void).
//   winner         among the children of a fork: the one chosen by the site signer's latest
//                  resolution of the fork (highest signer seq) whose winner is one of them;
//                  otherwise the child with the greatest trusted after time (a child without one
//                  is lower than any), ties to the lowest event hash (bytewise). Never the HLC.
//   conflict       every fork; resolved when the deciding resolution names every child of the
//                  fork in winner + losers, open otherwise.
//   orphan         a version whose target is not (yet) known: kept, changes nothing, attached
//                  when the target arrives.
// Not errors: forks, orphans, a resolution naming a version that is not a child of the fork (it
// is ignored for choosing and listed), a resolution of a version that is no fork (yet), events
// of kinds the merge does not read (kept by the caller; the MergeSet skips them), a terminal's
// event of kind `resolution` (it decides nothing: authority comes from the signer), the same
// event added twice.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "shiftbook/canonical.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/hash_key.h"
#include "shiftbook/status.h"

namespace shiftbook {

enum class VersionKind { kRoot, kCorrection, kVoid };

// One version of an entry, as the merge reads it from its event.
struct Version {
  Hash hash{};
  PublicKey device{};
  std::uint64_t seq = 0;
  VersionKind kind = VersionKind::kRoot;
  std::string entry_kind;          // a root's kind (hours, output, bonus, confirm); empty otherwise
  std::optional<Hash> target;      // the superseded version; absent exactly for a root
  Json body;                       // root: its body; correction: its `entry`; void: null
  std::optional<std::int64_t> trusted_after_ms;  // PROTOCOL.md section 9; absent: lower than any
};

// Head office's decision of one fork, read from a `resolution` event of the site signer.
struct Resolution {
  std::uint64_t signer_seq = 0;  // its seq in the signer's chain: the highest decides
  Hash hash{};                   // the resolution event's own hash
  Hash fork{};
  Hash winner{};
  std::vector<Hash> losers;
};

enum class ChosenBy { kRule, kResolution };

struct Conflict {
  Hash fork{};                  // the version with several children
  std::vector<Hash> children;   // bytewise ascending
  Hash winner{};
  ChosenBy chosen_by = ChosenBy::kRule;
  std::optional<Hash> resolution;   // the deciding resolution event, when chosen_by is kResolution
  bool resolved = false;            // the deciding resolution names every child
  bool on_current_path = false;     // the fork is a version of the current path
  std::vector<Hash> ignored_resolutions;  // resolutions of this fork whose winner is no child of it
  bool operator==(const Conflict&) const = default;
};

struct EntryState {
  Hash root{};
  std::string kind;             // the root's kind
  Hash current{};               // the last version of the winning path (the void when void)
  bool is_void = false;
  Json body;                    // the body of the last version on the path that is not a void
  std::size_t path_length = 0;  // versions on the winning path, root (and void) included
  std::size_t versions = 0;     // versions in the tree, root included, past_void excluded
  std::vector<Conflict> conflicts;  // every fork of the tree: by depth from the root, then fork hash
  std::vector<Hash> orphans;        // given versions that do not reach the root (ascending)
  std::vector<Hash> past_void;      // versions below a void (ascending): never current
  bool operator==(const EntryState&) const = default;
};

// The state of one entry from its versions (exactly one of kind root, and any number of
// corrections and voids, in any order; duplicates by hash count once) and the resolutions of the
// signer (those that name no fork of this tree are ignored). invalid_argument when there is not
// exactly one root. The result does not depend on the order of either input.
Result<EntryState> merge_entry(std::span<const Version> versions, std::span<const Resolution> resolutions);

// Trusted after time (PROTOCOL.md section 9) of the event at `seq` of one device, from that
// device's shift_opens (any order): the server_ms of the receipt named by its latest shift_open
// at a seq <= `seq`; nullopt before the first shift_open or when that shift_open names none.
struct ShiftOpenMark {
  std::uint64_t seq = 0;
  std::optional<std::int64_t> receipt_server_ms;
};
std::optional<std::int64_t> trusted_after(std::span<const ShiftOpenMark> shift_opens, std::uint64_t seq);
// The same answer over marks kept sorted by (seq, receipt_server_ms) by insert_shift_open, by a
// binary search: what a replica holding a device's many shift_opens uses.
std::optional<std::int64_t> trusted_after_sorted(std::span<const ShiftOpenMark> sorted, std::uint64_t seq);
// Inserts `mark` into `sorted` in that order; false (and nothing changes) when it is held already.
bool insert_shift_open(std::vector<ShiftOpenMark>& sorted, const ShiftOpenMark& mark);

// The version an event is, or nullopt for kinds that are not versions (shift_open, shift_close,
// head-office kinds, kinds this version does not know). invalid_argument when a correction or void
// has no readable `target` or a correction no `entry` map. trusted_after_ms is left empty.
Result<std::optional<Version>> version_of(const Event& e);
// The resolution in a `resolution` event's body (validate_head_office_body first).
Result<Resolution> resolution_of(const Event& e);

// Takes events one at a time, in any order, and answers the state of every entry: the same
// state for the same set of events whatever the order. Only `signer`'s resolution events decide
// forks. Each added event marks the one entry it touches as changed (a shift_open: the entries
// with versions of its device at or after it). States are computed by merge_entry when asked for,
// never kept: what the set holds per version is its place in the tree and its body in the
// canonical encoding (canonical.h), about a sixth of the memory of the body as a Json value.
class MergeSet {
 public:
  explicit MergeSet(const PublicKey& signer) : signer_(signer) {}

  // Reads what the merge needs of `e` (version_of, shift_open receipts, the signer's resolutions)
  // and skips the rest. Errors (invalid_argument naming the event) change nothing.
  Status add(const Event& e);
  // The same, from parts (what add() uses). A version's trusted_after_ms is ignored: the set
  // derives it from the shift_opens it holds.
  void add_version(Version v);
  void add_shift_open(const PublicKey& device, ShiftOpenMark mark);
  void add_resolution(Resolution r);

  // Entries whose root the set holds, ascending.
  std::vector<Hash> roots() const;
  // The state of the entry with this root; not_found when the set holds no root of that hash.
  Result<EntryState> state(const Hash& root) const;
  std::map<Hash, EntryState> states() const;
  // The entries whose inputs changed since the last call (marked by add*), with their states now:
  // what a store re-projects after taking a batch. A marked entry's state may be unchanged.
  std::map<Hash, EntryState> take_changed();
  // The same entries' roots alone, ascending: for a reader that takes their states one at a time.
  std::vector<Hash> take_changed_roots();
  // The entry a version belongs to (its root), when it is attached.
  std::optional<Hash> root_of(const Hash& version) const;
  // Versions waiting for their target: version hash -> the missing hash its branch waits for.
  std::map<Hash, Hash> orphans() const;
  // Resolutions whose fork is no version of an attached entry (yet).
  std::vector<Hash> pending_resolutions() const;

 private:
  // One version as the set holds it: what merge_entry reads of it, in about a hundred bytes plus
  // its encoded body. compute() makes the Version back.
  struct Node {
    std::uint64_t seq = 0;
    std::uint32_t device = 0;      // index in devices_
    std::uint8_t entry_kind = 0;   // index in entry_kinds_ (a root's kind; "" otherwise)
    VersionKind kind = VersionKind::kRoot;
    std::optional<Hash> target;
    std::optional<Hash> root;      // set once attached
    Bytes body;                    // the canonical encoding of the body; empty when it has none
    std::unique_ptr<Json> json;    // a body with no canonical encoding (a caller's made-up value)
  };
  Result<Version> version_at(const Hash& hash, const Node& node) const;
  void attach(const Hash& hash, const Hash& root);
  void mark(const Hash& root);
  // The root and every version attached below it, breadth first.
  std::vector<Hash> members(const Hash& root) const;
  Result<EntryState> compute(const Hash& root) const;

  PublicKey signer_{};
  std::vector<PublicKey> devices_;  // Node::device -> key
  std::map<PublicKey, std::uint32_t> device_ids_;
  std::vector<std::string> entry_kinds_{""};  // Node::entry_kind -> kind
  std::unordered_map<Hash, Node, HashKey> nodes_;
  std::unordered_map<Hash, std::vector<Hash>, HashKey> children_;  // target -> versions naming it
  std::map<PublicKey, std::vector<ShiftOpenMark>> shift_opens_;
  std::map<PublicKey, std::map<std::uint64_t, Hash>> roots_by_seq_;  // device -> version seq -> its root
  std::map<Hash, std::vector<Resolution>> resolutions_;  // fork -> resolutions of it
  std::set<Hash> resolution_hashes_;
  std::vector<Hash> changed_;  // for take_changed: roots marked, with repeats (sorted out when taken)
};

// One line per entry for tests and logs: "root=ab12 current=cd34 void=0 path=3 conflicts=[...]".
std::string describe(const EntryState& s);

}  // namespace shiftbook
