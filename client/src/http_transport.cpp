// The HTTP transport of the sync driver: the one file that talks to cpp-httplib on the terminal.
// One keep-alive connection with TCP_NODELAY (without it every round trip stalls some 60 to 90 ms
// on Nagle and delayed ACK), bounded timeouts, and answers read into memory only up to the size an
// envelope may have. Library failures become unavailable naming the URL and, in plain words, why.
#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "shiftbook/envelope.h"
#include "sync_client.h"

namespace shiftbook::client {
namespace {

// The largest answer read: an envelope at its limit, or an error document (far smaller).
constexpr std::size_t kMaxReplyBytes = kMaxEnvelopeBytes + 64 * 1024;

// cpp-httplib reports every failed connect as Error::Connection (and leaves errno at EINPROGRESS),
// so after one the system is asked once more, which is all this does: resolve the host, then
// connect to each address with a short timeout and read the socket's error. "connection refused",
// "no route to host", "could not resolve host X: ..."; empty when a connection now succeeds.
std::string why_no_connection(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return {};
  std::string hostport = url.substr(scheme_end + 3);
  hostport = hostport.substr(0, hostport.find('/'));
  std::string host = hostport, port = url.compare(0, scheme_end, "https") == 0 ? "443" : "80";
  if (!hostport.empty() && hostport.front() == '[') {  // [IPv6]:port
    const auto close = hostport.find(']');
    host = hostport.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < hostport.size() && hostport[close + 1] == ':') {
      port = hostport.substr(close + 2);
    }
  } else if (const auto colon = hostport.rfind(':'); colon != std::string::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return "could not resolve host " + host + " (" + ::gai_strerror(rc) + "); check the server's address";
  }
  constexpr int kProbeMs = 3000;
  int last = 0;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        socklen_t len = sizeof err;
        if (::poll(&p, 1, kProbeMs) <= 0) {
          err = ETIMEDOUT;
        } else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
          err = errno;
        }
      }
    }
    ::close(fd);
    if (err == 0) {
      last = 0;
      break;
    }
    last = err;
  }
  ::freeaddrinfo(found);
  switch (last) {
    case 0: return {};
    case ECONNREFUSED: return "connection refused (nothing listens at that address: is the server running?)";
    case ETIMEDOUT: return "timed out connecting (no answer from that address)";
    case EHOSTUNREACH: return "no route to host (is the network up?)";
    case ENETUNREACH: return "network unreachable (is the network up?)";
    default: return std::string("could not connect (") + std::strerror(last) + ")";
  }
}

// Plain words for a failed exchange (cpp-httplib's own names are for programmers: "Connection").
std::string failure_text(httplib::Error error, const std::string& url) {
  switch (error) {
    case httplib::Error::Connection: {
      std::string why = why_no_connection(url);
      return why.empty() ? "could not connect" : why;
    }
    case httplib::Error::ConnectionTimeout: return "timed out connecting (no answer from that address)";
    case httplib::Error::Read: return "no answer (the connection was closed or timed out waiting for the server)";
    case httplib::Error::Write: return "the connection broke while sending (closed or timed out)";
    case httplib::Error::BindIPAddress: return "could not bind a local address";
    case httplib::Error::SSLConnection: return "the TLS handshake failed (is it an https server?)";
    case httplib::Error::SSLLoadingCerts: return "could not load this machine's TLS certificates";
    case httplib::Error::SSLServerVerification: return "the server's TLS certificate does not verify";
    case httplib::Error::ExceedRedirectCount: return "too many redirects";
    case httplib::Error::Canceled: return "the request was cancelled";
    case httplib::Error::Compression: return "could not decompress the answer";
    default: return "failed (" + httplib::to_string(error) + ")";
  }
}

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
    req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t offset, std::uint64_t total) {
      if (reply.body.size() + n > kMaxReplyBytes) {
        too_large = true;
        return false;
      }
      // One allocation of the announced size: growing by doubling would copy the answer and,
      // at the top, hold it twice.
      if (offset == 0 && total > 0 && total <= kMaxReplyBytes) reply.body.reserve(static_cast<std::size_t>(total));
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
        return unavailable("cannot reach " + url_ + ": " + failure_text(res.error(), url_) +
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
