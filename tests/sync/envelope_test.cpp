// The encrypted envelope: a request opens only at the server it was sealed for, a response only
// with the context of the request it answers; any change, truncation or wrong version is refused
// with an error, never a crash.
#include <doctest/doctest.h>

#include <string>

#include "shiftbook/envelope.h"
#include "shiftbook/event.h"

using namespace shiftbook;

namespace {

struct Pair {
  DeviceKey device = DeviceKey::generate();
  DeviceKey server = DeviceKey::generate();
};

SealedRequest sealed(const Pair& p, std::string_view text) {
  auto r = seal_request(p.device, p.server.public_key(), as_bytes(text));
  REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  return std::move(r).value();
}

std::string as_text(const Bytes& b) { return std::string(b.begin(), b.end()); }

bool refused(Code c) { return c == Code::kUnauthenticated || c == Code::kInvalidArgument; }

}  // namespace

TEST_CASE("envelope: a request opens at its server and the response opens with the request's context") {
  Pair p;
  SealedRequest req = sealed(p, "push 3 events");
  CHECK(req.wire.size() == kRequestHeaderBytes + 13 + kEnvelopeTagBytes);
  CHECK(as_text(req.wire).find("push") == std::string::npos);  // the plaintext does not show

  auto device = request_device(req.wire);
  REQUIRE(device.is_ok());
  CHECK(*device == p.device.public_key());
  auto opened = open_request(p.server, req.wire);
  REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
  CHECK(opened->device == p.device.public_key());
  CHECK(as_text(opened->plaintext) == "push 3 events");
  CHECK(opened->context.key == req.context.key);
  CHECK(opened->context.request_header == req.context.request_header);

  auto resp = seal_response(opened->context, as_bytes("receipt for 3"));
  REQUIRE(resp.is_ok());
  CHECK(resp->size() == kResponseHeaderBytes + 13 + kEnvelopeTagBytes);
  auto answer = open_response(req.context, *resp);
  REQUIRE_MESSAGE(answer.is_ok(), answer.status().to_string());
  CHECK(as_text(*answer) == "receipt for 3");
}

TEST_CASE("envelope: an empty message travels too, and two seals of one message differ") {
  Pair p;
  SealedRequest a = sealed(p, "");
  SealedRequest b = sealed(p, "");
  CHECK(a.wire != b.wire);  // fresh ephemeral key and nonce each time
  CHECK(a.context.key != b.context.key);
  auto opened = open_request(p.server, a.wire);
  REQUIRE(opened.is_ok());
  CHECK(opened->plaintext.empty());
}

TEST_CASE("envelope: changing any byte of a request makes it fail to open") {
  Pair p;
  SealedRequest req = sealed(p, "hours of W1");
  for (std::size_t i = 0; i < req.wire.size(); ++i) {
    Bytes bad = req.wire;
    bad[i] ^= 0x01;
    auto r = open_request(p.server, bad);
    INFO("byte " << i);
    REQUIRE_FALSE(r.is_ok());
    // The version byte is the one change that reads as another version.
    if (i == 3) {
      CHECK(r.status().code() == Code::kFailedPrecondition);
    } else {
      CHECK(refused(r.status().code()));
    }
  }
}

TEST_CASE("envelope: changing any byte of a response makes it fail to open") {
  Pair p;
  SealedRequest req = sealed(p, "q");
  auto opened = open_request(p.server, req.wire);
  REQUIRE(opened.is_ok());
  auto resp = seal_response(opened->context, as_bytes("receipt"));
  REQUIRE(resp.is_ok());
  for (std::size_t i = 0; i < resp->size(); ++i) {
    Bytes bad = *resp;
    bad[i] ^= 0x80;
    auto r = open_response(req.context, bad);
    INFO("byte " << i);
    REQUIRE_FALSE(r.is_ok());
    CHECK((i == 3 ? r.status().code() == Code::kFailedPrecondition : refused(r.status().code())));
  }
}

