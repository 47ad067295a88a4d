#include "sim_world.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <vector>

#include "service.h"
#include "shiftbook/bytes.h"
#include "shiftbook/clock.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"
#include "shiftbook/ledger.h"
#include "storage.h"
#include "sync_client.h"

namespace shiftbook::sim {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSite = "S1";
constexpr const char* kLeader = "L1";
constexpr const char* kLeaderPin = "1357";
constexpr int kWorkers = 8;
constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kDayMs = 86'400'000;
constexpr int kCatchUpRounds = 12;  // rounds of syncs at the end; a run that needs more has stalled
const char* const kPeriods[][3] = {{"2026-11", "2026-11-01", "2026-11-30"},
                                   {"2026-12", "2026-12-01", "2026-12-31"},
                                   {"2027-01", "2027-01-01", "2027-01-31"}};
const char* const kBonusTypes[] = {"special_environment", "skill_upgrade", "innovation"};

std::string unit_name(int u) { return "U" + std::to_string(u + 1); }
std::string worker_name(int w) { return "W" + std::to_string(w + 1); }

// What one version of an entry says.
struct Values {
  std::string worker;
  std::int64_t start = 0, end = 0;
  bool special = false;
  std::string product;
  std::int64_t quantity = 0;
  std::string bonus_type;
};

// One version the simulation made: the original, a correction or a void, with the trusted after
// time its terminal's latest shift_open gave it (docs/MERGE.md section 3).
struct TruthVersion {
  std::optional<Hash> target;  // absent for the original
  bool is_void = false;
  Values values;               // a void's: those of the version it voids
  std::optional<std::int64_t> after_ms;
  std::uint64_t made = 0;  // the order the simulation made its versions in (hashes differ from run to run)
};

// Head office's latest decision of one fork: the winner, and the children it named.
struct Decision {
  Hash winner{};
  std::set<Hash> named;
};

// The ground truth of one entry: every version the simulation made of it, and head office's
// decisions of its forks. Its current state follows from them by the simulation's own reading of
// the merge rules (current_of), not by the code under test.
struct Truth {
  std::string kind;  // hours, output, bonus
  PublicKey device{};
  std::string unit;
  std::int64_t day = 0;
  Hash root{};
  std::map<Hash, TruthVersion> versions;
  std::map<Hash, Decision> decided;  // fork -> head office's latest decision
};

// What the entry shows by the merge rules: walk from the original, at a fork taking head office's
// choice or else the child with the latest trusted after time (none is earliest), ties to the
// lower hash; a void ends the walk (the entry is void and shows what it voided).
struct Current {
  Hash shown{};
  bool is_void = false;
  const Values* values = nullptr;
};
Current current_of(const Truth& t) {
  std::map<Hash, std::vector<Hash>> children;
  for (const auto& [h, v] : t.versions) {
    if (v.target) children[*v.target].push_back(h);
  }
  Hash at = t.root;
  for (;;) {
    auto kids = children.find(at);
    if (kids == children.end()) return Current{at, false, &t.versions.at(at).values};
    const std::vector<Hash>& c = kids->second;
    Hash winner = c.front();
    auto decided = t.decided.find(at);
    if (decided != t.decided.end() && std::find(c.begin(), c.end(), decided->second.winner) != c.end()) {
      winner = decided->second.winner;
    } else {
      for (const Hash& h : c) {
        const auto& a = t.versions.at(h).after_ms;
        const auto& b = t.versions.at(winner).after_ms;
        if (a != b ? (a && (!b || *a > *b)) : h < winner) winner = h;
      }
    }
    if (t.versions.at(winner).is_void) return Current{at, true, &t.versions.at(at).values};
    at = winner;
  }
}

// The children of `fork` in the order the simulation made them.
std::vector<Hash> children_of(const Truth& t, const Hash& fork) {
  std::vector<std::pair<std::uint64_t, Hash>> kids;
  for (const auto& [h, v] : t.versions) {
    if (v.target == fork) kids.emplace_back(v.made, h);
  }
  std::sort(kids.begin(), kids.end());
  std::vector<Hash> out;
  for (const auto& k : kids) out.push_back(k.second);
  return out;
}

// A fork is open until head office's latest decision of it names every child.
bool is_open(const Truth& t, const Hash& fork) {
  auto d = t.decided.find(fork);
  if (d == t.decided.end()) return true;
  for (const Hash& c : children_of(t, fork)) {
    if (!d->second.named.count(c)) return true;
  }
  return false;
}

// The forks of an entry: versions with several children.
std::vector<Hash> forks_of(const Truth& t) {
  std::map<Hash, int> children;
  for (const auto& [h, v] : t.versions) {
    if (v.target) ++children[*v.target];
  }
  std::vector<Hash> out;
  for (const auto& [h, n] : children) {
    if (n > 1) out.push_back(h);
  }
  return out;
}

// What a terminal last showed of an entry, for monotonic reads: how many versions it held.
struct Seen {
  std::size_t versions = 0;
};

class SimFailure {
 public:
  explicit SimFailure(std::string what) : what_(std::move(what)) {}
  const std::string& what() const { return what_; }

