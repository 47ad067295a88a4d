// The HTTP of shiftbook-faultproxy: just enough HTTP/1.1 for the protocol on the terminals' side
// (requests with a Content-Length body, kept-alive connections, read straight from the socket so
// that a fault can close or cut it at any byte), and cpp-httplib on the server's side. Each
// object serves one connection from one thread; stop() may come from another thread, to wake it.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "faultproxy_faults.h"

namespace shiftbook::faultproxy {

struct HttpRequest {
  std::string method;
  std::string target;
  Headers headers;
  std::string body;
  bool close = false;  // the terminal asked to close the connection after this answer
};

// Headers that belong to one connection, not to the request or answer they travel with: the
// proxy writes its own.
bool is_hop_header(const std::string& name);

// The terminal's side of one connection: reads requests one after another (keeping what arrives
// beyond one request for the next) and writes answers. Every wait ends within 100 ms of `stopping`.
class Downstream {
 public:
  Downstream(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}
  int fd() const { return fd_; }

  // The next request; nullopt when the terminal closed the connection, went quiet (30 s between
  // requests, 60 s within one), sent what this proxy does not forward (answered 400, 413 or 501
  // first), or a stop came.
  std::optional<HttpRequest> read_request();
  // False when the bytes could not all be written within 60 s.
  bool write(std::string_view bytes);

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  std::nullopt_t refuse(int status, const std::string& why);

  int fd_;
  const std::atomic<bool>& stopping_;
  std::string buf_;
};

// The server's side of one connection: a kept-alive cpp-httplib client (TCP_NODELAY), made again
// when the upstream changes.
class Upstream {
 public:
  explicit Upstream(Settings& settings) : settings_(settings) {}

  // The server's answer, or nullopt when none came (refused, cut, timed out after 60 s).
  std::optional<httplib::Response> forward(const HttpRequest& req);
  void stop();

 private:
  void connect();

  Settings& settings_;
  std::mutex mu_;  // client_ is replaced by the serving thread and stopped from another
  std::unique_ptr<httplib::Client> client_;
  std::uint64_t generation_ = 0;
};

}  // namespace shiftbook::faultproxy
