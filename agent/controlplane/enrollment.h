// enrollment.h: getting and keeping the node's mesh identity: the first enrollment, renewal
// before expiry and re-enrollment when the mesh forgot the node (CpTransport thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "agent/controlplane/backoff.h"
#include "agent/controlplane/control_plane.h"
#include "agent/controlplane/cp_context.h"
#include "storage/status.h"
#include "tls/identity.h"
#include "tls/openssl_handles.h"

namespace meshcache::agent::cp {

class Enroller {
 public:
  // `enrolled` runs after each enrollment has been validated, written and swapped in.
  Enroller(CpContext ctx, tls::MeshContexts& contexts,
           std::function<void(const Enrollment&)> enrolled);

  void start();  // the first enrollment, now
  // The control plane says the node is no longer a mesh member: enroll again after `delay`
  // (the current identity stays in use meanwhile). Ignored while an attempt is in flight.
  void rejoin(std::chrono::milliseconds delay);

 private:
  void schedule_attempt(std::chrono::milliseconds delay);
  void attempt();
  void on_reply(const CpReply& reply);
  // Checks, writes and adopts a 201 answer; the error says which step failed.
  Status adopt(const std::string& body);
  void fail(const std::string& result, const std::string& advice = {});
  void fatal(const std::string& result, const std::string& message);
  // Why the control plane refused a first enrollment for good, or "" when it may be retried.
  std::string fatal_message(const CpReply& reply) const;

  CpContext ctx_;
  tls::MeshContexts& contexts_;
  std::function<void(const Enrollment&)> enrolled_cb_;
  Backoff backoff_;
  tls::PkeyPtr pending_key_;  // the key of the CSR in flight
  bool enrolled_ = false;     // an identity is in use, so failures are renewal failures
  bool in_flight_ = false;
  bool stopped_ = false;     // after a fatal answer
  uint64_t generation_ = 0;  // a scheduled attempt runs only if no newer one replaced it
};

}  // namespace meshcache::agent::cp
