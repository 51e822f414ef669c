// usage_reporter.h: usage accounting for the control plane. record() runs on the I/O loop
// threads (hot path: no allocation once a key has been seen in a window, no shared lock);
// windows close and batches go out on the CpTransport thread; flush_open_window() runs on the
// main thread at shutdown.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "agent/controlplane/control_plane.h"
#include "agent/controlplane/cp_transport.h"
#include "storage/store.h"

namespace meshcache::agent::usage {

struct UsageOptions {
  std::string node_id;  // host of the node URL (stable across restarts)
  std::string region;
  std::chrono::seconds window{60};
  size_t max_batch = 5000;  // the control plane answers 413 above 5000 events
  std::string path = "/_internal/kura/usage";
  // First retry delay after a failed delivery, doubled up to retry_cap (with jitter).
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_cap{60000};
  // Test seam (never configured by users): Unix milliseconds; nullptr = the system clock.
  int64_t (*now_ms)() = nullptr;
};

// One aggregate per (tenant, namespace, direction, operation, protocol, artifact kind) and
// 60 s window. `write` = ingress/"write", else egress/"read".
class UsageReporter {
 public:
  // Delivers what an earlier run left in the outbox as soon as start() runs. `report` receives
  // each delivery's outcome for status (transport thread). Throws std::runtime_error when the
  // store cannot be read (startup only).
  static std::unique_ptr<UsageReporter> make(storage::Store& store, cp::CpTransport& transport,
                                             UsageOptions options,
                                             std::function<void(const cp::CallStatus&)> report);
  virtual ~UsageReporter() = default;

  virtual void record(std::string_view tenant, std::string_view ns, bool write,
                      std::string_view protocol, std::string_view artifact_kind,
                      uint64_t bytes) = 0;
  // Schedules window closing and delivery on the transport thread.
  virtual void start() = 0;
  // Shutdown, after the server has drained and before the transport stops: the open window is
  // closed early into the outbox so the next run delivers it.
  virtual void flush_open_window() = 0;
  virtual uint64_t outbox_events() const = 0;  // for status
};

}  // namespace meshcache::agent::usage
