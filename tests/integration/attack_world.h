// The attacker's toolkit for tests/integration/attack_test.cpp: a second client written from the
// protocol alone (docs/PROTOCOL.md), which builds events with seal_event, heads with sign_head,
// messages with encode_message and envelopes with seal_request, and posts them with httplib, so it
// can send what `shiftbook` never would; and the World each attack runs in: a real server with the
// standard head office, a legitimate terminal enrolled in U1 through `shiftbook enroll`, and the
// attacker's own device, enrolled in U1 too, with two events head office accepted.
// One test thread; each World has its own server and folders.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shiftbook/envelope.h"
#include "shiftbook/event.h"
#include "shiftbook/kinds.h"
#include "shiftbook/protocol.h"
#include "support/fixture.h"
#include "support/server_process.h"

namespace shiftbook::testing::attack {

// ---- the wire -------------------------------------------------------------------------------

// What the server answered one POST: the status, the body, and for a 200 the opened message.
struct Answer {
  int status = 0;
  std::string body;
  std::string retry_after;
  Status opened;                 // why the body did not open, when it did not
  std::optional<Message> message;

  // The code of a plain JSON error ({"error":{"code":...,"message":...}}), or "".
  std::string json_code() const { return json_field("code"); }
  std::string json_message() const { return json_field("message"); }
  // The header of the encrypted answer, which must have opened.
  const Json& header() const {
    REQUIRE_MESSAGE(message.has_value(), "status " << status << ", " << opened.to_string() << ": " << body);
    return message->header;
  }
  // The code and text of an encrypted "error" answer.
  std::string error_code() const { return header().at("type") == "error" ? header().at("code").get<std::string>() : ""; }
  std::string error_message() const { return header().value("message", std::string()); }

 private:
  std::string json_field(const char* name) const {
    Json j = Json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("error") || !j["error"].contains(name)) return "";
    return j["error"][name].get<std::string>();
  }
};

class Wire {
 public:
  explicit Wire(const std::string& url) : client_(url) {
    client_.set_tcp_nodelay(true);
    client_.set_connection_timeout(5);
    client_.set_read_timeout(30);
  }

  PublicKey server_key() {
    auto r = client_.Get("/v1/hello");
    REQUIRE_MESSAGE(r, "GET /v1/hello failed: " << httplib::to_string(r.error()));
    REQUIRE(r->status == 200);
    auto key = array_from_hex<32>(Json::parse(r->body).at("server_key").get<std::string>());
    REQUIRE(key.is_ok());
    return *key;
  }

  // POSTs bytes as they are; opens a 200 answer with `context` when given.
  Answer post(const std::string& path, ByteView wire, const EnvelopeContext* context = nullptr) {
    auto r = client_.Post(path, std::string(wire.begin(), wire.end()), "application/octet-stream");
    REQUIRE_MESSAGE(r, "POST " << path << " failed: " << httplib::to_string(r.error()));
    Answer a;
    a.status = r->status;
    a.body = r->body;
    a.retry_after = r->get_header_value("Retry-After");
    if (a.status == 200 && context != nullptr) {
      auto plain = open_response(*context, as_bytes(a.body));
      if (!plain.is_ok()) {
        a.opened = plain.status();
        return a;
      }
      auto m = decode_message(*plain);
      REQUIRE_MESSAGE(m.is_ok(), m.status().to_string());
      a.message = std::move(*m);
    }
    return a;
  }

 private:
  httplib::Client client_;
};

// A sealed request kept whole, so that a test can replay, tamper with or open its answer.
struct Request {
  Bytes wire;
  EnvelopeContext context;
};

inline Request seal(const DeviceKey& device, const PublicKey& server, const Message& m) {
  auto plain = encode_message(m);
  REQUIRE_MESSAGE(plain.is_ok(), plain.status().to_string());
  auto sealed = seal_request(device, server, *plain);
  REQUIRE_MESSAGE(sealed.is_ok(), sealed.status().to_string());
  return Request{std::move(sealed->wire), std::move(sealed->context)};
}

inline Json head_json(const SignedHead& h) {
  return Json{{"seq", static_cast<std::int64_t>(h.seq)}, {"hash", to_hex(h.hash)}, {"sig", to_hex(h.signature)}};
}

