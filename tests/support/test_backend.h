// Which head-office store the server and service tests run on. Every such test runs on SQLite;
// tests/CMakeLists.txt registers the service and integration tests a second time ("postgres:"
// before their names) with SHIFTBOOK_TEST_BACKEND=postgres, where each head office a test makes is
// a fresh schema on the PostgreSQL server $SHIFTBOOK_TEST_POSTGRES names (docs/POSTGRES.md, "Tests
// against both backends"). Without that server those runs are skipped, saying why (test_main.cpp).
#pragma once

#include <cstdlib>
#include <string>

namespace shiftbook::testing {

// True in the runs registered for PostgreSQL.
inline bool postgres_backend() {
  const char* backend = std::getenv("SHIFTBOOK_TEST_BACKEND");
  return backend != nullptr && std::string(backend) == "postgres";
}

// What a run for PostgreSQL exits with when no server is named: ctest's SKIP_RETURN_CODE.
inline constexpr int kSkipExitCode = 77;

}  // namespace shiftbook::testing
