// keys.h: how rows are keyed in each column family (any thread). Integers are big-endian so
// RocksDB's bytewise order is numeric order; artifact ids are the raw 32-byte digest.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <rocksdb/slice.h>

#include "storage/sha256.h"

namespace meshcache::storage::keys {

void put_be64(char* out, uint64_t value);
uint64_t get_be64(const char* in);

// A key of fixed size built on the stack: no allocation on the read path.
template <size_t N>
struct FixedKey {
  std::array<char, N> bytes;
  rocksdb::Slice slice() const { return {bytes.data(), N}; }
};

// manifests: artifact id → encoded manifest.
inline rocksdb::Slice manifest(const Digest& id) {
  return {reinterpret_cast<const char*>(id.data()), id.size()};
}

// chunks: (artifact id, version_ms, chunk index) → bytes. One ChunkKey serves every index of
// one body.
class ChunkKey {
 public:
  static constexpr size_t kPrefixSize = 32 + 8;
  ChunkKey(const Digest& id, int64_t version_ms);
  rocksdb::Slice at(uint64_t index);
  // Every chunk of this body starts with the prefix.
  rocksdb::Slice prefix() const { return {buf_.data(), kPrefixSize}; }

 private:
  std::array<char, kPrefixSize + 8> buf_;
};

// access: (last_access_ms, artifact id) → empty; oldest first is eviction order.
FixedKey<40> access(int64_t last_access_ms, const Digest& id);
struct AccessRow {
  int64_t last_access_ms;
  Digest id;
};
std::optional<AccessRow> parse_access(rocksdb::Slice key);

// outbox: (target \0 sequence) → row. Targets never contain \0, so each target's rows are
// contiguous and ordered by sequence. An artifact row is exactly 40 bytes: (artifact id,
// version_ms). A namespace-delete row extends that layout with an all-zero id, then the kind
// byte 1 and the namespace, so it is at least 41 bytes: the length alone tells the kinds apart,
// whatever the namespace's length.
std::string outbox(std::string_view target, uint64_t seq);
FixedKey<40> outbox_value(const Digest& id, int64_t version_ms);
std::string outbox_namespace_value(std::string_view ns, int64_t version_ms);
// The row's target and sequence; nullopt for a key this layout did not write.
std::optional<std::pair<std::string_view, uint64_t>> parse_outbox(rocksdb::Slice key);

// tombstones: (tenant \0 namespace) → version_ms, big-endian. Tenants never contain \0.
std::string tombstone(std::string_view tenant, std::string_view ns);

// records: (space \0 key) → value. Spaces never contain \0, so each space's rows are
// contiguous and ordered by key.
std::string record(std::string_view space, std::string_view key);

// meta: pending-write markers, one per uncommitted body that has chunks on disk.
inline constexpr std::string_view kPendingPrefix = "pending/";
FixedKey<kPendingPrefix.size() + 40> pending(const Digest& id, int64_t version_ms);
struct PendingRow {
  Digest id;
  int64_t version_ms;
};
std::optional<PendingRow> parse_pending(rocksdb::Slice key);

// meta: the number of outbox rows of one target, a Counters total (merge operands staged in the
// batches that add and delete the rows), so open() need not count the rows.
inline constexpr std::string_view kOutboxDepthPrefix = "outbox_depth/";
std::string outbox_depth(std::string_view target);

// meta: the chunk size the store was created with; bodies on disk are cut at this size.
inline constexpr std::string_view kChunkBytes = "chunk_bytes";
// meta: present once the backfill index holds every manifest and tombstone.
inline constexpr std::string_view kBackfillBuilt = "backfill_index_built";

}  // namespace meshcache::storage::keys
