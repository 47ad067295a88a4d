// The HTTP transport of the sync driver: the one file that talks to cpp-httplib on the terminal.
// One keep-alive connection with TCP_NODELAY (without it every round trip stalls some 60 to 90 ms
// on Nagle and delayed ACK), bounded timeouts, and answers read into memory only up to the size an
// envelope may have. Library failures become unavailable naming the URL.
#include <httplib.h>

#include <exception>

#include "shiftbook/envelope.h"
#include "sync_client.h"

namespace shiftbook::client {
namespace {

// The largest answer read: an envelope at its limit, or an error document (far smaller).
constexpr std::size_t kMaxReplyBytes = kMaxEnvelopeBytes + 64 * 1024;

class HttpTransport final : public Transport {
 public:
  HttpTransport(std::string url, const std::string& origin, std::string prefix, HttpOptions options)
      : url_(std::move(url)), prefix_(std::move(prefix)), client_(origin) {
    client_.set_tcp_nodelay(true);
    client_.set_keep_alive(true);
    client_.set_connection_timeout(options.connect_timeout_seconds, 0);
    client_.set_read_timeout(options.io_timeout_seconds, 0);
    client_.set_write_timeout(options.io_timeout_seconds, 0);
  }

  bool valid() const { return client_.is_valid(); }

  Result<HttpReply> get(const std::string& path) override {
    httplib::Request req;
    req.method = "GET";
    req.path = prefix_ + path;
    return exchange(req);
  }

  Result<HttpReply> post(const std::string& path, ByteView body) override {
    httplib::Request req;
    req.method = "POST";
    req.path = prefix_ + path;
    req.body.assign(reinterpret_cast<const char*>(body.data()), body.size());
    req.set_header("Content-Type", "application/octet-stream");
    return exchange(req);
  }

  const std::string& url() const override { return url_; }

 private:
  Result<HttpReply> exchange(httplib::Request& req) {
    HttpReply reply;
    bool too_large = false;
    req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      if (reply.body.size() + n > kMaxReplyBytes) {
        too_large = true;
        return false;
      }
      reply.body.append(data, n);
      return true;
    };
    try {
      httplib::Result res = client_.send(req);
      if (too_large) {
        return resource_exhausted("the answer of " + url_ + " is larger than " + std::to_string(kMaxReplyBytes) +
                                  " bytes, more than the protocol allows; nothing from it was stored");
      }
      if (!res) {
        return unavailable("cannot reach " + url_ + ": " + httplib::to_string(res.error()) +
                           "; entries stay on this terminal and go with the next sync");
      }
      reply.status = res->status;
      reply.retry_after = res->get_header_value("Retry-After");
      return reply;
    } catch (const std::exception& e) {
      return unavailable("cannot reach " + url_ + ": " + e.what() +
                         "; entries stay on this terminal and go with the next sync");
    }
  }

  std::string url_;
  std::string prefix_;
  httplib::Client client_;
};

}  // namespace

Result<std::unique_ptr<Transport>> http_transport(const std::string& url, HttpOptions options) {
  const auto bad = [&](const std::string& why) {
    return invalid_argument("'" + url + "' is not a server address (" + why + "); give one such as http://10.0.0.5:8470");
  };
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return bad("it does not start with http:// or https://");
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return bad("only http and https are spoken");
  const auto path_start = url.find('/', scheme_end + 3);
  const std::string host = url.substr(scheme_end + 3, path_start == std::string::npos ? std::string::npos
                                                                                       : path_start - scheme_end - 3);
  if (host.empty()) return bad("it names no host");
  for (char c : host) {
    if (c <= ' ' || c == '@' || c == '?' || c == '#' || static_cast<unsigned char>(c) >= 0x7f) {
      return bad("its host holds a character a host name cannot");
    }
  }
  std::string prefix = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.find_first_of("?# ") != std::string::npos) return bad("it holds a query or a space");
  auto transport = std::make_unique<HttpTransport>(url, scheme + "://" + host, prefix, options);
  if (!transport->valid()) return bad(scheme + " is not available in this build of shiftbook");
  return std::unique_ptr<Transport>(std::move(transport));
}

}  // namespace shiftbook::client
