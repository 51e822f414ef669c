// generic_handler.cc: ccache's HTTP storage and any WebDAV-like client, /cache/{path...} at any
// depth (I/O loop thread). Tenant scope (namespace ""): these clients cannot name a project.
#include "agent/cache/artifact_handler.h"
#include "agent/cache/key_rules.h"
#include "agent/cache/surfaces.h"

namespace meshcache::agent::cache {
namespace {

// ccache treats any 2xx as success; DELETE answers 204 like nginx's WebDAV module.
constexpr SurfaceSpec kGeneric = [] {
  SurfaceSpec s;
  s.route = route::ccache;
  s.allow = "GET, HEAD, PUT, DELETE";
  s.write_method = "PUT";
  s.deletable = true;
  return s;
}();

}  // namespace

HandlerPtr route_generic(const CacheContext& ctx, const http::Request& request,
                         std::string_view key) {
  if (!valid_key(key)) {
    return make_error_handler(ctx, kGeneric.route, 400, "bad_key", "invalid cache key");
  }
  return make_artifact_handler(ctx, kGeneric,
                               ArtifactRequest(make_ref(ctx, "http", {}, std::string(key))));
}

}  // namespace meshcache::agent::cache
