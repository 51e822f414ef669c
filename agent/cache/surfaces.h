// surfaces.h: one entry point per public surface, called by the cache router with the path
// left after the surface's prefix. Each returns the handler for one request (never null).
// Called on the I/O loop thread that parsed the request.
#pragma once

#include <memory>
#include <string_view>

#include "agent/cache/cache_router.h"
#include "agent/http/exchange.h"

namespace meshcache::agent::cache {

using HandlerPtr = std::unique_ptr<http::Handler>;

// [/{instance}]/{ac|cas}/{sha256}
HandlerPtr route_bazel(const CacheContext& ctx, const http::Request& request,
                       std::string_view instance, std::string_view kind, std::string_view hash);
// /cache/{key...}
HandlerPtr route_generic(const CacheContext& ctx, const http::Request& request,
                         std::string_view key);
// /api/cache/gradle/{key}
HandlerPtr route_gradle(const CacheContext& ctx, const http::Request& request,
                        std::string_view key);
// /v8/artifacts/{rest}
HandlerPtr route_turbo(const CacheContext& ctx, const http::Request& request,
                       std::string_view rest);
// /v1/cache/{hash}
HandlerPtr route_nx(const CacheContext& ctx, const http::Request& request, std::string_view hash);
// /api/cache/cas/{id}
HandlerPtr route_xcode_cas(const CacheContext& ctx, const http::Request& request,
                           std::string_view id);
// /api/cache/keyvalue[/{cas_id}]; `rest` is "" for the PUT route
HandlerPtr route_xcode_keyvalue(const CacheContext& ctx, const http::Request& request,
                                std::string_view rest);
// /api/cache/module/{rest}
HandlerPtr route_module(const CacheContext& ctx, const http::Request& request,
                        std::string_view rest);
// /api/metro/cache/{key}
HandlerPtr route_metro(const CacheContext& ctx, const http::Request& request, std::string_view key);
// /api/cache/namespace (DELETE ?namespace_id=)
HandlerPtr route_namespace(const CacheContext& ctx, const http::Request& request);
// /up, /ready, /metrics
HandlerPtr route_probe(const CacheContext& ctx, const http::Request& request,
                       std::string_view name);

}  // namespace meshcache::agent::cache
