// rocks_db.h: the RocksDB instance and its column families, tuned for the node's memory budget,
// plus the row operations several parts of the store share (any thread; RocksDB is thread-safe).
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "storage/sha256.h"
#include "storage/status.h"
#include "storage/store.h"

namespace meshcache::storage {

enum class Cf { manifests, tombstones, chunks, outbox, access, meta, records, backfill, count };

Status from_rocks(const rocksdb::Status& s, std::string_view what);

// Chunks a body of `size` bytes occupies when cut at `chunk_bytes`.
inline uint64_t chunk_count(uint64_t size, uint64_t chunk_bytes) {
  return (size + chunk_bytes - 1) / chunk_bytes;
}

class RocksDb {
 public:
  static Result<std::unique_ptr<RocksDb>> open(const std::string& path);

  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(Cf which) const {
    return handles_[static_cast<int>(which)].get();
  }

  // The committed manifest of `id`, Code::not_found on a miss.
  Result<Manifest> get_manifest(const rocksdb::ReadOptions& options, const Digest& id) const;

  // Batch staging. WriteBatch::Put/Delete/Merge fail only past WriteBatch's max_bytes, which
  // the store never sets, so their statuses are not checked anywhere; Write() reports errors.
  //
  // Point deletes of chunks [0, count) of one body. Point tombstones rather than DeleteRange:
  // RocksDB 7.8 re-fragments memtable range tombstones on reads after each DeleteRange, which
  // would tax every GET on a store that overwrites often; the count is always known.
  void delete_chunks(rocksdb::WriteBatch& batch, const Digest& id, int64_t version_ms,
                     uint64_t count) const;
  // Manifest, chunks (none for an inline body), access row and backfill index row of a
  // committed artifact.
  void delete_artifact(rocksdb::WriteBatch& batch, const Digest& id, const Manifest& m,
                       uint64_t chunk_bytes) const;

 private:
  struct HandleCloser {
    rocksdb::DB* db;
    void operator()(rocksdb::ColumnFamilyHandle* h) const noexcept {
      db->DestroyColumnFamilyHandle(h);
    }
  };
  using Handle = std::unique_ptr<rocksdb::ColumnFamilyHandle, HandleCloser>;

  RocksDb() = default;

  // Declared first so it is destroyed last: handles must go before the DB.
  std::unique_ptr<rocksdb::DB> db_;
  std::array<Handle, static_cast<size_t>(Cf::count)> handles_;
};

}  // namespace meshcache::storage
