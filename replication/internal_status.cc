// internal_status.cc: GET /_internal/status: region, tenant and the URL peers should push to,
// advertising the gateway URL to callers that came through the gateway's host. I/O loop threads.
#include <nlohmann/json.hpp>

#include "replication/internal_handlers.h"
#include "replication/internal_reply.h"
#include "replication/wire_json.h"
#include "tls/url_host.h"

namespace meshcache::replication {
namespace {

// Whether the h2 :authority or HTTP/1 Host names `host` (lowercased, as url_host gives it),
// whatever its port, case or IPv6 brackets.
bool names_host(const std::string& authority, const std::string& host) {
  Result<std::string> named = tls::url_host("http://" + authority);
  return named.ok() && *named == host;
}

class StatusHandler final : public HeadHandler {
 public:
  explicit StatusHandler(SharedState state) : state_(std::move(state)) {}

  void on_request(http::Exchange& ex) override {
    const InternalContext& ctx = state_->ctx;
    const http::Request& request = ex.request();
    // Kura: the gateway URL when this node is a gateway and the caller asked globally, or came
    // in under the gateway's own host name.
    bool gateway = false;
    if (!ctx.gateway_url.empty()) {
      gateway = request.query_param("scope") == "global" ||
                (state_->gateway_host && names_host(request.authority, *state_->gateway_host));
    }
    nlohmann::json body = {{"region", ctx.region},
                           {"tenant_id", ctx.tenant()},
                           {"node_url", gateway ? ctx.gateway_url : ctx.node_url}};
    if (ctx.traffic_state) body["traffic_state"] = ctx.traffic_state();
    reply_json(ex, 200, wire::dump_json(body));
  }

 private:
  SharedState state_;
};

}  // namespace

std::unique_ptr<http::Handler> make_status_handler(const SharedState& state) {
  return std::make_unique<StatusHandler>(state);
}

}  // namespace meshcache::replication
