// The merge rules (merge.h, docs/MERGE.md). merge_entry is the whole rule for one entry; MergeSet
// only sorts events into entries and keeps what changed, and calls merge_entry for every state it
// answers, so the accumulator can never disagree with the rule.
#include "shiftbook/merge.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"

namespace shiftbook {
namespace {

constexpr std::string_view kResolution = "resolution";

// A child with a trusted after time beats one without; a later time beats an earlier one; on a tie
// the lower hash wins.
bool beats_by_rule(const Version& a, const Version& b) {
  if (a.trusted_after_ms != b.trusted_after_ms) {
    if (!b.trusted_after_ms) return true;
    if (!a.trusted_after_ms) return false;
    return *a.trusted_after_ms > *b.trusted_after_ms;
  }
  return a.hash < b.hash;
}

// Resolutions of one fork, latest in the signer's chain first (the hash orders equal seqs, which
// only a signer that contradicts its own chain produces).
std::vector<const Resolution*> latest_first(std::span<const Resolution> resolutions, const Hash& fork) {
  std::vector<const Resolution*> out;
  for (const Resolution& r : resolutions) {
    if (r.fork == fork) out.push_back(&r);
  }
  std::sort(out.begin(), out.end(), [](const Resolution* a, const Resolution* b) {
    if (a->signer_seq != b->signer_seq) return a->signer_seq > b->signer_seq;
    return a->hash < b->hash;
  });
  auto same = [](const Resolution* a, const Resolution* b) { return a->hash == b->hash; };
  out.erase(std::unique(out.begin(), out.end(), same), out.end());
  return out;
}

bool contains(const std::vector<Hash>& sorted, const Hash& h) {
  return std::binary_search(sorted.begin(), sorted.end(), h);
}

// The winner among `children` (ascending, at least one) of `fork`, and the conflict when there are
// several.
Conflict choose(const Hash& fork, const std::vector<Hash>& children, const std::map<Hash, const Version*>& by_hash,
                std::span<const Resolution> resolutions) {
  Conflict c;
  c.fork = fork;
  c.children = children;
  const Resolution* deciding = nullptr;
  for (const Resolution* r : latest_first(resolutions, fork)) {
    if (!contains(children, r->winner)) {
      c.ignored_resolutions.push_back(r->hash);
    } else if (deciding == nullptr) {
      deciding = r;
    }
  }
  std::sort(c.ignored_resolutions.begin(), c.ignored_resolutions.end());
  if (deciding != nullptr) {
    c.winner = deciding->winner;
    c.chosen_by = ChosenBy::kResolution;
    c.resolution = deciding->hash;
    c.resolved = std::all_of(children.begin(), children.end(), [&](const Hash& child) {
      return child == deciding->winner ||
             std::find(deciding->losers.begin(), deciding->losers.end(), child) != deciding->losers.end();
    });
    return c;
  }
  const Version* best = by_hash.at(children.front());
  for (const Hash& h : children) {
    const Version* v = by_hash.at(h);
    if (beats_by_rule(*v, *best)) best = v;
  }
  c.winner = best->hash;
  return c;
}

Result<Hash> target_of(const Event& e) {
  auto t = e.body.find("target");
  if (t == e.body.end() || !t->is_string()) {
    return invalid_argument(event_name(e.device, e.seq) + ": a " + e.kind + " without a 'target' reference");
  }
  auto h = parse_hash_ref(t->get<std::string>());
  if (!h.is_ok()) return h.status().with_context(event_name(e.device, e.seq) + ": field 'target': ");
  return *h;
}

}  // namespace

Result<EntryState> merge_entry(std::span<const Version> versions, std::span<const Resolution> resolutions) {
  std::map<Hash, const Version*> by_hash;
  for (const Version& v : versions) by_hash.emplace(v.hash, &v);
  const Version* root = nullptr;
  std::map<Hash, std::vector<Hash>> children;
  for (const auto& [h, v] : by_hash) {
    if (v->kind == VersionKind::kRoot) {
      if (root != nullptr) {
        return invalid_argument("an entry has one root, and these versions hold two (" + to_hex(root->hash) + " and " +
                                to_hex(h) + ")");
      }
      root = v;
    } else if (v->target) {
      children[*v->target].push_back(h);  // by_hash is ascending, so each list is too
    }
  }
  if (root == nullptr) return invalid_argument("an entry needs its root version (the event that recorded it)");

  EntryState s;
  s.root = root->hash;
  s.kind = root->entry_kind;
  // Breadth first from the root: every version reached is in the tree, except that a void's
  // descendants are past it.
  struct Reached {
    Hash hash;
    std::size_t depth;
  };
  std::vector<Reached> tree{{root->hash, 0}};
  std::set<Hash> seen{root->hash};
  std::vector<std::pair<Hash, std::size_t>> forks;
  for (std::size_t i = 0; i < tree.size(); ++i) {
    const Reached here = tree[i];
    auto kids = children.find(here.hash);
    if (kids == children.end()) continue;
    const bool is_void = by_hash.at(here.hash)->kind == VersionKind::kVoid;
    if (!is_void && kids->second.size() > 1) forks.emplace_back(here.hash, here.depth);
    for (const Hash& k : kids->second) {
      if (!seen.insert(k).second) continue;
      if (is_void) {
        s.past_void.push_back(k);
      } else {
        tree.push_back({k, here.depth + 1});
      }
    }
  }
  // Everything below a void is past it too, however deep.
  for (std::size_t i = 0; i < s.past_void.size(); ++i) {
    auto kids = children.find(s.past_void[i]);
    if (kids == children.end()) continue;
    for (const Hash& k : kids->second) {
      if (seen.insert(k).second) s.past_void.push_back(k);
    }
  }
  for (const auto& [h, v] : by_hash) {
    if (!seen.contains(h)) s.orphans.push_back(h);
  }
  std::sort(s.past_void.begin(), s.past_void.end());
  s.versions = tree.size();

  std::sort(forks.begin(), forks.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second < b.second : a.first < b.first;
  });
  std::map<Hash, std::size_t> conflict_at;
  for (const auto& fork : forks) {
    conflict_at[fork.first] = s.conflicts.size();
    s.conflicts.push_back(choose(fork.first, children.at(fork.first), by_hash, resolutions));
  }

