// What the terminal says without a server to talk to: the HTTP transport's failures in plain
// words (a refused connection, a host that does not resolve, a server that never answers), and
// the references a terminal that holds only its own events gives its entries and shifts. The
// two-terminal side of references is tests/integration/terminals_render_test.cpp.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "cli/cli_support.h"
#include "sync_client.h"

namespace shiftbook::testing {
namespace {

// A socket on 127.0.0.1 with a port the kernel chose, listening (backlog 1) or only bound.
class LocalSocket {
 public:
  explicit LocalSocket(bool listening) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    if (listening) REQUIRE(::listen(fd_, 1) == 0);
  }
  ~LocalSocket() { ::close(fd_); }
  LocalSocket(const LocalSocket&) = delete;
  LocalSocket& operator=(const LocalSocket&) = delete;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// The status of GET /v1/hello through a fresh HTTP transport to `url`.
Status hello_status(const std::string& url, client::HttpOptions options = {}) {
  auto transport = client::http_transport(url, options);
  REQUIRE_MESSAGE(transport.is_ok(), transport.status().to_string());
  return (*transport)->get("/v1/hello").status();
}

}  // namespace

TEST_CASE("transport: a port nobody listens on is 'connection refused', not the library's name for it") {
  // Bound but not listening: a connection to it is refused, and no other program can take the port.
  LocalSocket bound(false);
  Status s = hello_status(bound.url());
  CHECK(s.code() == Code::kUnavailable);
  CAPTURE(s.message());
  CHECK(s.message().rfind("cannot reach " + bound.url() + ": connection refused", 0) == 0);
  CHECK(s.message().find("Connection;") == std::string::npos);
  CHECK(s.message().find("entries stay on this terminal") != std::string::npos);
}

TEST_CASE("transport: a host name that does not resolve says so") {
  // .invalid is reserved (RFC 6761): no resolver may answer for it.
  Status s = hello_status("http://shiftbook-head-office.invalid:8470");
  CHECK(s.code() == Code::kUnavailable);
  CAPTURE(s.message());
  CHECK(s.message().find(": could not resolve host shiftbook-head-office.invalid (") != std::string::npos);
}

TEST_CASE("transport: a server that takes the connection and never answers is 'no answer'") {
  // Listening but never accepting: the kernel completes the handshake and the request waits.
  LocalSocket silent(true);
  client::HttpOptions quick;
  quick.io_timeout_seconds = 1;
  Status s = hello_status(silent.url(), quick);
  CHECK(s.code() == Code::kUnavailable);
  CAPTURE(s.message());
  CHECK(s.message().rfind("cannot reach " + silent.url() + ": no answer", 0) == 0);
}

TEST_CASE("cli: a terminal's own entries and shifts are named by number and marked as its own") {
  Cli t;
  t.ready();  // shift 1
  REQUIRE(t.run({"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"}).exit_code == 0);
  REQUIRE(t.run({"confirm", "2", "--worker", "W1"}, "1111\n").exit_code == 0);
  const std::string me = t.json({"status", "--json"})["device_short"].get<std::string>();
  const Json entries = t.json({"list", "--json"})["entries"];
  REQUIRE(entries.size() == 2);
  for (const Json& e : entries) {
    CHECK(e["ref"] == std::to_string(e["seq"].get<int>()));
    CHECK(e["shift_ref"] == "1");
    CHECK(e["mine"] == true);
    CHECK(e["device_short"] == me);
  }
  CHECK(entries[1]["confirms_ref"] == "2");
  const Json shift = t.json({"shift", "list", "--json"})["shifts"][0];
  CHECK(shift["ref"] == "1");
  CHECK(shift["mine"] == true);
  CHECK(shift["device_short"] == me);
  CHECK(t.json({"show", "2", "--json"})["versions"][0]["ref"] == "2");
  // Text keeps its plain layout: no terminal column when every row is this terminal's.
  RunResult list = t.run({"list"});
  CHECK(list.out.rfind("#  shift  kind", 0) == 0);
  CHECK(list.out.find("confirm  W1   of 2") != std::string::npos);
  CHECK(list.out.find("\n2 entries\n") != std::string::npos);
  CHECK(t.run({"shift", "list"}).out.rfind("#  unit  date", 0) == 0);
  CHECK(t.run({"show", "2"}).out.find("recorded by  L1 on this terminal") != std::string::npos);
}

TEST_CASE("cli: list --mine keeps this terminal's entries, and --terminal takes its id") {
  Cli t;
  t.ready();
  REQUIRE(t.run({"log", "output", "--product", "P1", "--quantity", "3"}).exit_code == 0);
  const std::string me = t.json({"status", "--json"})["device_short"].get<std::string>();
  CHECK(t.json({"list", "--mine", "--json"})["entries"].size() == 1);
  CHECK(t.json({"list", "--terminal", me, "--json"})["entries"].size() == 1);
  check_fails(t.run({"list", "--terminal", "zz" + me}), 3, "names no terminal");
}

}  // namespace shiftbook::testing
