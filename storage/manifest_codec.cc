// manifest_codec.cc: the compact binary form of a Manifest in the manifests column family
// (any thread; decoding runs on every GET hit).
//
// Layout, integers little-endian: u8 format | u64 size | i64 version_ms | i64 created_ms |
// i64 last_access_ms | u8 origin | str producer | str tenant | str ns | str key | str sha256_hex |
// str content_type | u32 n_extras | n × (str name, str value) | u8 inline | [str body];
// str = u32 length + bytes. An inline body is exactly `size` bytes; without one the body is in
// the chunks column family.
#include "storage/manifest_codec.h"

#include <cstdint>
#include <memory>
#include <string_view>

namespace meshcache::storage {
namespace {

constexpr uint8_t kFormat = 2;

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// Reads fields in order; any overrun latches `ok` to false so callers check once at the end.
class FieldReader {
 public:
  explicit FieldReader(rocksdb::Slice in) : p_(in.data()), end_(in.data() + in.size()) {}

  uint8_t u8() { return take(1) ? static_cast<uint8_t>(p_[-1]) : 0; }
  uint32_t u32() { return static_cast<uint32_t>(little_endian(4)); }
  uint64_t u64() { return little_endian(8); }
  std::string_view view() {
    uint32_t n = u32();
    if (!take(n)) return {};
    return {p_ - n, n};
  }
  std::string str() { return std::string(view()); }
  bool ok() const { return ok_; }
  bool at_end() const { return p_ == end_; }

 private:
  bool take(size_t n) {
    if (!ok_ || static_cast<size_t>(end_ - p_) < n) return ok_ = false;
    p_ += n;
    return true;
  }
  uint64_t little_endian(int bytes) {
    if (!take(bytes)) return 0;
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(p_[i - bytes]);
    return v;
  }

  const char* p_;
  const char* end_;
  bool ok_ = true;
};

}  // namespace

std::string encode_manifest(const Manifest& m) {
  std::string out;
  size_t estimate = 64 + m.producer.size() + m.tenant.size() + m.ns.size() + m.key.size() +
                    m.sha256_hex.size() + m.content_type.size();
  for (const auto& [name, value] : m.extras) estimate += 8 + name.size() + value.size();
  if (m.inline_body) estimate += m.inline_body->size();
  out.reserve(estimate);
  out.push_back(static_cast<char>(kFormat));
  put_u64(out, m.size);
  put_u64(out, static_cast<uint64_t>(m.version_ms));
  put_u64(out, static_cast<uint64_t>(m.created_ms));
  put_u64(out, static_cast<uint64_t>(m.last_access_ms));
  out.push_back(static_cast<char>(m.origin));
  put_str(out, m.producer);
  put_str(out, m.tenant);
  put_str(out, m.ns);
  put_str(out, m.key);
  put_str(out, m.sha256_hex);
  put_str(out, m.content_type);
  put_u32(out, static_cast<uint32_t>(m.extras.size()));
  for (const auto& [name, value] : m.extras) {
    put_str(out, name);
    put_str(out, value);
  }
  out.push_back(static_cast<char>(m.inline_body != nullptr));
  if (m.inline_body) put_str(out, *m.inline_body);
  return out;
}

Result<Manifest> decode_manifest(rocksdb::Slice bytes, std::string artifact_id) {
  FieldReader in(bytes);
  if (in.u8() != kFormat)
    return Status(Code::corruption, "manifest of " + artifact_id + " has an unknown format");
  Manifest m;
  m.artifact_id = std::move(artifact_id);
  m.size = in.u64();
  m.version_ms = static_cast<int64_t>(in.u64());
  m.created_ms = static_cast<int64_t>(in.u64());
  m.last_access_ms = static_cast<int64_t>(in.u64());
  uint8_t origin = in.u8();
  m.producer = in.str();
  m.tenant = in.str();
  m.ns = in.str();
  m.key = in.str();
  m.sha256_hex = in.str();
  m.content_type = in.str();
  for (uint32_t n = in.u32(); in.ok() && n > 0; --n) {
    std::string name = in.str();
    m.extras.emplace(std::move(name), in.str());
  }
  const uint8_t has_body = in.u8();
  const std::string_view body = has_body == 1 ? in.view() : std::string_view();
  if (!in.ok() || !in.at_end() || has_body > 1 || (has_body == 1 && body.size() != m.size) ||
      origin > static_cast<uint8_t>(Origin::replica))
    return Status(Code::corruption, "manifest of " + m.artifact_id + " is malformed");
  if (has_body == 1) m.inline_body = std::make_shared<const std::string>(body);
  m.origin = static_cast<Origin>(origin);
  return m;
}

}  // namespace meshcache::storage
