// One integer from a head office's store, on either backend, for tests that look at what a store
// holds (a row counted, a hash never written). `url` is a store URL (sqlite:PATH or postgresql://);
// `sql` must mean the same in both dialects and return one integer. For test programs linked with
// the server's library (it uses server/src/pg.h). The test fails when the query does.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "pg.h"
#include "support/fixture.h"

namespace shiftbook::testing {

inline std::int64_t store_int(const std::string& url, const std::string& sql) {
  if (url.rfind("sqlite:", 0) == 0) return query_int(url.substr(7), sql);
  auto conn = server::pg::Conn::connect(url);
  REQUIRE_MESSAGE(conn.is_ok(), conn.status().to_string());
  auto rows = (*conn)->query(sql, server::pg::Params(), "a test's query");
  REQUIRE_MESSAGE(rows.is_ok(), rows.status().to_string());
  REQUIRE(rows->size() == 1);
  return (*rows)[0].int64(0);
}

}  // namespace shiftbook::testing
