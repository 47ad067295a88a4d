// Fuzz target "envelope": bytes as they arrive over HTTP (or in a file), before anything is
// decrypted. request_device reads a request's frame; open_request opens it with the fixed server
// key (server_key(), the key of docs/PROTOCOL.md's worked example, so its request opens);
// open_response opens an answer to that worked example's request. Properties: request_device
// names the bytes at offset 5; open_request succeeds only where request_device does, for the
// same device; and whatever opens comes back unchanged through seal_response_with/open_response
// with its own context.
#include <algorithm>
#include <array>

#include "fuzz_support.h"
#include "shiftbook/envelope.h"
#include "shiftbook/protocol.h"

namespace {

using namespace shiftbook;
using namespace shiftbook::fuzz;

// The context of the worked example's request: its ephemeral secret and nonce (tools/golden.cpp).
// Only the key and the request header matter to open_response, not the plaintext sealed.
const EnvelopeContext& example_context() {
  static const EnvelopeContext context = [] {
    init_crypto();
    SealedRequest r = must(detail::seal_request_with(terminal_a(), server_key().public_key(), Bytes{},
                                                     counting<32>(0x40), counting<24>(0x60)),
                           "sealing the worked example's request");
    return std::move(r.context);
  }();
  return context;
}

void round_trip(const EnvelopeContext& context, const Bytes& plaintext) {
  const std::array<std::uint8_t, 24> nonce{};
  auto sealed = detail::seal_response_with(context, plaintext, nonce);
  check(sealed.is_ok(), "an opened plaintext cannot be sealed again: " + sealed.status().to_string());
  auto opened = open_response(context, *sealed);
  check(opened.is_ok() && *opened == plaintext, "a response sealed for a context does not open with it");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView wire(data, size);
  const EnvelopeContext& example = example_context();

  auto device = request_device(wire);
  if (device.is_ok()) {
    check(size >= kRequestHeaderBytes + kEnvelopeTagBytes && std::equal(device->begin(), device->end(), data + 5),
          "request_device named a device that is not at offset 5 of a whole request");
  }
  auto request = open_request(server_key(), wire);
  if (request.is_ok()) {
    check(device.is_ok() && request->device == *device, "open_request opened what request_device refuses");
    check(request->plaintext.size() == size - kRequestHeaderBytes - kEnvelopeTagBytes,
          "open_request gave a plaintext of the wrong length");
    round_trip(request->context, request->plaintext);
    (void)decode_message(request->plaintext);
  }
  auto response = open_response(example, wire);
  if (response.is_ok()) {
    check(response->size() == size - kResponseHeaderBytes - kEnvelopeTagBytes,
          "open_response gave a plaintext of the wrong length");
    round_trip(example, *response);
    (void)decode_message(*response);
  }
  return 0;
}
