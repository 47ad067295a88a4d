// What the anomaly rules (anomalies.cpp) and the integrity signals (signals.cpp) both write: an
// Anomaly with its identifier, and durations as head office reads them. Internal to the library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/anomalies.h"

namespace shiftbook::anomaly_text {

// An anomaly of `kind` about `subject`, with its identifier (anomaly_id) and `events` as given.
Anomaly make(std::string_view kind, std::string subject, std::vector<Hash> events, std::string detail);
std::vector<Hash> sorted(std::vector<Hash> v);
// "7 h 5 min" for minutes.
std::string minutes_text(std::int64_t minutes);
// "3 h 20 min" (or "2 d 1 h 0 min") for a duration in milliseconds of either sign, rounded down
// to the minute.
std::string duration_text(std::int64_t ms);

}  // namespace shiftbook::anomaly_text