// A sync message pushing `events` (with `head` when given) and pulling after `cursor`.
inline Message sync_message(const std::vector<SealedEvent>& events, std::optional<SignedHead> head, std::uint64_t cursor = 0) {
  Message m;
  m.header = Json{{"type", "sync"},
                  {"v", 1},
                  {"cursor", static_cast<std::int64_t>(cursor)},
                  {"pull_max", static_cast<std::int64_t>(kDefaultPullBytes)},
                  {"client_ms", SystemClock().now_ms()}};
  if (head) m.header["head"] = head_json(*head);
  for (const SealedEvent& e : events) m.events.push_back(e.bytes);
  return m;
}

// Enrolls `device` with the enrollment code `code_text` at the server behind `wire`, whose key is
// `server`: an "enroll" message sealed with the device's key.
inline Answer enroll(Wire& wire, const PublicKey& server, const DeviceKey& device, const std::string& code_text) {
  auto code = parse_enroll_code(code_text);
  REQUIRE_MESSAGE(code.is_ok(), code.status().to_string());
  Message m;
  m.header = Json{{"type", "enroll"}, {"v", 1}, {"code", to_hex(code->secret)}};
  Request r = seal(device, server, m);
  return wire.post("/v1/enroll", r.wire, &r.context);
}

// ---- a device's chain, written by hand ------------------------------------------------------

class Chain {
 public:
  explicit Chain(const PublicKey& device) : device_(device) {}

  // Seals the event that follows the last one (held or drafted) and drafts it.
  const SealedEvent& add(const std::string& kind, Json body) {
    Event e;
    e.device = device_;
    e.seq = events_.size() + 1;
    e.hlc = events_.empty() ? hlc_pack(static_cast<std::uint64_t>(SystemClock().now_ms()), 0) : events_.back().event.hlc + 1;
    e.prev = events_.empty() ? Hash{} : events_.back().event.hash;
    e.author = "L1";
    e.kind = kind;
    e.body = std::move(body);
    auto sealed = seal_event(std::move(e));
    REQUIRE_MESSAGE(sealed.is_ok(), sealed.status().to_string());
    events_.push_back(std::move(*sealed));
    return events_.back();
  }
  // The events from seq `from` on.
  std::vector<SealedEvent> from(std::uint64_t seq) const {
    return {events_.begin() + static_cast<std::ptrdiff_t>(seq - 1), events_.end()};
  }
  // Forgets the events after seq `keep` (drafts that were refused).
  void truncate(std::uint64_t keep) { events_.resize(keep); }
  const SealedEvent& last() const { return events_.back(); }
  std::uint64_t size() const { return events_.size(); }

 private:
  PublicKey device_;
  std::vector<SealedEvent> events_;
};

inline Json shift_open_body(const std::string& unit) { return Json{{"unit", unit}, {"date", "2026-11-16"}}; }
inline Json hours_body(const Hash& shift, const std::string& worker, std::int64_t start) {
  return Json{{"shift", hash_ref(shift)}, {"worker", worker}, {"start", start}, {"end", start + 120}, {"special", false}};
}
inline Json output_body(const Hash& shift, std::int64_t quantity) {
  return Json{{"shift", hash_ref(shift)}, {"product", "P1"}, {"quantity", quantity}};
}

// ---- the world: head office, a legitimate terminal, and an attacker's device -----------------

class World {
 public:
  World() {
    setup_head_office(server_);
    url_ = server_.start();
    wire_.emplace(url_);
    server_key_ = wire_->server_key();
    set_up_terminal();
    set_up_attacker();
  }

  ServerProcess& server() { return server_; }
  Wire& wire() { return *wire_; }
  const std::string& url() const { return url_; }
  const PublicKey& server_key() const { return server_key_; }
  DeviceKey& attacker() { return attacker_; }
  Chain& chain() { return chain_; }
  const Hash& shift() const { return shift_; }
  const std::string& terminal_store() const { return terminal_.path(); }
  // The legitimate terminal's device key, read from its store as an attacker with the disk would.
  DeviceKey terminal_key() const {
    auto key = DeviceKey::from_secret(read_key(terminal_.file("store") + "/device.key"));
    REQUIRE(key.is_ok());
    return std::move(key).value();
  }