  // The walk: a version's only child, or its fork's winner, until a leaf or a void. Every step goes
  // one level deeper in a finite tree, so it ends.
  const Version* at = root;
  s.body = root->body;
  s.path_length = 1;
  while (at->kind != VersionKind::kVoid) {
    auto kids = children.find(at->hash);
    if (kids == children.end()) break;
    Hash next = kids->second.front();
    auto fork = conflict_at.find(at->hash);
    if (fork != conflict_at.end()) {
      s.conflicts[fork->second].on_current_path = true;
      next = s.conflicts[fork->second].winner;
    }
    at = by_hash.at(next);
    ++s.path_length;
    if (at->kind == VersionKind::kVoid) {
      s.is_void = true;
    } else {
      s.body = at->body;
    }
  }
  s.current = at->hash;
  return s;
}

std::optional<std::int64_t> trusted_after(std::span<const ShiftOpenMark> shift_opens, std::uint64_t seq) {
  const ShiftOpenMark* latest = nullptr;
  for (const ShiftOpenMark& m : shift_opens) {
    if (m.seq > seq) continue;
    // Two shift_opens at one seq are an equivocation the server flags; the later receipt is taken
    // so that the answer does not depend on their order.
    if (latest == nullptr || m.seq > latest->seq ||
        (m.seq == latest->seq && m.receipt_server_ms > latest->receipt_server_ms)) {
      latest = &m;
    }
  }
  if (latest == nullptr) return std::nullopt;
  return latest->receipt_server_ms;
}

namespace {

bool mark_before(const ShiftOpenMark& a, const ShiftOpenMark& b) {
  return std::tie(a.seq, a.receipt_server_ms) < std::tie(b.seq, b.receipt_server_ms);
}

}  // namespace

