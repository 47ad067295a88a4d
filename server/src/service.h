// Head office's logic, apart from HTTP: enrollment, the sync round trip (checking a push,
// committing it, signing the receipt, assembling the pull) and head-office administration (which
// writes signed reference events into each site signer's chain). The HTTP layer (http.cpp) and
// the admin commands (main.cpp) are thin callers of this class. The rules are in
// docs/PROTOCOL.md; the storage behind it is storage.h. Thread-safe: the HTTP layer calls
// enroll() and sync() from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <map>
#include <string>
#include <vector>

#include "shiftbook/clock.h"
#include "shiftbook/crypto.h"
#include "shiftbook/protocol.h"
#include "shiftbook/status.h"
#include "storage.h"

namespace shiftbook::server {

// What one request comes to, independent of HTTP: the status to answer with, the body (an
// envelope, or JSON for errors that cannot be encrypted), and one line for the server's log.
struct Reply {
  int http_status = 200;
  std::string content_type = "application/octet-stream";
  std::string body;
  std::string log_line;
  int retry_after_seconds = 0;  // for 429
};

struct ServiceOptions {
  // Failed enrollment attempts allowed per peer address in a window, and globally.
  int enroll_failures_per_peer = 5;
  int enroll_failures_global = 50;
  std::int64_t enroll_window_ms = 10 * 60 * 1000;
};

class Service {
 public:
  Service(std::unique_ptr<Storage> storage, DeviceKey server_key, const Clock& clock, ServiceOptions options = {});
  ~Service();

  const PublicKey& server_key() const;

  // GET /v1/hello: {"protocol":1,"server_key":hex,"fingerprint":"ab12 cd34 ..."} as JSON.
  Reply hello() const;
  // POST /v1/enroll and POST /v1/sync: the request envelope in, the reply out. `peer` is the
  // remote address, for rate limits and the log.
  Reply enroll(ByteView wire, const std::string& peer);
  Reply sync(ByteView wire, const std::string& peer);

  // ---- head-office administration (the admin commands)
  // Checks a reference item of a ref_* kind (validate_head_office_body, and that what it names
  // exists: a unit's site, a quota's unit, period and product, a worker's or leader's site), then
  // appends it as one event to the chain of every site signer it concerns: its own site's, or
  // every site's for periods and products. A new site's chain starts with the site itself and
  // the current periods and products. For ref_quota, a missing "version" is filled in as one
  // more than the current quota's (1 for a new one). Returns the body as written.
  Result<Json> put_reference(const std::string& kind, Json body);
  // Current reference items of a kind (all sites when `site` is empty).
  Result<std::vector<Json>> reference(const std::string& kind, const std::string& site = {});
  // A new enrollment code for `site` and some of its units, valid for `valid_ms`.
  Result<std::string> create_code(const std::string& site, const std::vector<std::string>& units,
                                  std::int64_t valid_ms);
  Result<std::vector<CodeRecord>> codes();
  Result<std::vector<DeviceRecord>> devices();
  Storage& storage();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shiftbook::server
