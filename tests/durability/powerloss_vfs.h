// A test-only SQLite VFS that simulates losing power. It wraps SQLite's default VFS ("unix"): for
// the main database, its WAL and its rollback journals, every write, truncate and extension since
// the file's last xSync is held in memory (reads see it, so SQLite works normally) and reaches the
// real file only on xSync. When the power fails, whatever is unsynced is thrown away and every later
// write, sync, truncate and delete does nothing, so even closing the dying connection writes nothing.
// The -shm file and temporary files pass straight through: -shm is rebuilt from the WAL when the
// store is next opened. Creating and deleting files passes through while the power is on (no
// directory durability is simulated). Process-wide state; use from one test thread.
#pragma once

#include <cstdint>

namespace shiftbook::testing {

class PowerLossVfs {
 public:
  static constexpr const char* kName = "shiftbook-powerloss";

  // Registers the VFS (once per process) and resets it: power on, nothing armed, counters zero.
  // Call with no connection open through it.
  static void reset();
  // The power fails when the `n`th write, truncate or sync from now is attempted (that operation is
  // lost with the rest). 0 disarms.
  static void arm(std::uint64_t n);
  // The power fails when the `n`th write to a main database file from now is attempted: main
  // database files are written only by checkpoints in WAL mode. 0 disarms.
  static void arm_on_db_write(std::uint64_t n);
  // The power fails now.
  static void fail_now();
  static bool failed();

  // Writes, truncates and syncs seen so far (to files it buffers).
  static std::uint64_t operations();
  // Syncs that reached the real file.
  static std::uint64_t syncs();
  // Writes to main database files seen so far.
  static std::uint64_t db_writes();
  // Unsynced bytes thrown away when the power failed, in all files and in main database files.
  static std::uint64_t dropped_bytes();
  static std::uint64_t dropped_db_bytes();
  // Failures of the real file while carrying synced data to it: SQLite ignores some (a failed
  // automatic checkpoint), so the tests check that there were none.
  static std::uint64_t io_errors();
};

}  // namespace shiftbook::testing
