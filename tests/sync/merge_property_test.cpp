// The merge's central property (docs/MERGE.md, "Purity"): the state is a function of the set of
// events. Random seeded histories (trees of corrections and voids from several devices, trusted
// times with ties and absences, resolutions good and bad, versions whose target never comes) are
// fed to a MergeSet in several random arrival orders, children before parents included, with
// states read in between; every order must give the same states, equal to merge_entry on the
// whole set, and a projection updated only from take_changed() must end equal to them too. SHIFTBOOK_MERGE_SEED replays one history; the seed is printed on failure.
#include "shiftbook/merge.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <variant>
#include <vector>

using namespace shiftbook;

namespace {

constexpr std::uint64_t kFirstSeed = 20261123;
constexpr int kHistories = 300;
constexpr int kOrders = 5;

struct Mark {
  PublicKey device;
  ShiftOpenMark mark;
};
using Item = std::variant<Version, Mark, Resolution>;

struct History {
  std::vector<Item> items;
  std::map<Hash, std::vector<Version>> entries;  // root -> its versions (orphans excluded)
  std::vector<Version> orphans;                  // their targets never arrive
  std::map<PublicKey, std::vector<ShiftOpenMark>> marks;
  std::vector<Resolution> resolutions;
};

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  History history() {
    History out;
    const int devices = pick(2, 4);
    std::vector<std::uint64_t> next_seq(static_cast<std::size_t>(devices), 1);
    auto take_seq = [&](int d) { return next_seq[static_cast<std::size_t>(d)]++; };

    const int entries = pick(1, 5);
    for (int e = 0; e < entries; ++e) {
      std::vector<Version> versions;
      Version r;
      r.hash = fresh_hash();
      r.device = device(pick(0, devices - 1));
      r.seq = take_seq(r.device[0]);
      r.entry_kind = pick(0, 3) == 0 ? "output" : "hours";
      r.body = Json{{"end", pick(1, 1440)}};
      versions.push_back(r);
      const int more = pick(0, 9);
      for (int i = 0; i < more; ++i) {
        // Mostly on versions that are not voids; now and then below a void, as a broken
        // terminal might.
        const Version& target = versions[static_cast<std::size_t>(pick(0, static_cast<int>(versions.size()) - 1))];
        if (target.kind == VersionKind::kVoid && pick(0, 4) != 0) continue;
        Version v;
        v.hash = fresh_hash();
        const int d = pick(0, devices - 1);
        v.device = device(d);
        v.seq = take_seq(d);
        v.kind = pick(0, 5) == 0 ? VersionKind::kVoid : VersionKind::kCorrection;
        v.target = target.hash;
        v.body = v.kind == VersionKind::kVoid ? Json(nullptr) : Json{{"end", pick(1, 1440)}};
        versions.push_back(v);
      }
      for (const Version& v : versions) out.items.emplace_back(v);
      add_resolutions(versions, out);
      out.entries[r.hash] = std::move(versions);
    }
    // Versions whose target never arrives: an orphan, and one below it.
    if (pick(0, 2) == 0) {
      Version o;
      o.hash = fresh_hash();
      o.device = device(0);
      o.seq = take_seq(0);
      o.kind = VersionKind::kCorrection;
      o.target = fresh_hash();
      o.body = Json{{"end", 1}};
      Version below = o;
      below.hash = fresh_hash();
      below.seq = take_seq(0);
      below.target = o.hash;
      out.orphans = {o, below};
      out.items.emplace_back(o);
      out.items.emplace_back(below);
    }
    // Shift_opens at random seqs, from a few receipt times so that ties happen, some naming none.
    for (int d = 0; d < devices; ++d) {
      const std::uint64_t last = next_seq[static_cast<std::size_t>(d)];
      const int opens = pick(0, 4);
      for (int i = 0; i < opens; ++i) {
        Mark m{device(d), {static_cast<std::uint64_t>(pick(1, static_cast<int>(last))), std::nullopt}};
        if (pick(0, 3) != 0) m.mark.receipt_server_ms = 1000 * pick(1, 3);
        out.items.emplace_back(m);
        out.marks[m.device].push_back(m.mark);
      }
    }
    return out;
  }

  template <typename T>
  void shuffle(std::vector<T>& v) {
    std::shuffle(v.begin(), v.end(), rng_);
  }
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

 private:
  // Resolutions for some versions with children: a child or a stranger as winner, some or all of
  // the other children as losers, from a signer seq that may come before or after another.
  void add_resolutions(const std::vector<Version>& versions, History& out) {
    for (const Version& parent : versions) {
      std::vector<Hash> kids;
      for (const Version& v : versions) {
        if (v.target == parent.hash) kids.push_back(v.hash);
      }
      if (kids.empty() || pick(0, 2) != 0) continue;
      const int count = pick(1, 2);
      for (int i = 0; i < count; ++i) {
        Resolution r;
        r.signer_seq = static_cast<std::uint64_t>(++signer_seq_ + pick(0, 3));
        r.hash = fresh_hash();
        r.fork = parent.hash;
        const auto child = static_cast<std::size_t>(pick(0, static_cast<int>(kids.size()) - 1));
        r.winner = pick(0, 4) == 0 ? fresh_hash() : kids[child];
        for (const Hash& k : kids) {
          if (k != r.winner && pick(0, 3) != 0) r.losers.push_back(k);
        }
        out.items.emplace_back(r);
        out.resolutions.push_back(r);
      }
    }
  }

