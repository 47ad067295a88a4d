// The server's HTTP layer: cpp-httplib routes that hand each request to the Service (or to the
// report endpoints of report_api.h) and answer with its Reply, plus the errors HTTP itself meets
// (a body over kMaxEnvelopeBytes, an unknown path, a request that arrives while the server
// stops), answered as JSON {"error":{"code":"...","message":"..."}} as docs/PROTOCOL.md lists them.
// Invariants: TCP_NODELAY is on; only the address given is bound (no SO_REUSEPORT, so a second
// server cannot share a port); every answered request that the Service logs, and every refusal
// made here, is one line through the log function, never two lines interleaved.
// HttpServer::stop() is safe from any thread; everything else is for the thread that owns it.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "service.h"
#include "shiftbook/status.h"

namespace shiftbook::server {

struct HttpOptions {
  // Connections served at once: each open connection holds one thread while it is in use.
  int threads = 32;
  // An idle keep-alive connection is closed after this long; stopping waits at most this long
  // for idle connections, so it stays short.
  int keep_alive_seconds = 2;
  // A connection that sends nothing for this long in the middle of a request is dropped.
  int read_timeout_seconds = 10;
  int write_timeout_seconds = 10;
  // Load balancers or reverse proxies in front of the server (IP addresses as they connect to it;
  // `serve --trusted-proxy`): a request from one of them is taken to come from the last address of
  // its X-Forwarded-For header, which is what logs, enrollment's per-peer limit and the dashboard
  // see as the peer. A request from any other address is taken to come from that address, whatever
  // it says in that header.
  std::vector<std::string> trusted_proxies;
};
inline constexpr int kMaxThreads = 1024;

// "HOST:PORT" where HOST is an IPv4 address ("127.0.0.1") or an IPv6 address in brackets
// ("[::1]"), and PORT 0..65535 (0 picks a free port). Host names are refused: a name could
// resolve to an address nobody meant to expose. invalid_argument naming what is wrong.
bool is_ip_address(std::string_view text);  // an IPv4 or IPv6 address, written as inet_pton reads it

struct ListenAddress {
  std::string host;  // without brackets
  int port = 0;
  bool ipv6 = false;
};
Result<ListenAddress> parse_listen_address(std::string_view text);
// "http://127.0.0.1:8080", "http://[::1]:8080".
std::string server_url(const ListenAddress& address, int port);

using LogFn = std::function<void(const std::string& line)>;

class HttpServer {
 public:
  // `log` receives one line per request the Service logs and per refusal made here; it may be
  // called from many threads at once and must serialize its writers.
  HttpServer(Service& service, HttpOptions options, LogFn log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the address (port 0 picks a free one) and returns the port bound. unavailable when
  // the address cannot be bound (in use, not an address of this machine).
  Result<int> bind(const ListenAddress& address);
  // Serves until stop(): blocks, then returns once every request in flight has been answered.
  Status run();
  // Stops accepting, lets requests in flight finish (new requests on open connections get 503
  // "shutting_down"), and makes run() return. Safe from any thread, also before run().
  void stop();
  // Requests being answered right now.
  int in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The `serve` command: parses `listen`, binds, writes exactly "listening on <url>" to `out` and
// flushes, serves with the Service's log lines written to `out` (one line each, flushed), and on
// SIGTERM or SIGINT stops as HttpServer::stop() does, writes "stopped" and returns ok.
// While it runs it owns the process's SIGTERM and SIGINT handlers (a further signal during the
// stop changes nothing; SIGKILL is the way to abandon requests in flight), and SIGPIPE is
// ignored. One call at a time per process.
Status serve(Service& service, const std::string& listen, const HttpOptions& options, std::ostream& out);

}  // namespace shiftbook::server
