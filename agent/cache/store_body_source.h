// store_body_source.h: a response body streamed from the store, chunk by chunk, straight into
// the connection's output buffer. Pulled on the I/O loop thread that owns the connection.
#pragma once

#include <cstdint>
#include <memory>

#include "agent/http/exchange.h"
#include "storage/store.h"

namespace meshcache::agent::cache {

class StoreBodySource final : public http::BodySource {
 public:
  // `length` is what the response announced; a reader that ends early is an error, so a
  // truncated body is never passed off as complete.
  StoreBodySource(std::unique_ptr<storage::BodyReader> reader, uint64_t length)
      : reader_(std::move(reader)), remaining_(length) {}

  Result<size_t> pull(evbuffer* out, size_t max_bytes) override;

 private:
  std::unique_ptr<storage::BodyReader> reader_;
  uint64_t remaining_;
};

}  // namespace meshcache::agent::cache
