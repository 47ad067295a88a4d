#include "powerloss_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

namespace shiftbook::testing {
namespace {

constexpr std::uint64_t kNoTruncate = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kFlushPiece = 64 * 1024;

// What a buffered file looks like to SQLite: the synced content of the real file plus everything
// written since. The dirty range and the lowest truncation say what xSync must carry to the real
// file; bytes inside the range that were not written equal the real file's, so writing the whole
// range is exact.
struct Shadow {
  std::vector<std::uint8_t> image;
  std::uint64_t dirty_lo = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t dirty_hi = 0;
  std::uint64_t truncated_to = kNoTruncate;
  bool resized = false;
  bool main_db = false;

  std::uint64_t unsynced_bytes() const { return dirty_hi > dirty_lo ? dirty_hi - dirty_lo : 0; }
  bool clean() const { return dirty_hi <= dirty_lo && truncated_to == kNoTruncate && !resized; }
};

struct PlFile {
  sqlite3_file base;     // first, so SQLite's pointer is ours
  sqlite3_file* real;    // the default VFS's file, in the same allocation after this struct
  Shadow* shadow;        // null: the file passes straight through
};
constexpr std::size_t kRealOffset = (sizeof(PlFile) + 15) / 16 * 16;

struct State {
  sqlite3_vfs vfs{};
  sqlite3_vfs* real = nullptr;
  bool failed = false;
  std::uint64_t ops = 0;
  std::uint64_t fail_at = 0;  // 0: not armed
  std::uint64_t db_writes = 0;
  std::uint64_t fail_at_db_write = 0;  // 0: not armed
  std::uint64_t syncs = 0;
  std::uint64_t dropped = 0;
  std::uint64_t dropped_db = 0;
  std::uint64_t io_errors = 0;
  std::vector<Shadow*> open;
};
State g;

PlFile* pl(sqlite3_file* f) { return reinterpret_cast<PlFile*>(f); }
const sqlite3_io_methods& real_io(PlFile* f) { return *f->real->pMethods; }

void trip() {
  if (g.failed) return;
  g.failed = true;
  for (Shadow* s : g.open) {
    g.dropped += s->unsynced_bytes();
    if (s->main_db) g.dropped_db += s->unsynced_bytes();
  }
}

// Counts one write, truncate or sync; false when the power is off (or fails at this operation).
bool power_on_for_op() {
  if (g.failed) return false;
  ++g.ops;
  if (g.fail_at != 0 && g.ops >= g.fail_at) {
    trip();
    return false;
  }
  return true;
}

// Carries a shadow's unsynced changes to the real file: the truncation first (so bytes past it are
// zero on disk as they are in the image), then the dirty range, then the final size.
int flush(PlFile* f) {
  Shadow& s = *f->shadow;
  const auto& io = real_io(f);
  int rc = SQLITE_OK;
  if (s.truncated_to != kNoTruncate) rc = io.xTruncate(f->real, static_cast<sqlite3_int64>(s.truncated_to));
  // In pieces: the default VFS writes at most 128 KiB per call and reports a longer write as a full disk.
  const std::uint64_t hi = std::min<std::uint64_t>(s.dirty_hi, s.image.size());
  for (std::uint64_t at = s.dirty_lo; rc == SQLITE_OK && at < hi; at += kFlushPiece) {
    const std::uint64_t n = std::min<std::uint64_t>(kFlushPiece, hi - at);
    rc = io.xWrite(f->real, s.image.data() + at, static_cast<int>(n), static_cast<sqlite3_int64>(at));
  }
  sqlite3_int64 disk = 0;
  if (rc == SQLITE_OK) rc = io.xFileSize(f->real, &disk);
  if (rc == SQLITE_OK && static_cast<std::uint64_t>(disk) != s.image.size()) {
    rc = io.xTruncate(f->real, static_cast<sqlite3_int64>(s.image.size()));
  }
  if (rc != SQLITE_OK) {
    ++g.io_errors;
    return rc;
  }
  s.dirty_lo = std::numeric_limits<std::uint64_t>::max();
  s.dirty_hi = 0;
  s.truncated_to = kNoTruncate;
  s.resized = false;
  return SQLITE_OK;
}

int x_close(sqlite3_file* file) {
  PlFile* f = pl(file);
  int rc = SQLITE_OK;
  if (f->shadow) {
    // With the power on, the operating system would write its cache back sooner or later.
    if (!g.failed && !f->shadow->clean()) rc = flush(f);
    g.open.erase(std::remove(g.open.begin(), g.open.end(), f->shadow), g.open.end());
    delete f->shadow;
    f->shadow = nullptr;
  }
  int rc2 = real_io(f).xClose(f->real);
  return rc != SQLITE_OK ? rc : rc2;
}

int x_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  PlFile* f = pl(file);
  if (!f->shadow) return real_io(f).xRead(f->real, out, amount, offset);
  const auto& img = f->shadow->image;
  auto off = static_cast<std::uint64_t>(offset);
  auto want = static_cast<std::uint64_t>(amount);
  std::uint64_t have = off < img.size() ? std::min<std::uint64_t>(want, img.size() - off) : 0;
  if (have > 0) std::memcpy(out, img.data() + off, have);
  if (have < want) {
    std::memset(static_cast<std::uint8_t*>(out) + have, 0, want - have);
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

int x_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  PlFile* f = pl(file);
  if (!f->shadow) return real_io(f).xWrite(f->real, data, amount, offset);
  if (f->shadow->main_db && !g.failed) {
    ++g.db_writes;
    if (g.fail_at_db_write != 0 && g.db_writes >= g.fail_at_db_write) trip();
  }
  bool on = power_on_for_op();
  Shadow& s = *f->shadow;
  auto off = static_cast<std::uint64_t>(offset);
  auto end = off + static_cast<std::uint64_t>(amount);
  // The image changes even with the power off, so the dying connection reads what it wrote; none
  // of it can reach the disk any more.
  if (s.image.size() < end) s.image.resize(end);
  std::memcpy(s.image.data() + off, data, static_cast<std::size_t>(amount));
  if (on) {
    s.dirty_lo = std::min(s.dirty_lo, off);
    s.dirty_hi = std::max(s.dirty_hi, end);
  }
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  PlFile* f = pl(file);
  if (!f->shadow) return real_io(f).xTruncate(f->real, size);
  bool on = power_on_for_op();
  Shadow& s = *f->shadow;
  auto n = static_cast<std::uint64_t>(size);
  if (on) {
    if (n < s.image.size()) s.truncated_to = std::min(s.truncated_to, n);
    s.resized = true;
  }
  s.image.resize(n);
  return SQLITE_OK;
}

int x_sync(sqlite3_file* file, int flags) {
  PlFile* f = pl(file);
  if (!f->shadow) return real_io(f).xSync(f->real, flags);
  if (!power_on_for_op()) return SQLITE_OK;
  ++g.syncs;
  // The real file is not fsynced: the simulated disk is the real file, and this process never
  // loses the operating system's cache.
  return flush(f);
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  PlFile* f = pl(file);
  if (!f->shadow) return real_io(f).xFileSize(f->real, size);
  *size = static_cast<sqlite3_int64>(f->shadow->image.size());
  return SQLITE_OK;
}

int x_lock(sqlite3_file* file, int level) { return real_io(pl(file)).xLock(pl(file)->real, level); }
int x_unlock(sqlite3_file* file, int level) { return real_io(pl(file)).xUnlock(pl(file)->real, level); }
int x_check_reserved(sqlite3_file* file, int* out) {
  return real_io(pl(file)).xCheckReservedLock(pl(file)->real, out);
}

int x_file_control(sqlite3_file* file, int op, void* arg) {
  PlFile* f = pl(file);
  // Size hints and chunk sizes make the default VFS grow the real file directly, behind the shadow.
  if (f->shadow && (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE)) return SQLITE_OK;
  return real_io(f).xFileControl(f->real, op, arg);
}

int x_sector_size(sqlite3_file* file) { return real_io(pl(file)).xSectorSize(pl(file)->real); }
int x_device_characteristics(sqlite3_file* file) {
  return real_io(pl(file)).xDeviceCharacteristics(pl(file)->real);
}
int x_shm_map(sqlite3_file* file, int page, int page_size, int extend, void volatile** out) {
  return real_io(pl(file)).xShmMap(pl(file)->real, page, page_size, extend, out);
}
int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return real_io(pl(file)).xShmLock(pl(file)->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* file) { real_io(pl(file)).xShmBarrier(pl(file)->real); }
int x_shm_unmap(sqlite3_file* file, int delete_flag) {
  return real_io(pl(file)).xShmUnmap(pl(file)->real, delete_flag);
}

// Version 2: no xFetch, so SQLite never maps the database file and every read comes through here.
const sqlite3_io_methods kMethods = {
    2,         x_close,       x_read,           x_write,       x_truncate,
    x_sync,    x_file_size,   x_lock,           x_unlock,      x_check_reserved,
    x_file_control, x_sector_size, x_device_characteristics, x_shm_map, x_shm_lock,
    x_shm_barrier,  x_shm_unmap,   nullptr,          nullptr,
};

int v_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  PlFile* f = pl(file);
  f->base.pMethods = nullptr;
  f->shadow = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  f->real->pMethods = nullptr;
  int rc = g.real->xOpen(g.real, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    return rc;
  }
  const int buffered = SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL;
  if (flags & buffered) {
    auto* s = new Shadow;
    sqlite3_int64 size = 0;
    rc = real_io(f).xFileSize(f->real, &size);
    if (rc == SQLITE_OK && size > 0) {
      s->image.resize(static_cast<std::size_t>(size));
      rc = real_io(f).xRead(f->real, s->image.data(), static_cast<int>(size), 0);
    }
    if (rc != SQLITE_OK) {
      delete s;
      real_io(f).xClose(f->real);
      return rc;
    }
    s->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    f->shadow = s;
    g.open.push_back(s);
  }
  f->base.pMethods = &kMethods;
  return SQLITE_OK;
}

int v_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  // A dead process deletes nothing; in particular not the WAL that holds the synced commits.
  if (g.failed) return SQLITE_OK;
  return g.real->xDelete(g.real, name, sync_dir);
}
int v_access(sqlite3_vfs*, const char* name, int flags, int* out) { return g.real->xAccess(g.real, name, flags, out); }
int v_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g.real->xFullPathname(g.real, name, n, out);
}
void* v_dl_open(sqlite3_vfs*, const char* name) { return g.real->xDlOpen(g.real, name); }
void v_dl_error(sqlite3_vfs*, int n, char* out) { g.real->xDlError(g.real, n, out); }
void (*v_dl_sym(sqlite3_vfs*, void* handle, const char* sym))(void) { return g.real->xDlSym(g.real, handle, sym); }
void v_dl_close(sqlite3_vfs*, void* handle) { g.real->xDlClose(g.real, handle); }
int v_randomness(sqlite3_vfs*, int n, char* out) { return g.real->xRandomness(g.real, n, out); }
int v_sleep(sqlite3_vfs*, int micros) { return g.real->xSleep(g.real, micros); }
int v_current_time(sqlite3_vfs*, double* out) { return g.real->xCurrentTime(g.real, out); }
int v_last_error(sqlite3_vfs*, int n, char* out) { return g.real->xGetLastError(g.real, n, out); }
int v_current_time64(sqlite3_vfs*, sqlite3_int64* out) { return g.real->xCurrentTimeInt64(g.real, out); }

