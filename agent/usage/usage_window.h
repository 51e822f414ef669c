// usage_window.h: usage summed per key and aligned window. record() runs on the I/O loop
// threads, each into its own shard; take() runs on whichever thread closes windows (the
// transport thread, or the main thread at shutdown).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace meshcache::agent::usage {

// The six fields an aggregate is keyed by: direction and operation both follow `write`.
struct UsageKeyView {
  std::string_view tenant, ns, protocol, artifact_kind;
  bool write = false;
  bool operator==(const UsageKeyView&) const = default;
};

struct UsageKey {
  std::string tenant, ns, protocol, artifact_kind;
  bool write = false;

  explicit UsageKey(const UsageKeyView& v)
      : tenant(v.tenant),
        ns(v.ns),
        protocol(v.protocol),
        artifact_kind(v.artifact_kind),
        write(v.write) {}
  UsageKeyView view() const { return {tenant, ns, protocol, artifact_kind, write}; }
};

// One closed (or flushed) window's total for one key.
struct Aggregate {
  int64_t window_start = 0;  // Unix seconds, a multiple of the window length
  UsageKey key;
  uint64_t bytes = 0;
  uint64_t requests = 0;
};

class UsageWindow {
 public:
  using Clock = int64_t (*)();  // Unix milliseconds
  // Where keys beyond the per-window cap are summed. Not a valid project handle, so it never
  // mixes a real project's usage with the overflow.
  static constexpr std::string_view kOverflowNamespace = "_other";

  UsageWindow(std::chrono::seconds window, size_t max_keys, Clock clock);
  ~UsageWindow();
  UsageWindow(const UsageWindow&) = delete;
  UsageWindow& operator=(const UsageWindow&) = delete;

  // Hot path: a clock read, the calling thread's uncontended lock, and a lookup that allocates
  // only for a key new in this window.
  void record(const UsageKeyView& key, uint64_t bytes);

  int64_t now_ms() const { return clock_(); }
  // Start (Unix seconds) of the window open at `now_ms`.
  int64_t window_start(int64_t now_ms) const;
  int64_t window_seconds() const { return window_s_; }

  // Removes and returns every window that started before `before` (Unix seconds), merged
  // across threads, at most max_keys keys a window (the rest folded into the overflow
  // namespace), ordered by window then key.
  std::vector<Aggregate> take(int64_t before);

 private:
  struct Shard;

  Shard& local_shard();
  Shard& register_thread();
  void note_overflow();

  const int64_t window_s_;
  const size_t max_keys_;
  const Clock clock_;
  // Tells this window's shards from those of an earlier UsageWindow in the thread-local cache.
  const uint64_t id_;
  std::mutex registry_mu_;  // guards shards_ (not their contents)
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<bool> overflow_logged_{false};
};

}  // namespace meshcache::agent::usage
