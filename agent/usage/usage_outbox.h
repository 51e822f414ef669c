// usage_outbox.h: closed usage windows kept as events (the full event JSON) in the store's
// "usage" records until the control plane accepts them. append() runs on the transport thread
// and, at shutdown, on the main thread (it serializes itself); the rest on the transport thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/usage/usage_window.h"
#include "storage/status.h"
#include "storage/store.h"

namespace meshcache::agent::usage {

class UsageOutbox {
 public:
  // Rows: "e" + close sequence + index (fixed-width hex, so keys sort in close order) → event
  // JSON; and "s" → the next close sequence, which sorts after every event row.
  static constexpr std::string_view kSpace = "usage";

  // Reads the close sequence and counts the events an earlier run left. Throws
  // std::runtime_error when the store cannot be read (startup only).
  UsageOutbox(storage::Store& store, std::string node_id, std::string region,
              int64_t window_seconds);

  // Writes one close's aggregates as events, with the next close sequence, in one batch. A
  // close the store refused stays in memory and is written (first, with its own sequence) by
  // the next append().
  [[nodiscard]] Status append(std::vector<Aggregate> aggregates);
  // The oldest events (row key, event JSON), at most `limit`, in close order.
  Result<std::vector<storage::Store::Record>> oldest(size_t limit);
  [[nodiscard]] Status remove(std::span<const std::string> keys);
  uint64_t size() const { return size_.load(std::memory_order_relaxed); }

  // The POST body: {"schema_version":1,"node_id","region","events":[rows' JSON...]}.
  std::string batch_body(std::span<const storage::Store::Record> rows) const;

 private:
  [[nodiscard]] Status write_close(const std::vector<Aggregate>& aggregates);
  std::string event_json(const Aggregate& a, uint64_t seq) const;
  std::string event_id(const Aggregate& a, uint64_t seq) const;

  storage::Store& store_;
  const std::string node_id_;
  const std::string region_;
  const int64_t window_seconds_;
  std::mutex append_mu_;
  uint64_t next_seq_ = 0;                         // guarded by append_mu_
  std::deque<std::vector<Aggregate>> unwritten_;  // guarded by append_mu_
  std::atomic<uint64_t> size_{0};
};

}  // namespace meshcache::agent::usage
