// replication_metrics.h: the mesh's counters and lag histogram for /metrics. Updated from the
// push, warm-up and internal-plane threads; rendered on any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "storage/store.h"

namespace meshcache::replication {

class ReplicationMetrics {
 public:
  // Push results: outcome is "delivered", "failed" or "dropped" (a row a peer refused for
  // good, such as a producer a Kura peer does not know).
  void push_result(const std::string& target, std::string_view outcome, uint64_t rows = 1);
  // Applies received (pushes and warm-up): verdict names, plus "error".
  void apply_outcome(std::string_view outcome);
  // Client write committed → acknowledged by a peer, in seconds (sender side).
  void observe_lag(double seconds);
  void warmup_bytes(uint64_t bytes);

  void render(std::string& out, const std::map<std::string, uint64_t>& outbox_depths) const;

 private:
  static constexpr std::array<double, 12> kLagBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                        0.1,   0.25,   0.5,   1,    5,     30};
  mutable std::mutex mu_;  // guards the maps (a handful of targets and outcomes)
  std::map<std::pair<std::string, std::string>, uint64_t> pushes_;
  std::map<std::string, uint64_t, std::less<>> applies_;
  std::array<std::atomic<uint64_t>, kLagBounds.size() + 1> lag_buckets_{};
  std::atomic<uint64_t> lag_count_{0};
  std::atomic<uint64_t> lag_sum_us_{0};
  std::atomic<uint64_t> warmup_bytes_{0};
};

}  // namespace meshcache::replication
