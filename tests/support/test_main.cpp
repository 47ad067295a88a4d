#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "shiftbook/crypto.h"
#include "support/test_backend.h"

int main(int argc, char** argv) {
  if (!shiftbook::crypto_init().is_ok()) return 1;
  doctest::Context context(argc, argv);
  // A run for PostgreSQL with no server to run on is skipped, not passed: ctest shows it as such.
  // Listing the test cases needs no server.
  bool listing = false;
  for (int i = 1; i < argc; ++i) listing = listing || std::string_view(argv[i]).starts_with("--list") ||
                                          std::string_view(argv[i]).starts_with("-l");
  if (shiftbook::testing::postgres_backend() && std::getenv("SHIFTBOOK_TEST_POSTGRES") == nullptr && !listing) {
    std::fprintf(stderr,
                 "skipped: this run is for PostgreSQL (SHIFTBOOK_TEST_BACKEND=postgres) and "
                 "SHIFTBOOK_TEST_POSTGRES names no server; run tools/test, or start one with "
                 "tools/postgres_cluster (docs/POSTGRES.md)\n");
    return shiftbook::testing::kSkipExitCode;
  }
  return context.run();
}
