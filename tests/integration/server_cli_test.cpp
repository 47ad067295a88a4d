// shiftbook-server as a user runs it: init, the administration commands and their refusals, and
// `serve` on 127.0.0.1 with port 0: the address line, /v1/hello, the JSON errors HTTP answers
// before any envelope opens, the log, and stopping on a signal.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <thread>

#include <httplib.h>

#include "shiftbook/crypto.h"
#include "shiftbook/envelope.h"
#include "shiftbook/protocol.h"
#include "support/server_process.h"
#include "support/shared_expectations.h"

namespace shiftbook::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Expects a refusal: exit status, a message fragment on standard error, nothing on standard output.
void check_refused(const RunResult& r, int exit_code, const std::string& message) {
  CHECK_MESSAGE(r.exit_code == exit_code, r.err);
  CHECK_MESSAGE(r.err.find(message) != std::string::npos, r.err);
  CHECK(r.err.rfind("shiftbook-server: ", 0) == 0);
  CHECK(r.out.empty());
}

httplib::Client client(const std::string& url) { return http_client(url); }

// {"error":{"code":...}} of a JSON error answer, or "" when the body is not one.
std::string error_code(const httplib::Result& r) {
  if (!r || r->get_header_value("Content-Type") != "application/json") return "";
  auto doc = Json::parse(r->body, nullptr, false);
  if (doc.is_discarded() || !doc.contains("error")) return "";
  return doc["error"].value("code", "");
}

std::string as_string(const Bytes& b) { return std::string(b.begin(), b.end()); }

// A request envelope from a fresh device key, sealed for `server_hex`.
Bytes sealed_request(const std::string& server_hex, const Json& header) {
  REQUIRE(crypto_init().is_ok());
  DeviceKey device = DeviceKey::generate();
  auto server = array_from_hex<32>(server_hex);
  REQUIRE(server.is_ok());
  Message m;
  m.header = header;
  auto plain = encode_message(m);
  REQUIRE(plain.is_ok());
  auto sealed = seal_request(device, *server, *plain);
  REQUIRE(sealed.is_ok());
  return sealed->wire;
}

