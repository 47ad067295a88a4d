// The fault policy of shiftbook-faultproxy: see faultproxy_faults.h.
#include "faultproxy_faults.h"

#include <arpa/inet.h>

#include <sstream>

namespace shiftbook::faultproxy {
namespace {

// The fields of Faults that are rates, by their JSON names and option names.
struct Rate {
  const char* json;
  const char* option;
  double Faults::*field;
};
constexpr Rate kRates[] = {
    {"drop_request", "drop-request", &Faults::drop_request},
    {"drop_response", "drop-response", &Faults::drop_response},
    {"truncate_response", "truncate-response", &Faults::truncate_response},
    {"duplicate_request", "duplicate-request", &Faults::duplicate_request},
    {"delay", "delay", &Faults::delay},
    {"reorder", "reorder", &Faults::reorder},
};

constexpr int kMaxDelayMs = 60000;

bool is_loopback(const std::string& host, bool ipv6) {
  if (ipv6) {
    in6_addr a{};
    return ::inet_pton(AF_INET6, host.c_str(), &a) == 1 && IN6_IS_ADDR_LOOPBACK(&a);
  }
  in_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

Result<int> parse_port(const std::string& text, const std::string& quoted) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(text) > 65535) {
    return invalid_argument(quoted + " has no valid port (0 to 65535)");
  }
  return std::stoi(text);
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// HOST:PORT with a loopback HOST; `form` is the advice added to a refusal.
Result<Endpoint> parse_host_port(const std::string& text, const std::string& quoted, const std::string& form) {
  Endpoint e;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return invalid_argument(quoted + " is not an address" + form);
    }
    e.host = text.substr(1, close - 1);
    e.ipv6 = true;
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return invalid_argument(quoted + " has no port" + form);
    e.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (!is_loopback(e.host, e.ipv6)) {
    return invalid_argument(quoted + ": '" + e.host +
                            "' is not a loopback address; the fault proxy serves this machine only" + form);
  }
  SB_ASSIGN_OR_RETURN(e.port, parse_port(port, quoted));
  return e;
}

}  // namespace

Json Faults::to_json() const {
  Json doc = Json::object();
  for (const Rate& r : kRates) doc[r.json] = this->*r.field;
  doc["delay_min_ms"] = delay_min_ms;
  doc["delay_max_ms"] = delay_max_ms;
  doc["reorder_hold_ms"] = reorder_hold_ms;
  return doc;
}

std::string Faults::to_text() const {
  std::ostringstream out;
  for (const Rate& r : kRates) {
    if (this->*r.field <= 0) continue;
    out << (out.tellp() > 0 ? ", " : "") << r.option << ' ' << this->*r.field;
    if (r.field == &Faults::delay) out << " (" << delay_min_ms << '-' << delay_max_ms << " ms)";
    if (r.field == &Faults::reorder) out << " (held up to " << reorder_hold_ms << " ms)";
  }
  return out.tellp() > 0 ? out.str() : "none";
}

Result<Endpoint> parse_loopback_listen(const std::string& text) {
  return parse_host_port(text, "--listen '" + text + "'", " (give 127.0.0.1:PORT or [::1]:PORT; port 0 picks a free one)");
}

Result<Endpoint> parse_loopback_url(const std::string& url) {
  const std::string quoted = "upstream '" + url + "'";
  const std::string form = " (give the server's address, such as http://127.0.0.1:8080, without a path)";
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0 || url.find('/', kScheme.size()) != std::string::npos) {
    return invalid_argument(quoted + " is not an http:// address" + form);
  }
  SB_ASSIGN_OR_RETURN(Endpoint e, parse_host_port(url.substr(kScheme.size()), quoted, form));
  if (e.port == 0) return invalid_argument(quoted + " names port 0" + form);
  return e;
}

Status parse_delay_range(const std::string& text, Faults& faults) {
  const auto bad = [&] {
    return invalid_argument("--delay-ms '" + text + "' is not MIN-MAX milliseconds (such as 10-200; at most " +
                            std::to_string(kMaxDelayMs) + ")");
  };
  const auto dash = text.find('-');
  const std::string lo = text.substr(0, dash);
  const std::string hi = dash == std::string::npos ? lo : text.substr(dash + 1);
  for (const std::string* part : {&lo, &hi}) {
    if (part->empty() || part->size() > 5 || part->find_first_not_of("0123456789") != std::string::npos) return bad();
  }
  const int min = std::stoi(lo), max = std::stoi(hi);
  if (min > max || max > kMaxDelayMs) return bad();
  faults.delay_min_ms = min;
  faults.delay_max_ms = max;
  return Status::ok();
}

Plan Settings::draw() {
  std::lock_guard lock(mu_);
  // Every draw is taken whatever the earlier ones gave, so that the same seed and the same
  // sequence of requests give the same faults.
  const auto unit = [this] { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; };
  const auto chance = [&](double p) { return unit() < p; };
  const auto delay = [&] {
    const bool on = chance(faults_.delay);
    const auto span = static_cast<std::uint64_t>(faults_.delay_max_ms - faults_.delay_min_ms) + 1;
    const auto ms = faults_.delay_min_ms + static_cast<int>(rng_() % span);
    return std::chrono::milliseconds(on ? ms : 0);
  };
  Plan p;
  p.drop_request = chance(faults_.drop_request);
  p.drop_response = chance(faults_.drop_response);
  p.truncate = chance(faults_.truncate_response) && !p.drop_response;
  p.duplicate = chance(faults_.duplicate_request);
  p.reorder = chance(faults_.reorder);
  p.reorder_hold = std::chrono::milliseconds(faults_.reorder_hold_ms);
  p.delay_before = delay();
  p.delay_after = delay();
  p.cut = rng_();
  return p;
}

