// The audit export and its verification (docs/AUDIT.md). An export is a file of JSON lines: a
// header naming the server key, then the sites with their signers' delegations, the devices,
// and every accepted event in position order, each push's signed head and receipt after its
// events. AuditVerifier checks one with the server's public key alone (every delegation, chain
// link, signed head and receipt), rebuilds each site's Ledger from the events, checks every
// approval against the events held when it was written, and gives the returns and shares.
// `shiftbook-server audit` feeds it from the store; tools/shiftbook-verify-audit from a file.
// Pure: no I/O, no SQL. One thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shiftbook/canonical.h"
#include "shiftbook/crypto.h"
#include "shiftbook/event.h"
#include "shiftbook/ledger.h"
#include "shiftbook/protocol.h"
#include "shiftbook/status.h"

namespace shiftbook {

inline constexpr std::string_view kAuditFormat = "shiftbook-audit/1";
// Problems kept word for word; past this many only their number grows.
inline constexpr std::size_t kMaxAuditProblems = 1000;

struct AuditSite {
  std::string site;
  PublicKey signer{};
  Signature delegation{};  // the server's signature of the delegation (protocol.h)
};

struct AuditDevice {
  PublicKey device{};
  std::string site;
  std::vector<std::string> units;
  std::int64_t enrolled_ms = 0;
  std::int64_t revoked_ms = 0;  // 0: not revoked
};

// One append: the events at positions first_pos..last_pos, the head the device signed at the
// last of them, and the server's receipt for it (none for pushes stored before receipts were).
struct AuditPush {
  PublicKey device{};
  std::uint64_t first_pos = 0, last_pos = 0;
  SignedHead head;
  std::optional<Receipt> receipt;
};

// The lines of an export (docs/AUDIT.md, "Lines").
Json audit_header_line(const PublicKey& server, std::int64_t exported_ms);
Json audit_site_line(const AuditSite& s);
Json audit_device_line(const AuditDevice& d);
Json audit_event_line(std::uint64_t pos, ByteView raw);
Json audit_push_line(const AuditPush& p);

// One approval as checked: what it records against what the events held before it give.
struct AuditApproval {
  std::string site, unit, period;
  std::uint64_t signer_seq = 0;
  Hash event{};
  bool matches = false;
  std::vector<std::string> differences;  // "P1 actual: approved 620, events give 600"
};

struct AuditResult {
  std::uint64_t events = 0, pushes = 0, receipts = 0, chains = 0;
  std::uint64_t problem_count = 0;
  std::vector<std::string> problems;  // the first kMaxAuditProblems, in the order found
  std::vector<AuditApproval> approvals;
  std::map<std::string, std::vector<PeriodReturn>> returns;       // by site
  std::map<std::string, std::vector<UnitPeriodReport>> reports;  // by site
  bool ok() const { return problem_count == 0; }
};

class AuditVerifier {
 public:
  // `server`: the key the auditor trusts, given by them, never read from the export.
  explicit AuditVerifier(const PublicKey& server) : server_(server) {}

  // One line of an export, in file order. invalid_argument naming the line for a line that is not
  // one of the export's (a wrong header or format stops the audit); a line that reads but does not
  // verify (a bad signature, a broken chain) is a problem of the result, and the audit goes on.
  Status line(std::string_view text);

  // The same, already parsed (the server feeds these from its store).
  Status header(const PublicKey& server);
  void site(const AuditSite& s);
  void device(const AuditDevice& d);
  void event(std::uint64_t pos, ByteView raw);
  void push(const AuditPush& p);

  // Every chain must end at a signed head; then the reports of every site.
  AuditResult finish();

 private:
  struct Chain {
    std::string site;
    bool signer = false;
    std::uint64_t seq = 0;
    Hash hash{};
    std::uint64_t last_pos = 0;
    std::uint64_t pushed_seq = 0;     // the last seq covered by a verified head
    std::vector<Hash> unacknowledged;  // terminal events since the last push
  };
  void problem(std::string what);
  Chain* chain_of(const PublicKey& device);
  void check_approval(const std::string& site, Ledger& ledger, const Event& e);

  PublicKey server_{};
  bool header_seen_ = false;
  std::uint64_t line_no_ = 0;
  std::uint64_t last_pos_ = 0;
  std::map<std::string, Ledger> ledgers_;   // by site
  std::map<PublicKey, Chain> chains_;
  AuditResult result_;
};

}  // namespace shiftbook
