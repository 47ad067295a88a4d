// Domain anomalies (docs/ANOMALIES.md): numbers from several terminals that cannot all be true,
// and terminal clocks that cannot be trusted, found over the current state of the entries and
// head office's reference data. An anomaly is flagged, never a reason to drop or reorder
// anything: it names the events behind it and head office decides. The result depends only on
// the facts given, never on their order, so every replica finds the same anomalies with the same
// identifiers. Pure functions over values; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/crypto.h"

namespace shiftbook {

namespace anomaly {
inline constexpr std::string_view kOverlap = "overlap";
inline constexpr std::string_view kOverDay = "over_24h";
inline constexpr std::string_view kStaleQuota = "stale_quota";
inline constexpr std::string_view kClockSkew = "clock_skew";
}  // namespace anomaly

// A clock this far off, or a claim this far outside its trusted bracket, is flagged.
inline constexpr std::int64_t kClockSkewThresholdMs = 10 * 60 * 1000;

// The current version of an hours entry that is not void. Minutes are absolute: the shift date's
// day (days since 1970-01-01) times 1440 plus the body's start or end.
struct HoursFact {
  Hash version{};  // the entry's current version (the event that wrote these numbers)
  std::string worker;
  std::int64_t day = 0;
  std::int64_t start_abs = 0;
  std::int64_t end_abs = 0;
};

// The current version of an output entry that is not void.
struct OutputFact {
  Hash version{};
  std::string unit;  // the unit of its shift
  std::string product;
  std::int64_t day = 0;  // the shift date
  std::optional<std::int64_t> quota_version;
};

// Head office's reference data in force.
struct PeriodFact {
  std::string id;
  std::int64_t start_day = 0;  // both days included
  std::int64_t end_day = 0;
};
struct QuotaFact {
  std::string unit, period, product;
  std::int64_t version = 0;
};

// What the server knows of a device's clock, and the claims of its events.
struct DeviceClockFact {
  PublicKey device{};
  std::optional<std::int64_t> skew_ms;  // server time minus terminal clock at its latest sync
};
struct EventClockFact {
  Hash event{};
  PublicKey device{};
  std::uint64_t seq = 0;
  std::int64_t claimed_ms = 0;           // the wall-clock part of the event's HLC stamp
  std::optional<std::int64_t> after_ms;  // its trusted bracket (PROTOCOL.md section 9)
  std::optional<std::int64_t> before_ms;
};

struct Anomaly {
  std::string kind;     // one of anomaly::k*
  std::string id;       // kind ":" 32 hex digits (docs/ANOMALIES.md, "Identifiers")
  std::string subject;  // the worker, "worker date", "unit/period/product", or the device in hex
  std::vector<Hash> events;  // the events behind it: sorted bytewise, except clock_skew's in seq order
  std::string detail;        // one line for head office, with the figures
};

struct AnomalyFacts {
  std::vector<HoursFact> hours;
  std::vector<OutputFact> outputs;
  std::vector<PeriodFact> periods;
  std::vector<QuotaFact> quotas;
  std::vector<DeviceClockFact> clocks;
  std::vector<EventClockFact> claims;
};

// The identifier of an anomaly of `kind` about `subject` and `events` (any order).
std::string anomaly_id(std::string_view kind, std::string_view subject, std::vector<Hash> events);

// Each kind on its own, in no particular order; a store that keeps anomalies up to date calls the
// one that its change touches, with the facts of one worker, one unit or one device.
std::vector<Anomaly> find_overlaps(const std::vector<HoursFact>& hours);
std::vector<Anomaly> find_over_24h(const std::vector<HoursFact>& hours);
std::vector<Anomaly> find_stale_quotas(const std::vector<OutputFact>& outputs, const std::vector<PeriodFact>& periods,
                                       const std::vector<QuotaFact>& quotas);
std::vector<Anomaly> find_clock_skews(const std::vector<DeviceClockFact>& clocks,
                                      const std::vector<EventClockFact>& claims,
                                      std::int64_t threshold_ms = kClockSkewThresholdMs);

// Every kind, sorted by kind then identifier.
std::vector<Anomaly> find_anomalies(const AnomalyFacts& facts, std::int64_t threshold_ms = kClockSkewThresholdMs);

}  // namespace shiftbook
