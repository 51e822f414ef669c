// body_reader.cc: streams one committed body out of the chunks column family or its manifest's
// inline copy, zero-copy (the one thread that opened the read).
#include "storage/body_reader.h"

#include <algorithm>

#include <fmt/core.h>

namespace meshcache::storage {
namespace {

// A chunk value pinned in RocksDB (block or blob cache, or the slice's own buffer); a range
// inside it is handed out without a copy.
class PinnedChunk final : public Chunk {
 public:
  rocksdb::PinnableSlice value;

  void select(size_t offset, size_t size) {
    data_ = reinterpret_cast<const uint8_t*>(value.data()) + offset;
    size_ = size;
  }
  const uint8_t* data() const override { return data_; }
  size_t size() const override { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// A range of an inline body; holds a share of the manifest's copy so the bytes outlive it.
class InlineChunk final : public Chunk {
 public:
  InlineChunk(std::shared_ptr<const std::string> body, size_t offset, size_t size)
      : body_(std::move(body)), offset_(offset), size_(size) {}
  const uint8_t* data() const override {
    return reinterpret_cast<const uint8_t*>(body_->data()) + offset_;
  }
  size_t size() const override { return size_; }

 private:
  std::shared_ptr<const std::string> body_;
  size_t offset_;
  size_t size_;
};

}  // namespace

RocksBodyReader::RocksBodyReader(const RocksDb& db, const Digest& id, int64_t version_ms,
                                 uint64_t chunk_bytes, uint64_t offset, uint64_t length)
    : db_(db),
      id_(id),
      version_ms_(version_ms),
      chunk_bytes_(chunk_bytes),
      key_(id, version_ms),
      pos_(offset),
      end_(offset + length),
      snapshot_(nullptr, SnapshotReleaser{db.db()}) {
  read_options_.verify_checksums = true;
  // One chunk is one Get, atomic on its own; a range over several needs a snapshot so an
  // overwrite or eviction halfway through cannot delete the rest.
  if (length > 0 && offset / chunk_bytes != (end_ - 1) / chunk_bytes) {
    snapshot_.reset(db.db()->GetSnapshot());
    read_options_.snapshot = snapshot_.get();
  }
}

Result<std::unique_ptr<Chunk>> RocksBodyReader::next() {
  if (pos_ == end_) return std::unique_ptr<Chunk>();
  const uint64_t index = pos_ / chunk_bytes_;
  const uint64_t within = pos_ % chunk_bytes_;
  const uint64_t take = std::min(chunk_bytes_ - within, end_ - pos_);

  auto chunk = std::make_unique<PinnedChunk>();
  auto s = db_.db()->Get(read_options_, db_.cf(Cf::chunks), key_.at(index), &chunk->value);
  if (s.IsNotFound()) return missing_chunk(index);
  if (!s.ok()) return from_rocks(s, fmt::format("reading chunk {} of {}", index, to_hex(id_)));
  if (chunk->value.size() < within + take)
    return Status(Code::corruption, fmt::format("chunk {} of {} is {} bytes, too short", index,
                                                to_hex(id_), chunk->value.size()));
  chunk->select(within, take);
  pos_ += take;
  return std::unique_ptr<Chunk>(std::move(chunk));
}

Status RocksBodyReader::missing_chunk(uint64_t index) const {
  // A read that raced an overwrite, removal or eviction (after head(), before the first chunk)
  // finds the version gone: a miss, not damage. Only a chunk missing from a version that is
  // still committed is corruption.
  auto m = db_.get_manifest(read_options_, id_);
  if (!m.ok() && m.status().code() != Code::not_found) return m.status();
  if (!m.ok() || m->version_ms != version_ms_)
    return Status(Code::not_found, "artifact changed while it was being read");
  return Status(Code::corruption, fmt::format("chunk {} of {} version {} is missing", index,
                                              to_hex(id_), version_ms_));
}

Result<std::unique_ptr<Chunk>> InlineBodyReader::next() {
  if (pos_ == end_) return std::unique_ptr<Chunk>();
  auto chunk = std::make_unique<InlineChunk>(body_, pos_, end_ - pos_);
  pos_ = end_;
  return std::unique_ptr<Chunk>(std::move(chunk));
}

}  // namespace meshcache::storage
