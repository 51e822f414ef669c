// keys.cc: how rows are keyed in each column family (any thread).
#include "storage/keys.h"

#include <cstring>

namespace meshcache::storage::keys {

void put_be64(char* out, uint64_t value) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
}

uint64_t get_be64(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | static_cast<uint8_t>(in[i]);
  return value;
}

ChunkKey::ChunkKey(const Digest& id, int64_t version_ms) {
  std::memcpy(buf_.data(), id.data(), id.size());
  put_be64(buf_.data() + id.size(), static_cast<uint64_t>(version_ms));
}

rocksdb::Slice ChunkKey::at(uint64_t index) {
  put_be64(buf_.data() + kPrefixSize, index);
  return {buf_.data(), buf_.size()};
}

FixedKey<40> access(int64_t last_access_ms, const Digest& id) {
  FixedKey<40> key;
  put_be64(key.bytes.data(), static_cast<uint64_t>(last_access_ms));
  std::memcpy(key.bytes.data() + 8, id.data(), id.size());
  return key;
}

std::optional<AccessRow> parse_access(rocksdb::Slice key) {
  if (key.size() != 40) return std::nullopt;
  AccessRow row;
  row.last_access_ms = static_cast<int64_t>(get_be64(key.data()));
  std::memcpy(row.id.data(), key.data() + 8, row.id.size());
  return row;
}

std::string outbox(std::string_view target, uint64_t seq) {
  std::string key;
  key.reserve(target.size() + 9);
  key.append(target);
  key.push_back('\0');
  key.resize(key.size() + 8);
  put_be64(key.data() + key.size() - 8, seq);
  return key;
}

std::optional<std::pair<std::string_view, uint64_t>> parse_outbox(rocksdb::Slice key) {
  if (key.size() < 10 || key[key.size() - 9] != '\0') return std::nullopt;
  return std::pair{std::string_view(key.data(), key.size() - 9),
                   get_be64(key.data() + key.size() - 8)};
}

std::string outbox_depth(std::string_view target) {
  std::string key(kOutboxDepthPrefix);
  key.append(target);
  return key;
}

std::string tombstone(std::string_view tenant, std::string_view ns) {
  return record(tenant, ns);  // the same (prefix \0 rest) layout
}

std::string record(std::string_view space, std::string_view key) {
  std::string out;
  out.reserve(space.size() + 1 + key.size());
  out.append(space);
  out.push_back('\0');
  out.append(key);
  return out;
}

FixedKey<40> outbox_value(const Digest& id, int64_t version_ms) {
  FixedKey<40> value;
  std::memcpy(value.bytes.data(), id.data(), id.size());
  put_be64(value.bytes.data() + id.size(), static_cast<uint64_t>(version_ms));
  return value;
}

std::string outbox_namespace_value(std::string_view ns, int64_t version_ms) {
  std::string value(41, '\0');
  put_be64(value.data() + 32, static_cast<uint64_t>(version_ms));
  value[40] = 1;
  value.append(ns);
  return value;
}

FixedKey<kPendingPrefix.size() + 40> pending(const Digest& id, int64_t version_ms) {
  FixedKey<kPendingPrefix.size() + 40> key;
  char* out = key.bytes.data();
  std::memcpy(out, kPendingPrefix.data(), kPendingPrefix.size());
  std::memcpy(out + kPendingPrefix.size(), id.data(), id.size());
  put_be64(out + kPendingPrefix.size() + id.size(), static_cast<uint64_t>(version_ms));
  return key;
}

std::optional<PendingRow> parse_pending(rocksdb::Slice key) {
  if (key.size() != kPendingPrefix.size() + 40 ||
      !key.starts_with({kPendingPrefix.data(), kPendingPrefix.size()}))
    return std::nullopt;
  PendingRow row;
  const char* in = key.data() + kPendingPrefix.size();
  std::memcpy(row.id.data(), in, row.id.size());
  row.version_ms = static_cast<int64_t>(get_be64(in + row.id.size()));
  return row;
}

}  // namespace meshcache::storage::keys
