// node_status.h: the status document the control socket serves; control socket thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/cache/cache_router.h"
#include "agent/controlplane/control_plane.h"
#include "replication/mesh.h"
#include "storage/store.h"

namespace meshcache::agent {

// A snapshot of the node. Holds no secrets, so the whole of it can be shown.
struct NodeStatus {
  NodeState state = NodeState::starting;
  std::string version;
  int64_t pid = 0;
  int64_t uptime_seconds = 0;
  std::string http_listener;  // actual bound host:port
  std::optional<std::string> tls_listener;
  std::string data_dir;
  std::string tenant_id;
  std::string region;
  std::optional<std::string> node_url;
  std::optional<std::string> advertised_url;
  std::string auth;  // "none", "tokens" or "control-plane"
  size_t auth_cached_decisions = 0;
  std::optional<cp::ControlPlaneStatus> control_plane;  // when a control plane is configured
  std::optional<uint64_t> usage_outbox_events;
  std::optional<replication::MeshStatus> mesh;
  storage::StoreStats store;
  uint64_t requests = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t connections_open = 0;
};

// The JSON document, one line.
std::string render_node_status(const NodeStatus& status);
// Unix seconds → "2026-12-22T10:00:00Z".
std::string iso8601(int64_t unix_seconds);
// 1536 → "1.5 KiB": for people (logs, the status table), never for machines.
std::string human_bytes(uint64_t bytes);

}  // namespace meshcache::agent
