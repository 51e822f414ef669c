// push_worker.h: membership and delivery: polls each candidate's /_internal/status, admits the
// peers of this node's tenant, and drains every target's outbox over libcurl multi (HTTP/2,
// mTLS, many in flight, batches for small artifacts, per-target backoff with a recovery probe).
// Runs its own thread; the other members are called from any thread.
#pragma once

#include <chrono>
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

struct PushOptions {
  std::string node_url;     // own URL: never a target (exact string match)
  std::string gateway_url;  // own gateway URL: never a target (exact string match)
  std::vector<std::string> static_peers;
  std::optional<tls::IdentityPaths> identity;  // nullopt = plain HTTP
  std::chrono::milliseconds membership_interval{2000};
  size_t max_in_flight = 32;  // per target
};

class PushWorker {
 public:
  PushWorker(PushOptions options, storage::Store& store, ReplicationMetrics& metrics,
             std::function<std::string()> tenant);
  ~PushWorker();  // stops

  // Starts the thread: membership rounds every membership_interval, pushing to admitted
  // targets. `first_round` is called once (on the push thread) when every candidate known at
  // start has answered its first status poll or failed it, with the admitted peers' URLs.
  void start(std::function<void(std::vector<std::string> admitted)> first_round);
  void set_control_plane_peers(std::vector<std::string> peers);
  std::shared_ptr<const std::vector<std::string>> write_targets() const;
  void wake();  // new outbox rows
  std::vector<PeerStatus> peers() const;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshcache::replication
