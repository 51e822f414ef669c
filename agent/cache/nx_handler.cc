// nx_handler.cc: Nx's self-hosted remote cache, /v1/cache/{hash}, namespace "nx"
// (I/O loop thread).
#include "agent/cache/artifact_handler.h"
#include "agent/cache/key_rules.h"
#include "agent/cache/surfaces.h"

namespace meshcache::agent::cache {
namespace {

// Nx stores only on exactly 200: a 201 fails the task after six retries.
constexpr SurfaceSpec kNx = [] {
  SurfaceSpec s;
  s.route = route::nx;
  s.allow = "GET, HEAD, PUT";
  s.write_method = "PUT";
  s.write_status = 200;
  return s;
}();

}  // namespace

HandlerPtr route_nx(const CacheContext& ctx, const http::Request& request, std::string_view hash) {
  if (!valid_key(hash) || hash.find('/') != std::string_view::npos) {
    return make_error_handler(ctx, kNx.route, 400, "bad_key", "invalid hash");
  }
  return make_artifact_handler(ctx, kNx,
                               ArtifactRequest(make_ref(ctx, "nx", "nx", std::string(hash))));
}

}  // namespace meshcache::agent::cache
