// `shiftbook sync --watch` (sync_client.h, watch): sync, then keep the terminal in step for as long
// as it runs. Time is measured by what the listener waited, never by the terminal's clock, which
// may jump (a terminal reset to 1970, a clock set by hand): the interval and the backoff hold
// whatever it says. Every wait is one call of the listener, so a signal ends the watch at once.
#include <algorithm>
#include <random>

#include "sync_client.h"

namespace shiftbook::client {
namespace {

// The wait after `failures` failed attempts in a row: first_retry_ms doubled for each failure
// after the first, at most retry_max_ms, drawn uniformly from [d/2, d].
std::int64_t backoff(const WatchOptions& o, std::int64_t failures, std::mt19937_64& rng) {
  std::int64_t d = std::max<std::int64_t>(1, o.first_retry_ms);
  for (std::int64_t i = 1; i < failures && d < o.retry_max_ms; ++i) d *= 2;
  d = std::min(d, std::max<std::int64_t>(1, o.retry_max_ms));
  return std::uniform_int_distribution<std::int64_t>(d / 2, d)(rng);
}

// Waits until this terminal has events head office has not acknowledged (looked for every
// poll_ms) or interval_ms have passed: true then, false when the listener says stop. A store that
// another program holds for a moment is looked at again at the next poll.
Result<bool> idle(Store& store, WatchListener& listener, const WatchOptions& o) {
  std::int64_t waited = 0;
  for (;;) {
    auto state = store.sync_state();
    if (state.is_ok() && state->unacknowledged() > 0) return true;
    if (!state.is_ok() && state.status().code() != Code::kUnavailable) return state.status();
    if (waited >= o.interval_ms) return true;
    const std::int64_t step = std::max<std::int64_t>(1, std::min(o.poll_ms, o.interval_ms - waited));
    if (!listener.wait(step)) return false;
    waited += step;
  }
}

}  // namespace

Status watch(Store& store, Transport& transport, const Clock& clock, WatchListener& listener, WatchOptions options) {
  std::mt19937_64 rng(options.seed != 0 ? options.seed : std::random_device{}());
  options.sync.stop = [&listener] { return listener.stop_requested(); };
  std::int64_t failures = 0;  // failed attempts since the last sync that completed
  for (;;) {
    if (listener.stop_requested()) return Status::ok();
    SyncReport report;
    Status s = sync(store, transport, clock, report, {}, options.sync);
    if (s.is_ok()) {
      failures = 0;
      listener.synced(report);
      SB_ASSIGN_OR_RETURN(bool again, idle(store, listener, options));
      if (!again) return Status::ok();
      continue;
    }
    if (report.outcome == SyncOutcome::kStopped) return Status::ok();
    if (!is_transient(report.outcome)) {
      listener.stopping(report, s);
      return s;
    }
    ++failures;
    const std::int64_t wait = backoff(options, failures, rng);
    listener.retrying(report, s, failures, wait);
    if (!listener.wait(wait)) return Status::ok();
  }
}

}  // namespace shiftbook::client
