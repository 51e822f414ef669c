// replication_metrics.cc: the mesh's Prometheus series (push, warm-up and internal-plane threads
// update; any thread renders). Targets and outcomes are few, so a mutex-guarded map is enough;
// the lag histogram, updated on every delivery, is lock-free.
#include "replication/replication_metrics.h"

#include <fmt/format.h>

namespace meshcache::replication {
namespace {

// A target URL as a label value: backslash, quote and newline must be escaped.
std::string label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void ReplicationMetrics::push_result(const std::string& target, std::string_view outcome,
                                     uint64_t rows) {
  std::lock_guard lock(mu_);
  pushes_[{target, std::string(outcome)}] += rows;
}

void ReplicationMetrics::apply_outcome(std::string_view outcome) {
  std::lock_guard lock(mu_);
  auto it = applies_.find(outcome);
  if (it == applies_.end()) it = applies_.emplace(std::string(outcome), 0).first;
  ++it->second;
}

void ReplicationMetrics::observe_lag(double seconds) {
  if (seconds < 0) seconds = 0;  // a peer's clock ahead of ours
  size_t i = 0;
  while (i < kLagBounds.size() && seconds > kLagBounds[i]) ++i;
  lag_buckets_[i].fetch_add(1, std::memory_order_relaxed);
  lag_count_.fetch_add(1, std::memory_order_relaxed);
  lag_sum_us_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void ReplicationMetrics::warmup_bytes(uint64_t bytes) {
  warmup_bytes_.fetch_add(bytes, std::memory_order_relaxed);
}

void ReplicationMetrics::render(std::string& out,
                                const std::map<std::string, uint64_t>& outbox_depths) const {
  {
    std::lock_guard lock(mu_);
    out += "# HELP meshcache_replication_pushes_total Outbox rows by target and outcome.\n";
    out += "# TYPE meshcache_replication_pushes_total counter\n";
    for (const auto& [key, n] : pushes_)
      out += fmt::format("meshcache_replication_pushes_total{{target=\"{}\",outcome=\"{}\"}} {}\n",
                         label(key.first), key.second, n);
    out += "# HELP meshcache_replication_applies_total Replicated applies received, by outcome.\n";
    out += "# TYPE meshcache_replication_applies_total counter\n";
    for (const auto& [outcome, n] : applies_)
      out += fmt::format("meshcache_replication_applies_total{{outcome=\"{}\"}} {}\n", outcome, n);
  }
  out += "# HELP meshcache_replication_outbox_rows Rows waiting for delivery, by target.\n";
  out += "# TYPE meshcache_replication_outbox_rows gauge\n";
  for (const auto& [target, n] : outbox_depths)
    out += fmt::format("meshcache_replication_outbox_rows{{target=\"{}\"}} {}\n", label(target), n);

  out +=
      "# HELP meshcache_replication_lag_seconds Client write committed to peer acknowledgement.\n";
  out += "# TYPE meshcache_replication_lag_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLagBounds.size(); ++i) {
    cumulative += lag_buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("meshcache_replication_lag_seconds_bucket{{le=\"{}\"}} {}\n", kLagBounds[i],
                       cumulative);
  }
  cumulative += lag_buckets_[kLagBounds.size()].load(std::memory_order_relaxed);
  out += fmt::format("meshcache_replication_lag_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out += fmt::format("meshcache_replication_lag_seconds_sum {:.6f}\n",
                     static_cast<double>(lag_sum_us_.load(std::memory_order_relaxed)) / 1e6);
  out += fmt::format("meshcache_replication_lag_seconds_count {}\n",
                     lag_count_.load(std::memory_order_relaxed));
  out += "# HELP meshcache_warmup_bytes_total Body bytes applied by join-time warm-up.\n";
  out += "# TYPE meshcache_warmup_bytes_total counter\n";
  out += fmt::format("meshcache_warmup_bytes_total {}\n",
                     warmup_bytes_.load(std::memory_order_relaxed));
}

}  // namespace meshcache::replication
