// Files outside the database: the device key and exports. Reads whole small files, and writes
// files atomically: a temp file this call creates (never a stale one or a planted link), synced,
// renamed over the target, and the folder synced, so the target is either the old file or the
// whole new one. Plain functions; safe from any thread on different paths.
#pragma once

#include <functional>
#include <ostream>
#include <string>

#include "shiftbook/bytes.h"
#include "shiftbook/status.h"

namespace shiftbook {

// A Status for the current errno: not_found, permission_denied, resource_exhausted or internal.
Status errno_status(const std::string& what);

Result<Bytes> read_file_bytes(const std::string& path);

// `write` fills PATH.tmp (created with `mode`) through a stream that goes straight to the file, so
// what it writes never has to fit in memory. On any failure `path` is untouched and PATH.tmp gone.
Status write_file_atomic(const std::string& path, unsigned mode, const std::function<Status(std::ostream&)>& write);
Status write_file_atomic(const std::string& path, ByteView data, unsigned mode);

}  // namespace shiftbook
