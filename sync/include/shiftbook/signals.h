// Integrity signals (docs/SIGNALS.md): patterns in a site's returns that are not impossible, as
// anomalies are, but that an auditor would want to look at: output exactly at quota period after
// period, more hours than the people recorded could work, changes after an approval, bursts of
// entries recorded long after their shift, terminals whose clocks are off and devices that signed
// two histories. Each names its evidence (the events behind it) and has an identifier as an
// anomaly has (anomalies.h), so head office decides it the same way. Pure functions over values;
// the result does not depend on the order of the facts. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/anomalies.h"
#include "shiftbook/crypto.h"

namespace shiftbook {

namespace signal {
inline constexpr std::string_view kExactQuota = "exact_quota";
inline constexpr std::string_view kOverCapacity = "over_capacity";
inline constexpr std::string_view kAfterApproval = "after_approval";
inline constexpr std::string_view kLateBurst = "late_burst";
inline constexpr std::string_view kEquivocation = "equivocation";
// clock_skew is anomaly::kClockSkew: the same finding, listed with both.
}  // namespace signal

// Where each signal starts (docs/SIGNALS.md, "Thresholds").
struct SignalThresholds {
  int exact_quota_run = 3;                    // periods in a row at exactly the quota
  std::int64_t shift_minutes = 720;           // what one person can work in a unit on one date
  int changes_after_approval = 3;             // versions acknowledged after the approval in force
  std::int64_t late_ms = 2 * 86'400'000LL;    // recorded this long after the end of the shift date
  int late_burst = 10;                        // late entries of one device ...
  std::int64_t late_gap_ms = 3'600'000;       // ... each recorded within this of the one before
  std::int64_t clock_skew_ms = kClockSkewThresholdMs;
};

// A unit's return of one product in one period that has a quota in force (the figures its report
// shows: the approved ones for an approved period).
struct ReturnFact {
  std::string unit, period, product;
  std::int64_t start_day = 0;    // the period's first day: the order of the periods
  std::int64_t quota = 0;
  std::int64_t actual = 0;
  std::vector<Hash> outputs;     // the current versions of the output entries counted now
};

// The current version of an hours entry that is not void, with its unit.
struct UnitHoursFact {
  Hash version{};
  std::string unit, worker;
  std::int64_t day = 0;          // the shift date
  std::int64_t minutes = 0;      // end - start
};

// The approval in force of a unit's period, and every version of the entries that belong to the
// period that the server acknowledged (its receipt time) after the approval was written.
struct ApprovalFact {
  std::string unit, period;
  Hash approval{};
  std::int64_t approved_ms = 0;  // the approval's stamp (the signer writes at server time)
  std::vector<Hash> changes;     // versions acknowledged after approved_ms
};

// A new entry (hours, output or bonus) of a terminal, and the earliest time it can have been
// recorded: the later of the time its stamp claims and the start of its trusted bracket.
struct EntryRecordFact {
  Hash event{};
  PublicKey device{};
  std::uint64_t seq = 0;
  std::int64_t day = 0;          // the shift date
  std::int64_t recorded_ms = 0;
};

// A device the server flagged for signing two histories (an equivocation).
struct DeviceFlagFact {
  PublicKey device{};
  std::string reason;
  std::int64_t flagged_ms = 0;
};

struct SignalFacts {
  std::vector<ReturnFact> returns;
  std::vector<UnitHoursFact> hours;
  std::vector<ApprovalFact> approvals;
  std::vector<EntryRecordFact> records;
  std::vector<DeviceClockFact> clocks;
  std::vector<EventClockFact> claims;
  std::vector<DeviceFlagFact> flags;
};

std::vector<Anomaly> find_exact_quotas(const std::vector<ReturnFact>& returns, int run);
std::vector<Anomaly> find_over_capacity(const std::vector<UnitHoursFact>& hours, std::int64_t shift_minutes);
std::vector<Anomaly> find_after_approval(const std::vector<ApprovalFact>& approvals, int at_least);
std::vector<Anomaly> find_late_bursts(const std::vector<EntryRecordFact>& records, std::int64_t late_ms, int burst,
                                      std::int64_t gap_ms);
std::vector<Anomaly> find_equivocations(const std::vector<DeviceFlagFact>& flags);

// Every kind, clock_skew included, sorted by kind then identifier.
std::vector<Anomaly> find_signals(const SignalFacts& facts, const SignalThresholds& thresholds = {});

}  // namespace shiftbook
