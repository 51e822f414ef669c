// gradle_handler.cc: Gradle's HTTP build cache, /api/cache/gradle/{key} (I/O loop thread).
// Gradle disables the cache on most 4xx but takes 413 gracefully, which the shared write path
// sends from the declared length before any body (so `Expect: 100-continue` never gets 100).
#include "agent/cache/artifact_handler.h"
#include "agent/cache/key_rules.h"
#include "agent/cache/surfaces.h"

namespace meshcache::agent::cache {
namespace {

constexpr SurfaceSpec kGradle = [] {
  SurfaceSpec s;
  s.route = route::gradle;
  s.allow = "GET, HEAD, PUT";
  s.write_method = "PUT";
  return s;
}();

}  // namespace

HandlerPtr route_gradle(const CacheContext& ctx, const http::Request& request,
                        std::string_view key) {
  if (!valid_key(key)) {
    return make_error_handler(ctx, kGradle.route, 400, "bad_key", "invalid cache key");
  }
  std::optional<std::string> ns = query_namespace(request);
  if (!ns) return make_error_handler(ctx, kGradle.route, 400, "bad_namespace", "invalid namespace");
  return make_artifact_handler(
      ctx, kGradle, ArtifactRequest(make_ref(ctx, "gradle", std::move(*ns), std::string(key))));
}

}  // namespace meshcache::agent::cache