  Hash fresh_hash() {
    Hash x{};
    for (auto& b : x) b = static_cast<std::uint8_t>(pick(0, 255));
    return x;
  }
  static PublicKey device(int d) {
    PublicKey k{};
    k.fill(static_cast<std::uint8_t>(d));
    return k;
  }

  std::mt19937_64 rng_;
  std::uint64_t signer_seq_ = 0;
};

void feed(MergeSet& set, const Item& item) {
  if (const auto* v = std::get_if<Version>(&item)) {
    set.add_version(*v);
  } else if (const auto* m = std::get_if<Mark>(&item)) {
    set.add_shift_open(m->device, m->mark);
  } else {
    set.add_resolution(std::get<Resolution>(item));
  }
}

// merge_entry on the whole set, with trusted times from every shift_open.
std::map<Hash, EntryState> expected_states(const History& hist) {
  std::map<Hash, EntryState> out;
  for (const auto& [root, versions] : hist.entries) {
    std::vector<Version> with_times = versions;
    for (Version& v : with_times) {
      auto marks = hist.marks.find(v.device);
      if (marks != hist.marks.end()) v.trusted_after_ms = trusted_after(marks->second, v.seq);
    }
    auto s = merge_entry(with_times, hist.resolutions);
    REQUIRE_MESSAGE(s.is_ok(), s.status().to_string());
    out.emplace(root, *s);
  }
  return out;
}

std::uint64_t first_seed() {
  const char* env = std::getenv("SHIFTBOOK_MERGE_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : kFirstSeed;
}

}  // namespace

TEST_CASE("merge: the state depends on the set of events only, never on their arrival order") {
  const bool replay = std::getenv("SHIFTBOOK_MERGE_SEED") != nullptr;
  const std::uint64_t start = first_seed();
  std::size_t forks = 0, resolved = 0, voids = 0, orphans = 0;
  for (int i = 0; i < (replay ? 1 : kHistories); ++i) {
    const std::uint64_t seed = start + static_cast<std::uint64_t>(i);
    CAPTURE(seed);  // SHIFTBOOK_MERGE_SEED=<seed> replays this history alone
    Generator gen(seed);
    const History hist = gen.history();
    const std::map<Hash, EntryState> expected = expected_states(hist);

    for (int order = 0; order < kOrders; ++order) {
      std::vector<Item> items = hist.items;
      if (order == 1) {
        std::reverse(items.begin(), items.end());  // every child before its parent
      } else if (order > 1) {
        gen.shuffle(items);
      }
      MergeSet set(PublicKey{});
      // A replica's projection, kept only from what take_changed answers, as a store keeps it.
      std::map<Hash, EntryState> projection;
      auto project = [&] {
        for (auto& [root, s] : set.take_changed()) projection[root] = std::move(s);
      };
      for (const Item& item : items) {
        feed(set, item);
        // Read states now and then, so that what is recomputed incrementally is checked too.
        const int read = gen.pick(0, 5);
        if (read == 0) (void)set.states();
        if (read == 1) project();
      }
      // The same events again change nothing.
      if (order == kOrders - 1) {
        for (const Item& item : hist.items) feed(set, item);
      }
      CAPTURE(order);
      const std::map<Hash, EntryState> got = set.states();
      REQUIRE(got.size() == expected.size());
      for (const auto& item : expected) {
        const Hash& root = item.first;
        const EntryState& want = item.second;
        auto it = got.find(root);
        REQUIRE(it != got.end());
        CHECK_MESSAGE(it->second == want, "got  " << describe(it->second) << "\nwant " << describe(want));
      }
      project();
      CHECK(projection == expected);
      std::map<Hash, Hash> waiting = set.orphans();
      CHECK(waiting.size() == hist.orphans.size());
      for (const Version& o : hist.orphans) CHECK(waiting.contains(o.hash));
    }
    for (const auto& [root, s] : expected) {
      forks += s.conflicts.size();
      for (const Conflict& c : s.conflicts) resolved += c.chosen_by == ChosenBy::kResolution ? 1 : 0;
      voids += s.is_void ? 1 : 0;
    }
    orphans += hist.orphans.size();
  }
  // The histories reach every case they are for.
  if (!replay) {
    MESSAGE("forks " << forks << ", decided by resolution " << resolved << ", void entries " << voids
                     << ", orphans " << orphans);
    CHECK(forks > 100);
    CHECK(resolved > 20);
    CHECK(voids > 20);
    CHECK(orphans > 20);
  }
}

TEST_CASE("merge: merge_entry does not depend on the order of its inputs") {
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t seed = first_seed() + 1000 + static_cast<std::uint64_t>(i);
    CAPTURE(seed);
    Generator gen(seed);
    const History hist = gen.history();
    for (const auto& [root, versions] : hist.entries) {
      std::vector<Version> v = versions;
      std::vector<Resolution> r = hist.resolutions;
      for (std::size_t k = 0; k < v.size(); ++k) v[k].trusted_after_ms = gen.pick(0, 2) * 1000;
      auto first = merge_entry(v, r);
      REQUIRE(first.is_ok());
      gen.shuffle(v);
      gen.shuffle(r);
      auto second = merge_entry(v, r);
      REQUIRE(second.is_ok());
      CHECK(*first == *second);
    }
  }
}
