// The server's folder: its key file and its store (server_dir.h).
#include "server_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "shiftbook/platform/files.h"

namespace shiftbook::server {

namespace fs = std::filesystem;

std::string server_dir_from_env() {
  const char* env = std::getenv("SHIFTBOOK_SERVER_DIR");
  return env && *env ? std::string(env) : std::string();
}

Result<PublicKey> init_server_dir(const std::string& dir) {
  SB_RETURN_IF_ERROR(crypto_init());
  const std::string key_path = dir + "/" + kServerKeyFile;
  const std::string db_path = dir + "/" + kServerDbFile;
  std::error_code ec;
  if (fs::exists(db_path, ec) || fs::exists(key_path, ec)) {
    // Terminals pin the key: replacing it would cut every enrolled terminal off.
    return already_exists("a server already exists in " + dir + " (" +
                          (fs::exists(key_path, ec) ? kServerKeyFile : kServerDbFile) +
                          " is there); use it, or choose another folder with --dir");
  }
  fs::create_directories(dir, ec);
  if (ec) return permission_denied("cannot create the server folder " + dir + ": " + ec.message());
  // The folder holds the server's secret key and the workers' PIN hashes: only its owner may list
  // or enter it, whatever the umask made of it.
  if (::chmod(dir.c_str(), 0700) != 0) return errno_status("cannot make the server folder " + dir + " private");
  DeviceKey key = DeviceKey::generate();
  SB_RETURN_IF_ERROR(write_file_atomic(key_path, key.secret(), 0600));
  auto storage = open_sqlite_storage(db_path, true);
  if (!storage.is_ok()) {
    // Nothing was signed with the new key yet: take it away so that init can simply run again.
    fs::remove(key_path, ec);
    return storage.status();
  }
  return key.public_key();
}

Result<DeviceKey> read_server_key(const std::string& dir) {
  SB_RETURN_IF_ERROR(crypto_init());
  const std::string key_path = dir + "/" + kServerKeyFile;
  std::error_code ec;
  if (!fs::exists(key_path, ec)) {
    return not_found("no server in " + dir + " (no " + kServerKeyFile + "); run 'shiftbook-server init' first, or name "
                     "the folder with --dir or $SHIFTBOOK_SERVER_DIR");
  }
  SB_ASSIGN_OR_RETURN(Bytes secret, read_file_bytes(key_path));
  auto key = DeviceKey::from_secret(secret);
  std::fill(secret.begin(), secret.end(), 0);
  if (!key.is_ok()) return data_loss("the server key " + key_path + " is damaged: " + key.status().message());
  return std::move(key).value();
}

Result<std::unique_ptr<Service>> open_server_dir(const std::string& dir, const Clock& clock, ServiceOptions options) {
  SB_ASSIGN_OR_RETURN(DeviceKey key, read_server_key(dir));
  const std::string db_path = dir + "/" + kServerDbFile;
  std::error_code ec;
  if (!fs::exists(db_path, ec)) {
    return not_found("no server store in " + dir + " (no " + kServerDbFile + "); run 'shiftbook-server init' first");
  }
  SB_ASSIGN_OR_RETURN(auto storage, open_sqlite_storage(db_path, false));
  return std::make_unique<Service>(std::move(storage), std::move(key), clock, options);
}

}  // namespace shiftbook::server