TEST_CASE("envelope: a response does not open with another request's context") {
  Pair p;
  SealedRequest first = sealed(p, "first");
  SealedRequest second = sealed(p, "second");
  auto opened = open_request(p.server, first.wire);
  REQUIRE(opened.is_ok());
  auto resp = seal_response(opened->context, as_bytes("answer to first"));
  REQUIRE(resp.is_ok());
  auto r = open_response(second.context, *resp);
  CHECK(r.status().code() == Code::kUnauthenticated);
  // Even with the right key, a different request header (the response is bound to it) fails.
  EnvelopeContext mixed;
  mixed.key = first.context.key;
  mixed.request_header = second.context.request_header;
  CHECK(open_response(mixed, *resp).status().code() == Code::kUnauthenticated);
  CHECK(open_response(first.context, *resp).is_ok());
}

TEST_CASE("envelope: a request sealed for server A does not open at server B") {
  Pair p;
  DeviceKey other = DeviceKey::generate();
  SealedRequest req = sealed(p, "for A");
  auto r = open_request(other, req.wire);
  CHECK(r.status().code() == Code::kUnauthenticated);
  CHECK(r.status().message().find(short_device(p.device.public_key())) != std::string::npos);
  CHECK(r.status().message().find("for A") == std::string::npos);
}

TEST_CASE("envelope: an answer from a server that is not the pinned key does not open") {
  Pair p;  // the terminal pinned p.server
  DeviceKey impostor = DeviceKey::generate();
  SealedRequest req = sealed(p, "sync");
  // The impostor cannot open the request, so it answers with a context of its own making: from a
  // request the same device once sealed for the impostor, and from a guess at the key.
  auto for_impostor = seal_request(p.device, impostor.public_key(), as_bytes("sync"));
  REQUIRE(for_impostor.is_ok());
  auto its_own = open_request(impostor, for_impostor->wire);
  REQUIRE(its_own.is_ok());
  auto forged = seal_response(its_own->context, as_bytes("receipt: all held"));
  REQUIRE(forged.is_ok());
  CHECK(open_response(req.context, *forged).status().code() == Code::kUnauthenticated);

  EnvelopeContext guessed;
  guessed.request_header = req.context.request_header;
  auto guess = seal_response(guessed, as_bytes("receipt: all held"));
  REQUIRE(guess.is_ok());
  CHECK(open_response(req.context, *guess).status().code() == Code::kUnauthenticated);
}

TEST_CASE("envelope: another envelope version is failed_precondition naming both versions") {
  Pair p;
  SealedRequest req = sealed(p, "v2?");
  Bytes v2 = req.wire;
  v2[3] = 2;
  for (const Status& s : {request_device(v2).status(), open_request(p.server, v2).status()}) {
    CHECK(s.code() == Code::kFailedPrecondition);
    CHECK(s.message().find("version 2") != std::string::npos);
    CHECK(s.message().find("version 1") != std::string::npos);
  }
  Bytes short_v2 = {'S', 'B', 'X', 7};  // the version is read before the length
  CHECK(request_device(short_v2).status().code() == Code::kFailedPrecondition);
  auto opened = open_request(p.server, req.wire);
  REQUIRE(opened.is_ok());
  auto resp = seal_response(opened->context, as_bytes("r"));
  REQUIRE(resp.is_ok());
  (*resp)[3] = 2;
  CHECK(open_response(req.context, *resp).status().code() == Code::kFailedPrecondition);
}

