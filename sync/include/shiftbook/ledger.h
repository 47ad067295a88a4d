// The current state of one site's log, as head office reads it: every entry's state (merge.h),
// where each entry belongs (unit, shift date, worker), its conflicts, the facts the anomaly rules
// read (anomalies.h), and the totals per worker, unit and period (docs/MERGE.md, "Totals"). Built
// from the events of ONE site in any order: its terminals' and its site signer's. Every answer is
// a pure function of the set of events added (and of the clocks and acknowledgement times the
// caller gives), never of their order. No SQL, no I/O: a Ledger is a value owned by one thread at
// a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "shiftbook/anomalies.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/hash_key.h"
#include "shiftbook/merge.h"
#include "shiftbook/shareout.h"
#include "shiftbook/signals.h"
#include "shiftbook/status.h"

namespace shiftbook {

// One entry with where it belongs. Unit and day come from the shift its root names (a confirm's
// from the shift of the hours it confirms); both are empty while that shift_open is not held.
struct LedgerEntry {
  EntryState state;
  std::string kind;                // hours, output, bonus or confirm
  std::string unit;
  std::optional<std::int64_t> day;  // the shift date, days since 1970-01-01
  std::string worker;              // of the current (or voided) body; empty for output
  bool operator==(const LedgerEntry&) const = default;
};

struct LedgerConflict {
  Hash root{};       // the entry
  std::string unit;  // the entry's unit (empty while its shift is not held)
  Conflict conflict;
  bool operator==(const LedgerConflict&) const = default;
};

// Where an event came from, for naming it to people ("seq 12 of terminal 7f3a9c21").
struct EventSource {
  PublicKey device{};
  std::uint64_t seq = 0;
  std::string kind;
};

// Totals (docs/MERGE.md, "Totals"). The period is the id of head office's period holding the
// shift date, or "" when no period holds it.
struct WorkerKey {
  std::string worker, unit, period;
  auto operator<=>(const WorkerKey&) const = default;
};
struct WorkerTotal {
  std::int64_t minutes = 0;          // hours entries: end - start
  std::int64_t special_minutes = 0;  // of those with special: true
  std::map<std::string, std::int64_t> bonuses;  // bonus type -> entries
  bool operator==(const WorkerTotal&) const = default;
};
struct OutputKey {
  std::string unit, period, product;
  auto operator<=>(const OutputKey&) const = default;
};
struct Totals {
  std::map<WorkerKey, WorkerTotal> workers;
  std::map<OutputKey, std::int64_t> outputs;  // quantity in the product's base unit
  bool operator==(const Totals&) const = default;
};

// One line of a period return (docs/RETURNS.md): a unit's output of one product in one period
// against the quota in force. Quantities in the product's base unit.
struct PeriodReturn {
  OutputKey key;                                  // unit, period ("" when no period holds the date), product
  std::optional<std::int64_t> quota;              // the quota in force; none when head office set none
  std::optional<std::int64_t> quota_version;
  std::int64_t actual = 0;                        // from the current, non-void state of every output entry
  std::optional<std::int64_t> surplus;            // max(0, actual - quota); none without a quota
  std::optional<std::int64_t> fulfilment_permille;  // floor(actual * 1000 / quota); none without a quota or for 0
  // Approval (docs/RETURNS.md, "Approval"): an approved line shows the approved figures; what
  // changed in the period since is `pending`, booked into `adjusted_into` (the next open period of
  // the unit; "" while none is defined). An open line's actual includes `adjustment`, booked into
  // it from earlier approved periods.
  bool approved = false;
  std::int64_t adjustment = 0;
  std::int64_t pending = 0;
  std::string adjusted_into;
  bool operator==(const PeriodReturn&) const = default;
};

// ---- Sharing out and approval (docs/SHAREOUT.md, docs/RETURNS.md "Approval")

// A rule set as the site signer's chain holds it (`ref_rules`): in force for every period that
// starts on or after `from_day`, until a rule set with a later `from_day` takes over.
struct RuleSetRef {
  RuleSet rules;
  std::int64_t from_day = 0;
  std::uint64_t signer_seq = 0;
  Hash event{};
  bool operator==(const RuleSetRef& o) const {
    return rules.version == o.rules.version && from_day == o.from_day && signer_seq == o.signer_seq && event == o.event;
  }
};

// One product's figures of a unit in a period, in the product's base unit.
struct ProductFigures {
  std::string product;
  std::int64_t quota = 0;          // the quota in force; 0 when quota_version is 0
  std::int64_t quota_version = 0;  // 0: no quota in force (nothing of it is shared out)
  std::int64_t actual = 0;
  bool operator==(const ProductFigures&) const = default;
};

// One worker's figures of a unit in a period: what sharing out reads.
struct WorkerFigures {
  std::string worker;
  std::int64_t minutes = 0;          // hours entries: end - start
  std::int64_t special_minutes = 0;  // of those with special: true
  std::int64_t skill_upgrades = 0;   // bonus entries of type skill_upgrade
  std::int64_t innovations = 0;      // bonus entries of type innovation
  std::int64_t achievement_permille = 1000;  // head office's ref_achievement for the worker and period
  bool operator==(const WorkerFigures&) const = default;
};

// Everything sharing out reads of one unit in one period; what an approval records.
struct UnitFigures {
  std::int64_t rule_version = 0;          // the rule set in force; 0 when none is
  std::vector<ProductFigures> products;   // by product id
  std::vector<WorkerFigures> workers;     // by worker id
  bool operator==(const UnitFigures&) const = default;
};

// Figures that changed in an approved period after its approval, booked into a later open one:
// differences (may be negative) of actual per product and of the workers' counts (achievement
// and quota are not carried).
struct Adjustment {
  std::string from_period;
  std::map<std::string, std::int64_t> actual;        // product -> difference
  std::map<std::string, WorkerFigures> workers;      // worker -> differences (achievement unused)
  bool empty() const { return actual.empty() && workers.empty(); }
  bool operator==(const Adjustment&) const = default;
};

// Head office's approval or reopening of a unit's period (`period_approval`, `period_reopen`).
struct PeriodDecision {
  bool approve = false;
  std::uint64_t signer_seq = 0;
  Hash event{};
  std::int64_t written_ms = 0;
  std::string reason;    // a reopening's
  UnitFigures figures;   // an approval's
  bool operator==(const PeriodDecision&) const = default;
};

// Where a worker's or a product's figures came from: each entry's root and current version.
struct FigureSource {
  Hash entry{};
  Hash current{};
  std::string kind;  // hours, bonus or output
  bool operator==(const FigureSource&) const = default;
};

// One unit in one period, as head office reports and pays it.
struct UnitPeriodReport {
  std::string unit, period;
  std::int64_t start_day = 0, end_day = 0;
  std::vector<PeriodDecision> decisions;     // approvals and reopenings, by signer seq
  std::optional<PeriodDecision> approval;    // the one in force: the last decision, when an approval
  UnitFigures computed;                      // the current state of the period's entries, adjustments in included
  std::vector<Adjustment> adjustments_in;    // booked here from approved earlier periods
  UnitFigures reported;                      // approved: the approval's figures; open: `computed`
  std::optional<Adjustment> adjustment_out;  // approved: computed - reported, when not zero
  std::string adjusted_into;                 // the period it is booked in; "" while none is open
  std::optional<RuleSetRef> rules;           // the rule set of reported.rule_version, when held
  std::optional<Shareout> shares;            // of `reported` under `rules`; none without them
  std::string shares_problem;                // why there are no shares, when there are none
  std::map<std::string, std::vector<FigureSource>> worker_sources;   // worker -> hours and bonus entries
  std::map<std::string, std::vector<FigureSource>> product_sources;  // product -> output entries
};

// Head office's latest decision of an anomaly (an `anomaly_note` of the site signer, PROTOCOL.md
// section 11): the anomaly stays listed, marked decided, while its identifier stays the same.
struct AnomalyNote {
  std::string anomaly;  // its identifier
  std::string reason;
  std::uint64_t signer_seq = 0;
  Hash event{};
  std::int64_t written_ms = 0;  // the signer's stamp
  bool operator==(const AnomalyNote&) const = default;
};

class Ledger {
 public:
  // `signer`: the site signer, whose chain alone carries resolutions and reference data.
  explicit Ledger(const PublicKey& signer) : signer_(signer), merge_(signer) {}

