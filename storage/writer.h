// writer.h: a body streaming into the chunks column family, or held for its manifest when it
// ends small (the one thread that began the write).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "storage/keys.h"
#include "storage/sha256.h"
#include "storage/store.h"

namespace meshcache::storage {

class RocksStore;

class RocksWriter final : public Writer {
 public:
  // `version_ms` was reserved by the store for this write; the store outlives the writer.
  RocksWriter(RocksStore& store, const Digest& id, int64_t version_ms, const ArtifactRef& ref,
              WriteOptions options);
  ~RocksWriter() override;

  Status append(std::span<const uint8_t> bytes) override;
  Result<Manifest> commit() override;
  uint64_t bytes_written() const override { return bytes_; }

 private:
  enum class State { open, committed, failed };

  [[nodiscard]] Status put_chunk(const uint8_t* data, size_t size);
  // Discards what was written and makes every later call return `error`.
  Status fail(Status error);

  RocksStore& store_;
  const Digest id_;
  const int64_t version_ms_;
  ArtifactRef ref_;
  WriteOptions options_;
  const uint64_t chunk_bytes_;
  const uint64_t inline_limit_;  // at most chunk_bytes_, so an inline body fits the buffer
  keys::ChunkKey key_;
  Sha256 hasher_;
  // The chunk being filled (or the whole body while it is within the inline limit); allocated on
  // the first partial chunk, at most chunk_bytes.
  std::unique_ptr<uint8_t[]> buffer_;
  size_t buffered_ = 0;
  uint64_t bytes_ = 0;
  uint64_t chunks_ = 0;  // chunk rows written (or attempted), all to be deleted on discard
  State state_ = State::open;
  Status error_;
};

}  // namespace meshcache::storage
