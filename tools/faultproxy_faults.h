// The fault policy of shiftbook-faultproxy (docs/FAULTS.md): the rates, the seeded draw of what
// happens to each request, the counts of what was done, the gate that reorders requests, the
// loopback-only address rules and the HTTP answer text. Settings and Counters are safe to share
// between connection threads (a mutex, atomics); ReorderGate is the one meeting point of threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "shiftbook/canonical.h"
#include "shiftbook/status.h"

namespace shiftbook::faultproxy {

// Rates are probabilities, 0 to 1, drawn for every request.
struct Faults {
  double drop_request = 0;
  double drop_response = 0;
  double truncate_response = 0;
  double duplicate_request = 0;
  double delay = 0;
  double reorder = 0;
  int delay_min_ms = 10;
  int delay_max_ms = 200;
  int reorder_hold_ms = 250;

  Json to_json() const;
  std::string to_text() const;  // "drop-request 0.1, ..., delay 0.2 (10-200 ms), ..."; "none" when all are 0
};

// What happens to one request. At most one of drop_request, drop_response, truncate takes effect,
// in that order; delays, duplication and reordering combine with the others.
struct Plan {
  bool drop_request = false;
  bool duplicate = false;
  bool drop_response = false;
  bool truncate = false;
  bool reorder = false;
  std::chrono::milliseconds reorder_hold{0};
  std::chrono::milliseconds delay_before{0};
  std::chrono::milliseconds delay_after{0};
  std::uint64_t cut = 0;  // where a truncated answer ends: cut_point() maps it into the answer
};

// A loopback address: 127.0.0.0/8 or ::1.
struct Endpoint {
  std::string host;
  int port = 0;
  bool ipv6 = false;
  std::string url() const { return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port); }
};
// "127.0.0.1:0", "[::1]:8080". Any other host, a name, or a bad port is invalid_argument.
Result<Endpoint> parse_loopback_listen(const std::string& text);
// "http://127.0.0.1:8080" (no path); the same rules.
Result<Endpoint> parse_loopback_url(const std::string& url);
// "MIN-MAX" or "N" milliseconds, 0 <= MIN <= MAX <= 60000, into faults.delay_min_ms/max_ms.
Status parse_delay_range(const std::string& text, Faults& faults);

// The rates, the generator and the upstream, changed at run time by the control endpoints.
class Settings {
 public:
  Settings(Faults faults, std::uint64_t seed) : faults_(faults), rng_(seed) {}

  Plan draw();
  Faults faults() const;
  // Sets the rates named in `doc` (a JSON object with Faults' field names); anything else,
  // or a rate outside 0..1, is invalid_argument and changes nothing.
  Status update_faults(const Json& doc);

  Status set_upstream(const std::string& url);
  // The upstream URL and a number that changes whenever it does.
  std::pair<std::string, std::uint64_t> upstream() const;
  std::uint64_t upstream_generation() const { return generation_; }

 private:
  mutable std::mutex mu_;
  Faults faults_;
  std::mt19937_64 rng_;
  std::string upstream_;
  std::atomic<std::uint64_t> generation_{0};
};

struct Counters {
  std::atomic<std::uint64_t> requests{0};         // from terminals (control requests not counted)
  std::atomic<std::uint64_t> forwarded{0};        // sent to the server (a duplicate counts twice)
  std::atomic<std::uint64_t> answered{0};         // whole answers sent back
  std::atomic<std::uint64_t> upstream_failed{0};  // no answer from the server: the terminal's connection is closed
  std::atomic<std::uint64_t> drop_request{0};
  std::atomic<std::uint64_t> drop_response{0};
  std::atomic<std::uint64_t> truncate_response{0};
  std::atomic<std::uint64_t> duplicate_request{0};
  std::atomic<std::uint64_t> delay{0};            // each sleep, before forwarding or before answering
  std::atomic<std::uint64_t> reorder{0};          // held requests another one overtook
  std::atomic<std::uint64_t> reorder_alone{0};    // held requests no other came to overtake

  std::uint64_t faults_total() const;
  Json to_json() const;
  std::string to_text() const;
};

// Reordering: a request drawn for it is held until another request arrives; that one is
// forwarded and answered first, then the held one goes. A request held for the hold time with
// no other coming goes on alone. At most one request is held at a time.
class ReorderGate {
 public:
  struct Held {
    bool overtaken = false;
    bool released = false;
  };
  // Scope of one request's forwarding: releases the request it overtook when it ends.
  class Pass {
   public:
    Pass(ReorderGate* gate, std::shared_ptr<Held> overtook) : gate_(gate), overtook_(std::move(overtook)) {}
    Pass(Pass&& other) noexcept = default;
    Pass& operator=(Pass&&) = delete;
    ~Pass();
    bool overtaken = false;  // this request was held and another went first
    bool alone = false;      // this request was held and none came

   private:
    ReorderGate* gate_;
    std::shared_ptr<Held> overtook_;
  };

  // Every forwarded request passes here. One that finds a request held overtakes it; else one
  // with `hold` waits (up to `hold_for`, then up to a minute for its overtaker to be answered).
  Pass enter(bool hold, std::chrono::milliseconds hold_for, const std::atomic<bool>& stopping);
  void wake_all();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Held> held_;
};

// Where a truncated answer of `total` bytes, `body` of them the body, is cut: inside the body
// (at least one byte short), or inside the header when the body is empty.
std::size_t cut_point(std::size_t total, std::size_t body, std::uint64_t draw);

// Header lines, in order.
using Headers = std::vector<std::pair<std::string, std::string>>;
// An HTTP/1.1 answer: the status line, `headers`, then Content-Length and Connection.
std::string answer_text(int status, const Headers& headers, const std::string& body, bool close);
// The same with one Content-Type header: application/json.
std::string json_answer(int status, const Json& doc, bool close);
// {"error":{"code":CODE,"message":MESSAGE}}, the server's shape for errors it answers in JSON.
Json error_json(const std::string& code, const std::string& message);

}  // namespace shiftbook::faultproxy
