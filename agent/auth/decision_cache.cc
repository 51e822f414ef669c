// decision_cache.cc: the token decision cache (any thread; each shard behind its own mutex, and
// a per-thread copy of fresh decisions). A hit on the calling thread's copy takes no lock and
// writes no shared memory: a key compare and a few string compares against grants that were
// lowercased when they were stored.
#include "agent/auth/decision_cache.h"

#include <time.h>

#include <algorithm>
#include <cstring>

namespace meshcache::agent {
namespace {

using Clock = DecisionCache::Clock;

std::atomic<uint64_t> next_cache_id{1};

// A fresh decision copied to one thread. A mutex that every I/O thread takes for one hot token
// bounces its cache line between cores; the copy is used only within the decision's TTL, so it
// never says what the shared entry would not have said.
struct LocalDecision {
  uint64_t cache_id = 0;  // 0: empty
  DecisionCache::Key key{};
  bool allow = false;
  Clock::time_point fresh_until;
  cp::CacheGrants grants;
};

constexpr size_t kLocalSlots = 64;
thread_local std::array<LocalDecision, kLocalSlots> t_local;

LocalDecision& local_slot(const DecisionCache::Key& key) {
  return t_local[key[1] % kLocalSlots];  // key[0] picks the shard: use another byte
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `lower` is already lowercase.
bool iequals(std::string_view lower, std::string_view s) {
  if (lower.size() != s.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (lower[i] != ascii_lower(s[i])) return false;
  }
  return true;
}

bool covers(const std::vector<std::string>& accounts, const std::vector<std::string>& projects,
            std::string_view tenant, std::string_view ns) {
  for (const std::string& account : accounts) {
    if (iequals(account, tenant)) return true;
  }
  if (ns.empty()) return false;
  for (const std::string& project : projects) {
    std::string_view p = project;
    if (p.size() == tenant.size() + 1 + ns.size() && p[tenant.size()] == '/' &&
        iequals(p.substr(0, tenant.size()), tenant) && iequals(p.substr(tenant.size() + 1), ns)) {
      return true;
    }
  }
  return false;
}

DecisionCache::Verdict judge(bool allow, const cp::CacheGrants& g, std::string_view tenant,
                             std::string_view ns, bool write) {
  using Kind = DecisionCache::Verdict::Kind;
  if (!allow) return {Kind::inactive};
  bool allowed = covers(g.account_write, g.project_write, tenant, ns) ||
                 (!write && covers(g.account_read, g.project_read, tenant, ns));
  return {allowed ? Kind::allowed : Kind::no_grant};
}

void lowercase(std::vector<std::string>& list) {
  for (std::string& s : list) std::transform(s.begin(), s.end(), s.begin(), ascii_lower);
}

}  // namespace

CoarseClock::time_point CoarseClock::now() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

size_t DecisionCache::KeyHash::operator()(const Key& key) const {
  // The key is a SHA-256: any 8 of its bytes are already uniform.
  size_t h;
  std::memcpy(&h, key.data() + 8, sizeof h);
  return h;
}

DecisionCache::DecisionCache(const AuthCacheOptions& options)
    : id_(next_cache_id.fetch_add(1)),
      options_(options),
      shard_capacity_(std::max<size_t>(1, options.max_entries / kShards)) {}

bool DecisionCache::stale_allow(const Entry& entry, Clock::time_point now) const {
  // Only when the control plane could not be asked: a rejected node credential means the
  // control plane no longer vouches for this node's cache.
  return entry.decision == Decision::allow &&
         (entry.failure == Failure::unreachable || entry.failure == Failure::busy) &&
         now < entry.fresh_until + options_.stale_ceiling;
}

bool DecisionCache::dead(const Entry& entry, Clock::time_point now) const {
  bool keeps_allow =
      entry.decision == Decision::allow && now < entry.fresh_until + options_.stale_ceiling;
  bool fresh = entry.decision != Decision::none && now < entry.fresh_until;
  return !keeps_allow && !fresh && now >= entry.failure_until;
}

bool DecisionCache::decidable_locked(const Shard& shard, const Key& key, const Entry* entry,
                                     Clock::time_point now) const {
  if (entry == nullptr) return false;
  if (entry->decision != Decision::none && now < entry->fresh_until) return true;
  if (entry->failure == Failure::none) return false;
  if (now < entry->failure_until) return true;
  // The last lookup failed and a retry is under way: the stale allow serves meanwhile, so only
  // the request that started the retry waits for it.
  return stale_allow(*entry, now) && shard.flights.count(key) != 0;
}

bool DecisionCache::decidable(const Key& key, Clock::time_point now) const {
  LocalDecision& local = local_slot(key);
  if (local.cache_id == id_ && local.key == key && now < local.fresh_until) return true;
  const Shard& shard = shards_[shard_index(key)];
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  const Entry* entry = it == shard.entries.end() ? nullptr : &it->second;
  if (entry != nullptr && entry->decision != Decision::none && now < entry->fresh_until) {
    local.cache_id = id_;
    local.key = key;
    local.allow = entry->decision == Decision::allow;
    local.fresh_until = entry->fresh_until;
    local.grants = entry->grants;
    return true;
  }
  return decidable_locked(shard, key, entry, now);
}

DecisionCache::Verdict DecisionCache::decide(const Key& key, std::string_view tenant,
                                             std::string_view ns, bool write,
                                             Clock::time_point now) const {
  const LocalDecision& local = local_slot(key);
  if (local.cache_id == id_ && local.key == key && now < local.fresh_until) {
    return judge(local.allow, local.grants, tenant, ns, write);
  }
  const Shard& shard = shards_[shard_index(key)];
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return {};
  const Entry& entry = it->second;
  if (entry.decision != Decision::none && now < entry.fresh_until) {
    return judge(entry.decision == Decision::allow, entry.grants, tenant, ns, write);
  }
  if (stale_allow(entry, now)) return judge(true, entry.grants, tenant, ns, write);
  if (entry.failure != Failure::none) return {Verdict::Kind::failed, entry.failure};
  return {};
}

bool DecisionCache::join(const Key& key, std::function<void()> ready, Clock::time_point now) {
  Shard& shard = shards_[shard_index(key)];
  {
    std::unique_lock lock(shard.mutex);
    auto flight = shard.flights.find(key);
    if (flight != shard.flights.end()) {
      flight->second.push_back(std::move(ready));
      return false;
    }
    auto it = shard.entries.find(key);
    if (!decidable_locked(shard, key, it == shard.entries.end() ? nullptr : &it->second, now)) {
      if (in_flight_.fetch_add(1) < options_.max_in_flight) {
        shard.flights[key].push_back(std::move(ready));
        return true;
      }
      in_flight_.fetch_sub(1);
      record_failure(shard, key, Failure::busy, now);
    }
  }
  ready();
  return false;
}

void DecisionCache::finish(const Key& key, const cp::Introspection& answer, Clock::time_point now) {
  cp::CacheGrants grants;
  if (answer.outcome == cp::Introspection::Outcome::active) {
    grants = answer.grants;  // copied and lowercased before the lock is taken
    lowercase(grants.account_read);
    lowercase(grants.account_write);
    lowercase(grants.project_read);
    lowercase(grants.project_write);
  }
  std::vector<std::function<void()>> waiters;
  Shard& shard = shards_[shard_index(key)];
  {
    std::lock_guard lock(shard.mutex);
    switch (answer.outcome) {
      case cp::Introspection::Outcome::active:
      case cp::Introspection::Outcome::inactive: {
        bool active = answer.outcome == cp::Introspection::Outcome::active;
        Entry& entry = write(shard, key, now);
        set_decision(shard, entry, active ? Decision::allow : Decision::deny);
        entry.fresh_until = now + (active ? options_.allow_ttl : options_.deny_ttl);
        entry.failure = Failure::none;
        entry.grants = std::move(grants);
        break;
      }
      case cp::Introspection::Outcome::client_rejected:
        record_failure(shard, key, Failure::client_rejected, now);
        break;
      case cp::Introspection::Outcome::unreachable:
        record_failure(shard, key, Failure::unreachable, now);
        break;
    }
    auto flight = shard.flights.find(key);
    if (flight != shard.flights.end()) {
      waiters = std::move(flight->second);
      shard.flights.erase(flight);
    }
  }
  in_flight_.fetch_sub(1);
  for (auto& ready : waiters) ready();
}

size_t DecisionCache::decisions() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.decisions;
  }
  return total;
}