std::optional<std::int64_t> trusted_after_sorted(std::span<const ShiftOpenMark> sorted, std::uint64_t seq) {
  // The last mark at a seq <= `seq`: of equal seqs the later receipt, as trusted_after takes it.
  auto after = std::upper_bound(sorted.begin(), sorted.end(), seq,
                                [](std::uint64_t s, const ShiftOpenMark& m) { return s < m.seq; });
  if (after == sorted.begin()) return std::nullopt;
  return std::prev(after)->receipt_server_ms;
}

bool insert_shift_open(std::vector<ShiftOpenMark>& sorted, const ShiftOpenMark& mark) {
  auto at = std::lower_bound(sorted.begin(), sorted.end(), mark, mark_before);
  if (at != sorted.end() && at->seq == mark.seq && at->receipt_server_ms == mark.receipt_server_ms) return false;
  sorted.insert(at, mark);
  return true;
}

Result<std::optional<Version>> version_of(const Event& e) {
  Version v;
  v.hash = e.hash;
  v.device = e.device;
  v.seq = e.seq;
  if (e.kind == kind::kHours || e.kind == kind::kOutput || e.kind == kind::kBonus || e.kind == kind::kConfirm) {
    v.kind = VersionKind::kRoot;
    v.entry_kind = e.kind;
    v.body = e.body;
    return std::optional<Version>(std::move(v));
  }
  if (e.kind == kind::kCorrection) {
    SB_ASSIGN_OR_RETURN(Hash target, target_of(e));
    auto entry = e.body.find("entry");
    if (entry == e.body.end() || !entry->is_object()) {
      return invalid_argument(event_name(e.device, e.seq) + ": a correction without its new 'entry'");
    }
    v.kind = VersionKind::kCorrection;
    v.target = target;
    v.body = *entry;
    return std::optional<Version>(std::move(v));
  }
  if (e.kind == kind::kVoid) {
    SB_ASSIGN_OR_RETURN(Hash target, target_of(e));
    v.kind = VersionKind::kVoid;
    v.target = target;
    v.body = nullptr;
    return std::optional<Version>(std::move(v));
  }
  return std::optional<Version>();
}

Result<Resolution> resolution_of(const Event& e) {
  if (e.kind != kResolution) return invalid_argument(event_name(e.device, e.seq) + " is not a resolution");
  SB_RETURN_IF_ERROR(validate_head_office_body(kResolution, e.body).with_context(event_name(e.device, e.seq) + ": "));
  Resolution r;
  r.signer_seq = e.seq;
  r.hash = e.hash;
  // The body was validated above, so every reference parses.
  r.fork = *parse_hash_ref(e.body.at("fork").get<std::string>());
  r.winner = *parse_hash_ref(e.body.at("winner").get<std::string>());
  for (const Json& l : e.body.at("losers")) r.losers.push_back(*parse_hash_ref(l.get<std::string>()));
  return r;
}

Status MergeSet::add(const Event& e) {
  if (e.kind == kind::kShiftOpen) {
    auto receipt = shift_open_receipt(e.body, e.device);
    if (!receipt.is_ok()) return receipt.status().with_context(event_name(e.device, e.seq) + ": ");
    ShiftOpenMark mark{e.seq, std::nullopt};
    if (*receipt) mark.receipt_server_ms = (*receipt)->server_ms;
    add_shift_open(e.device, mark);
    return Status::ok();
  }
  if (e.kind == kResolution) {
    // Authority comes from the signer: the same kind from anyone else decides nothing.
    if (e.device != signer_) return Status::ok();
    SB_ASSIGN_OR_RETURN(Resolution r, resolution_of(e));
    add_resolution(std::move(r));
    return Status::ok();
  }
  SB_ASSIGN_OR_RETURN(std::optional<Version> v, version_of(e));
  if (v) add_version(std::move(*v));
  return Status::ok();
}

