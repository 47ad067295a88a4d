// Head-office API tokens (docs/SERVER.md "API tokens"): the credential of the read-only report
// endpoints until the dashboard brings accounts. A token's text is "sbt_" + its id (8 hex digits,
// public) + "_" + its secret (32 random bytes as 64 hex digits). The text is shown once, when
// the token is made; the store keeps only the BLAKE2b-256 hash of the secret, which a presented
// token is checked against in constant time.
#include <sodium.h>

#include <array>

#include "service_impl.h"
#include "shiftbook/kinds.h"

namespace shiftbook::server {
namespace {

constexpr std::string_view kTokenPrefix = "sbt_";
constexpr std::size_t kIdBytes = 4;
constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kMaxTokenName = 100;
// New ids are random: a clash with a held one (1 in 4 billion per token held) draws again.
constexpr int kIdAttempts = 8;

using Secret = std::array<std::uint8_t, kSecretBytes>;

const std::string kTokenForm = "sbt_ + 8 hex digits + _ + 64 hex digits, as 'token create' printed it";

bool is_lower_hex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The id and secret of a token's text; unauthenticated saying what is wrong with it.
Result<std::pair<std::string, Secret>> parse_token(std::string_view text) {
  const std::size_t id_end = kTokenPrefix.size() + 2 * kIdBytes;
  if (text.size() != id_end + 1 + 2 * kSecretBytes || text.substr(0, kTokenPrefix.size()) != kTokenPrefix ||
      text[id_end] != '_') {
    return unauthenticated("the bearer token is not a Shiftbook API token (" + kTokenForm + ")");
  }
  const std::string_view id = text.substr(kTokenPrefix.size(), 2 * kIdBytes);
  const std::string_view secret_hex = text.substr(id_end + 1);
  if (!is_lower_hex(id) || !is_lower_hex(secret_hex)) {
    return unauthenticated("the bearer token holds characters other than lower-case hex digits (" + kTokenForm + ")");
  }
  SB_ASSIGN_OR_RETURN(Secret secret, array_from_hex<kSecretBytes>(secret_hex));
  return std::make_pair(std::string(id), secret);
}

// The token of an Authorization header value: "Bearer TOKEN" (the scheme in any case).
Result<std::string_view> bearer(std::string_view authorization) {
  if (authorization.empty()) {
    return unauthenticated("no API token: send the header 'Authorization: Bearer sbt_...' with a token made by "
                           "'shiftbook-server token create'");
  }
  constexpr std::string_view kScheme = "bearer ";
  bool is_bearer = authorization.size() > kScheme.size();
  for (std::size_t i = 0; is_bearer && i < kScheme.size(); ++i) {
    const char c = authorization[i];
    is_bearer = (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) == kScheme[i];
  }
  if (!is_bearer) {
    return unauthenticated("the Authorization header is not 'Bearer TOKEN'; send 'Authorization: Bearer sbt_...'");
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace

Result<NewToken> Service::create_token(const std::string& name) {
  SB_RETURN_IF_ERROR(check_text("the token's name", name, kMaxTokenName));
  Storage& st = *impl_->storage;
  Secret secret{};
  random_bytes(secret);
  NewToken out;
  out.record.name = name;
  out.record.secret_hash = blake2b_256(secret);
  out.record.created_ms = impl_->clock.now_ms();
  for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
    std::array<std::uint8_t, kIdBytes> id{};
    random_bytes(id);
    out.record.id = to_hex(id);
    Status added = st.add_token(out.record);
    if (added.code() == Code::kAlreadyExists) continue;
    SB_RETURN_IF_ERROR(added);
    out.text = std::string(kTokenPrefix) + out.record.id + "_" + to_hex(secret);
    sodium_memzero(secret.data(), secret.size());
    return out;
  }
  sodium_memzero(secret.data(), secret.size());
  return internal_error("no free token id after " + std::to_string(kIdAttempts) + " random draws; try again");
}

Result<std::vector<TokenRecord>> Service::tokens() { return impl_->storage->tokens(); }

Result<TokenRecord> Service::revoke_token(const std::string& id) {
  if (id.size() != 2 * kIdBytes || !is_lower_hex(id)) {
    return invalid_argument("'" + id + "' is not a token id: give the 8 lower-case hex digits 'token list' shows");
  }
  return impl_->storage->revoke_token(id, impl_->clock.now_ms());
}

Result<TokenRecord> Service::check_token(std::string_view authorization) {
  SB_ASSIGN_OR_RETURN(std::string_view text, bearer(authorization));
  SB_ASSIGN_OR_RETURN(auto parsed, parse_token(text));
  auto& [id, secret] = parsed;
  Storage& st = *impl_->storage;
  SB_ASSIGN_OR_RETURN(std::optional<TokenRecord> held, st.token_by_id(id));
  const Hash presented = blake2b_256(secret);
  sodium_memzero(secret.data(), secret.size());
  // One message for an unknown id and a wrong secret: a caller learns nothing of which ids exist.
  const std::string wrong = "the API token is not valid (unknown, or mistyped); check it, or ask head office for a "
                            "new one";
  if (!held) return unauthenticated(wrong);
  if (sodium_memcmp(presented.data(), held->secret_hash.data(), presented.size()) != 0) return unauthenticated(wrong);
  if (held->revoked_ms != 0) {
    return permission_denied("API token " + id + " (" + held->name + ") was revoked on " +
                             format_utc(held->revoked_ms) + "; ask head office for a new one");
  }
  const std::int64_t now = impl_->clock.now_ms();
  SB_RETURN_IF_ERROR(st.note_token_use(id, now));
  held->last_used_ms = now;
  return *held;
}

}  // namespace shiftbook::server
