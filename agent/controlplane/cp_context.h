// cp_context.h: what the control-plane client's parts share: the options, the hooks, the
// transport and the status board. The parts run on the CpTransport thread; the board is also
// read by status() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agent/controlplane/control_plane.h"
#include "agent/controlplane/cp_transport.h"

namespace meshcache::agent::cp {

// The status the parts write as they go; status() copies it.
class StatusBoard {
 public:
  template <typename F>
  void update(F&& change) {
    std::lock_guard lock(mu_);
    change(status_);
  }
  ControlPlaneStatus snapshot() const {
    std::lock_guard lock(mu_);
    return status_;
  }

 private:
  mutable std::mutex mu_;
  ControlPlaneStatus status_;
};

struct CpContext {
  const ControlPlaneOptions& options;
  const ControlPlaneHooks& hooks;
  CpTransport& transport;
  StatusBoard& board;
};

int64_t unix_now();
int64_t unix_after(std::chrono::milliseconds delay);
// "2026-01-31T12:00:00Z", for logs.
std::string utc_text(int64_t unix);

// The "error" string of a JSON error body ({"error":"ca_unavailable"}), or "".
std::string error_code(const std::string& body);
// One line for status and logs: "http 503 ca_unavailable", "http 500", or the transport
// error. Never includes the body beyond its error code (it could be anything).
std::string describe_reply(const CpReply& reply);

// `peers` without `node_url`, compared as exact strings once a trailing '/' is trimmed (as
// Kura does), in their order.
std::vector<std::string> without_self(std::vector<std::string> peers, std::string_view node_url);

// Records the outcome of one attempt of a periodic call.
void record_call(CallStatus& call, bool ok, std::string result,
                 std::optional<int64_t> next_attempt_unix);

}  // namespace meshcache::agent::cp
