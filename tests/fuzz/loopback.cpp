#include "loopback.h"

#include <array>

#include "fuzz_support.h"
#include "shiftbook/envelope.h"
#include "shiftbook/protocol.h"

namespace shiftbook::fuzz {

Result<client::HttpReply> Loopback::get(const std::string& path) {
  check(path == "/v1/hello", "the terminal asked for " + path + " instead of /v1/hello");
  Json hello{{"protocol", kProtocolVersion},
             {"server_key", to_hex(server_key().public_key())},
             {"fingerprint", format_fingerprint(server_key().public_key())}};
  return client::HttpReply{200, hello.dump(), {}};
}

Result<client::HttpReply> Loopback::post(const std::string& path, ByteView body) {
  check(path == "/v1/sync" || path == "/v1/enroll", "the terminal posted to " + path);
  auto opened = open_request(server_key(), body);
  check(opened.is_ok(), "the terminal's request does not open with the server key: " + opened.status().to_string());
  check(decode_message(opened->plaintext).is_ok(), "the terminal sent a request that is not a message");
  // A fixed nonce keeps every run the same; each request has its own key, so it is never reused.
  const std::array<std::uint8_t, 24> nonce{};
  Bytes sealed = must(detail::seal_response_with(opened->context, answer_, nonce), "sealing the answer");
  return client::HttpReply{200, std::string(sealed.begin(), sealed.end()), {}};
}

}  // namespace shiftbook::fuzz
