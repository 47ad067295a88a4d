#include "crash_check.h"

#include <doctest/doctest.h>

#include "shiftbook/event.h"
#include "support/fixture.h"

namespace shiftbook::testing {

std::set<std::uint64_t> checked_chain(const client::Store& store) {
  auto raw = store.raw_events(store.device());
  REQUIRE_MESSAGE(raw.is_ok(), raw.status().to_string());
  std::set<std::uint64_t> seqs;
  Event previous;
  for (const Bytes& bytes : *raw) {
    auto e = decode_event(bytes);
    REQUIRE_MESSAGE(e.is_ok(), e.status().to_string());
    Status link = check_link(seqs.empty() ? nullptr : &previous, *e);
    REQUIRE_MESSAGE(link.is_ok(), link.to_string());
    seqs.insert(e->seq);
    previous = std::move(e).value();
  }
  return seqs;
}

std::set<std::uint64_t> check_after_crash(const std::string& dir, const Clock& clock,
                                          const std::vector<std::uint64_t>& acked) {
  auto store = client::Store::open(dir, clock, fast_options());
  REQUIRE_MESSAGE(store.is_ok(), store.status().to_string());
  std::set<std::uint64_t> seqs = checked_chain(**store);
  std::size_t missing = 0;
  for (std::uint64_t seq : acked) missing += seqs.count(seq) == 0 ? 1 : 0;
  CHECK_MESSAGE(missing == 0, missing << " of " << acked.size() << " acknowledged entries are missing; the store holds "
                                      << seqs.size() << " events");
  auto report = (*store)->verify();
  REQUIRE_MESSAGE(report.is_ok(), report.status().to_string());
  CHECK_MESSAGE(report->problem.is_ok(), report->problem.to_string());
  CHECK(report->events >= seqs.size());
  // The store takes the next entry, right after the last one that survived.
  auto next = (*store)->log_output("", "P1", 1);
  REQUIRE_MESSAGE(next.is_ok(), next.status().to_string());
  CHECK(next->seq == (seqs.empty() ? 1 : *seqs.rbegin() + 1));
  return seqs;
}

}  // namespace shiftbook::testing
