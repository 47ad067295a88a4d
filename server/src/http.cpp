// The HTTP layer on cpp-httplib: routes to the Service, JSON errors for what HTTP refuses itself,
// and the `serve` loop with its signal handling. The one file that includes httplib.h on the
// server side: its exceptions end here.
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <ostream>
#include <thread>
#include <utility>

#include <httplib.h>

#include "dashboard.h"
#include "report_api.h"
#include "shiftbook/canonical.h"
#include "shiftbook/envelope.h"
#include "shiftbook/platform/files.h"

namespace shiftbook::server {

namespace {

std::string error_body(std::string_view code, const std::string& message) {
  Json doc = {{"error", {{"code", code}, {"message", message}}}};
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void answer_error(httplib::Response& res, int status, std::string_view code, const std::string& message) {
  res.status = status;
  res.set_content(error_body(code, message), "application/json");
}

// The address `text` means, as inet_pton reads it: its family and bytes; nullopt when none.
using AddressBytes = std::pair<int, std::array<unsigned char, sizeof(in6_addr)>>;
std::optional<AddressBytes> address_bytes(const std::string& text) {
  for (const int family : {AF_INET, AF_INET6}) {
    AddressBytes out{family, {}};
    if (::inet_pton(family, text.c_str(), out.second.data()) == 1) return out;
  }
  return std::nullopt;
}

// Two ways of writing one address ("::1" and "0:0::1") are the same address.
bool same_address(const std::string& a, const std::string& b) {
  const auto x = address_bytes(a);
  return x && x == address_bytes(b);
}

// Who sent `req`: its address, or for a request from a trusted proxy the last address of its
// X-Forwarded-For header, the one that proxy added (earlier ones are whatever the client wrote).
// A proxy's request whose header holds no address there is taken as the proxy's own.
bool from_trusted_proxy(const httplib::Request& req, const std::vector<std::string>& trusted) {
  return std::any_of(trusted.begin(), trusted.end(),
                     [&](const std::string& proxy) { return same_address(proxy, req.remote_addr); });
}

std::string peer_of(const httplib::Request& req, const std::vector<std::string>& trusted) {
  if (!from_trusted_proxy(req, trusted)) return req.remote_addr;
  const std::string forwarded = req.get_header_value("X-Forwarded-For");
  const auto comma = forwarded.rfind(',');
  std::string_view last(forwarded);
  if (comma != std::string::npos) last.remove_prefix(comma + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
  return is_ip_address(last) ? std::string(last) : req.remote_addr;
}

// One line for a refusal made here, in the shape of the Service's lines ("sync device 7f3a9c21
// peer 10.0.0.7 refused: gap: ..."): what, from whom, the code, why.
std::string refusal_line(const httplib::Request& req, const std::string& peer, std::string_view code,
                         const std::string& why) {
  return "http " + req.method + " " + req.path + " peer " + peer + " refused: " + std::string(code) + ": " + why;
}

// A request being answered, counted so that stopping can say how many it waits for.
class InFlight {
 public:
  explicit InFlight(std::atomic<int>& n) : n_(n) { ++n_; }
  ~InFlight() { --n_; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::atomic<int>& n_;
};

// Binds exactly the address given: SO_REUSEADDR (a restart need not wait for old connections to
// time out) without the library's default SO_REUSEPORT (with it, a second server on the same
// port would silently share the traffic).
void listen_socket_options(socket_t sock) {
  int yes = 1;
  ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
}

// Connections the kernel holds for accept(). cpp-httplib 0.11 listens with a backlog of 5, built
// into Debian's library: a few dozen terminals connecting at once overflow it, and every dropped
// connection costs its terminal a 1 s SYN retransmission or a failed request (measured with
// shiftbook-bench, docs/BENCHMARK.md). listen() again on the bound socket raises it (the kernel
// caps it at net.core.somaxconn).
constexpr int kListenBacklog = 1024;

}  // namespace

bool is_ip_address(std::string_view text) {
  return !text.empty() && text.size() < INET6_ADDRSTRLEN && address_bytes(std::string(text)).has_value();
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  const std::string quoted = "'" + std::string(text) + "'";
  const std::string form = " (give HOST:PORT, such as 127.0.0.1:8080, [::1]:8080, or port 0 for any free port)";
  ListenAddress out;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return invalid_argument(quoted + " is not an address to listen on" + form);
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    out.ipv6 = true;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return invalid_argument(quoted + " has no port" + form);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return invalid_argument(quoted + ": an IPv6 address goes in brackets" + form);
    }
  }
  out.host = std::string(host);
  unsigned char buf[sizeof(in6_addr)];
  if (::inet_pton(out.ipv6 ? AF_INET6 : AF_INET, out.host.c_str(), buf) != 1) {
    return invalid_argument(quoted + ": '" + out.host + "' is not an IP" + (out.ipv6 ? "v6" : "v4") +
                            " address (host names are not accepted, so that only the address meant is exposed)" +
                            form);
  }
  if (port.empty() || port.size() > 5) return invalid_argument(quoted + " has no valid port" + form);
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return invalid_argument(quoted + " has no valid port" + form);
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return invalid_argument(quoted + ": port " + std::string(port) + " is above 65535");
  out.port = value;
  return out;
}

std::string server_url(const ListenAddress& address, int port) {
  const std::string host = address.ipv6 ? "[" + address.host + "]" : address.host;
  return "http://" + host + ":" + std::to_string(port);
}

struct HttpServer::Impl {
  Impl(Service& s, HttpOptions o, LogFn l) : service(s), options(o), log(std::move(l)) {}

