// endpoint.h: the node-facing endpoints of the control-plane contract, by path and by the short
// name the fault and log APIs use (pure functions; any thread).
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace meshcache::mockcp {

enum class Endpoint { enroll, heartbeat, peers, registrations, usage, introspect };

struct EndpointInfo {
  Endpoint endpoint;
  std::string_view name;    // as in POST /_mock/faults "endpoints" and GET /_mock/requests
  std::string_view method;  // the only method the endpoint answers
  std::string_view path;
};

inline constexpr std::array<EndpointInfo, 6> kEndpoints{{
    {Endpoint::enroll, "enroll", "POST", "/_internal/kura/mesh/enroll"},
    {Endpoint::heartbeat, "heartbeat", "POST", "/_internal/kura/mesh/heartbeat"},
    {Endpoint::peers, "peers", "GET", "/_internal/kura/mesh/peers"},
    {Endpoint::registrations, "registrations", "POST", "/_internal/kura/mesh/registrations"},
    {Endpoint::usage, "usage", "POST", "/_internal/kura/usage"},
    {Endpoint::introspect, "introspect", "POST", "/oauth2/introspect"},
}};

inline const EndpointInfo& info(Endpoint endpoint) {
  return kEndpoints[static_cast<size_t>(endpoint)];
}

inline std::optional<Endpoint> endpoint_for_path(std::string_view path) {
  for (const auto& e : kEndpoints) {
    if (e.path == path) return e.endpoint;
  }
  return std::nullopt;
}

inline std::optional<Endpoint> endpoint_named(std::string_view name) {
  for (const auto& e : kEndpoints) {
    if (e.name == name) return e.endpoint;
  }
  return std::nullopt;
}

}  // namespace meshcache::mockcp