// A TCP connection to the server for sending a request byte by byte, as no HTTP client would.
class RawConnection {
 public:
  explicit RawConnection(const std::string& url) {
    const int port = std::stoi(url.substr(url.rfind(':') + 1));
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void send(const std::string& bytes) {
    REQUIRE(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  }
  // The head of one answer, up to its blank line (bounded by the 10 s receive timeout).
  std::string read_head() {
    std::string out;
    char c;
    while (out.find("\r\n\r\n") == std::string::npos && ::recv(fd_, &c, 1, 0) == 1) out += c;
    return out;
  }
  // Everything until the server closes the connection (bounded by the 10 s receive timeout).
  std::string read_all() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

// ---- init and key

TEST_CASE("server init: makes a private folder and key, and a second init is refused") {
  ServerProcess server;
  struct stat st {};
  REQUIRE(::stat(server.dir().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat((server.dir() + "/server.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string key = server.key_hex();

  check_refused(server.run({"init"}), 5, "a server already exists in " + server.dir());
  CHECK(server.key_hex() == key);
}

TEST_CASE("server init: prints the key and fingerprint that key prints") {
  TempDir dir;
  RunResult init = run_program(SHIFTBOOK_SERVER_BIN, {"init", "--json"}, {}, {"SHIFTBOOK_SERVER_DIR=" + dir.file("s")});
  REQUIRE_MESSAGE(init.exit_code == 0, init.err);
  Json made = Json::parse(init.out);
  CHECK(made["dir"] == dir.file("s"));
  RunResult key = run_program(SHIFTBOOK_SERVER_BIN, {"--dir", dir.file("s"), "key", "--json"});
  REQUIRE_MESSAGE(key.exit_code == 0, key.err);
  Json shown = Json::parse(key.out);
  CHECK(shown["server_key"] == made["server_key"]);
  CHECK(shown["fingerprint"] == made["fingerprint"]);
  CHECK(shown["server_key"].get<std::string>().size() == 64);
  CHECK(shown["fingerprint"].get<std::string>().size() == 19);  // "xxxx xxxx xxxx xxxx"

  RunResult text = run_program(SHIFTBOOK_SERVER_BIN, {"key", "--dir", dir.file("s")});
  CHECK(text.out.find(shown["fingerprint"].get<std::string>()) != std::string::npos);
}

TEST_CASE("server cli: no folder, an empty folder, or an unknown command is refused") {
  TempDir dir;
  check_refused(run_program(SHIFTBOOK_SERVER_BIN, {"site", "list"}), 2, "give --dir DIR or set SHIFTBOOK_SERVER_DIR");
  check_refused(run_program(SHIFTBOOK_SERVER_BIN, {"--dir", dir.path(), "site", "list"}), 4, "run 'shiftbook-server init'");
  check_refused(run_program(SHIFTBOOK_SERVER_BIN, {"--dir", dir.path(), "sitez"}), 2, "unknown command 'sitez'");
  RunResult help = run_program(SHIFTBOOK_SERVER_BIN, {"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("Exit status:") != std::string::npos);
}

// ---- administration

TEST_CASE("server admin: the standard head office lists back as it was written") {
  ServerProcess server;
  setup_head_office(server);
  CHECK(server.json({"site", "list", "--json"}).dump() ==
        R"({"sites":[{"id":"S1","name":"Plant One","tz":"UTC"},{"id":"S2","name":"Plant Two","tz":"Europe/Berlin"}]})");
  CHECK(server.json({"unit", "list", "--site", "S1", "--json"}).dump() ==
        R"({"units":[{"id":"U1","name":"Press shop","site":"S1"},{"id":"U2","name":"Paint shop","site":"S1"}]})");
  CHECK(server.json({"period", "list", "--json"}).dump() ==
        R"({"periods":[{"end":"2026-11-30","id":"2026-11","start":"2026-11-01"}]})");
  CHECK(server.json({"product", "list", "--json"})["products"].size() == 2);
  CHECK(server.json({"quota", "list", "--json"}).dump() ==
        R"({"quotas":[{"period":"2026-11","product":"P1","quantity":500,"unit":"U1","version":1},)"
        R"({"period":"2026-11","product":"P2","quantity":250000,"unit":"U1","version":2}]})");
  Json workers = server.json({"worker", "list", "--site", "S1", "--json"});
  REQUIRE(workers["workers"].size() == 3);
  CHECK(workers["workers"][0].dump() == R"({"active":true,"id":"W1","name":"Anna","site":"S1"})");
  CHECK(server.json({"leader", "list", "--json"}).dump() ==
        R"({"leaders":[{"active":true,"id":"L1","name":"Lena","site":"S1"}]})");
  RunResult text = server.run({"quota", "list"});
  CHECK(text.out.find("250.000 kg") != std::string::npos);
}

TEST_CASE("server admin: bad input is refused with its exit status and changes nothing") {
  ServerProcess server;
  setup_head_office(server);
  const std::string before = server.run({"site", "list", "--json"}).out + server.run({"worker", "list", "--json"}).out +
                             server.run({"quota", "list", "--json"}).out + server.run({"unit", "list", "--json"}).out;
  struct Case {
    std::vector<std::string> args;
    std::string input;
    int exit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"site", "add", "S1", "--name", "Again", "--tz", "UTC"}, "", 5, "site 'S1' exists already"},
      {{"site", "add", "S3", "--name", "X", "--tz", "Mars/Olympus"}, "", 3, "not a time zone"},
      {{"site", "add", "S3", "--name", "X", "--tz", "not a zone"}, "", 3, "not a time zone"},
      {{"unit", "add", "U5", "--site", "S7", "--name", "X"}, "", 4, "site 'S7' does not exist"},
      {{"unit", "add", "U1", "--site", "S1", "--name", "X"}, "", 5, "unit 'U1' exists already"},
      {{"period", "add", "2026-12", "--start", "2026-12-01", "--end", "2026-12-32"}, "", 3, "'2026-12-32'"},
      {{"period", "add", "X", "--start", "2026-11-20", "--end", "2026-12-10"}, "", 3, "overlaps period 2026-11"},
      {{"product", "add", "P3", "--name", "X", "--unit", "l", "--decimals", "2"}, "", 3, "'decimals'"},
      {{"product", "add", "P3", "--name", "X", "--unit", "l", "--decimals", "x"}, "", 2, "--decimals"},
      {{"worker", "add", "W4", "--site", "S1", "--name", "X"}, "", 3, "no PIN on standard input"},
      {{"worker", "add", "W4", "--site", "S1", "--name", "X", "--pin-cost", "minimum"}, "12\n", 3, "4 to 64"},
      {{"worker", "add", "W4", "--site", "S1", "--name", "X", "--pin-hash", "1234"}, "", 3, "not an Argon2id PIN hash"},
      {{"worker", "add", "W4", "--site", "S8", "--name", "X"}, "5555\n", 4, "site 'S8' does not exist"},
      {{"worker", "add", "W1", "--site", "S1", "--name", "X"}, "5555\n", 5, "worker 'W1' exists already"},
      {{"worker", "remove", "W7"}, "", 4, "no worker 'W7'"},
      {{"leader", "remove", "L7"}, "", 4, "no shift leader 'L7'"},
      {{"quota", "set", "--unit", "U1", "--period", "2026-11", "--product", "P1", "--quantity", "2.5"}, "", 3,
       "whole units"},
      {{"quota", "set", "--unit", "U1", "--period", "2026-11", "--product", "P7", "--quantity", "2"}, "", 4,
       "product 'P7'"},
      {{"quota", "set", "--unit", "U7", "--period", "2026-11", "--product", "P1", "--quantity", "2"}, "", 4,
       "unit 'U7'"},
      {{"code", "create", "--site", "S1", "--unit", "U9"}, "", 3, "belongs to site S2"},
      {{"code", "create", "--site", "S1"}, "", 2, "--unit"},
      {{"worker", "list", "--site", "S5"}, "", 4, "site 'S5'"},
  };
  for (const Case& c : cases) {
    std::string command;
    for (const auto& a : c.args) command += a + " ";
    CAPTURE(command);
    check_refused(server.run(c.args, c.input), c.exit, c.message);
  }
  const std::string after = server.run({"site", "list", "--json"}).out + server.run({"worker", "list", "--json"}).out +
                            server.run({"quota", "list", "--json"}).out + server.run({"unit", "list", "--json"}).out;
  CHECK(after == before);
}

TEST_CASE("server admin: a removed worker stays listed as removed and may be added again") {
  ServerProcess server;
  setup_head_office(server);
  RunResult removed = server.run({"worker", "remove", "W2"});
  CHECK_MESSAGE(removed.exit_code == 0, removed.err);
  CHECK(removed.out == "removed worker W2 from site S1; what they recorded stays in the log\n");
  check_refused(server.run({"worker", "remove", "W2"}), 6, "removed already");
  CHECK(server.json({"worker", "list", "--json"})["workers"][1].dump() ==
        R"({"active":false,"id":"W2","name":"Boris","site":"S1"})");
  RunResult again = server.run({"worker", "add", "W2", "--site", "S1", "--name", "Boris", "--pin-cost", "minimum"}, "7777\n");
  CHECK_MESSAGE(again.exit_code == 0, again.err);
  CHECK(server.json({"worker", "list", "--json"})["workers"][1]["active"] == true);
}

TEST_CASE("server admin: quota set bumps the version and takes the product's decimals") {
  ServerProcess server;
  setup_head_office(server);
  RunResult set = server.run({"quota", "set", "--unit", "U1", "--period", "2026-11", "--product", "P2", "--quantity", "12.5"});
  CHECK_MESSAGE(set.exit_code == 0, set.err);
  CHECK(set.out == "set quota U1 2026-11 P2: 12.500 kg (version 3)\n");
  Json quotas = server.json({"quota", "list", "--json"});
  CHECK(quotas["quotas"][1]["quantity"] == 12500);
  CHECK(quotas["quotas"][1]["version"] == 3);
}

TEST_CASE("server code: create shows the code once, list shows it by id, open, without the secret") {
  ServerProcess server;
  setup_head_office(server);
  Json made = server.json({"code", "create", "--site", "S1", "--unit", "U1", "--unit", "U2", "--valid-hours", "2", "--json"});
  const std::string code = made["code"];
  CHECK(parse_enroll_code(code).is_ok());
  CHECK(made["units"].dump() == R"(["U1","U2"])");
  Json codes = server.json({"code", "list", "--json"});
  REQUIRE(codes["codes"].size() == 1);
  const Json& listed = codes["codes"][0];
  CHECK(listed["id"] == made["id"]);
  CHECK(listed["state"] == "open");
  CHECK(listed["site"] == "S1");
  CHECK(listed["expires_ms"] == made["expires_ms"]);
  CHECK(listed["expires_ms"].get<std::int64_t>() - listed["created_ms"].get<std::int64_t>() == 2 * 3'600'000);
  RunResult text = server.run({"code", "list"});
  CHECK(text.out.find(made["id"].get<std::string>()) != std::string::npos);
  CHECK(text.out.find(code.substr(0, 9)) == std::string::npos);
  check_refused(server.run({"code", "create", "--site", "S1", "--unit", "U1", "--valid-hours", "0"}), 2, "--valid-hours");
}

TEST_CASE("server device: an empty list before any terminal enrolled") {
  ServerProcess server;
  CHECK(server.json({"device", "list", "--json"}).dump() == R"({"devices":[]})");
  CHECK(server.json({"devices", "--json"}).dump() == R"({"devices":[]})");
  CHECK(server.run({"device", "list"}).out == "no terminals enrolled yet (make a code with 'code create')\n");
  CHECK(server.json({"quarantine", "--json"}).dump() == R"({"quarantine":[]})");
  CHECK(server.run({"quarantine"}).out == "nothing in quarantine\n");
}

TEST_CASE("server device: revoke, quarantine and events refuse a bad or unknown device and bad options") {
  ServerProcess server;
  check_refused(server.run({"device", "revoke", "7f3a9c2", "--reason", "lost"}), 3, "8 to 64 hex digits");
  check_refused(server.run({"device", "revoke", "7f3a9c2x", "--reason", "lost"}), 3, "8 to 64 hex digits");
  check_refused(server.run({"device", "revoke", "7f3a9c21", "--reason", "lost"}), 4,
                "no enrolled terminal's key starts with 7f3a9c21");
  check_refused(server.run({"device", "revoke", "7f3a9c21"}), 2, "--reason");
  check_refused(server.run({"quarantine", "--device", "7f3a9c21"}), 4, "no enrolled terminal");
  check_refused(server.run({"events", "--device", "7f3a9c21"}), 4, "no enrolled terminal");
  check_refused(server.run({"events"}), 2, "--device");
  check_refused(server.run({"events", "--device", "7f3a9c21", "--limit", "0"}), 2, "--limit");
  check_refused(server.run({"events", "--device", "7f3a9c21", "--from", "0"}), 2, "--from");
}

// ---- serve

TEST_CASE("server serve: prints its address, and /v1/hello answers with the key that key prints") {
  ServerProcess server;
  const std::string url = server.start();
  CHECK(url.rfind("http://127.0.0.1:", 0) == 0);
  // The address first; then, once the (here empty) kept ledgers are built, a line saying so.
  REQUIRE(server.wait_for_log("ledgers ready in "));
  CHECK(std::regex_match(server.log(), std::regex("listening on " + url + "\nledgers ready in [0-9]+ ms\n")));
  auto c = client(url);
  auto r = c.Get("/v1/hello");
  REQUIRE(r);
  CHECK(r->status == 200);
  Json hello = Json::parse(r->body);
  CHECK(hello["protocol"] == 1);
  CHECK(hello["server_key"] == server.key_hex());
  CHECK(hello["fingerprint"] == server.json({"key", "--json"})["fingerprint"]);
}

TEST_CASE("server serve: a malformed --listen or --threads is refused before serving") {
  ServerProcess server;
  check_refused(server.run({"serve", "--listen", "localhost:8080"}), 3, "host names are not accepted");
  check_refused(server.run({"serve", "--listen", "127.0.0.1"}), 3, "has no port");
  check_refused(server.run({"serve", "--listen", "127.0.0.1:70000"}), 3, "above 65535");
  check_refused(server.run({"serve", "--listen", "::1:80"}), 3, "in brackets");
  check_refused(server.run({"serve", "--listen", "127.0.0.1:0", "--threads", "0"}), 2, "--threads");
  check_refused(server.run({"serve"}), 2, "--listen");
  check_refused(server.run({"serve", "--listen", "127.0.0.1:0", "--trusted-proxy", "lb.example"}), 3,
                "--trusted-proxy 'lb.example' is not an IP address");
  check_refused(server.run({"serve", "--listen", "127.0.0.1:0", "--trusted-proxy", "10.0.0.300"}), 3,
                "is not an IP address");
}

TEST_CASE("server serve: a port in use is refused, and the first server keeps it") {
  ServerProcess first;
  const std::string url = first.start();
  ServerProcess second;
  const std::string port = url.substr(url.rfind(':') + 1);
  check_refused(second.run({"serve", "--listen", "127.0.0.1:" + port}), 10, "cannot listen on http://127.0.0.1:" + port);
  auto r = client(url).Get("/v1/hello");
  REQUIRE(r);
  CHECK(Json::parse(r->body)["server_key"] == first.key_hex());
}

TEST_CASE("server http: HTTP-level refusals are JSON errors, each logged once, and serving goes on") {
  ServerProcess server;
  const std::string url = server.start();
  auto c = client(url);

  auto junk = c.Post("/v1/sync", "hello", "application/octet-stream");
  REQUIRE(junk);
  CHECK(junk->status == 400);
  CHECK(error_code(junk) == "malformed");

  auto truncated = c.Post("/v1/enroll", "SBX\x01Q", "application/octet-stream");
  REQUIRE(truncated);
  CHECK(truncated->status == 400);
  CHECK(error_code(truncated) == "malformed");

  // Version 2 of the envelope, otherwise the size of a real request.
  std::string v2 = "SBX\x02Q" + std::string(kRequestHeaderBytes - 5 + kEnvelopeTagBytes + 8, '\0');
  for (const char* path : {"/v1/sync", "/v1/enroll"}) {
    auto version = c.Post(path, v2, "application/octet-stream");
    REQUIRE(version);
    CHECK(version->status == 426);
    CHECK(error_code(version) == "version");
  }

  auto big = c.Post("/v1/sync", std::string(kMaxEnvelopeBytes + 1, 'x'), "application/octet-stream");
  REQUIRE(big);
  CHECK(big->status == 413);
  CHECK(error_code(big) == "too_large");

  auto nowhere = c.Get("/v1/nothing");
  REQUIRE(nowhere);
  CHECK(nowhere->status == 404);
  CHECK(error_code(nowhere) == "not_found");
  auto get_sync = c.Get("/v1/sync");
  REQUIRE(get_sync);
  CHECK(get_sync->status == 405);
  CHECK(get_sync->get_header_value("Allow") == "POST");

  auto hello = c.Get("/v1/hello");
  REQUIRE(hello);
  CHECK(hello->status == 200);
  // A log line is written after its answer is sent, so give each a bounded while to arrive.
  const auto logged = [&server](const std::string& fragment, std::size_t n) {
    for (int i = 0; i < 100 && server.log_count(fragment) < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return server.log_count(fragment);
  };
  CHECK(server.wait_for_log("refused: not_found"));
  CHECK(logged("refused: malformed", 2) == 2);
  CHECK(logged("refused: version", 2) == 2);
  CHECK(logged("refused: too_large", 1) == 1);
  CHECK(logged("refused: method", 1) == 1);
  CHECK(server.running());
}

TEST_CASE("server http: a sync from a device that is not enrolled is 401 unknown_device, logged") {
  ServerProcess server;
  const std::string url = server.start();
  Bytes wire = sealed_request(server.key_hex(), Json{{"type", "sync"}, {"v", 1}, {"cursor", 0},
                                                    {"pull_max", 65536}, {"client_ms", 0}});
  auto r = client(url).Post("/v1/sync", as_string(wire), "application/octet-stream");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(error_code(r) == "unknown_device");
  CHECK(server.wait_for_log("refused: unknown_device"));
}

TEST_CASE("server http: repeated failed enrollments from one peer get 429 with Retry-After") {
  ServerProcess server;
  const std::string url = server.start();
  auto c = client(url);
  int limited_at = 0;
  std::string code;
  std::string retry_after;
  // The default limit is 5 failures per peer in 10 minutes; every failure counts, also a body
  // that is not an envelope.
  for (int i = 1; i <= 7 && limited_at == 0; ++i) {
    auto r = c.Post("/v1/enroll", "not an envelope", "application/octet-stream");
    REQUIRE(r);
    if (r->status != 429) continue;
    limited_at = i;
    code = error_code(r);
    retry_after = r->get_header_value("Retry-After");
  }
  CHECK(limited_at == 6);
  CHECK(code == "rate_limited");
  REQUIRE(!retry_after.empty());
  CHECK(std::stoi(retry_after) > 0);
  CHECK(server.wait_for_log("refused: rate_limited"));
  auto hello = c.Get("/v1/hello");
  REQUIRE(hello);
  CHECK(hello->status == 200);
}

TEST_CASE("server http: behind a trusted proxy the peer is the address it forwards for, and limits count per that peer") {
  // A failed enrollment as a load balancer at 127.0.0.1 forwards it for `forwarded`.
  const auto enroll_for = [](httplib::Client& c, const std::string& forwarded) {
    auto r = c.Post("/v1/enroll", {{"X-Forwarded-For", forwarded}}, "not an envelope", "application/octet-stream");
    REQUIRE(r);
    return r->status;
  };
  ServerProcess behind;
  auto c = client(behind.start({"--trusted-proxy", "0:0::1", "--trusted-proxy", "127.0.0.1"}));
  // What the client wrote itself comes first; the proxy adds the address it saw last.
  CHECK(enroll_for(c, "203.0.113.9, 198.51.100.7") == 400);
  CHECK(behind.wait_for_log("enroll peer 198.51.100.7 refused"));
  CHECK(behind.log_count("203.0.113.9") == 0);
  // Not an address there: the request is the proxy's own.
  CHECK(enroll_for(c, "198.51.100.7, unknown") == 400);
  CHECK(behind.wait_for_log("enroll peer 127.0.0.1 refused"));
  // Four more failures for 198.51.100.7 make five: its sixth attempt waits, another peer's does not.
  for (int i = 0; i < 4; ++i) CHECK(enroll_for(c, "198.51.100.7") == 400);
  CHECK(enroll_for(c, "198.51.100.7") == 429);
  CHECK(enroll_for(c, "198.51.100.8") == 400);
  // HTTP-level refusals name the forwarded peer too.
  auto wrong = c.Get("/v1/nowhere", {{"X-Forwarded-For", "2001:db8::5"}});
  REQUIRE(wrong);
  CHECK(behind.wait_for_log("http GET /v1/nowhere peer 2001:db8::5 refused: not_found"));

  // A server that trusts no proxy takes the header for what any client may write.
  ServerProcess direct;
  auto d = client(direct.start());
  CHECK(enroll_for(d, "198.51.100.7") == 400);
  CHECK(direct.wait_for_log("enroll peer 127.0.0.1 refused"));
  CHECK(direct.log_count("198.51.100.7") == 0);
}

TEST_CASE("server serve: SIGTERM and SIGINT stop it promptly with exit 0 and 'stopped'") {
  for (int sig : {SIGTERM, SIGINT}) {
    CAPTURE(sig);
    ServerProcess server;
    const std::string url = server.start();
    REQUIRE(client(url).Get("/v1/hello"));
    const auto began = steady_clock::now();
    server.signal(sig);
    CHECK(server.wait_exit(milliseconds(5000)) == 0);
    CHECK(steady_clock::now() - began < milliseconds(3000));
    const std::string log = server.log();
    CHECK(log.find(sig == SIGINT ? "stopping on SIGINT" : "stopping on SIGTERM") != std::string::npos);
    CHECK(log.size() >= 8);
    CHECK(log.substr(log.size() - 8) == "stopped\n");
  }
}

TEST_CASE("server serve: an idle keep-alive connection does not hold up stopping") {
  ServerProcess server;
  const std::string url = server.start();
  auto c = client(url);
  c.set_keep_alive(true);
  REQUIRE(c.Get("/v1/hello"));
  const auto began = steady_clock::now();
  CHECK(server.stop() == 0);
  // The idle connection is let go within the keep-alive timeout (2 s).
  CHECK(steady_clock::now() - began < milliseconds(4000));
}

TEST_CASE("server serve: a request still arriving when the signal comes is answered 503, then it exits 0") {
  ServerProcess server;
  const std::string url = server.start();
  RawConnection conn(url);
  // "100 Continue" proves a server thread has read the request's head and waits for its body:
  // the request is in flight when the signal comes.
  conn.send("POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
            "Content-Length: 100\r\nExpect: 100-continue\r\n\r\n");
  CHECK(conn.read_head().rfind("HTTP/1.1 100", 0) == 0);
  server.signal(SIGTERM);
  REQUIRE(server.wait_for_log("stopping on SIGTERM"));
  conn.send(std::string(100, 'x'));
  const std::string answer = conn.read_all();
  CAPTURE(answer);
  CAPTURE(server.log());
  CHECK(answer.rfind("HTTP/1.1 503", 0) == 0);
  CHECK(answer.find(R"("code":"shutting_down")") != std::string::npos);
  CHECK(server.wait_exit(milliseconds(5000)) == 0);
  CHECK(server.log_count("refused: shutting_down") == 1);
}

TEST_CASE("server serve: with --threads 2, more clients than threads are all answered") {
  ServerProcess server;
  const std::string url = server.start({"--threads", "2"});
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&] {
      auto c = client(url);
      for (int j = 0; j < 3; ++j) {
        auto r = c.Get("/v1/hello");
        if (r && r->status == 200) ++answered;
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(answered == 18);
}

TEST_CASE("server serve: TCP_NODELAY keeps small requests on one kept-alive connection fast") {
  ServerProcess server;
  const std::string url = server.start();
  auto c = client(url);
  c.set_keep_alive(true);
  // With Nagle's algorithm on either end each answer stalls for a delayed ACK (40 ms or more),
  // so 100 round trips would take 4 s; with TCP_NODELAY they take milliseconds.
  const auto began = steady_clock::now();
  int answered = 0;
  for (int i = 0; i < 100; ++i) {
    auto r = c.Get("/v1/hello");
    if (r && r->status == 200) ++answered;
  }
  CHECK(answered == 100);
  CHECK(steady_clock::now() - began < milliseconds(1500));
}

}  // namespace
}  // namespace shiftbook::testing
