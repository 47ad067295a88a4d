// The world the message target talks to: one head office (the real Service on a SQLite store)
// and two terminals (real Stores), built once per process in work_dir() and put back to the state
// they were built in after any input that changed them, so that every input meets the same world
// and a crash replays from its input alone.
//
// The head office holds site S1 (units U1, U2, the reference items of fuzz_support.h), terminal
// A enrolled for both units with chain_a() pushed, and one open enrollment code (kValidCode).
// The enrolled terminal is enrolled for S1, U1 and U2 and holds signer_chain() and chain_a(); the
// new terminal is fresh from init. One thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "loopback.h"
#include "service.h"
#include "shiftbook/client/store.h"
#include "shiftbook/clock.h"
#include "shiftbook/protocol.h"

namespace shiftbook::fuzz {

// What the head office answered: the opened message of a 200 reply, or the plain JSON error code.
struct ServerAnswer {
  int http_status = 0;
  std::optional<Message> message;
  std::string json_code;
};

class HeadOffice {
 public:
  HeadOffice();
  // Seals `m` as a request of `device` and posts it to /v1/sync (or /v1/enroll). Checks what
  // every answer must be (a 200 answer opens with the request's key and is a message of a type a
  // terminal knows; any other is a JSON error; never "internal"), and puts the store back when
  // the request changed it.
  ServerAnswer sync(const DeviceKey& device, const Message& m);
  ServerAnswer enroll(const DeviceKey& device, const Message& m);
  // The secret (16 hex digits) of the enrollment code that is still open.
  const std::string& open_code() const { return open_code_; }

 private:
  ServerAnswer post(bool enroll, const DeviceKey& device, const Message& m);
  void open();
  void restore();

  std::string dir_;
  std::string pristine_;
  FakeClock clock_{0};
  std::unique_ptr<server::Service> service_;
  std::string open_code_;
  bool built_ = false;  // the pristine copy exists
};

// The terminal's side: accept_sync on the enrolled store, and the sync and enroll drivers over
// the Loopback. Each returns what the store said; the store is put back afterwards if the call
// may have changed it.
class Terminals {
 public:
  Terminals();
  const PublicKey& enrolled_device() const { return enrolled_->device(); }
  Status accept(const Message& answer);
  Status sync(const Bytes& answer);
  Status enroll(const Bytes& answer);

 private:
  struct Held {
    std::string dir;
    std::string pristine;
    std::unique_ptr<client::Store> store;
  };
  void snapshot(Held& h);
  void restore(Held& h);

  FakeClock clock_{0};
  Loopback loopback_;
  Held enrolled_held_;
  Held new_held_;
  client::Store* enrolled_ = nullptr;
};

}  // namespace shiftbook::fuzz