DecisionCache::Entry& DecisionCache::write(Shard& shard, const Key& key, Clock::time_point now) {
  auto it = shard.entries.find(key);
  if (it != shard.entries.end()) {
    shard.order.splice(shard.order.end(), shard.order, it->second.age);
    return it->second;
  }
  // Entries that can no longer serve leave first; a full shard drops its oldest regardless.
  for (int i = 0; i < 4 && !shard.order.empty(); ++i) {
    if (!dead(shard.entries.find(shard.order.front())->second, now)) break;
    erase_oldest(shard);
  }
  if (shard.entries.size() >= shard_capacity_) erase_oldest(shard);
  shard.order.push_back(key);
  Entry& entry = shard.entries[key];
  entry.age = std::prev(shard.order.end());
  return entry;
}

void DecisionCache::set_decision(Shard& shard, Entry& entry, Decision decision) {
  if (entry.decision == Decision::none) ++shard.decisions;
  entry.decision = decision;
}

void DecisionCache::record_failure(Shard& shard, const Key& key, Failure failure,
                                   Clock::time_point now) {
  Entry& entry = write(shard, key, now);
  entry.failure = failure;
  entry.failure_until = now + options_.failure_hold;
}

void DecisionCache::erase_oldest(Shard& shard) {
  auto it = shard.entries.find(shard.order.front());
  if (it->second.decision != Decision::none) --shard.decisions;
  shard.entries.erase(it);
  shard.order.pop_front();
}

}  // namespace meshcache::agent
