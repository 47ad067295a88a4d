// shiftbook-faultproxy: a loopback HTTP proxy between terminals and shiftbook-server that drops,
// truncates, duplicates, delays and reorders requests and answers at configurable rates, from one
// seeded random generator (docs/FAULTS.md). This file: what happens to each request (relay), the
// control endpoints, the accept loop, SIGTERM and the command line; the HTTP is faultproxy_http.h,
// the fault policy faultproxy_faults.h. One thread per terminal connection; the counters are
// atomics, the fault settings and the generator sit under one mutex.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <list>
#include <memory>
#include <thread>

#include "faultproxy_faults.h"
#include "faultproxy_http.h"
#include "shiftbook/platform/command.h"
#include "shiftbook/platform/files.h"

namespace shiftbook::faultproxy {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxConnections = 256;

// Stops everything: set by SIGTERM or SIGINT, noticed by every wait within 100 ms.
std::atomic<bool> g_stopping{false};
std::atomic<int> g_signal_pipe{-1};

extern "C" void on_stop_signal(int) {
  const int saved = errno;
  g_stopping = true;
  const unsigned char b = 1;
  if (const int fd = g_signal_pipe.load(); fd >= 0) (void)!::write(fd, &b, 1);
  errno = saved;
}

// The proxy's own endpoints under /_proxy/: never faulted, never counted.
std::string control_answer(const HttpRequest& req, Settings& settings, const Counters& counters) {
  auto ok = [&](const Json& doc) { return json_answer(200, doc, req.close); };
  auto bad = [&](int status, const std::string& why) {
    return json_answer(status, error_json("invalid", why), req.close);
  };
  if (req.target == "/_proxy/stats" && req.method == "GET") return ok(counters.to_json());
  if (req.target == "/_proxy/upstream" && req.method == "POST") {
    std::string url = req.body;
    while (!url.empty() && (url.back() == '\n' || url.back() == '\r' || url.back() == ' ')) url.pop_back();
    if (Status s = settings.set_upstream(url); !s.is_ok()) return bad(400, s.message());
    return ok(Json{{"upstream", url}});
  }
  if (req.target == "/_proxy/faults" && req.method == "POST") {
    const Json doc = Json::parse(req.body, nullptr, false);
    if (Status s = settings.update_faults(doc); !s.is_ok()) return bad(400, s.message());
    return ok(settings.faults().to_json());
  }
  if (req.target == "/_proxy/faults" && req.method == "GET") return ok(settings.faults().to_json());
  return bad(404, "the proxy serves GET /_proxy/stats, GET and POST /_proxy/faults, POST /_proxy/upstream");
}

// Serves one terminal connection until it closes, a fault closes it, or a stop comes.
class Connection {
 public:
  Connection(int fd, Settings& settings, Counters& counters, ReorderGate& gate)
      : down_(fd, g_stopping), up_(settings), settings_(settings), counters_(counters), gate_(gate) {}

  void serve() {
    while (!g_stopping) {
      std::optional<HttpRequest> req = down_.read_request();
      if (!req) return;
      if (req->target.rfind("/_proxy/", 0) == 0) {
        if (!down_.write(control_answer(*req, settings_, counters_)) || req->close) return;
        continue;
      }
      if (!relay(*req) || req->close) return;
    }
  }

  // The terminal's socket is closed here, after the thread serving it has been joined, so that
  // stop() never touches a number the system has given to another socket.
  ~Connection() { ::close(down_.fd()); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Wakes a thread blocked on either socket.
  void stop() {
    ::shutdown(down_.fd(), SHUT_RDWR);
    up_.stop();
  }

  // The terminal sees its connection end now; the thread may be joined.
  void finish() {
    ::shutdown(down_.fd(), SHUT_RDWR);
    done_ = true;
  }
  bool done() const { return done_; }

 private:
  // One request through the faults; false when the connection is to be closed.
  bool relay(const HttpRequest& req) {
    ++counters_.requests;
    const Plan plan = settings_.draw();
    if (plan.drop_request) {
      ++counters_.drop_request;
      return false;
    }
    std::optional<httplib::Response> res;
    {
      // A request held for reordering is released once the one that overtook it has been answered.
      ReorderGate::Pass pass = gate_.enter(plan.reorder, plan.reorder_hold, g_stopping);
      if (pass.overtaken) ++counters_.reorder;
      if (pass.alone) ++counters_.reorder_alone;
      sleep_for(plan.delay_before);
      res = forward(req);
      if (res && plan.duplicate) {
        ++counters_.duplicate_request;
        res = forward(req);
      }
    }
    if (!res) {
      ++counters_.upstream_failed;
      return false;
    }
    sleep_for(plan.delay_after);
    const bool close = req.close || plan.drop_response || plan.truncate;
    Headers headers;
    for (const auto& [name, value] : res->headers) {
      if (!is_hop_header(name)) headers.emplace_back(name, value);
    }
    const std::string answer = answer_text(res->status, headers, res->body, close);
    if (plan.drop_response) {
      ++counters_.drop_response;
      return false;
    }
    if (plan.truncate) {
      ++counters_.truncate_response;
      down_.write(std::string_view(answer).substr(0, cut_point(answer.size(), res->body.size(), plan.cut)));
      return false;
    }
    ++counters_.answered;
    return down_.write(answer) && !close;
  }

  std::optional<httplib::Response> forward(const HttpRequest& req) {
    ++counters_.forwarded;
    return up_.forward(req);
  }

  void sleep_for(milliseconds ms) {
    if (ms.count() <= 0) return;
    ++counters_.delay;
    const auto until = Clock::now() + ms;
    while (!g_stopping && Clock::now() < until) {
      std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(50), until - Clock::now()));
    }
  }

