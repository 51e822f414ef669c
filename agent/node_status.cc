// node_status.cc: renders the status document as JSON. Runs on the control socket's thread.
#include "agent/node_status.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace meshcache::agent {

std::string_view state_name(NodeState state) {
  switch (state) {
    case NodeState::starting:
      return "starting";
    case NodeState::serving:
      return "serving";
    case NodeState::draining:
      return "draining";
  }
  return "unknown";
}

std::string render_node_status(const NodeStatus& s) {
  auto optional = [](const std::optional<std::string>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  uint64_t lookups = s.hits + s.misses;
  nlohmann::json doc = {
      {"state", state_name(s.state)},
      {"version", s.version},
      {"pid", s.pid},
      {"uptime_seconds", s.uptime_seconds},
      {"listeners", {{"http", s.http_listener}, {"tls", optional(s.tls_listener)}}},
      {"data_dir", s.data_dir},
      {"tenant_id", s.tenant_id},
      {"region", s.region},
      {"node_url", optional(s.node_url)},
      {"auth", s.auth},
      {"store",
       {{"bytes", s.store.bytes},
        {"capacity_bytes", s.store.capacity_bytes},
        {"artifacts", s.store.artifacts},
        {"evictions", s.store.evictions},
        {"evicted_bytes", s.store.evicted_bytes}}},
      {"requests", s.requests},
      {"hits", s.hits},
      {"misses", s.misses},
      {"hit_ratio", lookups ? static_cast<double>(s.hits) / static_cast<double>(lookups) : 0.0},
      {"connections_open", s.connections_open},
  };
  // A data dir is any path the operator chose: replace bytes that are not UTF-8.
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string human_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

}  // namespace meshcache::agent
