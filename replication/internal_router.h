// internal_router.h: the router of the internal listener: Kura's /_internal/* peer plane
// (status, replicate, backfill). Built on the main thread; handlers run on the internal
// listener's I/O loops.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/http/exchange.h"
#include "replication/replication_metrics.h"
#include "storage/store.h"

namespace meshcache::replication {

struct InternalContext {
  storage::Store* store = nullptr;
  ReplicationMetrics* metrics = nullptr;
  std::string region;
  std::string node_url;     // "" when unset
  std::string gateway_url;  // "" when this node is not a gateway
  std::function<std::string()> tenant;
  // False until the mesh has joined (the tenant is known): every route answers 503 meanwhile.
  std::function<bool()> joined;
  std::function<std::string()> traffic_state;  // "serving", "joining", "draining"...
  uint64_t max_artifact_bytes = 2ull << 30;
  // Runs store work too long for an I/O loop (a namespace delete walks the namespace) on a
  // mesh thread; the handler posts its answer back through its exchange's executor.
  std::function<void(std::function<void()>)> background;
};

std::shared_ptr<http::Router> make_internal_router(InternalContext ctx);

}  // namespace meshcache::replication