void MergeSet::add_version(Version v) {
  const Hash hash = v.hash;
  if (nodes_.contains(hash)) return;
  v.trusted_after_ms.reset();
  const std::optional<Hash> target = v.target;
  const bool is_root = v.kind == VersionKind::kRoot;
  Node node;
  node.seq = v.seq;
  auto device = device_ids_.find(v.device);
  if (device == device_ids_.end()) {
    device = device_ids_.emplace(v.device, static_cast<std::uint32_t>(devices_.size())).first;
    devices_.push_back(v.device);
  }
  node.device = device->second;
  auto kind = std::find(entry_kinds_.begin(), entry_kinds_.end(), v.entry_kind);
  if (kind == entry_kinds_.end()) kind = entry_kinds_.insert(kind, v.entry_kind);
  node.entry_kind = static_cast<std::uint8_t>(kind - entry_kinds_.begin());
  node.kind = v.kind;
  node.target = v.target;
  // A body that has no canonical encoding (a caller's made-up value) stays a Json value.
  if (!v.body.is_null() && !encode_value(v.body, node.body).is_ok()) node.json = std::make_unique<Json>(std::move(v.body));
  node.body.shrink_to_fit();
  nodes_.emplace(hash, std::move(node));
  if (is_root) {
    attach(hash, hash);
    return;
  }
  if (!target) return;  // a correction or void without a target reaches no root: an orphan for good
  children_[*target].push_back(hash);
  auto parent = nodes_.find(*target);
  if (parent != nodes_.end() && parent->second.root) attach(hash, *parent->second.root);
}

// Attaches `hash` and every version waiting below it to the entry of `root`.
void MergeSet::attach(const Hash& hash, const Hash& root) {
  std::vector<Hash> todo{hash};
  while (!todo.empty()) {
    const Hash h = todo.back();
    todo.pop_back();
    Node& node = nodes_.at(h);
    if (node.root) continue;
    node.root = root;
    roots_by_seq_[devices_[node.device]][node.seq] = root;
    auto kids = children_.find(h);
    if (kids == children_.end()) continue;
    for (const Hash& k : kids->second) todo.push_back(k);
  }
  mark(root);
}

void MergeSet::mark(const Hash& root) {
  changed_.push_back(root);
  // Repeats are dropped now and then, so the list never holds many more than the entries.
  if (changed_.size() > 64 && changed_.size() > 2 * nodes_.size()) {
    std::sort(changed_.begin(), changed_.end());
    changed_.erase(std::unique(changed_.begin(), changed_.end()), changed_.end());
  }
}

void MergeSet::add_shift_open(const PublicKey& device, ShiftOpenMark mark_of) {
  if (!insert_shift_open(shift_opens_[device], mark_of)) return;
  // Only versions at or after it can take their trusted time from it: in a chain pulled in order,
  // none yet.
  auto roots = roots_by_seq_.find(device);
  if (roots == roots_by_seq_.end()) return;
  for (auto it = roots->second.lower_bound(mark_of.seq); it != roots->second.end(); ++it) mark(it->second);
}

void MergeSet::add_resolution(Resolution r) {
  if (!resolution_hashes_.insert(r.hash).second) return;
  const Hash fork = r.fork;
  resolutions_[fork].push_back(std::move(r));
  auto node = nodes_.find(fork);
  if (node != nodes_.end() && node->second.root) mark(*node->second.root);
}

