// mesh.h: the narrow header of meshcache_replication: the node's place in the cache mesh
// (internal listener, membership, push worker, join-time warm-up). Started and stopped on the
// main thread; write_targets()/wrote() are called by the I/O loops; status() by any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "storage/store.h"
#include "tls/identity.h"

namespace meshcache::replication {

struct MeshOptions {
  std::string region = "local";
  std::string node_url;     // MESHCACHE_NODE_URL; "" when unset
  std::string gateway_url;  // MESHCACHE_PEER_GATEWAY_URL (set on a gateway node); "" when unset
  std::vector<std::string> static_peers;       // MESHCACHE_PEERS
  std::optional<std::string> internal_listen;  // MESHCACHE_INTERNAL_LISTEN; unset = outbound-only
  // The node's mTLS identity files, presented to peers and used to verify them. nullopt = the
  // operator configured no TLS material: plain HTTP both ways.
  std::optional<tls::IdentityPaths> identity;
  // The internal listener's current mTLS server context (it verifies client certificates
  // against the account CA). Called on every accept, so a renewal applies to new connections;
  // null while the node has no certificate yet (the handshake is refused). Unset = plain.
  std::function<tls::SharedCtx()> server_context;
  int io_threads = 1;  // internal listener loops
  uint64_t max_artifact_bytes = 2ull << 30;
  // Warm-up: on first join, or after an absence longer than `absence`, pull newest-first from
  // the peers down to `capacity_bytes`, or to `horizon` back from now when that is set.
  uint64_t capacity_bytes = 0;
  std::chrono::milliseconds warmup_horizon{0};  // 0 = capacity only
  std::chrono::milliseconds absence{std::chrono::hours(1)};
  std::chrono::milliseconds membership_interval{2000};
};

struct MeshHooks {
  std::function<std::string()> tenant;  // the node's tenant (any thread; fixed after join())
  // Warm-up has settled (done, not needed, or gave up on unreachable peers): the node may
  // report serving. Called once, from a mesh thread.
  std::function<void()> warmed;
};

struct PeerStatus {
  std::string url;
  std::string source;     // "static" or "control-plane"
  std::string admission;  // "admitted", "pending" (not answered yet) or "rejected"
  std::string reason;     // why pending or rejected ("unreachable: ...", "tenant acme != ...")
  std::string tenant_id;  // from its /_internal/status, when it answered
  std::string node_url;   // advertised by its /_internal/status
  uint64_t outbox_depth = 0;
  uint64_t in_flight = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;  // rows dropped for this target (unknown producer)
  bool batch_supported = true;
  std::optional<int64_t> last_success_ms;  // Unix ms
  uint32_t consecutive_failures = 0;
  std::optional<int64_t> next_retry_ms;  // Unix ms, while backing off
  std::string last_error;
};

struct WarmupStatus {
  // "not_needed", "waiting_for_peers", "running", "done", "gave_up"
  std::string state = "not_needed";
  uint64_t records_done = 0, records_known = 0;
  uint64_t bytes_done = 0, bytes_known = 0;
  double bytes_per_second = 0;
  std::optional<double> eta_seconds;
  std::optional<int64_t> started_ms, finished_ms;  // Unix ms
  std::string last_error;
};

struct MeshStatus {
  std::optional<std::string> internal_listener;  // bound host:port
  bool mtls = false;
  std::string gateway_url;
  std::vector<PeerStatus> peers;
  WarmupStatus warmup;
};

class Mesh {
 public:
  // Binds the internal listener (throws std::runtime_error naming the address or file when it
  // cannot) and starts the push thread. Nothing is pushed or pulled before join().
  static std::unique_ptr<Mesh> start(MeshOptions options, storage::Store& store, MeshHooks hooks);
  virtual ~Mesh() = default;

  // The tenant is known (configured, or enrolled): serve the internal routes, poll membership,
  // push, and warm up if this is a first join or the node was away long.
  virtual void join() = 0;
  // The control plane's peers (enrollment's static peers and the dynamic ones), replacing the
  // previous list; MESHCACHE_PEERS stay.
  virtual void set_control_plane_peers(std::vector<std::string> peers) = 0;

  // The targets a client write owes a copy to right now: every candidate not known to be
  // another tenant or this node itself. Shared and immutable, so the write path only copies
  // a pointer.
  virtual std::shared_ptr<const std::vector<std::string>> write_targets() const = 0;
  // A client write (or namespace delete) committed outbox rows: wake the pusher.
  virtual void wrote() = 0;

  // Runs store work too long for an I/O loop (a namespace delete walks the namespace) on the
  // mesh's task thread, in posting order.
  virtual void background(std::function<void()> task) = 0;

  virtual MeshStatus status() const = 0;
  // Prometheus text: replication results by target and outcome, outbox depth, apply outcomes,
  // the replication lag histogram, warm-up bytes.
  virtual void render_metrics(std::string& out) const = 0;

  virtual void stop() = 0;  // stop pulling, pushing and listening; rows stay for the next run
};

}  // namespace meshcache::replication
