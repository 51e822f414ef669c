// cache_router.h: builds the router of the public port (every build tool's surface, probes,
// metrics). Built on the main thread; the router runs on the I/O loop threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "agent/auth/authorizer.h"
#include "agent/config.h"
#include "agent/http/exchange.h"
#include "agent/metrics.h"
#include "agent/usage/usage_reporter.h"
#include "replication/mesh.h"
#include "storage/store.h"

namespace meshcache::agent {

// What /ready reports; set by the node as it moves through its lifecycle.
// joining: warming up from the mesh; the cache answers, but /ready says not yet.
enum class NodeState { starting, enrolling, joining, serving, draining };
// "serving", ...: the word /ready, status and the registration lease use.
std::string_view state_name(NodeState state);

struct CacheContext {
  const Config* config = nullptr;
  storage::Store* store = nullptr;
  Metrics* metrics = nullptr;
  Authorizer* auth = nullptr;
  // Reads the node's state for /ready (any thread).
  std::function<NodeState()> state;
  // Usage for the control plane; null when there is none.
  usage::UsageReporter* usage = nullptr;
  // The mesh: client writes owe a copy to its targets (outbox rows), and it runs work too long
  // for an I/O loop. Null in tests without one.
  replication::Mesh* mesh = nullptr;
};

std::shared_ptr<http::Router> make_cache_router(CacheContext ctx);

}  // namespace meshcache::agent
