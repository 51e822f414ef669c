// internal_router.cc: routes of the internal listener (Kura's /_internal/* peer plane): the
// mesh gate, method checks and 404s; the handlers live in internal_status, replicate_* and
// backfill_serve. Built on the main thread; route() runs on the internal listener's I/O loops.
#include "replication/internal_router.h"

#include <spdlog/spdlog.h>

#include <array>

#include "agent/http/request_target.h"
#include "replication/internal_handlers.h"
#include "replication/internal_reply.h"
#include "tls/url_host.h"

namespace meshcache::replication {
namespace {

constexpr std::string_view kArtifactsPrefix = "/_internal/backfill/artifacts/";

struct Route {
  std::string_view path;
  std::string_view method;
  std::unique_ptr<http::Handler> (*make)(const SharedState&);
};

constexpr std::array<Route, 6> kRoutes = {{
    {"/_internal/status", "GET", make_status_handler},
    {"/_internal/replicate/artifact", "PUT", make_replicate_artifact_handler},
    {"/_internal/replicate/artifacts", "PUT", make_replicate_batch_handler},
    {"/_internal/replicate/namespace", "DELETE", make_replicate_namespace_handler},
    {"/_internal/backfill/entries", "GET", make_backfill_entries_handler},
    {"/_internal/backfill/bodies", "POST", make_backfill_bodies_handler},
}};

class InternalRouter final : public http::Router {
 public:
  explicit InternalRouter(SharedState state) : state_(std::move(state)) {}

  std::unique_ptr<http::Handler> route(const http::Request& request) override {
    if (!state_->ctx.joined()) return make_busy_handler("node is not in the mesh yet");
    for (const Route& r : kRoutes) {
      if (request.path != r.path) continue;
      if (request.method != r.method) return make_message_handler(405, "Method not allowed");
      return r.make(state_);
    }
    // The id is one percent-encoded segment: split on the raw path, then decode.
    std::string_view raw = request.raw_path;
    if (raw.substr(0, kArtifactsPrefix.size()) == kArtifactsPrefix) {
      std::string_view segment = raw.substr(kArtifactsPrefix.size());
      std::string id;
      if (!segment.empty() && segment.find('/') == std::string_view::npos &&
          http::percent_decode(segment, id, false) && !id.empty()) {
        if (request.method != "GET") return make_message_handler(405, "Method not allowed");
        return make_backfill_artifact_handler(state_, std::move(id));
      }
    }
    return make_message_handler(404, "Not found");
  }

 private:
  SharedState state_;
};

}  // namespace

std::shared_ptr<http::Router> make_internal_router(InternalContext ctx) {
  auto state = std::make_shared<InternalState>();
  if (!ctx.gateway_url.empty()) {
    Result<std::string> host = tls::url_host(ctx.gateway_url);
    if (host.ok()) {
      state->gateway_host = std::move(host).value();
    } else {
      // Then only ?scope=global advertises the gateway.
      spdlog::warn("internal plane: gateway URL has no usable host: {}", host.status().message());
    }
  }
  state->ctx = std::move(ctx);
  return std::make_shared<InternalRouter>(std::move(state));
}

}  // namespace meshcache::replication
