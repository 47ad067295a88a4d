#include "shiftbook/canonical.h"

#include "field_rules.h"

#include <limits>
#include <string>

namespace shiftbook {
namespace {

using namespace detail::canonical_tag;

Status check_string(std::string_view s, const char* what) {
  if (s.size() > kMaxStringBytes) {
    return invalid_argument(std::string(what) + " is longer than " + std::to_string(kMaxStringBytes) +
                            " bytes");
  }
  if (!is_valid_utf8(s)) return invalid_argument(std::string(what) + " is not valid UTF-8");
  return Status::ok();
}

void put_string(Bytes& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

Status encode_into(const Json& v, Bytes& out, int depth) {
  if (depth > kMaxDepth) return invalid_argument("value is nested deeper than " + std::to_string(kMaxDepth));
  switch (v.type()) {
    case Json::value_t::boolean:
      out.push_back(v.get<bool>() ? kTrue : kFalse);
      return Status::ok();
    case Json::value_t::number_integer:
      out.push_back(kInt);
      put_u64(out, static_cast<std::uint64_t>(v.get<std::int64_t>()));
      return Status::ok();
    case Json::value_t::number_unsigned: {
      auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return invalid_argument("integer " + std::to_string(u) + " does not fit in 64 signed bits");
      }
      out.push_back(kInt);
      put_u64(out, u);
      return Status::ok();
    }
    case Json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      SB_RETURN_IF_ERROR(check_string(s, "string"));
      out.push_back(kString);
      put_string(out, s);
      return Status::ok();
    }
    case Json::value_t::array: {
      if (v.size() > kMaxContainerItems) return invalid_argument("list has too many items");
      out.push_back(kList);
      put_u32(out, static_cast<std::uint32_t>(v.size()));
      for (const auto& item : v) SB_RETURN_IF_ERROR(encode_into(item, out, depth + 1));
      return Status::ok();
    }
    case Json::value_t::object: {
      if (v.size() > kMaxContainerItems) return invalid_argument("map has too many keys");
      out.push_back(kMap);
      put_u32(out, static_cast<std::uint32_t>(v.size()));
      // nlohmann::json keeps object keys in a std::map<std::string>: ascending by bytes already.
      for (auto it = v.begin(); it != v.end(); ++it) {
        SB_RETURN_IF_ERROR(check_string(it.key(), "map key"));
        put_string(out, it.key());
        SB_RETURN_IF_ERROR(encode_into(it.value(), out, depth + 1).with_context("'" + it.key() + "': "));
      }
      return Status::ok();
    }
    case Json::value_t::number_float:
      return invalid_argument("floating-point numbers are not allowed in signed data; use whole units, "
                              "thousandths or minutes");
    case Json::value_t::null:
      return invalid_argument("null is not allowed in signed data; leave the field out instead");
    default:
      return invalid_argument("binary and discarded values are not allowed in signed data");
  }
}

class Reader {
 public:
  Reader(ByteView in, std::size_t pos) : in_(in), pos_(pos) {}
  std::size_t pos() const { return pos_; }

  Status need(std::size_t n) const {
    if (in_.size() - pos_ < n) return invalid_argument("value is truncated at byte " + std::to_string(pos_));
    return Status::ok();
  }
  Result<std::string> string(const char* what) {
    SB_RETURN_IF_ERROR(need(4));
    std::uint32_t len = get_u32(in_.data() + pos_);
    pos_ += 4;
    if (len > kMaxStringBytes) return invalid_argument(std::string(what) + " is longer than the limit");
    SB_RETURN_IF_ERROR(need(len));
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), len);
    pos_ += len;
    if (!is_valid_utf8(s)) return invalid_argument(std::string(what) + " is not valid UTF-8");
    return s;
  }
  Result<std::uint32_t> count(const char* what) {
    SB_RETURN_IF_ERROR(need(4));
    std::uint32_t n = get_u32(in_.data() + pos_);
    pos_ += 4;
    if (n > kMaxContainerItems) return invalid_argument(std::string(what) + " has too many items");
    return n;
  }

  Result<Json> value(int depth) {
    if (depth > kMaxDepth) return invalid_argument("value is nested deeper than " + std::to_string(kMaxDepth));
    SB_RETURN_IF_ERROR(need(1));
    std::uint8_t tag = in_[pos_++];
    switch (tag) {
      case kFalse: return Json(false);
      case kTrue: return Json(true);
      case kInt: {
        SB_RETURN_IF_ERROR(need(8));
        auto v = static_cast<std::int64_t>(get_u64(in_.data() + pos_));
        pos_ += 8;
        return Json(v);
      }
      case kString: {
        SB_ASSIGN_OR_RETURN(std::string s, string("string"));
        return Json(std::move(s));
      }
      case kList: {
        SB_ASSIGN_OR_RETURN(std::uint32_t n, count("list"));
        Json list = Json::array();
        for (std::uint32_t i = 0; i < n; ++i) {
          SB_ASSIGN_OR_RETURN(Json item, value(depth + 1));
          list.push_back(std::move(item));
        }
        return list;
      }
      case kMap: {
        SB_ASSIGN_OR_RETURN(std::uint32_t n, count("map"));
        Json map = Json::object();
        std::string previous;
        for (std::uint32_t i = 0; i < n; ++i) {
          SB_ASSIGN_OR_RETURN(std::string key, string("map key"));
          if (i > 0 && !(previous < key)) {
            return invalid_argument("map keys are not in strictly ascending order at '" + key + "'");
          }
          SB_ASSIGN_OR_RETURN(Json item, value(depth + 1));
          previous = key;
          map.emplace(std::move(key), std::move(item));
        }
        return map;
      }
      default:
        return invalid_argument("unknown value tag " + std::to_string(tag) + " at byte " +
                                std::to_string(pos_ - 1));
    }
  }

 private:
  ByteView in_;
  std::size_t pos_;
};

}  // namespace

Status encode_value(const Json& value, Bytes& out) {
  std::size_t before = out.size();
  Status s = encode_into(value, out, 1);
  if (!s.is_ok()) out.resize(before);
  return s;
}

Result<Bytes> encode_value(const Json& value) {
  Bytes out;
  SB_RETURN_IF_ERROR(encode_value(value, out));
  return out;
}

Result<Json> decode_value(ByteView in, std::size_t& pos) {
  if (pos > in.size()) return invalid_argument("value starts past the end of its input");
  Reader r(in, pos);
  SB_ASSIGN_OR_RETURN(Json v, r.value(1));
  pos = r.pos();
  return v;
}

Result<Json> decode_value(ByteView in) {
  std::size_t pos = 0;
  SB_ASSIGN_OR_RETURN(Json v, decode_value(in, pos));
  if (pos != in.size()) {
    return invalid_argument(std::to_string(in.size() - pos) + " bytes follow the end of the value");
  }
  return v;
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra;
    std::uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= static_cast<std::size_t>(extra)) return false;
    for (int k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3f);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)) return false;  // overlong
    if (cp >= 0xd800 && cp <= 0xdfff) return false;                                // surrogate
    if (cp > 0x10ffff) return false;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

}  // namespace shiftbook
