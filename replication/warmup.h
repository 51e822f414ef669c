// warmup.h: join-time warm-up: walks peers' backfill listings newest-first down to a budget,
// fetches the missing bodies (POST /backfill/bodies, GET /backfill/artifacts/{id}) and applies
// them through the LWW gate. Runs its own thread; status() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "replication/mesh.h"
#include "replication/replication_metrics.h"
#include "storage/store.h"
#include "tls/identity.h"

namespace meshcache::replication {

struct WarmupOptions {
  std::optional<tls::IdentityPaths> identity;  // nullopt = plain HTTP
  std::string tenant;                          // artifacts are stored under the node's tenant
  uint64_t budget_bytes = 0;                   // stop listing once this many bytes are known
  std::chrono::milliseconds horizon{0};  // 0 = none; else skip versions older than now-horizon
  uint64_t max_artifact_bytes = 2ull << 30;
  // A peer that keeps answering index_building / peer_busy / errors is given up on after this.
  std::chrono::milliseconds give_up_after{std::chrono::minutes(5)};
};

class WarmUp {
 public:
  // Pulls from `peers` (base URLs, e.g. https://10.0.0.2:7443) on a new thread and calls
  // `settled` once, on that thread, when every peer is done or given up on.
  static std::unique_ptr<WarmUp> start(WarmupOptions options, std::vector<std::string> peers,
                                       storage::Store& store, ReplicationMetrics& metrics,
                                       std::function<void()> settled);
  virtual ~WarmUp() = default;
  virtual WarmupStatus status() const = 0;
  virtual void stop() = 0;  // abort transfers and join the thread
};

}  // namespace meshcache::replication
