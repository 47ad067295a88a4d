// The events of one site (bench_site.h).
#include "bench_site.h"

#include "shiftbook/event.h"
#include "shiftbook/kinds.h"

namespace shiftbook::bench {
namespace {

constexpr int kWorkersPerUnit = 40;
constexpr int kHoursPerShift = 8;
constexpr int kCorrectionPercent = 3;

}  // namespace

Result<ChainLink> EventChain::add(const char* kind, Json body) {
  Event e;
  e.device = device_;
  e.seq = ++seq_;
  e.hlc = static_cast<std::uint64_t>(base_ms_ + static_cast<std::int64_t>(seq_) * 1000) << 16;
  e.prev = last_;
  e.author = "L1";
  e.kind = kind;
  e.body = std::move(body);
  SB_ASSIGN_OR_RETURN(SealedEvent sealed, seal_event(std::move(e)));
  last_ = sealed.event.hash;
  sealed.bytes.shrink_to_fit();  // the report row holds ten million of them
  return ChainLink{std::move(sealed.bytes), last_};
}

ShiftMaker::ShiftMaker(SiteShape shape, std::uint32_t seed) : shape_(std::move(shape)), rng_(seed) {
  for (const PublicKey& t : shape_.terminals) chains_.emplace_back(t, shape_.base_ms);
  shifts_.assign(chains_.size(), 0);
}

const std::string& ShiftMaker::unit_of(std::size_t terminal) const {
  return shape_.units[terminal % shape_.units.size()];
}

Status ShiftMaker::next_shift(std::size_t t, std::vector<ChainLink>& out) {
  const int u = static_cast<int>(t % shape_.units.size());
  const std::string& unit = shape_.units[static_cast<std::size_t>(u)];
  const std::int64_t day = shape_.first_day + shifts_[t]++ % shape_.days;
  EventChain& c = chains_[t];
  SB_ASSIGN_OR_RETURN(ChainLink shift, c.add("shift_open", {{"unit", unit}, {"date", format_date(day)}}));
  const std::string ref = hash_ref(shift.hash);
  out.push_back(std::move(shift));
  auto worker = [&] { return "W" + std::to_string(u * kWorkersPerUnit + static_cast<int>(rng_() % kWorkersPerUnit)); };
  for (int h = 0; h < kHoursPerShift; ++h) {
    Json body{{"shift", ref}, {"worker", worker()}, {"start", 360}, {"end", 840}, {"special", rng_() % 10 == 0}};
    SB_ASSIGN_OR_RETURN(ChainLink hours, c.add("hours", body));
    const Hash target = hours.hash;
    out.push_back(std::move(hours));
    if (static_cast<int>(rng_() % 100) < kCorrectionPercent) {
      body["end"] = 780;
      SB_ASSIGN_OR_RETURN(ChainLink fix, c.add("correction", {{"target", hash_ref(target)}, {"reason", "left early"},
                                                              {"entry", body}}));
      out.push_back(std::move(fix));
    }
  }
  const int quantity = 200 + static_cast<int>(rng_() % 200);
  SB_ASSIGN_OR_RETURN(ChainLink output, c.add("output", {{"shift", ref}, {"product", "P1"}, {"quantity", quantity}}));
  out.push_back(std::move(output));
  output_[unit] += quantity;
  if (rng_() % 20 == 0) {
    SB_ASSIGN_OR_RETURN(ChainLink bonus, c.add("bonus", {{"shift", ref}, {"worker", worker()}, {"type", "skill_upgrade"}}));
    out.push_back(std::move(bonus));
  }
  return Status::ok();
}

}  // namespace shiftbook::bench