  Service& service;
  HttpOptions options;
  LogFn log;
  httplib::Server http;
  std::atomic<int> in_flight{0};
  std::atomic<bool> stopping{false};
  socket_t listen_sock = INVALID_SOCKET;  // the socket bind() made, seen by the socket options hook

  // run() and stop() agree through this: stop() before run() makes run() return at once.
  enum class State { kIdle, kRunning, kStopped };
  std::mutex state_mutex;
  State state = State::kIdle;
  bool http_stopped = false;

  void setup();
  std::string peer(const httplib::Request& req) const { return peer_of(req, options.trusted_proxies); }
  // The client reached a trusted proxy over HTTPS, as its X-Forwarded-Proto says.
  bool via_https(const httplib::Request& req) const {
    return from_trusted_proxy(req, options.trusted_proxies) && req.get_header_value("X-Forwarded-Proto") == "https";
  }
  std::string refused(const httplib::Request& req, std::string_view code, const std::string& why) const {
    return refusal_line(req, peer(req), code, why);
  }
  void answer(const httplib::Request& req, httplib::Response& res, const std::function<Reply()>& call);
};

void HttpServer::Impl::answer(const httplib::Request& req, httplib::Response& res,
                              const std::function<Reply()>& call) {
  InFlight counted(in_flight);
  if (stopping) {
    // Still arriving when stop() came, or arrived on a kept-alive connection since: refused
    // before the Service sees it, so nothing of it is stored.
    answer_error(res, 503, "shutting_down", "the server is stopping; try again in a moment");
    res.set_header("Connection", "close");
    log(refused(req, "shutting_down", "the server is stopping"));
    return;
  }
  Reply reply;
  try {
    reply = call();
  } catch (const std::exception& e) {
    reply.http_status = 500;
    reply.content_type = "application/json";
    reply.body = error_body("internal", "the server failed to answer; try again later");
    reply.log_line = refused(req, "internal", e.what());
  }
  res.status = reply.http_status;
  if (reply.retry_after_seconds > 0) res.set_header("Retry-After", std::to_string(reply.retry_after_seconds));
  res.set_header("Content-Type", reply.content_type);
  for (const auto& [name, value] : reply.headers) res.set_header(name, value);
  // A pulled batch can be megabytes: moved, not copied.
  res.body = std::move(reply.body);
  if (!reply.log_line.empty()) log(reply.log_line);
}

void HttpServer::Impl::setup() {
  http.set_tcp_nodelay(true);
  http.set_socket_options([this](socket_t sock) {
    listen_socket_options(sock);
    listen_sock = sock;
  });
  const auto threads = static_cast<std::size_t>(std::clamp(options.threads, 1, kMaxThreads));
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_keep_alive_timeout(options.keep_alive_seconds);
  http.set_read_timeout(options.read_timeout_seconds, 0);
  http.set_write_timeout(options.write_timeout_seconds, 0);
  // Content-Length above this is refused (413) before the body is kept in memory.
  http.set_payload_max_length(kMaxEnvelopeBytes);

  http.Get("/v1/hello", [this](const httplib::Request& req, httplib::Response& res) {
    answer(req, res, [this] { return service.hello(); });
  });
  http.Post("/v1/enroll", [this](const httplib::Request& req, httplib::Response& res) {
    answer(req, res, [&] { return service.enroll(as_bytes(req.body), peer(req)); });
  });
  http.Post("/v1/sync", [this](const httplib::Request& req, httplib::Response& res) {
    answer(req, res, [&] { return service.sync(as_bytes(req.body), peer(req)); });
  });
  auto wrong_method = [this](const char* allowed) {
    return [this, allowed](const httplib::Request& req, httplib::Response& res) {
      answer_error(res, 405, "method", req.method + " " + req.path + " is not served; use " + allowed);
      res.set_header("Allow", allowed);
      log(refused(req, "method", "use " + std::string(allowed)));
    };
  };
  http.Post("/v1/hello", wrong_method("GET"));
  http.Get("/v1/enroll", wrong_method("POST"));
  http.Get("/v1/sync", wrong_method("POST"));

  // Head office's read-only reports (report_api.h), for a holder of an API token.
  auto report = [this](Reply (*endpoint)(Service&, const ReportRequest&)) {
    return [this, endpoint](const httplib::Request& req, httplib::Response& res) {
      answer(req, res, [&] {
        return endpoint(service, ReportRequest{req.get_header_value("Authorization"), req.params, peer(req)});
      });
    };
  };
  for (const auto& [path, endpoint] : {std::pair{"/v1/reports/payroll", &payroll_report},
                                       std::pair{"/v1/reports/returns", &returns_report}}) {
    http.Get(path, report(endpoint));
    http.Post(path, wrong_method("GET"));
    http.Put(path, wrong_method("GET"));
    http.Delete(path, wrong_method("GET"));
  }

  // The head-office dashboard (dashboard.h, docs/DASHBOARD.md): HTML pages for signed-in staff.
  auto dashboard = [this](Reply (*page)(Service&, const DashboardRequest&)) {
    return [this, page](const httplib::Request& req, httplib::Response& res) {
      answer(req, res, [&] {
        DashboardRequest d{req.get_header_value("Cookie"), req.params, peer(req), via_https(req)};
        if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) {
          httplib::Params form;
          httplib::detail::parse_query_text(req.body, form);
          d.params.insert(form.begin(), form.end());
        }
        return page(service, d);
      });
    };
  };
  http.Get("/dashboard", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/dashboard/", 303); });
  for (const DashboardRoute& route : dashboard_routes()) {
    if (route.post) {
      http.Post(route.path, dashboard(route.handle));
    } else {
      http.Get(route.path, dashboard(route.handle));
    }
  }

  // Called for every answer of status 400 and above; answers that already have a body (the
  // Service's, or ours above) pass unchanged. What is left was refused by the library itself.
  http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                    httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string code = "http";
    std::string message = "the request was refused (HTTP " + std::to_string(res.status) + ")";
    if (res.status == 413) {
      code = "too_large";
      message = "the body is over the limit of " + std::to_string(kMaxEnvelopeBytes) + " bytes";
    } else if (res.status == 404) {
      code = "not_found";
      message = "no such endpoint: " + req.method + " " + req.path +
                " (the server serves GET /v1/hello, POST /v1/enroll, POST /v1/sync, with an API token "
                "GET /v1/reports/payroll and GET /v1/reports/returns, and the dashboard at GET /dashboard/)";
    } else if (res.status == 400) {
      code = "malformed";
      message = "the request is not well-formed HTTP";
    }
    answer_error(res, res.status, code, message);
    log(refused(req, code, message));
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
    answer_error(res, 500, "internal", "the server failed to answer; try again later");
    log(refused(req, "internal", "an exception escaped the handler"));
  });
}

