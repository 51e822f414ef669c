// control_plane.h: the node's life with its control plane: enrollment (and renewal), the mesh
// heartbeat, the registration lease and token introspection. Started and stopped from the main
// thread; all of its work runs on the CpTransport thread; status() and introspect() are safe
// from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/controlplane/cp_transport.h"
#include "agent/controlplane/introspection.h"
#include "tls/certificate.h"
#include "tls/identity.h"

namespace meshcache::agent::cp {

struct ControlPlaneOptions {
  CpTransportOptions transport;
  bool enroll = false;                        // MESHCACHE_ENROLL_ON_BOOT
  std::string node_url;                       // MESHCACHE_NODE_URL; required with enroll
  std::optional<std::string> advertised_url;  // MESHCACHE_ADVERTISED_URL; registration needs it
  // MESHCACHE_TENANT_ID, for the registration lease of a node that does not enroll (enrollment
  // supplies the tenant otherwise).
  std::optional<std::string> tenant_id;
  std::string region;
  std::string version;
  tls::IdentityPaths identity_paths;
  std::chrono::milliseconds registration_interval{60000};
  // Test seams (never configured by users): the first retry delay and its cap.
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_cap{60000};
  // Test seam: how often a failed renewal (or re-enrollment) is tried again.
  std::chrono::milliseconds renewal_retry{60000};
};

// What enrollment gave the node.
struct Enrollment {
  std::string tenant_id;
  std::vector<std::string> static_peers;   // managed_peers, else peers; minus node_url
  std::vector<std::string> dynamic_peers;  // peers; minus node_url
  tls::CertificateInfo certificate;
  int64_t renew_at_unix = 0;
};

// Calls the node makes into the rest of the node; run on the transport thread, so they must be
// quick and thread-safe.
struct ControlPlaneHooks {
  // First enrollment and every re-enrollment or renewal.
  std::function<void(const Enrollment&)> enrolled;
  // The mesh peers the control plane gives: enrollment's static peers, then the dynamic ones
  // (enrollment's, replaced by each heartbeat's), minus node_url and without repeats. Called
  // before `enrolled` at every enrollment, and when a heartbeat changes the dynamic ones.
  std::function<void(const std::vector<std::string>&)> peers_changed;
  // For the registration lease: is the node serving, and its traffic state ("serving",
  // "draining", "enrolling").
  std::function<bool()> ready;
  std::function<std::string()> traffic_state;
  // Fatal: a 401 or 422 at enrollment. The node logs `message` and exits with code 2.
  std::function<void(std::string message)> fatal;
};

// One periodic call's last outcome, for `meshcache status`.
struct CallStatus {
  std::optional<int64_t> last_attempt_unix;
  std::optional<int64_t> last_success_unix;
  std::string last_result;  // "ok", "http 503 ca_unavailable", "connect timeout", ...
  std::optional<int64_t> next_attempt_unix;
};

struct ControlPlaneStatus {
  std::string url;
  std::string client_id;         // the id is not secret; the secret never appears here
  bool reachable = false;        // the last call of any kind got an HTTP answer
  std::string enrollment_state;  // "disabled", "enrolling", "enrolled", "renewal_failing"
  std::optional<std::string> tenant_id;
  std::optional<tls::CertificateInfo> certificate;
  std::optional<int64_t> renew_at_unix;
  std::vector<std::string> static_peers;
  std::vector<std::string> dynamic_peers;
  std::vector<std::string> warnings;  // e.g. "certificate expires in 2 h and renewal fails"
  CallStatus enroll, heartbeat, registration, usage;
};

class ControlPlane : public Introspector {
 public:
  // Starts the transport; with `enroll`, begins enrolling at once. Throws std::runtime_error
  // on a configuration it cannot use (startup only).
  static std::unique_ptr<ControlPlane> start(ControlPlaneOptions options, ControlPlaneHooks hooks);
  ~ControlPlane() override = default;

  virtual ControlPlaneStatus status() const = 0;
  // The mTLS contexts of the current identity (replaced at every renewal).
  virtual const tls::MeshContexts& contexts() const = 0;
  // Shared with usage delivery.
  virtual CpTransport& transport() = 0;
  // Usage delivery reports its outcome here so that status shows it.
  virtual void record_usage_result(const CallStatus& status) = 0;
  // Main thread, at shutdown: stops every timer and the transport; no hook runs after it
  // returns. Idempotent. From a hook (the transport thread) it only asks the thread to end.
  virtual void stop() = 0;
};

}  // namespace meshcache::agent::cp
