#include "support/proxy_process.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>

namespace shiftbook::testing {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(5);

httplib::Client control_client(const std::string& url) {
  httplib::Client c(url);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(10, 0);
  return c;
}

}  // namespace

ProxyProcess::ProxyProcess(const std::string& upstream, const std::vector<std::string>& options) {
  std::vector<std::string> argv{SHIFTBOOK_FAULTPROXY_BIN, "--listen", "127.0.0.1:0", "--upstream", upstream,
                                "--stats", stats_file()};
  argv.insert(argv.end(), options.begin(), options.end());
  Result<Process> started = Process::start(argv);
  REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
  process_ = std::move(started).value();
  Result<std::string> url = process_.wait_for_line("listening on ", Clock::now() + kStartTimeout);
  out_ = process_.out();
  REQUIRE_MESSAGE(url.is_ok(), url.status().to_string());
  url_ = std::move(url).value();
}

ProxyProcess::~ProxyProcess() { stop(); }

void ProxyProcess::set_upstream(const std::string& upstream) const {
  auto res = control_client(url_).Post("/_proxy/upstream", upstream, "text/plain");
  REQUIRE_MESSAGE(res, "the proxy did not answer POST /_proxy/upstream");
  REQUIRE_MESSAGE(res->status == 200, res->body);
}

void ProxyProcess::set_faults(const Json& faults) const {
  auto res = control_client(url_).Post("/_proxy/faults", faults.dump(), "application/json");
  REQUIRE_MESSAGE(res, "the proxy did not answer POST /_proxy/faults");
  REQUIRE_MESSAGE(res->status == 200, res->body);
}

void ProxyProcess::faults_off() const {
  set_faults(Json{{"drop_request", 0}, {"drop_response", 0}, {"truncate_response", 0},
                  {"duplicate_request", 0}, {"delay", 0}, {"reorder", 0}});
}

Json ProxyProcess::stats() const {
  auto res = control_client(url_).Get("/_proxy/stats");
  REQUIRE_MESSAGE(res, "the proxy did not answer GET /_proxy/stats");
  REQUIRE(res->status == 200);
  return Json::parse(res->body);
}

std::int64_t ProxyProcess::faults(const std::string& kind) const {
  return stats()["faults"][kind].get<std::int64_t>();
}

int ProxyProcess::stop() {
  if (process_.pid() <= 0) return status_;
  // The output ends when the process does: everything it printed is read by then.
  status_ = process_.stop(kStopTimeout);
  out_ = process_.out() + process_.err();
  return status_;
}

}  // namespace shiftbook::testing
