#include "shiftbook/anomalies.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <sstream>

#include "shiftbook/bytes.h"
#include "shiftbook/kinds.h"

using namespace shiftbook;

namespace {

Hash filled(std::uint8_t b) {
  Hash h{};
  h.fill(b);
  return h;
}

constexpr std::int64_t kDay = 20'397;  // 2025-11-05

// docs/ANOMALIES.md, "Identifiers": computed apart from the code (Python's hashlib.blake2b).
constexpr const char* kOverlapGoldenId = "3b476e96313fb40cdf1b53d1fb7064d8";

HoursFact hours(std::uint8_t version, const std::string& worker, std::int64_t start, std::int64_t end,
                std::int64_t day = kDay) {
  return HoursFact{filled(version), worker, day, day * kMinutesPerDay + start, day * kMinutesPerDay + end};
}

// One line per anomaly: kind, subject, and the first byte of each event behind it.
std::string render(const std::vector<Anomaly>& list) {
  std::ostringstream out;
  for (const Anomaly& a : list) {
    out << a.kind << " " << a.subject << " [";
    for (std::size_t i = 0; i < a.events.size(); ++i) out << (i ? " " : "") << int(a.events[i][0]);
    out << "]\n";
  }
  return out.str();
}

}  // namespace

TEST_CASE("anomalies: overlapping hours of one worker are flagged pair by pair, touching ones are not") {
  std::vector<HoursFact> h = {
      hours(1, "W1", 360, 840),   // 06:00-14:00
      hours(2, "W1", 840, 1320),  // 14:00-22:00: touches 1, no overlap
      hours(3, "W1", 600, 900),   // 10:00-15:00: overlaps 1 and 2
      hours(4, "W2", 600, 900),   // another worker
  };
  auto found = find_overlaps(h);
  std::sort(found.begin(), found.end(), [](const Anomaly& a, const Anomaly& b) { return a.events < b.events; });
  CHECK(render(found) == "overlap W1 [1 3]\noverlap W1 [2 3]\n");
  CHECK(found[0].detail == "worker W1 is logged twice at once: 2025-11-05 06:00-14:00 and 2025-11-05 10:00-15:00");
}

TEST_CASE("anomalies: a night shift overlaps the next morning's entry across midnight") {
  // 22:00-06:00 on the 5th against 05:00-07:00 on the 6th.
  auto found = find_overlaps({hours(1, "W1", 1320, 1800), hours(2, "W1", 300, 420, kDay + 1)});
  REQUIRE(found.size() == 1);
  CHECK(found[0].detail == "worker W1 is logged twice at once: 2025-11-05 22:00-30:00 and 2025-11-06 05:00-07:00");
}

TEST_CASE("anomalies: more than 24 hours for a worker on one shift date, and exactly 24 is not") {
  std::vector<HoursFact> h = {
      hours(1, "W1", 0, 720), hours(2, "W1", 720, 1440), hours(3, "W1", 1440, 1441),  // 1,441 min
      hours(4, "W2", 0, 720), hours(5, "W2", 720, 1440),                              // 1,440 min
      hours(6, "W3", 0, 1000), hours(7, "W3", 0, 1000, kDay + 1),                     // two dates
  };
  auto found = find_over_24h(h);
  CHECK(render(found) == "over_24h W1 2025-11-05 [1 2 3]\n");
  CHECK(found[0].detail == "worker W1 has 24 h 1 min logged on shift date 2025-11-05 in 3 entries; a day has 24 h");
  // The same version given twice counts once.
  CHECK(find_over_24h({hours(4, "W2", 0, 720), hours(4, "W2", 0, 720), hours(5, "W2", 720, 1440)}).empty());
}

TEST_CASE("anomalies: output against a quota version head office has since changed") {
  std::vector<PeriodFact> periods = {{"2025-10", kDay - 35, kDay - 5}, {"2025-11", kDay - 4, kDay + 25}};
  std::vector<QuotaFact> quotas = {{"U1", "2025-11", "P1", 2}, {"U1", "2025-10", "P1", 1}};
  std::vector<OutputFact> outputs = {
      {filled(1), "U1", "P1", kDay, 1},            // stale: version 2 is in force
      {filled(2), "U1", "P1", kDay, 2},            // current
      {filled(3), "U1", "P1", kDay - 10, 1},       // October's quota is still version 1
      {filled(4), "U1", "P1", kDay, std::nullopt}, // recorded without a quota
      {filled(5), "U2", "P1", kDay, 1},            // no quota for U2
      {filled(6), "U1", "P1", kDay + 40, 1},       // no period holds the day
  };
  auto found = find_stale_quotas(outputs, periods, quotas);
  CHECK(render(found) == "stale_quota U1/2025-11/P1 [1]\n");
  CHECK(found[0].detail ==
        "output of P1 in unit U1 on 2025-11-05 was logged against quota version 1; head office's quota for period "
        "2025-11 is now version 2");
}