  Downstream down_;
  Upstream up_;
  Settings& settings_;
  Counters& counters_;
  ReorderGate& gate_;
  std::atomic<bool> done_{false};
};

struct Listening {
  int fd = -1;
  int port = 0;
};

Result<Listening> listen_on(const Endpoint& at) {
  const int family = at.ipv6 ? AF_INET6 : AF_INET;
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_status("cannot make a socket");
  int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (at.ipv6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<std::uint16_t>(at.port));
    ::inet_pton(AF_INET6, at.host.c_str(), &a6->sin6_addr);
    len = sizeof *a6;
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<std::uint16_t>(at.port));
    ::inet_pton(AF_INET, at.host.c_str(), &a4->sin_addr);
    len = sizeof *a4;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const Status s = unavailable("cannot listen on " + at.url() + ": " + std::strerror(errno));
    ::close(fd);
    return s;
  }
  return Listening{fd, at.ipv6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                               : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port)};
}

struct Running {
  std::unique_ptr<Connection> connection;
  std::thread thread;
};

// Accepts terminals until a stop signal; then wakes and joins every connection thread.
void accept_loop(int listen_fd, int signal_fd, Settings& settings, Counters& counters, ReorderGate& gate) {
  std::list<Running> running;
  auto reap = [&](bool all) {
    for (auto it = running.begin(); it != running.end();) {
      if (all) it->connection->stop();
      if (all || it->connection->done()) {
        it->thread.join();
        it = running.erase(it);
      } else {
        ++it;
      }
    }
  };
  while (!g_stopping) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {signal_fd, POLLIN, 0}};
    if (::poll(fds, 2, 1000) <= 0) {
      reap(false);
      continue;
    }
    if (fds[1].revents) break;
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    reap(false);
    if (running.size() >= kMaxConnections) {
      ::close(fd);
      continue;
    }
    int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    Running& r = running.emplace_back();
    r.connection = std::make_unique<Connection>(fd, settings, counters, gate);
    r.thread = std::thread([c = r.connection.get()] {
      c->serve();
      c->finish();
    });
  }
  g_stopping = true;
  gate.wake_all();
  reap(true);
}

struct Options {
  std::string listen;
  std::string upstream;
  std::optional<std::uint64_t> seed;
  Faults faults;
  std::string delay_ms = "10-200";
  std::string stats_file;
};

Status run(Options& o) {
  SB_ASSIGN_OR_RETURN(Endpoint at, parse_loopback_listen(o.listen));
  SB_RETURN_IF_ERROR(parse_delay_range(o.delay_ms, o.faults));
  const std::uint64_t seed = o.seed ? *o.seed : std::random_device{}();
  Settings settings(o.faults, seed);
  SB_RETURN_IF_ERROR(settings.set_upstream(o.upstream));
  Counters counters;
  ReorderGate gate;

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return errno_status("cannot set up the stop signals");
  g_signal_pipe = pipe_fds[1];
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  SB_ASSIGN_OR_RETURN(Listening listening, listen_on(at));
  at.port = listening.port;
  std::cout << "listening on " << at.url() << '\n'
            << "upstream " << o.upstream << ", seed " << seed << ", faults " << settings.faults().to_text() << '\n'
            << std::flush;
  accept_loop(listening.fd, pipe_fds[0], settings, counters, gate);
  ::close(listening.fd);

  std::cout << "stopping: " << counters.to_text() << '\n' << std::flush;
  if (!o.stats_file.empty()) {
    Json doc = counters.to_json();
    doc["seed"] = seed;
    SB_RETURN_IF_ERROR(write_file_atomic(o.stats_file, as_bytes(doc.dump() + "\n"), 0644));
  }
  std::cout << "stopped\n" << std::flush;
  return Status::ok();
}

}  // namespace
}  // namespace shiftbook::faultproxy

int main(int argc, char** argv) {
  using namespace shiftbook::faultproxy;
  Options o;
  CLI::App app{"shiftbook-faultproxy: a loopback HTTP proxy that drops, truncates, duplicates, delays and\n"
               "reorders requests and answers at the given rates (docs/FAULTS.md).",
               "shiftbook-faultproxy"};
  app.add_option("--listen", o.listen, "Loopback HOST:PORT to listen on (port 0: any free one)")->required();
  app.add_option("--upstream", o.upstream, "The server: http://127.0.0.1:PORT (loopback only)")->required();
  app.add_option("--seed", o.seed, "Seed of the fault generator (default: a random one, printed)");
  const auto chance = [&](const char* name, double& p, const char* what) {
    app.add_option(name, p, what)->check(CLI::Range(0.0, 1.0))->type_name("P");
  };
  chance("--drop-request", o.faults.drop_request, "Close the connection without forwarding the request");
  chance("--drop-response", o.faults.drop_response, "Forward, then close without answering");
  chance("--truncate-response", o.faults.truncate_response, "Forward, then send a cut answer and close");
  chance("--duplicate-request", o.faults.duplicate_request, "Forward twice; answer with the second answer");
  chance("--delay", o.faults.delay, "Sleep --delay-ms before forwarding, and (drawn again) before answering");
  chance("--reorder", o.faults.reorder, "Hold the request until the next one has been answered first");
  app.add_option("--delay-ms", o.delay_ms, "MIN-MAX milliseconds of one delay (default 10-200)");
  app.add_option("--reorder-hold-ms", o.faults.reorder_hold_ms, "How long a held request waits for another one")
      ->check(CLI::Range(0, 60000));
  app.add_option("--stats", o.stats_file, "Write the counts of faults injected to this file (JSON) on SIGTERM");
  if (auto done = shiftbook::command::parse(app, argc, argv)) return *done;
  return shiftbook::command::run("shiftbook-faultproxy", [&] { return run(o); });
}