  // Runs a head-office command that must succeed.
  // Enrolls `device` here with `code_text`, as the attacker's own client does.
  Answer enroll_device(const DeviceKey& device, const std::string& code_text) {
    return enroll(*wire_, server_key_, device, code_text);
  }
  std::string admin(const std::vector<std::string>& args, const std::string& input = {}) {
    RunResult r = server_.run(args, input);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return r.out;
  }
  std::string new_code() { return server_.create_code("S1", {"U1"}); }

  // Runs `shiftbook --store <dir>` with args.
  RunResult terminal(const std::string& dir, std::vector<std::string> args, const std::string& input = {}) {
    args.insert(args.begin(), {"--store", dir});
    return run_shiftbook(args, input);
  }
  RunResult terminal(std::vector<std::string> args, const std::string& input = {}) {
    return terminal(terminal_.file("store"), std::move(args), input);
  }

  // Seals `m` with the attacker's key and posts it to /v1/sync.
  Answer sync(const Message& m) {
    Request r = seal(attacker_, server_key_, m);
    return wire_->post("/v1/sync", r.wire, &r.context);
  }
  // Pushes the drafted events from `first` with a correct head; must be accepted.
  Answer push_ok(std::uint64_t first) {
    Answer a = sync(sync_message(chain_.from(first), sign_head(attacker_, chain_.size(), chain_.last().event.hash)));
    REQUIRE_MESSAGE(a.header().at("type") == "sync", a.header().dump());
    REQUIRE(a.header().at("receipt").at("seq") == chain_.size());
    return a;
  }

  // What head office holds of each device ("<key hex>" -> seq), and its flags.
  std::map<std::string, std::int64_t> held() {
    std::map<std::string, std::int64_t> out;
    for (const Json& d : devices()) out[device_id(d)] = d.at("seq").get<std::int64_t>();
    return out;
  }
  std::string flag_of(const PublicKey& key) {
    for (const Json& d : devices()) {
      if (device_id(d) == to_hex(key)) return d.value("flag", std::string());
    }
    FAIL("device " << short_device(key) << " is not in the device list");
    return {};
  }

  // Everything that must not change when an attack is refused: what head office holds of every
  // device, its reference data, and the events the legitimate terminal holds after a sync.
  struct Snapshot {
    std::map<std::string, std::int64_t> held;
    std::string quotas;
    std::int64_t terminal_events = 0;
    bool operator==(const Snapshot&) const = default;
  };
  Snapshot snapshot() {
    RunResult synced = terminal({"sync"});
    REQUIRE_MESSAGE(synced.exit_code == 0, synced.err);
    return Snapshot{held(), admin({"quota", "list", "--json"}),
                    query_int(terminal_.file("store") + "/terminal.db", "SELECT count(*) FROM events")};
  }

  // (c): some line the server logged after `mark` (a log_mark()) holds every fragment. The log
  // arrives through a pipe, so this waits for it, at most 5 s.
  bool logged(std::size_t mark, const std::vector<std::string>& fragments) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      std::istringstream lines(server_.log().substr(mark));
      for (std::string line; std::getline(lines, line);) {
        if (std::all_of(fragments.begin(), fragments.end(),
                        [&](const std::string& f) { return line.find(f) != std::string::npos; })) {
          return true;
        }
      }
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::size_t log_mark() const { return server_.log().size(); }
  std::string log_text() const { return server_.log(); }

  // (d): the legitimate terminal records an entry and syncs it; head office holds it.
  void others_still_served() {
    const std::string key = to_hex(terminal_key_);
    const std::int64_t before = held().at(key);
    RunResult logged_output = terminal({"log", "output", "--product", "P1", "--quantity", "7"});
    REQUIRE_MESSAGE(logged_output.exit_code == 0, logged_output.err);
    RunResult synced = terminal({"sync"});
    CHECK_MESSAGE(synced.exit_code == 0, synced.err);
    CHECK(held().at(key) == before + 1);
  }

