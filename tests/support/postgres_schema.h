// PostgreSQL for the tests: the server $SHIFTBOOK_TEST_POSTGRES names (tools/test starts a throwaway
// cluster and sets it), and fresh schemas in it, one per store a test makes, dropped when the test
// program exits. For test programs linked with the server's library (it uses server/src/pg.h).
// Used from one test thread.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "pg.h"

namespace shiftbook::testing {

// The URL of the tests' PostgreSQL server; empty when there is none.
inline std::string postgres_test_url() {
  const char* url = std::getenv("SHIFTBOOK_TEST_POSTGRES");
  return url ? std::string(url) : std::string();
}

// The schemas made in this process, dropped at its exit.
class PostgresSchemas {
 public:
  ~PostgresSchemas() {
    if (names_.empty()) return;
    auto conn = server::pg::Conn::connect(postgres_test_url());
    if (!conn.is_ok()) return;
    for (const auto& name : names_) (void)(*conn)->exec("DROP SCHEMA IF EXISTS " + name + " CASCADE");
  }
  // A new empty schema, and the store URL whose connections use it.
  std::string make() {
    const std::string name = "sbtest_" + std::to_string(::getpid()) + "_" + std::to_string(names_.size() + 1);
    auto conn = server::pg::Conn::connect(postgres_test_url());
    REQUIRE_MESSAGE(conn.is_ok(), conn.status().to_string());
    Status made = (*conn)->exec("DROP SCHEMA IF EXISTS " + name + " CASCADE; CREATE SCHEMA " + name);
    REQUIRE_MESSAGE(made.is_ok(), made.to_string());
    names_.push_back(name);
    return server::pg::with_url_param(postgres_test_url(), "options", "-csearch_path=" + name);
  }

 private:
  std::vector<std::string> names_;
};

inline PostgresSchemas& postgres_schemas() {
  static PostgresSchemas schemas;
  return schemas;
}

}  // namespace shiftbook::testing