void register_once() {
  if (g.real) return;
  g.real = sqlite3_vfs_find("unix");
  if (!g.real || g.real->iVersion < 2) throw std::runtime_error("SQLite has no usable \"unix\" VFS");
  sqlite3_vfs& v = g.vfs;
  v.iVersion = 2;
  v.szOsFile = static_cast<int>(kRealOffset) + g.real->szOsFile;
  v.mxPathname = g.real->mxPathname;
  v.zName = PowerLossVfs::kName;
  v.xOpen = v_open;
  v.xDelete = v_delete;
  v.xAccess = v_access;
  v.xFullPathname = v_full_pathname;
  v.xDlOpen = v_dl_open;
  v.xDlError = v_dl_error;
  v.xDlSym = v_dl_sym;
  v.xDlClose = v_dl_close;
  v.xRandomness = v_randomness;
  v.xSleep = v_sleep;
  v.xCurrentTime = v_current_time;
  v.xGetLastError = v_last_error;
  v.xCurrentTimeInt64 = v_current_time64;
  if (sqlite3_vfs_register(&v, 0) != SQLITE_OK) throw std::runtime_error("cannot register the power-loss VFS");
}

}  // namespace

void PowerLossVfs::reset() {
  register_once();
  if (!g.open.empty()) throw std::logic_error("PowerLossVfs::reset with files still open through it");
  g.failed = false;
  g.ops = 0;
  g.fail_at = 0;
  g.db_writes = 0;
  g.fail_at_db_write = 0;
  g.syncs = 0;
  g.dropped = 0;
  g.dropped_db = 0;
  g.io_errors = 0;
}

void PowerLossVfs::arm(std::uint64_t n) { g.fail_at = n == 0 ? 0 : g.ops + n; }
void PowerLossVfs::arm_on_db_write(std::uint64_t n) { g.fail_at_db_write = n == 0 ? 0 : g.db_writes + n; }
void PowerLossVfs::fail_now() { trip(); }
bool PowerLossVfs::failed() { return g.failed; }
std::uint64_t PowerLossVfs::operations() { return g.ops; }
std::uint64_t PowerLossVfs::syncs() { return g.syncs; }
std::uint64_t PowerLossVfs::db_writes() { return g.db_writes; }
std::uint64_t PowerLossVfs::dropped_bytes() { return g.dropped; }
std::uint64_t PowerLossVfs::dropped_db_bytes() { return g.dropped_db; }
std::uint64_t PowerLossVfs::io_errors() { return g.io_errors; }

}  // namespace shiftbook::testing
