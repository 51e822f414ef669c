// cache_router.cc: picks the surface of a public-port request from its first path segment
// (string compares, no regex). Built on the main thread; route() runs on the I/O loop threads.
#include "agent/cache/cache_router.h"

#include <stdexcept>

#include "agent/cache/cache_handler.h"
#include "agent/cache/key_rules.h"
#include "agent/cache/surfaces.h"

namespace meshcache::agent {
namespace {

using cache::consume;
using cache::HandlerPtr;

class CacheRouter final : public http::Router {
 public:
  explicit CacheRouter(CacheContext ctx) : ctx_(std::move(ctx)) {}

  // Handlers keep a reference to ctx_: the server owns this router for longer than any
  // connection it serves.
  HandlerPtr route(const http::Request& request) override {
    std::string_view path = request.path;
    if (!consume(path, "/")) return unknown();
    auto [first, rest] = cache::split_first(path);

    if (first == "cache") return cache::route_generic(ctx_, request, rest);
    if (first == "ac" || first == "cas") return cache::route_bazel(ctx_, request, {}, first, rest);
    if (first == "v8") {
      return consume(rest, "artifacts/") ? cache::route_turbo(ctx_, request, rest) : unknown();
    }
    if (first == "v1") {
      return consume(rest, "cache/") ? cache::route_nx(ctx_, request, rest) : unknown();
    }
    if (first == "api") return route_api(request, rest);
    if (first == "up" || first == "ready" || first == "metrics") {
      return rest.empty() ? cache::route_probe(ctx_, request, first) : unknown();
    }
    if (first == "_internal") return unknown();  // the peer plane has its own listener
    return route_bazel_instance(request, path);
  }

 private:
  HandlerPtr route_api(const http::Request& request, std::string_view rest) {
    if (consume(rest, "cache/")) {
      if (consume(rest, "gradle/")) return cache::route_gradle(ctx_, request, rest);
      if (consume(rest, "cas/")) return cache::route_xcode_cas(ctx_, request, rest);
      if (consume(rest, "module/")) return cache::route_module(ctx_, request, rest);
      if (rest == "namespace") return cache::route_namespace(ctx_, request);
      if (consume(rest, "keyvalue")) {
        if (rest.empty() || consume(rest, "/")) {
          return cache::route_xcode_keyvalue(ctx_, request, rest);
        }
      }
    } else if (consume(rest, "metro/cache/")) {
      return cache::route_metro(ctx_, request, rest);
    }
    return unknown();
  }

  // {instance...}/{ac|cas}/{hash}: the instance is whatever precedes the last two segments.
  HandlerPtr route_bazel_instance(const http::Request& request, std::string_view path) {
    size_t last = path.rfind('/');
    if (last == std::string_view::npos || last == 0) return unknown();
    size_t kind_start = path.rfind('/', last - 1);
    if (kind_start == std::string_view::npos) return unknown();
    std::string_view kind = path.substr(kind_start + 1, last - kind_start - 1);
    if (kind != "ac" && kind != "cas") return unknown();
    return cache::route_bazel(ctx_, request, path.substr(0, kind_start), kind,
                              path.substr(last + 1));
  }

  HandlerPtr unknown() const {
    return cache::make_error_handler(ctx_, cache::route::not_found, 404, "not_found",
                                     "no such route");
  }

  CacheContext ctx_;
};

}  // namespace

std::string_view state_name(NodeState state) {
  switch (state) {
    case NodeState::starting:
      return "starting";
    case NodeState::joining:
      return "joining";
    case NodeState::enrolling:
      return "enrolling";
    case NodeState::serving:
      return "serving";
    case NodeState::draining:
      return "draining";
  }
  return "unknown";
}

std::shared_ptr<http::Router> make_cache_router(CacheContext ctx) {
  if (ctx.config == nullptr || ctx.store == nullptr || ctx.metrics == nullptr) {
    throw std::invalid_argument("make_cache_router needs a config, a store and metrics");
  }
  return std::make_shared<CacheRouter>(std::move(ctx));
}

}  // namespace meshcache::agent
