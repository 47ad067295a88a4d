// The server's folder: DIR/server.key (the Ed25519 secret key that terminals pin, mode 0600) and
// its store: DIR/server.db (SQLite), or the store whose URL DIR/store holds (docs/POSTGRES.md),
// in a folder only its owner may enter (0700). init makes them; open reads them into a ready
// Service. Invariant: a server key is never overwritten: init refuses a folder that holds any of
// these files. Plain functions; safe from any thread on different folders.
#pragma once

#include <memory>
#include <string>

#include "service.h"
#include "shiftbook/clock.h"
#include "shiftbook/crypto.h"
#include "shiftbook/status.h"

namespace shiftbook::server {

inline constexpr const char* kServerKeyFile = "server.key";
inline constexpr const char* kServerDbFile = "server.db";
inline constexpr const char* kServerStoreFile = "store";

// $SHIFTBOOK_SERVER_DIR, or empty when it is not set.
std::string server_dir_from_env();

// Creates DIR (and its parents) with mode 0700, a fresh server key and an empty store: DIR/server.db
// when `store_url` is empty (or "sqlite:"), else the store it names (open_storage), its URL kept in
// DIR/store (mode 0600: it may hold a password). Returns the new public key. already_exists when
// DIR holds a server key or store already, or the named store exists.
Result<PublicKey> init_server_dir(const std::string& dir, const std::string& store_url = {});
// The URL of DIR's store: what DIR/store holds, else sqlite:DIR/server.db.
Result<std::string> server_store_url(const std::string& dir);
// Writes `url` to DIR/store (atomically, mode 0600: it may hold a password): the store every later
// command and `serve` on DIR opens (init --store, migrate).
Status record_server_store(const std::string& dir, const std::string& url);
// The server's key from DIR. not_found without one; data_loss when the file is not a key.
Result<DeviceKey> read_server_key(const std::string& dir);
// The Service over DIR's key and store. not_found when DIR holds no server.
Result<std::unique_ptr<Service>> open_server_dir(const std::string& dir, const Clock& clock,
                                                 ServiceOptions options = {});

}  // namespace shiftbook::server
