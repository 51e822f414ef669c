// store_body_source.cc: zero-copy streaming of stored chunks to the socket (I/O loop thread).
#include "agent/cache/store_body_source.h"

#include <event2/buffer.h>

namespace meshcache::agent::cache {
namespace {

// libevent calls this once the socket has written the referenced bytes; the chunk (and the
// pinned RocksDB value behind it) lives exactly that long.
void release_chunk(const void* /*data*/, size_t /*len*/, void* chunk) noexcept {
  delete static_cast<storage::Chunk*>(chunk);
}

}  // namespace

Result<size_t> StoreBodySource::pull(evbuffer* out, size_t max_bytes) {
  size_t appended = 0;
  // At least one chunk per pull while bytes remain: 0 means "complete" to the server.
  while (remaining_ > 0 && (appended == 0 || appended < max_bytes)) {
    Result<std::unique_ptr<storage::Chunk>> next = reader_->next();
    if (!next.ok()) return next.status();
    std::unique_ptr<storage::Chunk> chunk = std::move(next.value());
    if (chunk == nullptr) {
      return Status(Code::corruption, "stored body ended before its announced length");
    }
    size_t size = chunk->size();
    if (size == 0) continue;
    if (size > remaining_) return Status(Code::corruption, "stored body longer than announced");
    const uint8_t* data = chunk->data();
    if (evbuffer_add_reference(out, data, size, release_chunk, chunk.get()) != 0) {
      return Status(Code::internal, "evbuffer_add_reference failed");
    }
    chunk.release();  // owned by the evbuffer now
    appended += size;
    remaining_ -= size;
  }
  return appended;
}

}  // namespace meshcache::agent::cache