HttpServer::HttpServer(Service& service, HttpOptions options, LogFn log)
    : impl_(std::make_unique<Impl>(service, options, std::move(log))) {
  impl_->setup();
}

HttpServer::~HttpServer() { stop(); }

Result<int> HttpServer::bind(const ListenAddress& address) {
  const std::string where = server_url(address, address.port);
  errno = 0;
  int port = -1;
  try {
    if (address.port == 0) {
      port = impl_->http.bind_to_any_port(address.host);
    } else if (impl_->http.bind_to_port(address.host, address.port)) {
      port = address.port;
    }
  } catch (const std::exception& e) {
    return internal_error("cannot listen on " + where + ": " + e.what());
  }
  if (port < 0) {
    const int e = errno;
    return unavailable("cannot listen on " + where + (e ? std::string(": ") + std::strerror(e) : std::string()) +
                       " (is another server using the port, or is the address not one of this machine's?)");
  }
  if (impl_->listen_sock != INVALID_SOCKET && ::listen(impl_->listen_sock, kListenBacklog) != 0) {
    return unavailable("cannot listen on " + where + ": " + std::strerror(errno));
  }
  return port;
}

Status HttpServer::run() {
  {
    std::lock_guard lock(impl_->state_mutex);
    if (impl_->state != Impl::State::kIdle) return Status::ok();
    impl_->state = Impl::State::kRunning;
  }
  bool clean = false;
  try {
    clean = impl_->http.listen_after_bind();
  } catch (const std::exception& e) {
    return internal_error(std::string("the HTTP server failed: ") + e.what());
  }
  {
    std::lock_guard lock(impl_->state_mutex);
    impl_->state = Impl::State::kStopped;
  }
  if (!clean && !impl_->stopping) return internal_error("the HTTP server stopped accepting connections");
  return Status::ok();
}

