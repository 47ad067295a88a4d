// The HTTP of shiftbook-faultproxy: see faultproxy_http.h.
#include "faultproxy_http.h"

#include <poll.h>
#include <strings.h>
#include <sys/socket.h>

#include <cerrno>
#include <sstream>

namespace shiftbook::faultproxy {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 17 * 1024 * 1024;  // an envelope (16 MiB) and then some
constexpr auto kIdleTimeout = std::chrono::seconds(30);  // a kept-alive connection with no request
constexpr auto kIoTimeout = std::chrono::seconds(60);    // reading one request, writing one answer
constexpr int kUpstreamTimeoutSeconds = 60;

constexpr const char* kTooLarge = "the body is larger than an envelope may be";
constexpr const char* kChunked = "bodies without a Content-Length are not forwarded";

// Waits until `fd` is ready for `events` (true), the deadline passes or a stop comes (false).
bool wait_ready(int fd, short events, Clock::time_point deadline, const std::atomic<bool>& stopping) {
  while (!stopping) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
  return false;
}

// HTTP names are compared without regard to case.
bool same_name(const std::string& a, const char* b) { return ::strcasecmp(a.c_str(), b) == 0; }

// Reads the request line and headers (`head`, without the blank line) into `req` and the body's
// length; what is wrong with them, or "".
std::string parse_head(const std::string& head, HttpRequest& req, std::size_t& length) {
  std::istringstream in(head);
  std::string line, version;
  std::getline(in, line);
  std::istringstream first(line);
  if (!(first >> req.method >> req.target >> version) || version.rfind("HTTP/1.", 0) != 0) {
    return "not an HTTP/1 request line";
  }
  req.close = version == "HTTP/1.0";
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) return "a header line without ':'";
    std::string name = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r") + 1);
    if (same_name(name, "Content-Length")) {
      if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos) {
        return "a Content-Length that is not a number";
      }
      length = std::stoul(value);
      if (length > kMaxBodyBytes) return kTooLarge;
    } else if (same_name(name, "Transfer-Encoding")) {
      return kChunked;
    } else if (same_name(name, "Connection")) {
      req.close = same_name(value, "close");
    }
    req.headers.emplace_back(std::move(name), std::move(value));
  }
  return {};
}

}  // namespace

bool is_hop_header(const std::string& name) {
  for (const char* h : {"Host", "Connection", "Keep-Alive", "Content-Length", "Transfer-Encoding", "Proxy-Connection"}) {
    if (same_name(name, h)) return true;
  }
  return false;
}

std::optional<HttpRequest> Downstream::read_request() {
  std::size_t end = std::string::npos;
  auto deadline = Clock::now() + kIdleTimeout;
  bool begun = false;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (buf_.size() > kMaxHeaderBytes) return refuse(400, "the request's header is too long");
    if (!buf_.empty() && !begun) {
      deadline = Clock::now() + kIoTimeout;
      begun = true;
    }
    if (!fill(deadline)) return std::nullopt;
  }
  HttpRequest req;
  std::size_t length = 0;
  if (std::string why = parse_head(buf_.substr(0, end), req, length); !why.empty()) {
    return refuse(why == kTooLarge ? 413 : why == kChunked ? 501 : 400, why);
  }
  buf_.erase(0, end + 4);
  deadline = Clock::now() + kIoTimeout;
  while (buf_.size() < length) {
    if (!fill(deadline)) return std::nullopt;
  }
  req.body = buf_.substr(0, length);
  buf_.erase(0, length);
  return req;
}

bool Downstream::write(std::string_view data) {
  const auto deadline = Clock::now() + kIoTimeout;
  while (!data.empty()) {
    if (!wait_ready(fd_, POLLOUT, deadline, stopping_)) return false;
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool Downstream::fill(Clock::time_point deadline) {
  if (!wait_ready(fd_, POLLIN, deadline, stopping_)) return false;
  char chunk[64 * 1024];
  const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
  buf_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::nullopt_t Downstream::refuse(int status, const std::string& why) {
  write(json_answer(status, error_json("http", why), true));
  return std::nullopt;
}

std::optional<httplib::Response> Upstream::forward(const HttpRequest& req) {
  if (settings_.upstream_generation() != generation_ || !client_) connect();
  httplib::Request out;
  out.method = req.method;
  out.path = req.target;
  for (const auto& [name, value] : req.headers) {
    if (!is_hop_header(name)) out.headers.emplace(name, value);
  }
  out.body = req.body;
  try {
    httplib::Result res = client_->send(out);
    if (!res) return std::nullopt;
    return res.value();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void Upstream::stop() {
  std::lock_guard lock(mu_);
  if (client_) client_->stop();
}

void Upstream::connect() {
  auto [url, generation] = settings_.upstream();
  auto client = std::make_unique<httplib::Client>(url);
  client->set_tcp_nodelay(true);
  client->set_keep_alive(true);
  client->set_decompress(false);
  client->set_connection_timeout(5, 0);
  client->set_read_timeout(kUpstreamTimeoutSeconds, 0);
  client->set_write_timeout(kUpstreamTimeoutSeconds, 0);
  std::lock_guard lock(mu_);
  client_ = std::move(client);
  generation_ = generation;
}

}  // namespace shiftbook::faultproxy
