// What several test folders expect alike: an HTTP client for a server under test on loopback, and
// the payroll CSV of the worked example (docs/SHAREOUT.md; P2 has a quota and no output).
#pragma once

#include <httplib.h>

#include <string>

namespace shiftbook::testing {

// Short timeouts (the server is on 127.0.0.1) and no Nagle delay (docs/MEASURED.md).
inline httplib::Client http_client(const std::string& url) {
  httplib::Client c(url);
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(5);
  c.set_read_timeout(10);
  return c;
}

inline const std::string kWorkedExampleCsv =
    "worker,unit,period,product,minutes,special_minutes,points,share\r\n"
    "W1,U1,2026-11,P1,2400,0,2400.000,33\r\n"
    "W1,U1,2026-11,P2,2400,0,2400.000,0.000\r\n"
    "W2,U1,2026-11,P1,2400,480,2880.000,39\r\n"
    "W2,U1,2026-11,P2,2400,480,2880.000,0.000\r\n"
    "W3,U1,2026-11,P1,1200,0,1300.000,18\r\n"
    "W3,U1,2026-11,P2,1200,0,1300.000,0.000\r\n";

}  // namespace shiftbook::testing
