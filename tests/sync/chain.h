// A device's chain for the sync library's tests: events sealed one by one, so hashes, links and
// HLCs are real. The HLC of event n is (clock_ms + n * step_ms) << 16.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shiftbook/event.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"

namespace shiftbook::test {

inline PublicKey dev(std::uint8_t n) {
  PublicKey k{};
  k.fill(n);
  return k;
}

// The site signer of these tests.
inline const PublicKey kTestSigner = dev(99);

class Chain {
 public:
  Chain(std::uint8_t id, std::int64_t clock_ms, std::int64_t step_ms = 1000)
      : device_(dev(id)), clock_ms_(clock_ms), step_ms_(step_ms) {}
  // A copy: a reference into events_ would dangle at the next add.
  Event add(const std::string& kind, Json body) {
    Event e;
    e.device = device_;
    e.seq = events_.size() + 1;
    e.hlc = static_cast<std::uint64_t>(clock_ms_ + static_cast<std::int64_t>(e.seq) * step_ms_) << 16;
    e.prev = events_.empty() ? Hash{} : events_.back().hash;
    e.author = device_ == kTestSigner ? "head-office" : "L1";
    e.kind = kind;
    e.body = std::move(body);
    auto sealed = seal_event(std::move(e));
    REQUIRE_MESSAGE(sealed.is_ok(), sealed.status().to_string());
    events_.push_back(sealed->event);
    return events_.back();
  }
  // A shift_open of `unit` on `date`, naming a receipt of server time `receipt_ms` when given.
  Event open_shift(const std::string& unit, const std::string& date, std::optional<std::int64_t> receipt_ms = {}) {
    Json body = {{"unit", unit}, {"date", date}};
    if (receipt_ms) {
      Receipt r;
      r.device = device_;
      r.server_ms = *receipt_ms;
      body["receipt"] = receipt_field(r);
    }
    return add("shift_open", body);
  }
  const std::vector<Event>& events() const { return events_; }

 private:
  PublicKey device_;
  std::int64_t clock_ms_;
  std::int64_t step_ms_;
  std::vector<Event> events_;
};

}  // namespace shiftbook::test