  // Takes one event of the site. Reads what the merge needs, the shift_opens (unit and date), the
  // signer's ref_period and ref_quota (the latest of each key by the signer's seq), and where
  // each event came from; skips the rest. invalid_argument naming the event for a body the
  // ledger cannot read (a shift_open without a unit or a valid date, a correction without a
  // target, a period whose dates do not parse); nothing changes then. The same event twice
  // counts once.
  Status add(const Event& e);
  // The server time of the receipt that acknowledged a terminal event: the end of its trusted
  // bracket (PROTOCOL.md section 9), for the clock facts.
  void set_acknowledged(const Hash& event, std::int64_t server_ms);

  const PublicKey& signer() const { return signer_; }
  // Every entry by root hash. For a log of millions, each_entry holds one at a time instead.
  std::map<Hash, LedgerEntry> entries() const;
  // Calls `fn` with every entry, in root order, computing each state when it is its turn.
  void each_entry(const std::function<void(const Hash& root, LedgerEntry& entry)>& fn) const;
  // Every conflict of every entry, by entry root, then as the entry lists them.
  std::vector<LedgerConflict> conflicts() const;
  // The event with this hash, when it was added.
  std::optional<EventSource> source(const Hash& event) const;
  // Every event hash added (any kind, any device), ascending: for finding one by a prefix.
  std::vector<Hash> event_hashes() const;
  // The facts for find_anomalies: hours and outputs from the current state of every entry that
  // is not void and whose shift is held; periods and quotas in force; one claim per terminal
  // event (any event of a device other than the signer), and `clocks` as given.
  AnomalyFacts anomaly_facts(std::vector<DeviceClockFact> clocks);
  // The facts for find_signals (docs/SIGNALS.md): the returns with a quota, the current hours with
  // their unit, the approvals in force with the versions acknowledged after them, every new entry
  // of a terminal with the earliest time it can have been recorded, the clock facts as
  // anomaly_facts gives them (clock_claims), and `flags` as given.
  SignalFacts signal_facts(std::vector<DeviceClockFact> clocks, std::vector<DeviceFlagFact> flags);
  Totals totals() const;
  // Per unit, period and product holding a quota or output: the period return, in key order.
  std::vector<PeriodReturn> returns();
  // Every unit and period that has figures, a quota or a decision, in (unit, period start) order:
  // the figures, approvals, adjustments and shares (docs/RETURNS.md, docs/SHAREOUT.md). Output on
  // a date no period holds is in returns() alone.
  std::vector<UnitPeriodReport> reports();
  // Every unit's report of one period; without the sources (each entry behind each figure) when
  // `with_sources` is false, which is what a payroll or a return needs.
  std::vector<UnitPeriodReport> period_reports(const std::string& period, bool with_sources);
  // The report of one unit and period (also when it has no figures), when the period exists.
  // Without the sources when `with_sources` is false (what checking an approval needs).
  std::optional<UnitPeriodReport> report(const std::string& unit, const std::string& period, bool with_sources = true);
  // Every rule set by version, and the one in force for a period starting on `day`.
  const std::map<std::int64_t, RuleSetRef>& rule_sets() const { return rules_; }
  std::optional<RuleSetRef> rules_in_force(std::int64_t day) const;
  // Head office's achievement figure of a worker in a period (1000 when it set none).
  std::int64_t achievement(const std::string& worker, const std::string& period) const;
  // Head office's latest decision of each anomaly and each integrity signal, by identifier (the
  // highest signer seq of the `anomaly_note`s and `signal_note`s naming it).
  const std::map<std::string, AnomalyNote>& anomaly_notes() const { return notes_; }

