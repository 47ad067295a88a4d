// Enrollment codes and server key fingerprints (protocol.h, docs/PROTOCOL.md "Enrollment codes").
// A code is 20 bytes, secret (8) || fingerprint prefix (10) || check (2), written as 32 Crockford
// base32 digits, 5 bits each, most significant bit first. Messages never repeat the code: its
// secret half is what enrolls a terminal.
#include <sodium.h>

#include <algorithm>
#include <array>
#include <string>

#include "shiftbook/protocol.h"

namespace shiftbook {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kCodeBytes = 20;
constexpr std::size_t kCodeDigits = 32;  // 160 bits, 5 per digit, no padding
constexpr std::size_t kGroup = 4;

using CodeBytes = std::array<std::uint8_t, kCodeBytes>;

std::array<std::uint8_t, 2> check_of(const CodeBytes& b) {
  Hash h = blake2b_256(ByteView(b).first(18));
  return {h[0], h[1]};
}

// The value 0..31 of a code character, or -1. Case is ignored; I and L read as 1, O as 0.
int digit_value(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (c == 'I' || c == 'L') return 1;
  if (c == 'O') return 0;
  for (int v = 0; v < 32; ++v) {
    if (kAlphabet[v] == c) return v;
  }
  return -1;
}

}  // namespace

std::string format_enroll_code(const EnrollCode& code) {
  CodeBytes b{};
  std::copy(code.secret.begin(), code.secret.end(), b.begin());
  std::copy(code.fingerprint.begin(), code.fingerprint.end(), b.begin() + 8);
  auto check = check_of(b);
  b[18] = check[0];
  b[19] = check[1];

  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t digits = 0;
  for (std::uint8_t byte : b) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      if (digits > 0 && digits % kGroup == 0) out += '-';
      out += kAlphabet[(acc >> bits) & 0x1f];
      ++digits;
    }
  }
  sodium_memzero(b.data(), b.size());
  return out;
}

Result<EnrollCode> parse_enroll_code(std::string_view text) {
  std::array<std::uint8_t, kCodeDigits> values{};
  std::size_t n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ' || c == '-') continue;
    int v = digit_value(c);
    if (v < 0) {
      sodium_memzero(values.data(), values.size());
      unsigned char u = static_cast<unsigned char>(c);
      std::string shown = (u > 0x20 && u < 0x7f) ? "'" + std::string(1, c) + "'" : "a byte " + std::to_string(u);
      return invalid_argument("enrollment code: " + shown + " (character " + std::to_string(i + 1) +
                              ") is not one of its letters and digits (0-9, A-Z without U)");
    }
    if (n < kCodeDigits) values[n] = static_cast<std::uint8_t>(v);
    ++n;
  }
  if (n != kCodeDigits) {
    sodium_memzero(values.data(), values.size());
    return invalid_argument("an enrollment code has " + std::to_string(kCodeDigits) +
                            " letters and digits (8 groups of 4), this one has " + std::to_string(n));
  }
  CodeBytes b{};
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t at = 0;
  for (std::uint8_t v : values) {
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      b[at++] = static_cast<std::uint8_t>(acc >> bits);
    }
  }
  sodium_memzero(values.data(), values.size());
  auto check = check_of(b);
  if (check[0] != b[18] || check[1] != b[19]) {
    sodium_memzero(b.data(), b.size());
    return invalid_argument("enrollment code does not check out: a character is mistyped; type it again "
                            "from the paper");
  }
  EnrollCode code;
  std::copy(b.begin(), b.begin() + 8, code.secret.begin());
  std::copy(b.begin() + 8, b.begin() + 18, code.fingerprint.begin());
  sodium_memzero(b.data(), b.size());
  return code;
}

Hash server_fingerprint(const PublicKey& server) {
  static constexpr char kLabel[] = "shiftbook server key v1";  // followed by one 0x00 byte
  Bytes message(kLabel, kLabel + sizeof kLabel);                 // sizeof counts the terminating 0x00
  message.insert(message.end(), server.begin(), server.end());
  return blake2b_256(message);
}

std::string format_fingerprint(const PublicKey& server) {
  std::string hex = to_hex(ByteView(server_fingerprint(server)).first(8));
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 4) {
    if (i > 0) out += ' ';
    out += hex.substr(i, 4);
  }
  return out;
}

bool code_matches_server(const EnrollCode& code, const PublicKey& server) {
  Hash fp = server_fingerprint(server);
  return sodium_memcmp(fp.data(), code.fingerprint.data(), code.fingerprint.size()) == 0;
}

}  // namespace shiftbook
