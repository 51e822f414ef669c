// body_reader.h: streams one committed body out of the chunks column family or its manifest's
// inline copy, zero-copy (the one thread that opened the read).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <rocksdb/db.h>

#include "storage/keys.h"
#include "storage/rocks_db.h"
#include "storage/store.h"

namespace meshcache::storage {

class RocksBodyReader final : public BodyReader {
 public:
  // Reads [offset, offset + length) of body (id, version_ms); the range is within the body.
  // The DB outlives the reader.
  RocksBodyReader(const RocksDb& db, const Digest& id, int64_t version_ms, uint64_t chunk_bytes,
                  uint64_t offset, uint64_t length);

  Result<std::unique_ptr<Chunk>> next() override;
  uint64_t remaining() const override { return end_ - pos_; }

 private:
  struct SnapshotReleaser {
    rocksdb::DB* db;
    void operator()(const rocksdb::Snapshot* s) const noexcept { db->ReleaseSnapshot(s); }
  };

  Status missing_chunk(uint64_t index) const;

  const RocksDb& db_;
  const Digest id_;
  const int64_t version_ms_;
  const uint64_t chunk_bytes_;
  keys::ChunkKey key_;
  uint64_t pos_;
  const uint64_t end_;
  std::unique_ptr<const rocksdb::Snapshot, SnapshotReleaser> snapshot_;
  rocksdb::ReadOptions read_options_;
};

// A body held in its manifest: the range comes out as one chunk that shares the bytes, with no
// RocksDB lookup at all.
class InlineBodyReader final : public BodyReader {
 public:
  // [offset, offset + length) is within `body`.
  InlineBodyReader(std::shared_ptr<const std::string> body, uint64_t offset, uint64_t length)
      : body_(std::move(body)), pos_(offset), end_(offset + length) {}

  Result<std::unique_ptr<Chunk>> next() override;
  uint64_t remaining() const override { return end_ - pos_; }

 private:
  std::shared_ptr<const std::string> body_;
  uint64_t pos_;
  const uint64_t end_;
};

}  // namespace meshcache::storage
