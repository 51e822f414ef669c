// writer.cc: a body streaming into the chunks column family, or held for its manifest when it
// ends small, hashed as it goes (the one thread that began the write).
#include "storage/writer.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include <fmt/core.h>

#include "storage/rocks_store.h"

namespace meshcache::storage {
namespace {

bool same_hex(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return (x | 0x20) == (y | 0x20);  // ASCII case fold; both sides are hex digits
  });
}

}  // namespace

RocksWriter::RocksWriter(RocksStore& store, const Digest& id, int64_t version_ms,
                         const ArtifactRef& ref, WriteOptions options)
    : store_(store),
      id_(id),
      version_ms_(version_ms),
      ref_(ref),
      options_(std::move(options)),
      chunk_bytes_(store.options().chunk_bytes),
      inline_limit_(store.inline_limit()),
      key_(id, version_ms) {}

RocksWriter::~RocksWriter() {
  if (state_ == State::open) store_.discard_write(id_, version_ms_, chunks_);
}

Status RocksWriter::append(std::span<const uint8_t> bytes) {
  if (state_ != State::open)
    return state_ == State::failed ? error_ : Status(Code::internal, "append after commit");
  const uint64_t max = store_.options().max_artifact_bytes;
  if (bytes.size() > max - bytes_)
    return fail(Status(Code::too_large, fmt::format("body exceeds the {} byte limit", max)));
  if (options_.expected_size && bytes.size() > *options_.expected_size - bytes_)
    return fail(
        Status(Code::invalid_argument,
               fmt::format("body is longer than its declared {} bytes", *options_.expected_size)));
  hasher_.update(bytes.data(), bytes.size());
  bytes_ += bytes.size();

  while (!bytes.empty()) {
    // A full buffer is written only once more bytes arrive: until then the body may still end
    // small enough to commit inline, with no chunk rows at all.
    if (buffered_ == chunk_bytes_) {
      auto s = put_chunk(buffer_.get(), buffered_);
      if (!s.ok()) return fail(std::move(s));
      buffered_ = 0;
    }
    // Whole chunks straight from the caller's buffer: no copy for large appends.
    if (buffered_ == 0 && bytes.size() >= chunk_bytes_ && bytes_ > inline_limit_) {
      auto s = put_chunk(bytes.data(), chunk_bytes_);
      if (!s.ok()) return fail(std::move(s));
      bytes = bytes.subspan(chunk_bytes_);
      continue;
    }
    if (!buffer_) {
      uint64_t expected = options_.expected_size.value_or(chunk_bytes_);
      buffer_.reset(new uint8_t[std::clamp<uint64_t>(expected, 1, chunk_bytes_)]);
    }
    size_t take = std::min<size_t>(chunk_bytes_ - buffered_, bytes.size());
    std::memcpy(buffer_.get() + buffered_, bytes.data(), take);
    buffered_ += take;
    bytes = bytes.subspan(take);
  }
  return Status::Ok();
}

Status RocksWriter::put_chunk(const uint8_t* data, size_t size) {
  const RocksDb& db = store_.db();
  // WAL on, no sync: the commit batch's sync (when fsync is set) covers these records too.
  rocksdb::WriteOptions wo;
  if (chunks_ == 0) {
    // The marker precedes the first chunk in the WAL, so recovery never finds a chunk of an
    // uncommitted write without its marker, and open() sweeps only the marked writes.
    auto s = db.db()->Put(wo, db.cf(Cf::meta), keys::pending(id_, version_ms_).slice(), {});
    if (!s.ok()) return from_rocks(s, "marking a pending write");
  }
  ++chunks_;
  auto s = db.db()->Put(wo, db.cf(Cf::chunks), key_.at(chunks_ - 1),
                        rocksdb::Slice(reinterpret_cast<const char*>(data), size));
  return s.ok() ? Status::Ok() : from_rocks(s, "writing a chunk");
}

Result<Manifest> RocksWriter::commit() {
  if (state_ != State::open)
    return state_ == State::failed ? error_ : Status(Code::internal, "commit called twice");
  if (options_.expected_size && bytes_ != *options_.expected_size)
    return fail(
        Status(Code::invalid_argument, fmt::format("body is {} bytes, shorter than its declared {}",
                                                   bytes_, *options_.expected_size)));
  // Nothing was written yet exactly when the body is within the inline limit.
  std::shared_ptr<const std::string> inline_body;
  if (bytes_ <= inline_limit_) {
    inline_body = std::make_shared<const std::string>(
        std::string_view(reinterpret_cast<const char*>(buffer_.get()), buffered_));
  } else if (buffered_ > 0) {
    auto s = put_chunk(buffer_.get(), buffered_);
    if (!s.ok()) return fail(std::move(s));
  }
  std::string sha256 = to_hex(hasher_.finish());
  if (options_.expected_sha256 && !same_hex(sha256, *options_.expected_sha256))
    return fail(Status(Code::digest_mismatch, fmt::format("body hashes to {}, not {}", sha256,
                                                          *options_.expected_sha256)));

  Manifest m;
  m.artifact_id = to_hex(id_);
  m.producer = std::move(ref_.producer);
  m.tenant = std::move(ref_.tenant);
  m.ns = std::move(ref_.ns);
  m.key = std::move(ref_.key);
  m.size = bytes_;
  m.sha256_hex = std::move(sha256);
  m.content_type = std::move(options_.content_type);
  m.version_ms = version_ms_;
  m.origin = options_.origin;
  m.extras = std::move(options_.extras);
  m.inline_body = std::move(inline_body);
  auto committed = store_.commit_write(id_, std::move(m), chunks_, options_.outbox_targets);
  if (!committed.ok()) return fail(committed.status());
  // Also when a local write was overtaken: commit_write() then discarded its chunks itself.
  state_ = State::committed;
  buffer_.reset();
  return committed;
}

Status RocksWriter::fail(Status error) {
  store_.discard_write(id_, version_ms_, chunks_);
  state_ = State::failed;
  error_ = error;
  return error;
}

}  // namespace meshcache::storage
