// metrics.h: the node's counters and latency histograms, rendered as Prometheus text on
// /metrics. Updated lock-free from the I/O loop threads; rendered on any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/http/server.h"
#include "storage/store.h"

namespace meshcache::agent {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  // route: a fixed label such as "bazel_cas", "ccache", "turbo_artifact", "probe".
  void record_request(std::string_view route, std::string_view method, int status,
                      uint64_t bytes_in, uint64_t bytes_out, double seconds);
  void record_hit();
  void record_miss();
  uint64_t hits() const;
  uint64_t misses() const;
  uint64_t requests() const;
  // The server's counters are optional (set once the server is up).
  void set_server_counters(const http::ServerCounters* counters);
  std::string render(const storage::StoreStats& store) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meshcache::agent
