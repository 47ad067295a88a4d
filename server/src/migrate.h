// Moving a head office from its embedded SQLite store to PostgreSQL (docs/POSTGRES.md, "Migrating a
// head office from SQLite"): every row of every table copied in one PostgreSQL transaction from one
// snapshot of the source, during which no other process can write the source, then verified by
// the audit on both sides. Invariants: the source is never changed (beyond bringing it to the
// current schema version, as any command does); the target is changed only by a copy that commits
// whole; DIR/store names the target only once the copy is verified. One thread.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "shiftbook/audit.h"
#include "shiftbook/clock.h"
#include "shiftbook/status.h"

namespace shiftbook::server {

// The tables of a head-office store, as the migration treats them. Together they are every table
// of both schemas: the migration refuses a store holding any other (it would be lost).
struct MigrationTables {
  std::vector<std::string> copied;         // on both backends: copied row for row, in this order
  std::vector<std::string> sqlite_only;    // hash_index: PostgreSQL indexes events.hash_key itself
  std::vector<std::string> postgres_only;  // schema_version and positions: made and set by the copy
};
const MigrationTables& migration_tables();

struct MigrateRequest {
  std::string dir;         // the server folder: its key verifies the audit; its store may switch
  std::string from;        // sqlite:PATH
  std::string to;          // postgresql://... or postgres://...
  bool copy_only = false;  // leave DIR/store as it is, even when the source is DIR's store
};

struct MigrateReport {
  std::string source;                                       // the SQLite file
  std::string target;                                       // "database NAME on HOST:PORT" (no password)
  std::vector<std::pair<std::string, std::uint64_t>> rows;  // each copied table and its rows
  AuditResult audit;                                        // the target's (the source's is the same)
  std::int64_t copy_ms = 0, verify_ms = 0;
  bool switched = false;          // DIR/store now names the target
  std::string previous_store;     // what DIR/store held before ("": no such file, DIR/server.db)
  std::string not_switched_why;   // when not switched: why
};

// Copies and verifies (see the header comment and docs/POSTGRES.md). Refuses, changing nothing:
// invalid_argument for a `from` that is not sqlite:PATH or a `to` that is not a PostgreSQL URL;
// not_found for a missing source or DIR without a server; data_loss for a source that is not a
// head-office store, or whose own audit finds problems; unavailable when another process has the
// source open (a running serve) or the target cannot be reached; already_exists when the target
// holds any table; failed_precondition for a source holding a table the migration does not know.
// After the copy committed: data_loss when the target differs from the source (what differs is
// said; DIR/store is not written), unavailable when another process opened the source meanwhile
// (the copy stays, DIR/store is not written).
Result<MigrateReport> migrate_store(const MigrateRequest& request, const Clock& clock);

}  // namespace shiftbook::server
