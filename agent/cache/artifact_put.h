// artifact_put.h: request bodies in: streamed into a storage Writer (artifacts) or kept in
// memory up to a small bound (JSON documents). Shared by every surface; I/O loop thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "agent/http/exchange.h"
#include "storage/store.h"

namespace meshcache::agent::cache {

// too_large when the declared Content-Length is over `limit`: checked in on_request, so an
// `Expect: 100-continue` client gets 413 instead of 100 and never sends the body.
Status check_declared_length(const http::Request& request, uint64_t limit);
// Code::too_large naming the bound.
Status too_large(uint64_t limit);

class ArtifactPut {
 public:
  // Opens the writer. An empty options.content_type takes the request's Content-Type
  // (application/octet-stream without one); a declared length becomes expected_size.
  Status begin(storage::Store& store, const http::Request& request, const storage::ArtifactRef& ref,
               storage::WriteOptions options, uint64_t limit);
  // too_large as soon as the body passes the limit (chunked bodies declare nothing).
  Status append(std::span<const uint8_t> bytes);
  // Writer errors: digest_mismatch, a short/long body (invalid_argument), store failures.
  Result<storage::Manifest> commit();
  bool active() const { return writer_ != nullptr; }

 private:
  std::unique_ptr<storage::Writer> writer_;
  uint64_t limit_ = 0;
  uint64_t received_ = 0;
};

// Stores a small body already in memory (keyvalue documents, upload state) in one go.
Result<storage::Manifest> write_small(storage::Store& store, const storage::ArtifactRef& ref,
                                      storage::WriteOptions options, std::string_view body);

}  // namespace meshcache::agent::cache
