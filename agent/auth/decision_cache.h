// decision_cache.h: what the control plane said about each client token, keyed by the token's
// SHA-256 (the token itself is never kept), with the single-flight bookkeeping of lookups.
// Sharded by key, and fresh decisions are also copied per thread, so that the I/O loop threads
// serving one hot token do not meet on a lock; every method is thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/controlplane/introspection.h"

namespace meshcache::agent {

struct AuthCacheOptions {
  std::chrono::milliseconds allow_ttl{600000};  // MESHCACHE_AUTH_CACHE_TTL_MS
  std::chrono::milliseconds deny_ttl{3000};
  // After a failed lookup: no new one for this token meanwhile; also the 503's Retry-After.
  std::chrono::milliseconds failure_hold{2000};
  // How long past its expiry an allow may still serve while the control plane is unreachable.
  std::chrono::milliseconds stale_ceiling{3600000};
  size_t max_entries = 100000;  // random tokens cannot grow memory past this
  size_t max_in_flight = 1024;  // lookups beyond it fail at once (503) instead of queueing
};

// CLOCK_MONOTONIC_COARSE: read twice per request, it costs a quarter of the precise clock (in a
// VM), and its few milliseconds of resolution are nothing against TTLs of seconds.
struct CoarseClock {
  using rep = int64_t;
  using period = std::nano;
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<CoarseClock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept;
};

class DecisionCache {
 public:
  using Clock = CoarseClock;
  using Key = std::array<uint8_t, 32>;

  // Why the last lookup for a token brought no answer.
  enum class Failure : uint8_t { none, unreachable, client_rejected, busy };

  struct Verdict {
    enum class Kind : uint8_t {
      allowed,
      no_grant,  // active, but not for this tenant/namespace and access
      inactive,  // unknown, expired or revoked
      failed,    // the last lookup failed (see failure) and no allow may serve
      unknown,   // nothing held: no lookup has answered
    };
    Kind kind = Kind::unknown;
    Failure failure = Failure::none;
  };

  explicit DecisionCache(const AuthCacheOptions& options);

  // Whether a request with this token can be decided now without a new lookup.
  bool decidable(const Key& key, Clock::time_point now) const;
  // Read needs a read grant, write a write grant (write implies read); an account grant
  // covers every namespace of `tenant`, a project grant "tenant/ns" that one (both
  // case-insensitive); ns "" (tenant scope) needs an account grant.
  Verdict decide(const Key& key, std::string_view tenant, std::string_view ns, bool write,
                 Clock::time_point now) const;

  // Single flight: true when the caller must start the lookup and then call finish(). Otherwise
  // `ready` joins the lookup under way, or runs now (outside the lock) when the token has
  // become decidable or too many lookups are in flight (recorded as a `busy` failure).
  bool join(const Key& key, std::function<void()> ready, Clock::time_point now);
  // Records the answer and runs every waiter of the flight (outside the lock).
  void finish(const Key& key, const cp::Introspection& answer, Clock::time_point now);

  size_t decisions() const;  // allow and deny entries held

 private:
  enum class Decision : uint8_t { none, allow, deny };  // none: a failure marker only

  struct Entry {
    Decision decision = Decision::none;
    Failure failure = Failure::none;  // of the last lookup; cleared by an answer
    Clock::time_point fresh_until;    // of the decision
    Clock::time_point failure_until;  // end of the failure hold
    cp::CacheGrants grants;           // lowercase; allow only
    std::list<Key>::iterator age;     // position in the shard's write order
  };

  struct KeyHash {
    size_t operator()(const Key& key) const;
  };

  // Cache-line aligned so that threads on different shards do not share a line.
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    std::unordered_map<Key, Entry, KeyHash> entries;
    std::list<Key> order;  // oldest write first: evicted first
    std::unordered_map<Key, std::vector<std::function<void()>>, KeyHash> flights;
    size_t decisions = 0;
  };

  static constexpr size_t kShards = 32;

  static size_t shard_index(const Key& key) { return key[0] % kShards; }
  bool decidable_locked(const Shard& shard, const Key& key, const Entry* entry,
                        Clock::time_point now) const;
  bool stale_allow(const Entry& entry, Clock::time_point now) const;
  bool dead(const Entry& entry, Clock::time_point now) const;
  // The entry for `key`, created if needed (evicting the oldest when the shard is full) and
  // moved to the newest end of the write order.
  Entry& write(Shard& shard, const Key& key, Clock::time_point now);
  void set_decision(Shard& shard, Entry& entry, Decision decision);
  void record_failure(Shard& shard, const Key& key, Failure failure, Clock::time_point now);
  void erase_oldest(Shard& shard);

  const uint64_t id_;  // tells this cache's per-thread copies from another's
  const AuthCacheOptions options_;
  const size_t shard_capacity_;
  std::array<Shard, kShards> shards_;
  std::atomic<size_t> in_flight_{0};
};

}  // namespace meshcache::agent