TEST_CASE("anomalies: a clock skew beyond the threshold, and claims outside the trusted bracket, per device") {
  PublicKey a{}, b{}, c{};
  a.fill(0xaa);
  b.fill(0xbb);
  c.fill(0xcc);
  const std::int64_t t = 1'762'300'000'000;
  std::vector<DeviceClockFact> clocks = {
      {a, -2 * 86'400'000},                // two days ahead
      {b, kClockSkewThresholdMs},          // exactly at the threshold: fine
      {c, std::nullopt},
  };
  std::vector<EventClockFact> claims = {
      {filled(9), c, 9, t + 3 * 3'600'000, t - 60'000, t},       // 3 h past the push that delivered it
      {filled(7), c, 7, t - 2 * 86'400'000, t, std::nullopt},     // before the receipt it held
      {filled(8), c, 8, t + 5 * 60'000, std::nullopt, t},         // 5 min: within the threshold
      {filled(6), b, 6, t, std::nullopt, std::nullopt},           // no bracket: bounds nothing
  };
  auto found = find_clock_skews(clocks, claims);
  std::sort(found.begin(), found.end(), [](const Anomaly& x, const Anomaly& y) { return x.subject < y.subject; });
  CHECK(render(found) == "clock_skew " + to_hex(a) + " []\nclock_skew " + to_hex(c) + " [7 9]\n");
  CHECK(found[0].detail == "terminal aaaaaaaa's clock was 2 d 0 h 0 min ahead of the server's at its latest sync");
  CHECK(found[1].detail ==
        "terminal cccccccc's clock 2 events claim a time outside what the server's receipts allow, by up to 2 d 0 h "
        "0 min");
}

TEST_CASE("anomalies: identifiers are the documented digest and change with the numbers") {
  const std::string id = anomaly_id(anomaly::kOverlap, "W1", {filled(0x22), filled(0x11)});
  CHECK(id == anomaly_id(anomaly::kOverlap, "W1", {filled(0x11), filled(0x22)}));
  CHECK(id == "overlap:" + std::string(kOverlapGoldenId));
  CHECK(id != anomaly_id(anomaly::kOverlap, "W1", {filled(0x11), filled(0x23)}));
  CHECK(id != anomaly_id(anomaly::kOverlap, "W2", {filled(0x11), filled(0x22)}));
  CHECK(id != anomaly_id(anomaly::kOverDay, "W1", {filled(0x11), filled(0x22)}));
}

TEST_CASE("anomalies: the result does not depend on the order of the facts") {
  const std::uint32_t seed = std::getenv("SHIFTBOOK_SEED") ? std::uint32_t(std::strtoul(std::getenv("SHIFTBOOK_SEED"), nullptr, 10)) : 20261123u;
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  for (int round = 0; round < 50; ++round) {
    AnomalyFacts f;
    f.periods = {{"P-a", kDay - 10, kDay + 2}, {"P-b", kDay + 3, kDay + 20}};
    for (std::uint8_t v = 1; v <= 40; ++v) {
      const std::int64_t start = std::uniform_int_distribution<std::int64_t>(0, 1400)(rng);
      const std::int64_t len = std::uniform_int_distribution<std::int64_t>(1, 900)(rng);
      const std::int64_t day = kDay + std::uniform_int_distribution<int>(0, 3)(rng);
      f.hours.push_back(hours(v, "W" + std::to_string(v % 4), start, start + len, day));
      f.outputs.push_back({filled(static_cast<std::uint8_t>(100 + v)), "U" + std::to_string(v % 2), "P1",
                           kDay + std::uniform_int_distribution<int>(-12, 12)(rng),
                           std::uniform_int_distribution<std::int64_t>(1, 3)(rng)});
      PublicKey d{};
      d.fill(static_cast<std::uint8_t>(v % 5));
      f.claims.push_back({filled(static_cast<std::uint8_t>(200 + v)), d, v,
                          std::uniform_int_distribution<std::int64_t>(0, 4'000'000)(rng), 1'000'000, 3'000'000});
    }
    f.quotas = {{"U0", "P-a", "P1", 2}, {"U1", "P-b", "P1", 1}, {"U1", "P-a", "P1", 3}};
    const auto first = find_anomalies(f, 600'000);
    CHECK_FALSE(first.empty());
    for (int shuffle = 0; shuffle < 4; ++shuffle) {
      AnomalyFacts g = f;
      std::shuffle(g.hours.begin(), g.hours.end(), rng);
      std::shuffle(g.outputs.begin(), g.outputs.end(), rng);
      std::shuffle(g.periods.begin(), g.periods.end(), rng);
      std::shuffle(g.quotas.begin(), g.quotas.end(), rng);
      std::shuffle(g.claims.begin(), g.claims.end(), rng);
      const auto again = find_anomalies(g, 600'000);
      REQUIRE(again.size() == first.size());
      for (std::size_t i = 0; i < first.size(); ++i) {
        CHECK(again[i].id == first[i].id);
        CHECK(again[i].events == first[i].events);
        CHECK(again[i].detail == first[i].detail);
      }
    }
  }
}