 private:
  struct Shift {
    std::string unit;
    std::int64_t day = 0;
  };
  struct Period {
    std::uint64_t seq = 0;
    std::int64_t start_day = 0, end_day = 0;
  };
  struct Quota {
    std::uint64_t seq = 0;
    std::int64_t version = 0;
    std::int64_t quantity = 0;
  };
  // An event added, in 32 bytes: its device and kind are indexes into devices_ and kinds_.
  static constexpr std::int64_t kUnacknowledged = INT64_MIN;
  struct Seen {
    std::uint64_t seq = 0;
    std::uint64_t hlc = 0;
    std::int64_t acknowledged_ms = kUnacknowledged;  // set_acknowledged
    std::uint32_t device = 0;
    std::uint32_t kind = 0;
  };
  struct Achievement {
    std::uint64_t seq = 0;
    std::int64_t permille = 1000;
  };
  // The counts a worker's hours or bonus entry adds (docs/RETURNS.md).
  struct Counts {
    std::int64_t minutes = 0, special_minutes = 0, skill_upgrades = 0, innovations = 0;
  };
  // What one entry adds to its unit's figures in a period (docs/RETURNS.md), at its current state.
  struct Contribution {
    std::uint32_t place = 0;   // index in places_: (unit, period); period "": no period holds the date
    std::uint8_t kind = 0;     // index in kCounted: hours, bonus or output
    std::string who;           // the worker, or for output the product
    Hash current{};            // the entry's current version
    Counts counts;             // hours and bonus; for output, minutes holds the quantity
  };
  // The figures of one unit in one period, kept up to date entry by entry, and the entries they
  // come from (their contributions hold the rest of each source).
  struct Aggregate {
    std::map<std::string, WorkerFigures> workers;
    std::map<std::string, std::int64_t> actual;
    std::map<std::string, std::unordered_set<Hash, HashKey>> worker_sources, product_sources;  // entry roots
  };
  using UnitPeriod = std::pair<std::string, std::string>;
  std::uint32_t place_of(const UnitPeriod& key);
  // Brings the aggregates up to date with every entry whose state or place changed since.
  void refresh();
  std::vector<UnitPeriodReport> build_reports(const std::string& unit_filter, const std::string& period_filter,
                                              bool with_sources);
  void apply(const Hash& root, const Contribution& c, std::int64_t sign);
  std::optional<Contribution> contribution_of(const Hash& root, const EntryState& state);
  FigureSource source_of(const Hash& root) const;
  EventSource source_of(const Seen& seen) const;
  Seen seen_of(const Event& e);
  Status read_reference(const Event& e);
  Status read_decision(const Event& e);
  // The shift_open an entry's body names in `shift`, when it is held.
  std::optional<Shift> shift_of(const Json& body) const;
  std::string period_of(std::int64_t day) const;
  // One claim per terminal event: its stamp's time and its trusted bracket (PROTOCOL.md section 9).
  std::vector<EventClockFact> clock_claims() const;