std::vector<Hash> MergeSet::roots() const {
  std::vector<Hash> out;
  for (const auto& [h, node] : nodes_) {
    if (node.kind == VersionKind::kRoot) out.push_back(h);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Hash> MergeSet::members(const Hash& root) const {
  // Attaching walks the same edges, so what is reached is exactly what is attached to `root`;
  // each version names one target, so nothing is reached twice.
  std::vector<Hash> out{root};
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto kids = children_.find(out[i]);
    if (kids == children_.end()) continue;
    for (const Hash& k : kids->second) {
      auto node = nodes_.find(k);
      if (node != nodes_.end() && node->second.root == root) out.push_back(k);
    }
  }
  return out;
}

Result<Version> MergeSet::version_at(const Hash& hash, const Node& node) const {
  Version v;
  v.hash = hash;
  v.device = devices_[node.device];
  v.seq = node.seq;
  v.kind = node.kind;
  v.entry_kind = entry_kinds_[node.entry_kind];
  v.target = node.target;
  if (node.json) {
    v.body = *node.json;
  } else if (!node.body.empty()) {
    // It was encoded here, so it decodes.
    SB_ASSIGN_OR_RETURN(v.body, decode_value(node.body));
  }
  return v;
}

Result<EntryState> MergeSet::compute(const Hash& root) const {
  std::vector<Version> versions;
  std::vector<Resolution> resolutions;
  for (const Hash& h : members(root)) {
    SB_ASSIGN_OR_RETURN(Version v, version_at(h, nodes_.at(h)));
    auto marks = shift_opens_.find(v.device);
    if (marks != shift_opens_.end()) v.trusted_after_ms = trusted_after_sorted(marks->second, v.seq);
    versions.push_back(std::move(v));
    auto rs = resolutions_.find(h);
    if (rs != resolutions_.end()) resolutions.insert(resolutions.end(), rs->second.begin(), rs->second.end());
  }
  return merge_entry(versions, resolutions);
}

Result<EntryState> MergeSet::state(const Hash& root) const {
  auto node = nodes_.find(root);
  if (node == nodes_.end() || node->second.kind != VersionKind::kRoot) {
    return not_found("no entry recorded by event " + to_hex(root) + " is known here");
  }
  return compute(root);
}

std::map<Hash, EntryState> MergeSet::states() const {
  std::map<Hash, EntryState> out;
  for (const Hash& r : roots()) {
    // A root the set holds always has a state: merge_entry fails only without exactly one root,
    // and an entry's members hold exactly its own.
    auto s = compute(r);
    if (s.is_ok()) out.emplace_hint(out.end(), r, std::move(*s));
  }
  return out;
}

std::map<Hash, EntryState> MergeSet::take_changed() {
  std::map<Hash, EntryState> out;
  for (const Hash& r : take_changed_roots()) {
    auto s = state(r);
    if (s.is_ok()) out.emplace_hint(out.end(), r, std::move(*s));
  }
  return out;
}

std::vector<Hash> MergeSet::take_changed_roots() {
  std::vector<Hash> out;
  out.swap(changed_);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<Hash> MergeSet::root_of(const Hash& version) const {
  auto node = nodes_.find(version);
  if (node == nodes_.end()) return std::nullopt;
  return node->second.root;
}

std::map<Hash, Hash> MergeSet::orphans() const {
  std::map<Hash, Hash> out;
  for (const auto& [h, node] : nodes_) {
    if (node.root || !node.target) continue;
    // Up the targets to the first hash the set does not hold; at most one step per held version,
    // so a cycle of made-up targets ends too.
    Hash missing = *node.target;
    for (std::size_t steps = 0; steps <= nodes_.size(); ++steps) {
      auto up = nodes_.find(missing);
      if (up == nodes_.end() || !up->second.target) break;
      missing = *up->second.target;
    }
    out.emplace(h, missing);
  }
  return out;
}

std::vector<Hash> MergeSet::pending_resolutions() const {
  std::vector<Hash> out;
  for (const auto& [fork, rs] : resolutions_) {
    auto node = nodes_.find(fork);
    if (node != nodes_.end() && node->second.root) continue;
    for (const Resolution& r : rs) out.push_back(r.hash);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string describe(const EntryState& s) {
  auto short_hash = [](const Hash& h) { return to_hex(ByteView(h.data(), 4)); };
  std::string out = "root=" + short_hash(s.root) + " current=" + short_hash(s.current) +
                    " void=" + (s.is_void ? "1" : "0") + " path=" + std::to_string(s.path_length) +
                    " versions=" + std::to_string(s.versions) + " conflicts=[";
  for (std::size_t i = 0; i < s.conflicts.size(); ++i) {
    const Conflict& c = s.conflicts[i];
    if (i > 0) out += ' ';
    out += short_hash(c.fork);
    out += ':';
    out += std::to_string(c.children.size());
    out += "->";
    out += short_hash(c.winner);
    out += c.chosen_by == ChosenBy::kResolution ? "/resolution" : "/rule";
    out += c.resolved ? "/resolved" : "/open";
  }
  out += "] orphans=" + std::to_string(s.orphans.size()) + " past_void=" + std::to_string(s.past_void.size());
  return out;
}

}  // namespace shiftbook
