// artifact_get.h: the one GET/HEAD path every surface uses (hit/miss, Range, HEAD, headers).
// Runs on the I/O loop thread of the connection.
#pragma once

#include <cstdint>
#include <string_view>

#include "agent/cache/cache_handler.h"
#include "storage/store.h"

namespace meshcache::agent::cache {

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};
enum class RangeKind { none, satisfiable, unsatisfiable };

// A single `bytes=a-b`, `bytes=a-` or `bytes=-n` against a body of `size` bytes. Several ranges
// or a malformed header give `none` (RFC 9110: the server may ignore Range and send 200).
RangeKind parse_range(std::string_view header, uint64_t size, ByteRange& out);

struct GetOptions {
  bool empty_on_miss = false;      // Bazel: the empty CAS blob always answers 200
  int head_hit_status = 200;       // Tuist's module "exists" answers 204
  std::string_view digest_header;  // also send the body's SHA-256 under this name
};

void serve_artifact(CacheHandler& handler, http::Exchange& ex, const storage::ArtifactRef& ref,
                    const GetOptions& options);

}  // namespace meshcache::agent::cache
