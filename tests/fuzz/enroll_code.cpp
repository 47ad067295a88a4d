// Fuzz target "enroll_code": the enrollment code as a person types it (shiftbook enroll CODE, and
// the server's admin commands that name a code). parse_enroll_code must refuse or read it;
// what it reads must format as 8 groups of 4 digits that parse back to the same code, and the
// same text in other letter case must read the same.
#include <cctype>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "shiftbook/protocol.h"

namespace {

using namespace shiftbook;
using namespace shiftbook::fuzz;

bool same(const EnrollCode& a, const EnrollCode& b) { return a.secret == b.secret && a.fingerprint == b.fingerprint; }

std::string with_case(std::string_view text, bool upper) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  init_crypto();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto code = parse_enroll_code(text);
  if (!code.is_ok()) {
    check(code.status().code() == Code::kInvalidArgument, "parse_enroll_code refused with " + code.status().to_string());
    return 0;
  }
  const std::string formatted = format_enroll_code(*code);
  check(formatted.size() == 39, "a formatted code is not 8 groups of 4: " + formatted);
  for (std::size_t i = 4; i < formatted.size(); i += 5) check(formatted[i] == '-', "a formatted code lacks a '-'");
  auto again = parse_enroll_code(formatted);
  check(again.is_ok() && same(*again, *code), "a formatted code does not parse back to itself");
  for (bool upper : {false, true}) {
    auto cased = parse_enroll_code(with_case(text, upper));
    check(cased.is_ok() && same(*cased, *code), "a code reads differently in another letter case");
  }
  (void)code_matches_server(*code, server_key().public_key());
  return 0;
}
