// registration_lease.h: the registration lease that lists this node's client-facing URL with
// the control plane (POST .../mesh/registrations; CpTransport thread).
#pragma once

#include <cstdint>
#include <string>

#include "agent/controlplane/cp_context.h"

namespace meshcache::agent::cp {

class RegistrationLease {
 public:
  // `node_id` is the host of the node URL, stable across restarts.
  RegistrationLease(CpContext ctx, std::string node_id);

  // Why the options allow no lease ("disabled: MESHCACHE_ADVERTISED_URL unset"), or "".
  static std::string disabled_reason(const ControlPlaneOptions& options);

  // One registration now, then one every registration_interval from the last answer. A
  // second call with the same tenant changes nothing.
  void start(const std::string& tenant_id);

 private:
  void send(uint64_t generation);
  void on_reply(uint64_t generation, const CpReply& reply);

  CpContext ctx_;
  std::string node_id_;
  std::string tenant_id_;
  uint64_t generation_ = 0;
};

}  // namespace meshcache::agent::cp
