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

Result<PublicKey> init_server_dir(const std::string& dir, const std::string& store_url) {
  SB_RETURN_IF_ERROR(crypto_init());
  const std::string key_path = dir + "/" + kServerKeyFile;
  const std::string db_path = dir + "/" + kServerDbFile;
  std::error_code ec;
  for (const char* name : {kServerKeyFile, kServerDbFile, kServerStoreFile}) {
    // Terminals pin the key: replacing it would cut every enrolled terminal off.
    if (fs::exists(dir + "/" + name, ec)) {
      return already_exists("a server already exists in " + dir + " (" + name +
                            " is there); use it, or choose another folder with --dir");
    }
  }
  // The URL recorded: none for the default; a SQLite path made absolute.
  std::string url;
  if (!store_url.empty() && store_url != "sqlite:") {
    if (store_url.rfind("sqlite:", 0) == 0) {
      url = "sqlite:" + fs::absolute(store_url.substr(7), ec).lexically_normal().string();
    } else if (is_postgres_url(store_url)) {
      url = store_url;
    } else {
      return open_storage(store_url, true).status();  // refuses it, saying which URLs are known
    }
  }
  fs::create_directories(dir, ec);
  if (ec) return permission_denied("cannot create the server folder " + dir + ": " + ec.message());
  // The folder holds the server's secret key and the workers' PIN hashes: only its owner may list
  // or enter it, whatever the umask made of it.
  if (::chmod(dir.c_str(), 0700) != 0) return errno_status("cannot make the server folder " + dir + " private");
  DeviceKey key = DeviceKey::generate();
  SB_RETURN_IF_ERROR(write_file_atomic(key_path, key.secret(), 0600));
  Status made = url.empty() ? open_sqlite_storage(db_path, true).status() : open_storage(url, true).status();
  if (made.is_ok() && !url.empty()) made = record_server_store(dir, url);
  if (!made.is_ok()) {
    // Nothing was signed with the new key yet: take it away so that init can simply run again.
    fs::remove(key_path, ec);
    return made;
  }
  return key.public_key();
}

Status record_server_store(const std::string& dir, const std::string& url) {
  return write_file_atomic(dir + "/" + kServerStoreFile, as_bytes(url + "\n"), 0600);
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

Result<std::string> server_store_url(const std::string& dir) {
  const std::string url_path = dir + "/" + kServerStoreFile;
  std::error_code ec;
  if (!fs::exists(url_path, ec)) return "sqlite:" + dir + "/" + kServerDbFile;
  SB_ASSIGN_OR_RETURN(Bytes text, read_file_bytes(url_path));
  std::string url(text.begin(), text.end());
  while (!url.empty() && (url.back() == '\n' || url.back() == '\r' || url.back() == ' ')) url.pop_back();
  if (url.empty()) return data_loss("the store file " + url_path + " is empty; it should name the server's store");
  return url;
}

Result<std::unique_ptr<Service>> open_server_dir(const std::string& dir, const Clock& clock, ServiceOptions options) {
  SB_ASSIGN_OR_RETURN(DeviceKey key, read_server_key(dir));
  SB_ASSIGN_OR_RETURN(std::string url, server_store_url(dir));
  std::error_code ec;
  if (url.rfind("sqlite:", 0) == 0 && !fs::exists(url.substr(7), ec)) {
    return not_found("no server store in " + dir + " (no " + url.substr(7) + "); run 'shiftbook-server init' first");
  }
  SB_ASSIGN_OR_RETURN(auto storage, open_storage(url, false));
  return std::make_unique<Service>(std::move(storage), std::move(key), clock, options);
}

}  // namespace shiftbook::server
