// The current state of one site's log, as head office reads it: every entry's state (merge.h),
// where each entry belongs (unit, shift date, worker), its conflicts, the facts the anomaly rules
// read (anomalies.h), and the totals per worker, unit and period (docs/MERGE.md, "Totals"). Built
// from the events of ONE site in any order: its terminals' and its site signer's. Every answer is
// a pure function of the set of events added (and of the clocks and acknowledgement times the
// caller gives), never of their order. No SQL, no I/O: a Ledger is a value owned by one thread at
// a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shiftbook/anomalies.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/merge.h"
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
  bool operator==(const PeriodReturn&) const = default;
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
  // Every entry by root hash.
  std::map<Hash, LedgerEntry> entries();
  // Every conflict of every entry, by entry root, then as the entry lists them.
  std::vector<LedgerConflict> conflicts();
  // The event with this hash, when it was added.
  std::optional<EventSource> source(const Hash& event) const;
  // Every event hash added (any kind, any device), ascending: for finding one by a prefix.
  std::vector<Hash> event_hashes() const;
  // The facts for find_anomalies: hours and outputs from the current state of every entry that
  // is not void and whose shift is held; periods and quotas in force; one claim per terminal
  // event (any event of a device other than the signer), and `clocks` as given.
  AnomalyFacts anomaly_facts(std::vector<DeviceClockFact> clocks);
  Totals totals();
  // Per unit, period and product holding a quota or output: the period return, in key order.
  std::vector<PeriodReturn> returns();
  // Head office's latest decision of each anomaly, by identifier (the highest signer seq).
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
  struct Seen {
    EventSource source;
    std::uint64_t hlc = 0;
  };
  Status read_reference(const Event& e);
  // The shift_open an entry's body names in `shift`, when it is held.
  std::optional<Shift> shift_of(const Json& body) const;
  std::string period_of(std::int64_t day) const;

  PublicKey signer_{};
  MergeSet merge_;
  std::map<Hash, Seen> events_;
  std::map<Hash, Shift> shifts_;
  std::map<PublicKey, std::vector<ShiftOpenMark>> shift_opens_;
  std::map<std::string, Period> periods_;
  std::map<OutputKey, Quota> quotas_;  // key (unit, period, product)
  std::map<Hash, std::int64_t> acknowledged_;
  std::map<std::string, AnomalyNote> notes_;
};

}  // namespace shiftbook