  PublicKey signer_{};
  MergeSet merge_;
  std::unordered_map<Hash, Seen, HashKey> events_;
  std::vector<PublicKey> devices_;  // Seen::device -> key
  std::map<PublicKey, std::uint32_t> device_ids_;
  std::vector<std::string> kinds_;  // Seen::kind -> kind
  std::map<std::string, std::uint32_t, std::less<>> kind_ids_;
  std::map<Hash, Shift> shifts_;
  std::map<PublicKey, std::vector<ShiftOpenMark>> shift_opens_;
  std::map<std::string, Period> periods_;
  std::map<OutputKey, Quota> quotas_;  // key (unit, period, product)
  std::map<Hash, std::int64_t> acknowledged_early_;  // set_acknowledged before the event was added
  std::map<std::string, AnomalyNote> notes_;
  std::map<std::int64_t, RuleSetRef> rules_;                                  // by version
  std::map<std::pair<std::string, std::string>, Achievement> achievements_;  // (worker, period)
  std::map<std::pair<std::string, std::string>, std::vector<PeriodDecision>> decisions_;  // (unit, period)
  // The aggregates (kept up to date as events arrive; reports() reads them).
  std::unordered_map<Hash, Contribution, HashKey> contributions_;    // by entry root, for the entries that count
  std::map<UnitPeriod, Aggregate> aggregates_;
  std::vector<UnitPeriod> places_;  // Contribution::place -> (unit, period)
  std::map<UnitPeriod, std::uint32_t> place_ids_;
  std::map<Hash, std::set<Hash>> roots_by_shift_;  // shift_open not held yet -> entries naming it
  std::set<Hash> misplaced_;                       // entries whose shift arrived since
  bool periods_changed_ = false;                   // every entry's period to read again
};

// {"rule_version", "products": [...], "workers": [...]}: the figures as an approval holds them.
Json figures_json(const UnitFigures& figures);
// The body of a `period_approval` for these figures, and back (validate_head_office_body first).
Json approval_body(const std::string& unit, const std::string& period, const UnitFigures& figures);
Result<UnitFigures> figures_of_approval(const Json& body);

}  // namespace shiftbook
