// artifact_handler.h: the handler of every "one key, one body" route (Bazel, ccache, Gradle,
// Turborepo, Nx, Xcode CAS, keyvalue reads, module reads, Metro). A surface only parses its
// path into an ArtifactRequest and picks its SurfaceSpec. Runs on the I/O loop thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/cache/cache_handler.h"
#include "storage/store.h"

namespace meshcache::agent::cache {

// What differs between surfaces; one static instance per surface.
struct SurfaceSpec {
  std::string_view route;         // metrics label
  std::string_view allow;         // the 405 `allow` header
  std::string_view write_method;  // "PUT", "POST", or "" for read-only routes
  bool deletable = false;
  int write_status = 200;
  int digest_mismatch_status = 400;
  int head_hit_status = 200;
  // Optional header carrying the body's SHA-256: verified on writes, sent back on reads.
  std::string_view digest_header;
};

struct ArtifactRequest {
  explicit ArtifactRequest(storage::ArtifactRef r) : ref(std::move(r)) {}

  storage::ArtifactRef ref;
  storage::WriteOptions write;  // a surface may preset extras, content type, expected digest
  std::string write_response;   // JSON body of a successful write ("" = no body)
  bool empty_on_miss = false;
};

std::unique_ptr<http::Handler> make_artifact_handler(const CacheContext& ctx,
                                                     const SurfaceSpec& spec,
                                                     ArtifactRequest request);

// namespace_id (or its alias project_handle) from the query; "" when absent; nullopt when it
// breaks the key rules.
std::optional<std::string> query_namespace(const http::Request& request);

// ArtifactRef of this node's tenant.
storage::ArtifactRef make_ref(const CacheContext& ctx, std::string_view producer, std::string ns,
                              std::string key);

}  // namespace meshcache::agent::cache