 private:
  std::string what_;
};

class World;

// The network between one terminal and the head office: calls the Service directly, through the
// same wire bytes as HTTP, and loses requests or answers as the world says.
class Link final : public client::Transport {
 public:
  Link(World& world, int terminal) : world_(world), terminal_(terminal) {}
  Result<client::HttpReply> get(const std::string& path) override;
  Result<client::HttpReply> post(const std::string& path, ByteView body) override;
  const std::string& url() const override { return url_; }

 private:
  World& world_;
  int terminal_;
  std::string url_ = "http://head-office.sim";
};

struct Terminal {
  int index = 0;
  std::string dir;
  std::vector<std::string> units;
  std::unique_ptr<FakeClock> clock;
  std::unique_ptr<client::Store> store;
  std::unique_ptr<Link> link;
  PublicKey device{};
  bool online = true;
  std::int64_t skew_ms = 0;     // the terminal's clock minus the simulation's time
  std::optional<Hash> shift;    // its open shift
  // The receipt time its latest shift_open named (docs/MERGE.md section 3): outer empty before its
  // first shift, inner empty when that shift_open named no receipt.
  std::optional<std::optional<std::int64_t>> opened_with;
  std::map<Hash, Seen> seen;    // entries it has shown, by root
};

class World {
 public:
  World(const SimOptions& options, std::ostream* log) : o_(options), log_(log), rng_(options.seed) {}

  SimFigures run();
  bool lose(int percent) { return percent > 0 && std::uniform_int_distribution<int>(0, 99)(rng_) < percent; }
  int lose_request_percent() const { return faults_ ? o_.lose_request_percent : 0; }
  int lose_answer_percent() const { return faults_ ? o_.lose_answer_percent : 0; }
  server::Service& service() { return *service_; }
  Terminal& terminal(int i) { return terminals_[static_cast<std::size_t>(i)]; }
  SimFigures& figures() { return f_; }

 private:
  // ---- set-up
  void make_folder();
  void open_server();
  void put_reference();
  void add_terminal(int i);
  // ---- actions
  void step(int n);
  void record(Terminal& t);
  void correct(Terminal& t, bool make_void);
  void sync(Terminal& t, bool faults);
  void restart(Terminal& t);
  void jump_clock(Terminal& t);
  void login(Terminal& t);
  // ---- checks
  void check_read_own(Terminal& t, const Hash& root, const Hash& written, bool is_void);
  void check_monotonic(Terminal& t);
  void catch_up();
  void check_replicas();
  void resolve();
  void check_entries(Terminal& t);
  void check_server();
  void check_totals(Terminal& t);

