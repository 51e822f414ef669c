// metro_handler.cc: React Native Metro's HttpStore, /api/metro/cache/{key}, namespace "metro"
// (I/O loop thread).
#include "agent/cache/artifact_handler.h"
#include "agent/cache/key_rules.h"
#include "agent/cache/surfaces.h"

namespace meshcache::agent::cache {
namespace {

constexpr SurfaceSpec kMetro = [] {
  SurfaceSpec s;
  s.route = route::metro;
  s.allow = "GET, HEAD, PUT";
  s.write_method = "PUT";
  return s;
}();

}  // namespace

HandlerPtr route_metro(const CacheContext& ctx, const http::Request& request,
                       std::string_view key) {
  if (!valid_key(key)) {
    return make_error_handler(ctx, kMetro.route, 400, "bad_key", "invalid cache key");
  }
  return make_artifact_handler(ctx, kMetro,
                               ArtifactRequest(make_ref(ctx, "metro", "metro", std::string(key))));
}

}  // namespace meshcache::agent::cache
