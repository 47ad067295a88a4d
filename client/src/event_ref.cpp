// Event references for people (event_ref.h).
#include "event_ref.h"

#include "shiftbook/bytes.h"
#include "shiftbook/client/store.h"

namespace shiftbook::client {

Result<std::string> EventRefs::ref(const PublicKey& device, std::int64_t seq, const Hash& hash) {
  if (device == me_) {
    std::string number = std::to_string(seq);
    if (is_entry_number(number)) return number;
  }
  if (auto it = named_.find(hash); it != named_.end()) return it->second;
  const std::string hex = to_hex(hash);
  // Two events sharing the first eight digits are rare (about one pair in 4e9 / n for n events),
  // so this is one indexed probe almost always; the loop ends at 64 digits, which are unique.
  std::size_t digits = kMinHashRefDigits;
  for (; digits < hex.size(); ++digits) {
    const std::string prefix = hex.substr(0, digits);
    SB_ASSIGN_OR_RETURN(Bytes lo, from_hex(prefix + std::string(hex.size() - digits, '0')));
    SB_ASSIGN_OR_RETURN(Bytes hi, from_hex(prefix + std::string(hex.size() - digits, 'f')));
    SB_ASSIGN_OR_RETURN(Stmt st, db_.prepare("SELECT count(*) FROM (SELECT 1 FROM events WHERE hash BETWEEN ? AND ? "
                                             "LIMIT 2)"));
    st.bind_blob(1, lo).bind_blob(2, hi);
    SB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row || st.int64(0) < 2) break;
  }
  std::string out = hex.substr(0, digits);
  named_.emplace(hash, out);
  return out;
}

}  // namespace shiftbook::client