  std::int64_t now() const { return now_ms_; }
  std::int64_t today() const { return now_ms_ / kDayMs; }
  void set_clock(Terminal& t) { t.clock->set(std::max<std::int64_t>(now_ms_ + t.skew_ms, 1)); }
  int draw(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  void note(const std::string& line) {
    if (log_) *log_ << "step " << step_ << ": " << line << "\n";
  }
  [[noreturn]] void fail(const std::string& what) {
    throw SimFailure("seed " + std::to_string(o_.seed) + ", step " + std::to_string(step_) + ": " + what);
  }
  template <typename T>
  T must(Result<T> r, const std::string& what) {
    if (!r.is_ok()) fail(what + ": " + r.status().to_string());
    return std::move(r).value();
  }
  void must(const Status& s, const std::string& what) {
    if (!s.is_ok()) fail(what + ": " + s.to_string());
  }

  SimOptions o_;
  std::ostream* log_;
  std::mt19937_64 rng_;
  SimFigures f_;
  int step_ = 0;
  std::int64_t now_ms_ = 0;
  std::string folder_;
  DeviceKey server_key_ = DeviceKey::generate();
  FakeClock server_clock_{0};
  std::unique_ptr<server::Service> service_;
  std::vector<Terminal> terminals_;
  std::map<Hash, Truth> truth_;            // by root
  std::uint64_t made_ = 0;                 // versions made so far
  std::map<std::string, std::vector<Hash>> recorded_;  // roots by unit, in the order they were recorded
  std::string pin_hash_;
  bool faults_ = true;       // whether the links lose requests and answers now
  bool last_moved_ = false;  // whether the last sync moved anything
};

Result<client::HttpReply> Link::get(const std::string& path) {
  if (!world_.terminal(terminal_).online) return unavailable("cannot reach " + url_ + ": the terminal is offline");
  if (path != "/v1/hello") return client::HttpReply{404, "", ""};
  server::Reply r = world_.service().hello();
  return client::HttpReply{r.http_status, r.body, ""};
}

Result<client::HttpReply> Link::post(const std::string& path, ByteView body) {
  if (!world_.terminal(terminal_).online) return unavailable("cannot reach " + url_ + ": the terminal is offline");
  const bool is_sync = path == "/v1/sync";
  if (is_sync && world_.lose(world_.lose_request_percent())) {
    ++world_.figures().lost_requests;
    return unavailable("the request to " + url_ + " was lost");
  }
  server::Reply r = is_sync ? world_.service().sync(body, "sim") : world_.service().enroll(body, "sim");
  if (is_sync && world_.lose(world_.lose_answer_percent())) {
    ++world_.figures().lost_answers;
    return unavailable("the answer from " + url_ + " was lost");
  }
  return client::HttpReply{r.http_status, std::move(r.body),
                           r.retry_after_seconds > 0 ? std::to_string(r.retry_after_seconds) : ""};
}

// ---- set-up ------------------------------------------------------------------------------------

void World::make_folder() {
  std::string parent = o_.dir;
  if (parent.empty()) parent = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  std::string pattern = (fs::path(parent) / "shiftbook-sim-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) fail("cannot make a folder under " + parent);
  folder_ = pattern;
}

void World::open_server() {
  service_.reset();
  auto storage = must(server::open_sqlite_storage(folder_ + "/server.db", !fs::exists(folder_ + "/server.db")),
                      "opening the head office's store");
  server::ServiceOptions options;
  options.enroll_window_ms = 0;
  service_ = std::make_unique<server::Service>(std::move(storage), must(DeviceKey::from_secret(server_key_.secret()), "the server key"),
                                               server_clock_, options);
}

void World::put_reference() {
  auto put = [&](const char* kind, Json body) { must(service_->put_reference(kind, std::move(body)).status(), kind); };
  put("ref_site", {{"id", kSite}, {"name", "Simulated plant"}, {"tz", "UTC"}});
  for (int u = 0; u < o_.units; ++u) put("ref_unit", {{"id", unit_name(u)}, {"site", kSite}, {"name", "Unit " + unit_name(u)}});
  for (const auto& p : kPeriods) put("ref_period", {{"id", p[0]}, {"start", p[1]}, {"end", p[2]}});
  put("ref_product", {{"id", "P1"}, {"name", "Bracket"}, {"unit", "pcs"}, {"decimals", 0}});
  put("ref_product", {{"id", "P2"}, {"name", "Powder coat"}, {"unit", "kg"}, {"decimals", 3}});
  for (int w = 0; w < kWorkers; ++w) {
    put("ref_worker", {{"id", worker_name(w)}, {"site", kSite}, {"name", "Worker " + worker_name(w)},
                       {"pin_hash", pin_hash_}, {"active", true}});
  }
  put("ref_leader", {{"id", kLeader}, {"site", kSite}, {"name", "Lena"}, {"pin_hash", pin_hash_}, {"active", true}});
  for (int u = 0; u < o_.units; ++u) {
    for (const auto& p : kPeriods) {
      put("ref_quota", {{"unit", unit_name(u)}, {"period", p[0]}, {"product", "P1"}, {"quantity", 2000}, {"version", 1}});
    }
  }
}

void World::add_terminal(int i) {
  Terminal& t = terminals_[static_cast<std::size_t>(i)];
  t.index = i;
  t.dir = folder_ + "/t" + std::to_string(i + 1);
  t.units = {unit_name(i % o_.units)};
  // Every fifth terminal serves two units: its chain is seen by the terminals of both.
  if (i % 5 == 4 && o_.units > 1) t.units.push_back(unit_name((i + 1) % o_.units));
  t.clock = std::make_unique<FakeClock>(now_ms_);
  client::StoreOptions options;
  options.pin_cost = PinCost::kMinimum;
  t.store = must(client::Store::init(t.dir, *t.clock, options), "a terminal store");
  t.device = t.store->device();
  t.link = std::make_unique<Link>(*this, i);
  const std::string code = must(service_->create_code(kSite, t.units, 30 * kDayMs), "an enrollment code");
  client::EnrollReport report;
  must(client::enroll(*t.store, *t.link, code, report), "enrolling terminal " + std::to_string(i + 1));
}

// ---- actions -----------------------------------------------------------------------------------

void World::login(Terminal& t) {
  if (t.store->session().is_ok()) return;
  must(t.store->login(kLeader, kLeaderPin).status(), "logging in on terminal " + std::to_string(t.index + 1));
}

void World::check_read_own(Terminal& t, const Hash& root, const Hash& written, bool is_void) {
  const Json shown = must(t.store->show_entry(to_hex(root)), "terminal " + std::to_string(t.index + 1) +
                                                                 " reading the entry it just wrote");
  // What it wrote supersedes the version it showed, so it is what it shows now (a void: the entry
  // is void and shows the version voided).
  const Json& entry = shown["entry"];
  const Hash expected = is_void ? *truth_.at(root).versions.at(written).target : written;
  if (entry["void"].get<bool>() != is_void || entry["head"] != to_hex(expected)) {
    fail("terminal " + std::to_string(t.index + 1) + " does not read its own write of entry " + to_hex(root).substr(0, 8));
  }
  t.seen[root] = Seen{shown["versions"].size()};
}

void World::record(Terminal& t) {
  login(t);
  if (!t.shift) {
    const std::string unit = t.units[static_cast<std::size_t>(draw(0, static_cast<int>(t.units.size()) - 1))];
    auto opened = t.store->open_shift(unit, today(), std::nullopt);
    if (!opened.is_ok()) {
      ++f_.refused;
      note("terminal " + std::to_string(t.index + 1) + " could not open a shift: " + opened.status().to_string());
      return;
    }
    t.shift = opened->hash;
    // The receipt its shift_open names, read from the signed event itself.
    const Event open = must(decode_event(must(t.store->raw_events(t.device), "the terminal's events").back()),
                            "the shift_open just written");
    const std::optional<Receipt> receipt = must(shift_open_receipt(open.body, t.device), "the shift_open's receipt");
    t.opened_with = receipt ? std::optional<std::int64_t>(receipt->server_ms) : std::nullopt;
  }
  const std::string shift_ref = to_hex(*t.shift);
  Truth truth;
  truth.device = t.device;
  Values v;
  const int what = draw(0, 9);
  Result<client::Recorded> r = internal_error("nothing recorded");
  if (what < 4) {
    truth.kind = "hours";
    v.worker = worker_name(draw(0, kWorkers - 1));
    v.start = draw(0, 92) * 15;
    v.end = v.start + draw(2, 40) * 15;
    v.special = draw(0, 3) == 0;
    r = t.store->log_hours(shift_ref, v.worker, v.start, v.end, v.special);
  } else if (what < 8) {
    truth.kind = "output";
    v.product = draw(0, 2) == 0 ? "P2" : "P1";
    v.quantity = draw(1, 400) * (v.product == "P2" ? 250 : 1);
    r = t.store->log_output(shift_ref, v.product, v.quantity);
  } else {
    truth.kind = "bonus";
    v.worker = worker_name(draw(0, kWorkers - 1));
    v.bonus_type = kBonusTypes[draw(0, 2)];
    r = t.store->log_bonus(shift_ref, v.worker, v.bonus_type, std::nullopt);
  }
  if (!r.is_ok()) {
    if (r.status().code() != Code::kFailedPrecondition && r.status().code() != Code::kInvalidArgument) {
      fail("terminal " + std::to_string(t.index + 1) + " failed to record: " + r.status().to_string());
    }
    ++f_.refused;
    return;
  }
  const Json shown = must(t.store->show_entry(to_hex(r->hash)), "reading the entry just recorded")["entry"];
  truth.unit = shown["unit"].get<std::string>();
  truth.day = must(parse_date(shown["date"].get<std::string>()), "the entry's date");
  truth.root = r->hash;
  truth.versions[r->hash] = TruthVersion{std::nullopt, false, v, *t.opened_with, ++made_};
  truth_[r->hash] = truth;
  recorded_[truth.unit].push_back(r->hash);
  ++f_.entries;
  check_read_own(t, r->hash, r->hash, false);
}

void World::correct(Terminal& t, bool make_void) {
  login(t);
  // An entry of one of its units, picked by the order of recording, not by hash: keys, and so
  // hashes, differ from run to run. The terminal corrects what it shows, which another terminal
  // may have corrected too without either seeing the other's: a fork, for the merge rules.
  const std::vector<Hash>& candidates = recorded_[t.units[static_cast<std::size_t>(draw(0, static_cast<int>(t.units.size()) - 1))]];
  if (candidates.empty()) return;
  const Hash root = candidates[static_cast<std::size_t>(draw(0, static_cast<int>(candidates.size()) - 1))];
  Truth& truth = truth_.at(root);
  auto shown = t.store->show_entry(to_hex(root));
  if (!shown.is_ok() || (*shown)["entry"]["void"].get<bool>()) return;  // not pulled yet, or void
  const Hash head = must(array_from_hex<32>((*shown)["entry"]["head"].get<std::string>()), "the entry's head");
  auto base = truth.versions.find(head);
  if (base == truth.versions.end()) fail("terminal " + std::to_string(t.index + 1) + " shows a version nobody made");
  const bool forks = std::any_of(truth.versions.begin(), truth.versions.end(),
                                 [&](const auto& v) { return v.second.target == head; });
  Values next = base->second.values;
  Result<client::Recorded> r = internal_error("nothing recorded");
  if (make_void) {
    r = t.store->void_entry(to_hex(root), "simulated mistake");
  } else {
    Json changes;
    if (truth.kind == "hours") {
      next.end = next.start + draw(2, 40) * 15;
      if (next.end == base->second.values.end) next.end += 15;
      changes["end"] = next.end;
    } else if (truth.kind == "output") {
      next.quantity += draw(1, 50) * (next.product == "P2" ? 250 : 1);
      changes["quantity"] = next.quantity;
    } else {
      next.bonus_type = kBonusTypes[(std::find(std::begin(kBonusTypes), std::end(kBonusTypes), next.bonus_type) -
                                     std::begin(kBonusTypes) + 1) % 3];
      changes["type"] = next.bonus_type;
    }
    r = t.store->correct(to_hex(root), changes, "simulated correction");
  }
  if (!r.is_ok()) {
    if (r.status().code() != Code::kFailedPrecondition && r.status().code() != Code::kInvalidArgument) {
      fail("terminal " + std::to_string(t.index + 1) + " failed to correct: " + r.status().to_string());
    }
    ++f_.refused;
    return;
  }
  truth.versions[r->hash] = TruthVersion{head, make_void, next, t.opened_with ? *t.opened_with : std::nullopt, ++made_};
  ++(make_void ? f_.voids : f_.corrections);
  if (truth.device != t.device) ++f_.cross_corrections;
  if (forks) ++f_.forked_changes;
  check_read_own(t, root, r->hash, make_void);
}

void World::sync(Terminal& t, bool faults) {
  set_clock(t);
  server_clock_.set(now_ms_);
  ++f_.syncs;
  client::SyncReport report;
  faults_ = faults;
  Status s = client::sync(*t.store, *t.link, *t.clock, report);
  faults_ = true;
  if (!s.is_ok()) {
    if (report.outcome != client::SyncOutcome::kUnreachable) {
      fail("terminal " + std::to_string(t.index + 1) + "'s sync failed other than by the network: " + s.to_string());
    }
    ++f_.failed_syncs;
  }
  last_moved_ = report.moved();
  check_monotonic(t);
}

void World::restart(Terminal& t) {
  t.store.reset();
  client::StoreOptions options;
  options.pin_cost = PinCost::kMinimum;
  t.store = must(client::Store::open(t.dir, *t.clock, options), "reopening terminal " + std::to_string(t.index + 1));
  ++f_.terminal_restarts;
  note("terminal " + std::to_string(t.index + 1) + " restarted");
}

void World::jump_clock(Terminal& t) {
  switch (draw(0, 3)) {
    case 0: t.skew_ms = 1 - now_ms_ + draw(0, 1000) * kMinuteMs; break;  // reset to 1970 by a power loss
    case 1: t.skew_ms = draw(1, 5) * kDayMs; break;                       // days ahead
    case 2: t.skew_ms = -draw(1, 5) * kDayMs; break;                      // days behind
    default: t.skew_ms = 0; break;                                        // set right again
  }
  set_clock(t);
  ++f_.clock_jumps;
  note("terminal " + std::to_string(t.index + 1) + "'s clock is now off by " + std::to_string(t.skew_ms / kMinuteMs) + " min");
}

void World::step(int n) {
  step_ = n;
  now_ms_ += draw(1, 12) * kMinuteMs;
  server_clock_.set(now_ms_);
  Terminal& t = terminal(draw(0, o_.terminals - 1));
  set_clock(t);
  const int roll = draw(0, 99);
  if (roll < 35) {
    record(t);
  } else if (roll < 45) {
    correct(t, false);
  } else if (roll < 49) {
    correct(t, true);
  } else if (roll < 53) {
    if (t.shift) {
      login(t);
      Status closed = t.store->close_shift(to_hex(*t.shift)).status();
      if (!closed.is_ok()) fail("closing a shift: " + closed.to_string());
      t.shift.reset();
    }
  } else if (roll < 80) {
    if (t.online) sync(t, true);
  } else if (roll < 88) {
    t.online = !t.online;
    if (!t.online) ++f_.offline_periods;
  } else if (roll < 91) {
    jump_clock(t);
  } else if (roll < 95) {
    restart(t);
  } else if (roll < 96) {
    resolve();
  } else if (roll < 97) {
    open_server();
    ++f_.server_restarts;
    note("the server restarted");
  }
}

void World::resolve() {
  // Head office decides the first open fork, in the order entries were recorded and forks made,
  // for a child drawn at random, naming every child the server holds.
  for (int u = 0; u < o_.units; ++u) {
    for (const Hash& root : recorded_[unit_name(u)]) {
      Truth& truth = truth_.at(root);
      std::vector<std::pair<std::uint64_t, Hash>> open;
      for (const Hash& f : forks_of(truth)) {
        if (is_open(truth, f)) open.emplace_back(truth.versions.at(f).made, f);
      }
      if (open.empty()) continue;
      const Hash fork = std::min_element(open.begin(), open.end())->second;
      const std::vector<Hash> kids = children_of(truth, fork);
      const Hash winner = kids[static_cast<std::size_t>(draw(0, static_cast<int>(kids.size()) - 1))];
      auto r = service_->resolve(kSite, to_hex(fork), to_hex(winner), "simulated decision");
      if (!r.is_ok()) {
        // The server may not hold every child yet (a terminal has not synced it): it decides what it holds.
        if (r.status().code() == Code::kNotFound || r.status().code() == Code::kInvalidArgument) return;
        fail("head office resolving a fork: " + r.status().to_string());
      }
      Decision d{winner, {winner}};
      for (const Hash& l : r->losers) d.named.insert(l);
      truth.decided[fork] = std::move(d);
      ++f_.resolutions;
      note("head office resolved a fork of entry " + to_hex(root).substr(0, 8));
      return;
    }
  }
}

// ---- checks ------------------------------------------------------------------------------------

void World::check_monotonic(Terminal& t) {
  // A sample of what it showed before: still shown, with no version fewer, and showing a version
  // nothing it holds supersedes (a leaf of the tree; a void entry shows the version voided). As
  // versions are never taken away, a version it saw superseded can never be shown again.
  int checked = 0;
  for (auto it = t.seen.begin(); it != t.seen.end() && checked < 16; ++it) {
    if (draw(0, 3) != 0) continue;  // the same draws in every run: only which entry each lands on differs
    ++checked;
    const Json shown = must(t.store->show_entry(to_hex(it->first)), "terminal " + std::to_string(t.index + 1) +
                                                                       " reading an entry it showed before");
    const std::string head = shown["entry"]["head"].get<std::string>();
    const bool is_void = shown["entry"]["void"].get<bool>();
    int superseding = 0;
    for (const Json& v : shown["versions"]) {
      const Json& body = v["body"];
      if (body.contains("target") && body["target"] == head) ++superseding;
    }
    if (shown["versions"].size() < it->second.versions || (!is_void && superseding > 0)) {
      fail("terminal " + std::to_string(t.index + 1) + " shows entry " + to_hex(it->first).substr(0, 8) +
           " at an older state than before");
    }
    it->second = Seen{shown["versions"].size()};
  }
}

void World::catch_up() {
  // The network comes back everywhere, clocks are set right, nothing is lost: every terminal syncs
  // in turn until a whole round moves nothing. A run that needs more rounds than the bound stalled.
  for (Terminal& t : terminals_) {
    t.online = true;
    t.skew_ms = 0;
  }
  for (int round = 1; round <= kCatchUpRounds; ++round) {
    f_.catch_up_rounds = static_cast<std::uint64_t>(round);
    bool moved = false;
    for (Terminal& t : terminals_) {
      sync(t, false);
      moved = moved || last_moved_;
    }
    if (!moved) return;
  }
  fail("the terminals still moved events after " + std::to_string(kCatchUpRounds) + " rounds of syncs: a stall");
}

std::vector<Hash> hashes_of(const std::vector<Bytes>& raw) {
  std::vector<Hash> out;
  for (const Bytes& b : raw) out.push_back(decode_event(b).value().hash);
  return out;
}

void World::check_replicas() {
  std::map<PublicKey, std::vector<Hash>> server_chains;
  for (const Terminal& t : terminals_) {
    std::vector<Hash> chain;
    for (const server::BracketedEvent& e : must(service_->events(t.device, 1, 1'000'000), "the server's chain")) {
      if (e.seq != chain.size() + 1) fail("the server's chain of terminal " + std::to_string(t.index + 1) + " has a gap");
      chain.push_back(e.hash);
    }
    server_chains[t.device] = std::move(chain);
    f_.events += server_chains[t.device].size();
  }
  for (Terminal& t : terminals_) {
    const std::string name = "terminal " + std::to_string(t.index + 1);
    const client::SyncState state = must(t.store->sync_state(), name + "'s sync state");
    if (state.unacknowledged() != 0) fail(name + " still has " + std::to_string(state.unacknowledged()) + " unsynced events");
    for (const Terminal& other : terminals_) {
      const std::vector<Hash> held = hashes_of(must(t.store->raw_events(other.device), name + "'s events"));
      bool visible = &other == &t;
      for (const std::string& u : other.units) visible = visible || std::find(t.units.begin(), t.units.end(), u) != t.units.end();
      const std::vector<Hash> expected = visible ? server_chains[other.device] : std::vector<Hash>{};
      if (held != expected) {
        fail(name + " holds " + std::to_string(held.size()) + " events of terminal " + std::to_string(other.index + 1) +
             " where the server holds " + std::to_string(expected.size()) + (visible ? "" : " it may not see"));
      }
    }
    must(t.store->verify().status(), name + "'s verify");
    check_entries(t);
    check_totals(t);
  }
}

// Every entry of the terminal's units shows what the ground truth says, and its conflicts are the
// truth's forks.
void World::check_entries(Terminal& t) {
  const std::string name = "terminal " + std::to_string(t.index + 1);
  std::set<Hash> forks;
  for (const auto& [root, truth] : truth_) {
    if (std::find(t.units.begin(), t.units.end(), truth.unit) == t.units.end()) continue;
    const Json shown = must(t.store->show_entry(to_hex(root)), name + " showing entry " + to_hex(root).substr(0, 8))["entry"];
    const Current c = current_of(truth);
    if (shown["head"] != to_hex(c.shown) || shown["void"].get<bool>() != c.is_void) {
      fail(name + " shows entry " + to_hex(root).substr(0, 8) + " at version " + shown["head"].get<std::string>().substr(0, 8) +
           (shown["void"].get<bool>() ? " (void)" : "") + " where the merge rules give " + to_hex(c.shown).substr(0, 8) +
           (c.is_void ? " (void)" : ""));
    }
    for (const Hash& f : forks_of(truth)) forks.insert(f);
  }
  std::set<Hash> listed;
  const Json conflicts = must(t.store->conflicts(true), name + "'s conflicts");
  for (const Json& c : conflicts["conflicts"]) {
    listed.insert(must(array_from_hex<32>(c["fork_id"].get<std::string>()), "a fork id"));
  }
  if (listed != forks) {
    fail(name + " lists " + std::to_string(listed.size()) + " conflicts where the ground truth has " +
         std::to_string(forks.size()) + " forks in its units");
  }
}

// The server's merged state (its Ledger, as `shiftbook-server conflicts`, `anomalies` and the
// reports read it): every entry at the ground truth's version, the conflicts the truth's forks with
// the same open ones, and its totals per worker, unit and period equal to the ground truth's.
void World::check_server() {
  server::SiteLedger site = must(service_->ledger(kSite), "the server's ledger");
  std::map<Hash, LedgerEntry> entries = site.ledger.entries();
  if (entries.size() != truth_.size()) {
    fail("the server merges " + std::to_string(entries.size()) + " entries, the simulation made " +
         std::to_string(truth_.size()));
  }
  Totals expected;
  std::set<std::pair<Hash, bool>> forks;  // (fork, open)
  for (const auto& [root, truth] : truth_) {
    auto it = entries.find(root);
    if (it == entries.end()) fail("the server has no entry " + to_hex(root).substr(0, 8));
    const EntryState& st = it->second.state;
    const Current c = current_of(truth);
    const bool same = st.is_void == c.is_void &&
                      (c.is_void ? *truth.versions.at(st.current).target == c.shown : st.current == c.shown);
    if (!same) fail("the server's entry " + to_hex(root).substr(0, 8) + " is not at the ground truth's version");
    for (const Hash& f : forks_of(truth)) forks.emplace(f, is_open(truth, f));
    if (c.is_void) continue;
    const Values& v = *c.values;
    std::string period;
    for (const auto& p : kPeriods) {
      if (truth.day >= must(parse_date(p[1]), "a period") && truth.day <= must(parse_date(p[2]), "a period")) period = p[0];
    }
    if (truth.kind == "hours") {
      WorkerTotal& w = expected.workers[WorkerKey{v.worker, truth.unit, period}];
      w.minutes += v.end - v.start;
      if (v.special) w.special_minutes += v.end - v.start;
    } else if (truth.kind == "output") {
      expected.outputs[OutputKey{truth.unit, period, v.product}] += v.quantity;
    } else {
      expected.workers[WorkerKey{v.worker, truth.unit, period}].bonuses[v.bonus_type] += 1;
    }
  }
  std::set<std::pair<Hash, bool>> listed;
  for (const LedgerConflict& c : site.ledger.conflicts()) listed.emplace(c.conflict.fork, !c.conflict.resolved);
  if (listed != forks) {
    fail("the server lists " + std::to_string(listed.size()) + " conflicts, the ground truth has " +
         std::to_string(forks.size()) + " forks (or they differ in which are open)");
  }
  for (const auto& [fork, open] : forks) f_.open_conflicts += open ? 1 : 0;
  if (!(site.ledger.totals() == expected)) fail("the server's totals differ from the ground truth");
  f_.anomalies = find_anomalies(site.ledger.anomaly_facts(server::clock_facts(site.devices))).size();
}

// "W1 480/120 0/1/0; " per worker and "P1 620; " per product: the totals a period summary shows.
std::string totals_text(const std::map<std::string, std::array<std::int64_t, 5>>& workers,
                        const std::map<std::string, std::int64_t>& output) {
  std::ostringstream out;
  for (const auto& [w, v] : workers) {
    if (v == std::array<std::int64_t, 5>{}) continue;
    out << w << " " << v[0] << "/" << v[1] << " " << v[2] << "/" << v[3] << "/" << v[4] << "; ";
  }
  for (const auto& [p, q] : output) if (q != 0) out << p << " " << q << "; ";
  return out.str();
}

void World::check_totals(Terminal& t) {
  for (const std::string& unit : t.units) {
    for (const auto& p : kPeriods) {
      const std::int64_t from = must(parse_date(p[1]), "a period's start");
      const std::int64_t to = must(parse_date(p[2]), "a period's end");
      std::map<std::string, std::array<std::int64_t, 5>> workers;
      std::map<std::string, std::int64_t> output;
      for (const auto& [root, e] : truth_) {
        const Current c = current_of(e);
        if (c.is_void || e.unit != unit || e.day < from || e.day > to) continue;
        const Values& v = *c.values;
        if (e.kind == "hours") {
          workers[v.worker][0] += v.end - v.start;
          if (v.special) workers[v.worker][1] += v.end - v.start;
        } else if (e.kind == "output") {
          output[v.product] += v.quantity;
        } else {
          const auto at = std::find(std::begin(kBonusTypes), std::end(kBonusTypes), v.bonus_type) - std::begin(kBonusTypes);
          workers[v.worker][static_cast<std::size_t>(2 + at)] += 1;
        }
      }
      const Json summary = must(t.store->summary_period(unit, p[0]), "terminal " + std::to_string(t.index + 1) + "'s summary");
      std::map<std::string, std::array<std::int64_t, 5>> shown_workers;
      std::map<std::string, std::int64_t> shown_output;
      for (const Json& w : summary["workers"]) {
        const Json& b = w["bonuses"];
        shown_workers[w["worker"].get<std::string>()] = {
            w["minutes"].get<std::int64_t>(), w["special_minutes"].get<std::int64_t>(),
            b["special_environment"].get<std::int64_t>(), b["skill_upgrade"].get<std::int64_t>(),
            b["innovation"].get<std::int64_t>()};
      }
      for (const Json& o : summary["output"]) shown_output[o["product"].get<std::string>()] = o["quantity"].get<std::int64_t>();
      const std::string expected = totals_text(workers, output), shown = totals_text(shown_workers, shown_output);
      if (expected != shown) {
        fail("terminal " + std::to_string(t.index + 1) + "'s totals for unit " + unit + " in period " + p[0] +
             " are {" + shown + "}, the ground truth is {" + expected + "}");
      }
    }
  }
}

SimFigures World::run() {
  const auto started = std::chrono::steady_clock::now();
  make_folder();
  pin_hash_ = must(hash_pin(kLeaderPin, PinCost::kMinimum), "a PIN hash");
  now_ms_ = must(parse_date("2026-11-02"), "the first day") * kDayMs + 6 * 60 * kMinuteMs;
  server_clock_.set(now_ms_);
  open_server();
  put_reference();
  terminals_.resize(static_cast<std::size_t>(o_.terminals));
  for (int i = 0; i < o_.terminals; ++i) add_terminal(i);
  for (Terminal& t : terminals_) sync(t, false);  // the reference data and the leader
  for (int n = 1; n <= o_.steps; ++n) step(n);
  step_ = o_.steps + 1;
  catch_up();
  check_replicas();
  check_server();
  for (const auto& [root, truth] : truth_) f_.forks += forks_of(truth).size();
  f_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  terminals_.clear();
  service_.reset();
  if (o_.keep) {
    f_.folder = folder_;
  } else {
    std::error_code ignored;
    fs::remove_all(folder_, ignored);
  }
  return f_;
}

}  // namespace

Result<SimFigures> run_simulation(const SimOptions& options, std::ostream* log) {
  if (options.terminals < 2 || options.units < 1 || options.steps < 0) {
    return invalid_argument("a simulation needs at least 2 terminals, 1 unit and 0 steps");
  }
  World world(options, log);
  try {
    return world.run();
  } catch (const SimFailure& f) {
    return internal_error(f.what() + " (the run's folder is kept)");
  }
}

}  // namespace shiftbook::sim
