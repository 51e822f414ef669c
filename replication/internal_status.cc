// internal_status.cc: GET /_internal/status: region, tenant and the URL peers should push to,
// advertising the gateway URL to callers that came through the gateway's host. I/O loop threads.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "replication/internal_handlers.h"
#include "replication/internal_reply.h"
#include "replication/wire_json.h"

namespace meshcache::replication {
namespace {

// The host of an h2 :authority or HTTP/1 Host value: "[v6]:port" → "v6", "name:port" → "name".
std::string_view request_host(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(1, close - 1);
  }
  return authority.substr(0, authority.find(':'));
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; };
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [&](char x, char y) {
    return lower(static_cast<unsigned char>(x)) == lower(static_cast<unsigned char>(y));
  });
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
                (state_->gateway_host &&
                 equal_ignoring_case(request_host(request.authority), *state_->gateway_host));
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
