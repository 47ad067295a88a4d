// In a run for PostgreSQL (support/test_backend.h), every ServerProcess() of this program keeps its
// store in a fresh schema of the tests' PostgreSQL server, dropped when the program exits.
#include "support/postgres_schema.h"
#include "support/server_process.h"

namespace {

[[maybe_unused]] const bool registered = [] {
  shiftbook::testing::set_postgres_store_maker([] { return shiftbook::testing::postgres_schemas().make(); });
  return true;
}();

}  // namespace