 private:
  Json devices() {
    Json list = Json::parse(admin({"device", "list", "--json"}));
    if (list.is_object() && list.contains("devices")) list = list["devices"];
    REQUIRE(list.is_array());
    return list;
  }
  static std::string device_id(const Json& d) {
    for (const char* field : {"device", "key"}) {
      if (d.contains(field)) return d.at(field).get<std::string>();
    }
    FAIL("a device list entry without its key: " << d.dump());
    return {};
  }

  // A real terminal, enrolled in U1 by `shiftbook enroll`: L1 logs in, opens a shift, records.
  void set_up_terminal() {
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"init"},
             {"enroll", "--server", url_, "--code", new_code()},
             {"sync"}}) {
      RunResult r = terminal(args);
      REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    }
    RunResult login = terminal({"login", "L1"}, "4321\n");
    REQUIRE_MESSAGE(login.exit_code == 0, login.err);
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"shift", "open", "--unit", "U1", "--date", "2026-11-16"},
             {"log", "hours", "--worker", "W1", "--start", "06:00", "--end", "14:00"},
             {"sync"}}) {
      RunResult r = terminal(args);
      REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    }
    terminal_key_ = terminal_key().public_key();
  }

  // The attacker's own device, enrolled in U1 with a code of its own (it is a terminal of this
  // unit gone bad), with a shift and an hours entry that head office accepted.
  void set_up_attacker() {
    Answer a = enroll(*wire_, server_key_, attacker_, new_code());
    REQUIRE_MESSAGE(a.header().at("type") == "enrolled", a.header().dump());
    shift_ = chain_.add("shift_open", shift_open_body("U1")).event.hash;
    chain_.add("hours", hours_body(shift_, "W2", 360));
    push_ok(1);
  }

  static Bytes read_key(const std::string& path) {
    auto b = read_file(path);
    REQUIRE(b.size() == 64);
    return b;
  }
  static Bytes read_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    REQUIRE_MESSAGE(f != nullptr, "cannot read " << path);
    Bytes out(4096);
    out.resize(std::fread(out.data(), 1, out.size(), f));
    std::fclose(f);
    return out;
  }

  ServerProcess server_;
  std::string url_;
  std::optional<Wire> wire_;
  PublicKey server_key_{};
  TempDir terminal_;
  PublicKey terminal_key_{};
  DeviceKey attacker_ = DeviceKey::generate();
  Chain chain_{attacker_.public_key()};
  Hash shift_{};
};

// The three checks every refused attack ends with: (a), (c) and (d).
inline void refused(World& w, const World::Snapshot& before, std::size_t mark, const std::vector<std::string>& log) {
  CHECK(w.snapshot() == before);
  CHECK_MESSAGE(w.logged(mark, log), w.log_text());
  w.others_still_served();
}


// An enrollment code in the right format for this server, with a secret head office never made.
inline std::string guessed_code(const PublicKey& server) {
  EnrollCode code;
  random_bytes(code.secret);
  const Hash fp = server_fingerprint(server);
  std::copy_n(fp.begin(), code.fingerprint.size(), code.fingerprint.begin());
  return format_enroll_code(code);
}

// A stand-in for a server that answers with a key other than the pinned one: it seals each answer
// for a request of its own making, so the answer is a well-formed envelope that opens with no key
// the terminal trusts.
class ImpostorServer {
 public:
  ImpostorServer() {
    server_.Post("/v1/sync", [this](const httplib::Request&, httplib::Response& res) {
      Message m;
      m.header = Json{{"type", "sync"}, {"cursor", 999}, {"more", false}, {"heads", Json::array()},
                      {"receipt", Json{{"seq", 0}, {"hash", to_hex(Hash{})}, {"server_ms", 0}, {"sig", to_hex(Signature{})}}}};
      auto plain = encode_message(m);
      auto own = seal_request(key_, key_.public_key(), as_bytes("x"));
      auto sealed = seal_response(own->context, *plain);
      res.set_content(std::string(sealed->begin(), sealed->end()), "application/octet-stream");
      ++answered_;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() only stops a server that runs; wait for it to, at most 5 s.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    REQUIRE(server_.is_running());
  }
  ~ImpostorServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int answered() const { return answered_; }

 private:
  DeviceKey key_ = DeviceKey::generate();
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> answered_{0};
};

}  // namespace shiftbook::testing::attack