TEST_CASE("envelope: every truncation of a request or a response is an error") {
  Pair p;
  SealedRequest req = sealed(p, "twelve bytes");
  auto opened = open_request(p.server, req.wire);
  REQUIRE(opened.is_ok());
  auto resp = seal_response(opened->context, as_bytes("twelve bytes"));
  REQUIRE(resp.is_ok());
  for (std::size_t n = 0; n < req.wire.size(); ++n) {
    INFO("request cut to " << n << " bytes");
    ByteView cut(req.wire.data(), n);
    CHECK((n >= kRequestHeaderBytes + kEnvelopeTagBytes || !request_device(cut).is_ok()));
    CHECK(refused(open_request(p.server, cut).status().code()));
  }
  for (std::size_t n = 0; n < resp->size(); ++n) {
    INFO("response cut to " << n << " bytes");
    CHECK(refused(open_response(req.context, ByteView(resp->data(), n)).status().code()));
  }
}

TEST_CASE("envelope: a request is not a response, nor anything else an envelope") {
  Pair p;
  SealedRequest req = sealed(p, "q");
  auto as_response = open_response(req.context, req.wire);
  CHECK(as_response.status().code() == Code::kInvalidArgument);
  CHECK(as_response.status().message().find("request envelope where a response envelope") != std::string::npos);
  CHECK(request_device(as_bytes("GET / HTTP/1.1\r\n")).status().code() == Code::kInvalidArgument);
  CHECK(open_request(p.server, as_bytes("{\"type\":\"sync\"}")).status().code() == Code::kInvalidArgument);
}

TEST_CASE("envelope: more than kMaxEnvelopeBytes is refused before any work") {
  Pair p;
  SealedRequest req = sealed(p, "q");
  Bytes big = req.wire;
  big.resize(kMaxEnvelopeBytes + 1);
  CHECK(request_device(big).status().code() == Code::kResourceExhausted);
  CHECK(open_request(p.server, big).status().code() == Code::kResourceExhausted);
  Bytes plain(kMaxEnvelopeBytes - kRequestHeaderBytes - kEnvelopeTagBytes + 1);
  CHECK(seal_request(p.device, p.server.public_key(), plain).status().code() == Code::kResourceExhausted);
  plain.pop_back();  // exactly the limit fits
  auto fits = seal_request(p.device, p.server.public_key(), plain);
  REQUIRE(fits.is_ok());
  CHECK(fits->wire.size() == kMaxEnvelopeBytes);
}

TEST_CASE("envelope: low-order keys are refused on both sides") {
  Pair p;
  PublicKey identity{};  // the Ed25519 identity point, a low-order key
  identity[0] = 1;
  CHECK(seal_request(p.device, identity, as_bytes("q")).status().code() == Code::kInvalidArgument);

  SealedRequest req = sealed(p, "q");
  Bytes zero_ephemeral = req.wire;
  std::fill(zero_ephemeral.begin() + 37, zero_ephemeral.begin() + 69, 0);
  CHECK(open_request(p.server, zero_ephemeral).status().code() == Code::kUnauthenticated);
  Bytes low_device = req.wire;
  std::copy(identity.begin(), identity.end(), low_device.begin() + 5);
  CHECK(open_request(p.server, low_device).status().code() == Code::kUnauthenticated);
}

TEST_CASE("envelope: the fixed-input seal is deterministic and checks its inputs") {
  Pair p;
  Bytes e(32, 0x41), nonce(24, 0x07);
  auto a = detail::seal_request_with(p.device, p.server.public_key(), as_bytes("m"), e, nonce);
  auto b = detail::seal_request_with(p.device, p.server.public_key(), as_bytes("m"), e, nonce);
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  CHECK(a->wire == b->wire);
  CHECK(detail::seal_request_with(p.device, p.server.public_key(), as_bytes("m"), ByteView(e).first(31), nonce)
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(detail::seal_response_with(a->context, as_bytes("r"), ByteView(nonce).first(23)).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("envelope: moving a context wipes the key it leaves behind") {
  Pair p;
  SealedRequest req = sealed(p, "q");
  auto key = req.context.key;
  EnvelopeContext moved = std::move(req.context);
  CHECK(moved.key == key);
  bool wiped = true;
  for (auto b : req.context.key) wiped = wiped && b == 0;  // NOLINT: reading a moved-from context on purpose
  CHECK(wiped);
}
