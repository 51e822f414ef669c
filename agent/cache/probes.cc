// probes.cc: /up (liveness), /ready (serving or not, from the node's state) and /metrics
// (Prometheus text). No auth: orchestrators and scrapers carry no cache token. I/O loop thread.
#include <fmt/format.h>

#include "agent/cache/cache_handler.h"
#include "agent/cache/json_error.h"
#include "agent/cache/surfaces.h"

namespace meshcache::agent::cache {
namespace {

enum class Probe { up, ready, metrics };

class ProbeHandler final : public CacheHandler {
 public:
  ProbeHandler(const CacheContext& ctx, Probe probe)
      : CacheHandler(ctx, route::probe), probe_(probe) {}

 private:
  void start(http::Exchange& ex) override {
    const std::string& method = ex.request().method;
    if (method != "GET" && method != "HEAD") {
      respond_method_not_allowed(ex, "GET, HEAD");
      return;
    }
    switch (probe_) {
      case Probe::up:
        respond_json(ex, 200, R"({"status":"up"})");
        return;
      case Probe::ready: {
        NodeState state = ctx_.state ? ctx_.state() : NodeState::serving;
        respond_json(ex, state == NodeState::serving ? 200 : 503,
                     fmt::format(R"({{"status":"{}"}})", state_name(state)));
        return;
      }
      case Probe::metrics: {
        std::string text = ctx_.metrics->render(ctx_.store->stats());
        if (ctx_.mesh != nullptr) ctx_.mesh->render_metrics(text);
        http::Response response;
        response.headers.push_back({"content-type", "text/plain; version=0.0.4; charset=utf-8"});
        response.content_length = text.size();
        respond(ex, std::move(response),
                method == "HEAD" ? nullptr : std::make_unique<StringBody>(std::move(text)));
        return;
      }
    }
  }

  bool serves_cache() const override { return false; }

  Probe probe_;
};

}  // namespace

HandlerPtr route_probe(const CacheContext& ctx, const http::Request& request,
                       std::string_view name) {
  Probe probe = name == "up" ? Probe::up : name == "ready" ? Probe::ready : Probe::metrics;
  return std::make_unique<ProbeHandler>(ctx, probe);
}

}  // namespace meshcache::agent::cache
