// Canonical values and event bodies checked on their bytes (body_scan.h). The rules and messages
// are those of canonical.cpp's Reader and kinds.cpp's validate_body, in the same order; the
// equivalence is tested, not assumed (tests/sync/body_scan_test.cpp).
#include "shiftbook/body_scan.h"

#include <array>
#include <cstring>
#include <span>
#include <string>

#include "shiftbook/canonical.h"
#include "shiftbook/kinds.h"
#include "field_rules.h"

namespace shiftbook {
namespace {

using namespace detail::canonical_tag;
static_assert(kMap == kCanonicalMapTag);

// decode_value's reader without the values it builds.
class Checker {
 public:
  Checker(ByteView in, std::size_t pos) : in_(in), pos_(pos) {}
  std::size_t pos() const { return pos_; }

  Status value(int depth) {
    if (depth > kMaxDepth) return invalid_argument("value is nested deeper than " + std::to_string(kMaxDepth));
    if (!has(1)) return truncated();
    const std::uint8_t tag = in_[pos_++];
    switch (tag) {
      case kFalse:
      case kTrue:
        return Status::ok();
      case kInt:
        if (!has(8)) return truncated();
        pos_ += 8;
        return Status::ok();
      case kString:
        return string("string").status();
      case kList: {
        SB_ASSIGN_OR_RETURN(std::uint32_t n, count("list"));
        for (std::uint32_t i = 0; i < n; ++i) SB_RETURN_IF_ERROR(value(depth + 1));
        return Status::ok();
      }
      case kMap: {
        SB_ASSIGN_OR_RETURN(std::uint32_t n, count("map"));
        std::string_view previous;
        for (std::uint32_t i = 0; i < n; ++i) {
          SB_ASSIGN_OR_RETURN(std::string_view key, string("map key"));
          if (i > 0 && !(previous < key)) {
            return invalid_argument("map keys are not in strictly ascending order at '" + std::string(key) + "'");
          }
          SB_RETURN_IF_ERROR(value(depth + 1));
          previous = key;
        }
        return Status::ok();
      }
      default:
        return invalid_argument("unknown value tag " + std::to_string(tag) + " at byte " + std::to_string(pos_ - 1));
    }
  }

 private:
  bool has(std::size_t n) const { return in_.size() - pos_ >= n; }
  Status truncated() const { return invalid_argument("value is truncated at byte " + std::to_string(pos_)); }
  Result<std::string_view> string(const char* what) {
    if (!has(4)) return truncated();
    const std::uint32_t len = get_u32(in_.data() + pos_);
    pos_ += 4;
    if (len > kMaxStringBytes) return invalid_argument(std::string(what) + " is longer than the limit");
    if (!has(len)) return truncated();
    std::string_view s(reinterpret_cast<const char*>(in_.data() + pos_), len);
    pos_ += len;
    if (!is_ascii(s) && !is_valid_utf8(s)) return invalid_argument(std::string(what) + " is not valid UTF-8");
    return s;
  }
  // ASCII is valid UTF-8; nearly every string of a body is ASCII, tested eight bytes at a time.
  static bool is_ascii(std::string_view s) {
    std::size_t i = 0;
    std::uint64_t high = 0;
    for (; i + 8 <= s.size(); i += 8) {
      std::uint64_t word;
      std::memcpy(&word, s.data() + i, 8);
      high |= word;
    }
    for (; i < s.size(); ++i) high |= static_cast<unsigned char>(s[i]);
    return (high & 0x8080808080808080ULL) == 0;
  }
  Result<std::uint32_t> count(const char* what) {
    if (!has(4)) return truncated();
    const std::uint32_t n = get_u32(in_.data() + pos_);
    pos_ += 4;
    if (n > kMaxContainerItems) return invalid_argument(std::string(what) + " has too many items");
    return n;
  }

  ByteView in_;
  std::size_t pos_;
};

// One top-level field of a body: its tag, and for text and integers its value.
struct Value {
  std::uint8_t tag = 0;  // 0: absent
  std::string_view text;
  std::int64_t integer = 0;
  bool ref = false;  // shift, target and entry: it names an event by hash
};

// Walks the bytes of a value check_value accepted. Every read is bounds-checked all the same:
// false when the bytes end early or hold an unknown tag.
class Cursor {
 public:
  explicit Cursor(ByteView in) : in_(in) {}
  bool done() const { return pos_ == in_.size(); }