Faults Settings::faults() const {
  std::lock_guard lock(mu_);
  return faults_;
}

Status Settings::update_faults(const Json& doc) {
  if (!doc.is_object()) return invalid_argument("the faults must be a JSON object, such as {\"drop_request\": 0.1}");
  std::lock_guard lock(mu_);
  Faults next = faults_;
  for (const auto& [key, value] : doc.items()) {
    bool known = false;
    for (const Rate& r : kRates) {
      if (key != r.json) continue;
      known = true;
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 1) {
        return invalid_argument("'" + key + "' must be a number from 0 to 1");
      }
      next.*r.field = value.get<double>();
    }
    for (auto [name, field] : {std::pair{"delay_min_ms", &Faults::delay_min_ms},
                               std::pair{"delay_max_ms", &Faults::delay_max_ms},
                               std::pair{"reorder_hold_ms", &Faults::reorder_hold_ms}}) {
      if (key != name) continue;
      known = true;
      if (!value.is_number_integer() || value.get<std::int64_t>() < 0 || value.get<std::int64_t>() > kMaxDelayMs) {
        return invalid_argument("'" + key + "' must be a whole number of milliseconds from 0 to " +
                                std::to_string(kMaxDelayMs));
      }
      next.*field = value.get<int>();
    }
    if (!known) return invalid_argument("'" + key + "' is not a fault setting");
  }
  if (next.delay_min_ms > next.delay_max_ms) return invalid_argument("delay_min_ms is above delay_max_ms");
  faults_ = next;
  return Status::ok();
}

Status Settings::set_upstream(const std::string& url) {
  SB_RETURN_IF_ERROR(parse_loopback_url(url).status());
  std::lock_guard lock(mu_);
  upstream_ = url;
  ++generation_;
  return Status::ok();
}

std::pair<std::string, std::uint64_t> Settings::upstream() const {
  std::lock_guard lock(mu_);
  return {upstream_, generation_};
}

std::uint64_t Counters::faults_total() const {
  return drop_request + drop_response + truncate_response + duplicate_request + delay + reorder;
}

Json Counters::to_json() const {
  return Json{{"requests", requests.load()},
              {"forwarded", forwarded.load()},
              {"answered", answered.load()},
              {"upstream_failed", upstream_failed.load()},
              {"reorder_alone", reorder_alone.load()},
              {"faults_total", faults_total()},
              {"faults",
               {{"drop_request", drop_request.load()},
                {"drop_response", drop_response.load()},
                {"truncate_response", truncate_response.load()},
                {"duplicate_request", duplicate_request.load()},
                {"delay", delay.load()},
                {"reorder", reorder.load()}}}};
}

std::string Counters::to_text() const {
  std::ostringstream out;
  out << requests << " requests, " << forwarded << " forwarded, " << answered << " answered whole, "
      << upstream_failed << " without an answer from the server; faults injected: drop-request " << drop_request
      << ", drop-response " << drop_response << ", truncate-response " << truncate_response
      << ", duplicate-request " << duplicate_request << ", delay " << delay << ", reorder " << reorder << " ("
      << faults_total() << " in all; " << reorder_alone << " held with none to overtake them)";
  return out.str();
}

ReorderGate::Pass::~Pass() {
  if (!overtook_) return;
  std::lock_guard lock(gate_->mu_);
  overtook_->released = true;
  gate_->cv_.notify_all();
}

ReorderGate::Pass ReorderGate::enter(bool hold, std::chrono::milliseconds hold_for,
                                     const std::atomic<bool>& stopping) {
  std::unique_lock lock(mu_);
  if (held_) {
    std::shared_ptr<Held> other = std::move(held_);
    other->overtaken = true;
    cv_.notify_all();
    return Pass(this, std::move(other));
  }
  Pass pass(this, nullptr);
  if (!hold) return pass;
  auto mine = std::make_shared<Held>();
  held_ = mine;
  cv_.wait_for(lock, hold_for, [&] { return mine->overtaken || stopping; });
  if (!mine->overtaken) {
    held_.reset();
    pass.alone = true;
    return pass;
  }
  // The overtaker is being forwarded; its answer is bounded by the upstream timeouts.
  cv_.wait_for(lock, std::chrono::seconds(60), [&] { return mine->released || stopping.load(); });
  pass.overtaken = true;
  return pass;
}

void ReorderGate::wake_all() {
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

std::size_t cut_point(std::size_t total, std::size_t body, std::uint64_t draw) {
  const std::size_t head = total - body;
  if (body == 0) return head == 0 ? 0 : static_cast<std::size_t>(draw % head);
  return head + static_cast<std::size_t>(draw % body);
}

std::string answer_text(int status, const Headers& headers, const std::string& body, bool close) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
  out += body;
  return out;
}

std::string json_answer(int status, const Json& doc, bool close) {
  return answer_text(status, {{"Content-Type", "application/json"}}, doc.dump(), close);
}

Json error_json(const std::string& code, const std::string& message) {
  return Json{{"error", {{"code", code}, {"message", message}}}};
}

}  // namespace shiftbook::faultproxy
