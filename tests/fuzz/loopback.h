// A Transport (client/src/sync_client.h) that plays the server for the terminal's sync driver
// without a network: GET /v1/hello names server_key(), and every POST is opened with it (a
// request that does not open is a failed property: the terminal sealed it) and answered with the
// plaintext the fuzz target gave, sealed for that very request. So the driver reads a fuzzed
// answer through exactly the path it takes for a real one. One thread.
#pragma once

#include <string>

#include "shiftbook/bytes.h"
#include "sync_client.h"

namespace shiftbook::fuzz {

class Loopback final : public client::Transport {
 public:
  // The plaintext every POST is answered with from now on.
  void answer_with(Bytes plaintext) { answer_ = std::move(plaintext); }

  Result<client::HttpReply> get(const std::string& path) override;
  Result<client::HttpReply> post(const std::string& path, ByteView body) override;
  const std::string& url() const override { return url_; }

 private:
  Bytes answer_;
  std::string url_ = "http://fuzz.invalid";
};

}  // namespace shiftbook::fuzz