  bool u32(std::uint32_t& v) {
    if (in_.size() - pos_ < 4) return false;
    v = get_u32(in_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool text(std::string_view& out) {
    std::uint32_t len = 0;
    if (!u32(len) || in_.size() - pos_ < len) return false;
    out = std::string_view(reinterpret_cast<const char*>(in_.data() + pos_), len);
    pos_ += len;
    return true;
  }
  // Reads one value; `out` gets its tag, and its text or integer.
  bool value(Value& out, int depth) {
    if (depth > kMaxDepth || pos_ >= in_.size()) return false;
    out.tag = in_[pos_++];
    switch (out.tag) {
      case kFalse:
      case kTrue:
        return true;
      case kInt:
        if (in_.size() - pos_ < 8) return false;
        out.integer = static_cast<std::int64_t>(get_u64(in_.data() + pos_));
        pos_ += 8;
        return true;
      case kString:
        return text(out.text);
      case kList:
      case kMap: {
        std::uint32_t n = 0;
        if (!u32(n)) return false;
        Value inner;
        std::string_view key;
        for (std::uint32_t i = 0; i < n; ++i) {
          if (out.tag == kMap && !text(key)) return false;
          if (!value(inner, depth + 1)) return false;
        }
        return true;
      }
      default:
        return false;
    }
  }

 private:
  ByteView in_;
  std::size_t pos_ = 0;
};

// The value of each lower-case hex digit; 0xff for every other byte.
constexpr std::array<std::uint8_t, 256> kHexDigits = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xff);
  for (int c = 0; c < 10; ++c) t['0' + c] = static_cast<std::uint8_t>(c);
  for (int c = 0; c < 6; ++c) t['a' + c] = static_cast<std::uint8_t>(10 + c);
  return t;
}();

// parse_hash_ref's rule: text of 64 lower-case hex digits.
std::optional<Hash> hash_ref_of(const Value& v) {
  if (v.tag != kString || v.text.size() != 64) return std::nullopt;
  Hash h{};
  std::uint8_t bad = 0;
  for (std::size_t i = 0; i < h.size(); ++i) {
    const std::uint8_t hi = kHexDigits[static_cast<unsigned char>(v.text[2 * i])];
    const std::uint8_t lo = kHexDigits[static_cast<unsigned char>(v.text[2 * i + 1])];
    bad |= static_cast<std::uint8_t>(hi | lo);
    h[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  if (bad & 0xf0) return std::nullopt;
  return h;
}

constexpr std::size_t kMaxFields = 5;

std::optional<Hash>* ref_slot(BodyRefs& refs, std::string_view key) {
  if (key == "shift") return &refs.shift;
  if (key == "target") return &refs.target;
  if (key == "entry") return &refs.entry;
  return nullptr;
}

// The allowed fields of a kind and their values: validate_body's Fields, over bytes.
class Fields {
 public:
  Fields(std::string_view kind, std::span<const std::string_view> allowed) : kind_(kind), names_(allowed) {}

  // Reads the body's fields; the first one not allowed is reported as `only` reports it.
  Status read(ByteView body, BodyRefs& refs) {
    if (body.empty() || body[0] != kMap) return invalid_argument(std::string(kind_) + " entry must be a map of fields");
    Cursor fields(body.subspan(1));
    std::uint32_t n = 0;
    if (!fields.u32(n)) return malformed();
    std::optional<std::string_view> unknown;
    for (std::uint32_t i = 0; i < n; ++i) {
      std::string_view key;
      Value v;
      if (!fields.text(key) || !fields.value(v, 2)) return malformed();
      if (std::optional<Hash>* named = ref_slot(refs, key)) {
        *named = hash_ref_of(v);
        v.ref = named->has_value();
      }
      const std::size_t slot = index_of(key);
      if (slot < names_.size()) {
        values_[slot] = v;
      } else if (!unknown) {
        unknown = key;
      }
    }
    if (!fields.done()) return malformed();
    if (unknown) return invalid_argument(std::string(kind_) + " entry has an unknown field '" + std::string(*unknown) + "'");
    return Status::ok();
  }

  bool has(std::string_view name) const { return at(name).tag != 0; }
  Result<std::string_view> str(std::string_view name) const {
    const Value& v = at(name);
    if (v.tag == 0) return missing(name);
    if (v.tag != kString) return invalid_argument(field(name) + " must be text");
    return v.text;
  }
  Result<std::int64_t> integer(std::string_view name) const {
    const Value& v = at(name);
    if (v.tag == 0) return missing(name);
    if (v.tag != kInt) return invalid_argument(field(name) + " must be a whole number");
    return v.integer;
  }
  Status boolean(std::string_view name) const {
    const Value& v = at(name);
    if (v.tag == 0) return missing(name);
    if (v.tag != kFalse && v.tag != kTrue) return invalid_argument(field(name) + " must be true or false");
    return Status::ok();
  }
  // check_id and check_text name the field only when it is wrong, so the name is built only then.
  Status id(std::string_view name) const {
    SB_ASSIGN_OR_RETURN(std::string_view v, str(name));
    if (check_id({}, v).is_ok()) return Status::ok();
    return check_id(field(name), v);
  }
  Status ref(std::string_view name) const {
    SB_RETURN_IF_ERROR(str(name).status());
    if (!at(name).ref) return invalid_argument(field(name) + " must name an entry by its 64-digit hash");
    return Status::ok();
  }
  Status text(std::string_view name, std::size_t max = kMaxTextBytes) const {
    SB_ASSIGN_OR_RETURN(std::string_view v, str(name));
    if (check_text({}, v, max).is_ok()) return Status::ok();
    return check_text(field(name), v, max);
  }

 private:
  std::size_t index_of(std::string_view name) const {
    std::size_t i = 0;
    while (i < names_.size() && names_[i] != name) ++i;
    return i;
  }
  const Value& at(std::string_view name) const {
    static const Value kAbsent;
    const std::size_t i = index_of(name);
    return i < names_.size() ? values_[i] : kAbsent;
  }
  std::string field(std::string_view name) const { return std::string(kind_) + " field '" + std::string(name) + "'"; }
  Status missing(std::string_view name) const { return invalid_argument(field(name) + " is missing"); }
  Status malformed() const { return invalid_argument(std::string(kind_) + " entry is not a canonical map"); }

  std::string_view kind_;
  std::span<const std::string_view> names_;  // at most kMaxFields
  std::array<Value, kMaxFields> values_{};
};

Status scan_hours(const Fields& f) {
  SB_RETURN_IF_ERROR(f.ref("shift"));
  SB_RETURN_IF_ERROR(f.id("worker"));
  SB_ASSIGN_OR_RETURN(std::int64_t start, f.integer("start"));
  SB_ASSIGN_OR_RETURN(std::int64_t end, f.integer("end"));
  SB_RETURN_IF_ERROR(f.boolean("special"));
  return detail::check_hours_times(start, end);
}

Status scan_output(const Fields& f) {
  SB_RETURN_IF_ERROR(f.ref("shift"));
  SB_RETURN_IF_ERROR(f.id("product"));
  SB_ASSIGN_OR_RETURN(std::int64_t q, f.integer("quantity"));
  SB_RETURN_IF_ERROR(detail::check_output_quantity(q));
  if (f.has("quota_version")) {
    SB_ASSIGN_OR_RETURN(std::int64_t v, f.integer("quota_version"));
    SB_RETURN_IF_ERROR(detail::check_quota_version(v));
  }
  return Status::ok();
}

Status scan_bonus(const Fields& f) {
  SB_RETURN_IF_ERROR(f.ref("shift"));
  SB_RETURN_IF_ERROR(f.id("worker"));
  SB_ASSIGN_OR_RETURN(std::string_view type, f.str("type"));
  SB_RETURN_IF_ERROR(detail::check_bonus_type(type));
  if (f.has("note")) SB_RETURN_IF_ERROR(f.text("note"));
  return Status::ok();
}

// The fields each kind allows, in validate_body's lists.
constexpr std::string_view kShiftCloseFields[] = {"shift"};
constexpr std::string_view kHoursFields[] = {"shift", "worker", "start", "end", "special"};
constexpr std::string_view kOutputFields[] = {"shift", "product", "quantity", "quota_version"};
constexpr std::string_view kBonusFields[] = {"shift", "worker", "type", "note"};
constexpr std::string_view kConfirmFields[] = {"entry", "worker"};
constexpr std::string_view kVoidFields[] = {"target", "reason"};

std::span<const std::string_view> allowed_fields(std::string_view k) {
  if (k == kind::kShiftClose) return kShiftCloseFields;
  if (k == kind::kHours) return kHoursFields;
  if (k == kind::kOutput) return kOutputFields;
  if (k == kind::kBonus) return kBonusFields;
  if (k == kind::kConfirm) return kConfirmFields;
  return kVoidFields;
}

}  // namespace

Status check_value(ByteView in, std::size_t& pos) {
  if (pos > in.size()) return invalid_argument("value starts past the end of its input");
  Checker c(in, pos);
  SB_RETURN_IF_ERROR(c.value(1));
  pos = c.pos();
  return Status::ok();
}

bool body_scan_supports(std::string_view k) {
  return k == kind::kOutput || k == kind::kHours || k == kind::kBonus || k == kind::kShiftClose ||
         k == kind::kConfirm || k == kind::kVoid;
}

Status scan_body(std::string_view k, ByteView body, BodyRefs& refs) {
  refs = BodyRefs{};
  if (!body_scan_supports(k)) {
    return invalid_argument(std::string(k) + " bodies are not checked on their bytes");
  }
  Fields f(k, allowed_fields(k));
  SB_RETURN_IF_ERROR(f.read(body, refs));
  if (k == kind::kShiftClose) return f.ref("shift");
  if (k == kind::kHours) return scan_hours(f);
  if (k == kind::kOutput) return scan_output(f);
  if (k == kind::kBonus) return scan_bonus(f);
  if (k == kind::kConfirm) {
    SB_RETURN_IF_ERROR(f.ref("entry"));
    return f.id("worker");
  }
  SB_RETURN_IF_ERROR(f.ref("target"));
  return f.text("reason");
}

}  // namespace shiftbook