void HttpServer::stop() {
  impl_->stopping = true;
  std::unique_lock lock(impl_->state_mutex);
  if (impl_->state == Impl::State::kIdle) {
    impl_->state = Impl::State::kStopped;
    return;
  }
  if (impl_->state == Impl::State::kStopped || impl_->http_stopped) return;
  // run() has begun; the library starts counting itself running a moment later, and its stop()
  // does nothing before that. Bounded: listening starts within microseconds of run().
  for (int i = 0; i < 5000 && !impl_->http.is_running() && impl_->state == Impl::State::kRunning; ++i) {
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    lock.lock();
  }
  if (impl_->state != Impl::State::kRunning || impl_->http_stopped) return;
  impl_->http_stopped = true;
  impl_->http.stop();
}

int HttpServer::in_flight() const { return impl_->in_flight; }

namespace {

// Turns SIGINT and SIGTERM into bytes on a pipe that one thread waits on. A handler rather than
// a blocked signal mask: threads started before serve() (the storage starts its own) would
// otherwise take the default action, and die, on a signal the process receives.
std::atomic<int> g_stop_pipe{-1};

extern "C" void on_stop_signal(int sig) {
  const int saved = errno;
  const unsigned char b = static_cast<unsigned char>(sig);
  const int fd = g_stop_pipe.load();
  if (fd >= 0) (void)!::write(fd, &b, 1);
  errno = saved;
}

class StopSignals {
 public:
  StopSignals() {
    if (::pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) return;
    g_stop_pipe = fds_[1];
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
    ok_ = true;
  }
  ~StopSignals() {
    if (!ok_) return;
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    g_stop_pipe = -1;
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  bool ok() const { return ok_; }
  // Blocks until a stop signal (its number) or wake() (0).
  int wait() const {
    for (;;) {
      pollfd p{fds_[0], POLLIN, 0};
      if (::poll(&p, 1, -1) < 0 && errno != EINTR) return 0;
      unsigned char b = 0;
      const ssize_t n = ::read(fds_[0], &b, 1);
      if (n == 1) return b;
      if (n < 0 && errno != EAGAIN && errno != EINTR) return 0;
    }
  }
  void wake() const { on_stop_signal(0); }

 private:
  int fds_[2] = {-1, -1};
  bool ok_ = false;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace

Status serve(Service& service, const std::string& listen, const HttpOptions& options, std::ostream& out) {
  SB_ASSIGN_OR_RETURN(ListenAddress address, parse_listen_address(listen));
  if (options.threads < 1 || options.threads > kMaxThreads) {
    return invalid_argument("--threads " + std::to_string(options.threads) + " is outside 1.." +
                            std::to_string(kMaxThreads));
  }
  // A log reader that went away must not kill the server mid-commit; sockets use MSG_NOSIGNAL.
  std::signal(SIGPIPE, SIG_IGN);
  StopSignals signals;
  if (!signals.ok()) return errno_status("cannot set up the stop signals");

  std::mutex out_mutex;
  LogFn log = [&out, &out_mutex](const std::string& line) {
    std::lock_guard lock(out_mutex);
    out << line << '\n';
    out.flush();
  };
  HttpServer server(service, options, log);
  SB_ASSIGN_OR_RETURN(int port, server.bind(address));
  log("listening on " + server_url(address, port));

  std::thread waiter([&] {
    // Ends on the first stop signal, or on the wake() below once run() has returned.
    const int sig = signals.wait();
    if (sig == 0) return;
    // Stopped before it is logged: whoever sees the line may rely on new requests being refused.
    server.stop();
    log(std::string("stopping on ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": " +
        std::to_string(server.in_flight()) + " requests in flight finish first");
  });
  // Each site's ledger is built now, in the background, rather than by the first report or
  // dashboard page that needs it (a site of ten million events takes minutes); stopped between
  // two chains when the server stops.
  std::atomic<bool> stop_warming{false};
  std::thread warmer([&] {
    const auto started = std::chrono::steady_clock::now();
    Status warmed = service.warm_ledgers(stop_warming);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    if (warmed.is_ok()) {
      log("ledgers ready in " + std::to_string(ms.count()) + " ms");
    } else if (!stop_warming.load()) {
      log("ledgers not built ahead (" + warmed.to_string() + "); each is built when first read");
    }
  });
  Status s = server.run();
  stop_warming = true;
  warmer.join();
  signals.wake();
  waiter.join();
  if (s.is_ok()) log("stopped");
  return s;
}

}  // namespace shiftbook::server
