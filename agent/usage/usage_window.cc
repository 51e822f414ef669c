// usage_window.cc: per-thread shards of usage sums (I/O loop threads) and the merge of ended
// windows (the closing thread).
#include "agent/usage/usage_window.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace meshcache::agent::usage {
namespace {

UsageKeyView view_of(const UsageKeyView& v) { return v; }
UsageKeyView view_of(const UsageKey& k) { return k.view(); }

// A per-process seed, so that a client choosing namespaces cannot aim them at one bucket.
const uint64_t kHashSeed = std::random_device{}() * 0x9e3779b97f4a7c15ull;

uint64_t mix(uint64_t h, uint64_t word) {
  h = (h ^ word) * 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 31);
}

// Transparent, so record() looks a key up by its string_views without building a UsageKey.
// Eight bytes a step: std::hash per field cost more than the rest of record() together.
struct KeyHash {
  using is_transparent = void;
  template <typename K>
  size_t operator()(const K& key) const {
    const UsageKeyView v = view_of(key);
    uint64_t h = kHashSeed ^ v.write;
    for (std::string_view part : {v.tenant, v.ns, v.protocol, v.artifact_kind}) {
      h = mix(h, part.size());
      size_t at = 0;
      for (; at + 8 <= part.size(); at += 8) {
        uint64_t word;
        std::memcpy(&word, part.data() + at, 8);
        h = mix(h, word);
      }
      if (at < part.size()) {
        uint64_t word = 0;  // a short loop: memcpy of a variable size is a libc call
        for (; at < part.size(); ++at) word = (word << 8) | static_cast<uint8_t>(part[at]);
        h = mix(h, word);
      }
    }
    return h;
  }
};

struct KeyEqual {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return view_of(a) == view_of(b);
  }
};

struct Totals {
  uint64_t bytes = 0;
  uint64_t requests = 0;
};

using Map = std::unordered_map<UsageKey, Totals, KeyHash, KeyEqual>;

auto order_of(const Aggregate& a) {
  const UsageKeyView v = a.key.view();
  return std::make_tuple(a.window_start, v.tenant, v.ns, v.write, v.protocol, v.artifact_kind);
}

std::atomic<uint64_t> next_window_id{1};

}  // namespace

struct UsageWindow::Shard {
  // Taken by the owning thread on every record and by the closing thread once a window.
  std::mutex mu;
  std::thread::id owner;
  int64_t window = 0;  // start of `open`'s window, Unix seconds
  // The same window in Unix ms, [from_ms, until_ms): record() compares rather than divides.
  int64_t from_ms = 0, until_ms = 0;
  Map open;
  // Windows this thread moved past before the closing thread took them (usually none or one).
  std::vector<std::pair<int64_t, Map>> ended;
};

namespace {

// Adds to `key`'s totals, or to its overflow key once `map` holds max_keys keys. Returns
// whether it folded.
bool add(Map& map, size_t max_keys, UsageKeyView key, Totals delta) {
  auto it = map.find(key);
  bool folded = false;
  if (it == map.end()) {
    if (map.size() >= max_keys) {
      key.ns = UsageWindow::kOverflowNamespace;
      folded = true;
      it = map.find(key);
    }
    // Overflow keys are few (tenants × directions × protocols × kinds), so they may pass the
    // cap rather than lose bytes.
    if (it == map.end()) it = map.emplace(UsageKey(key), Totals{}).first;
  }
  it->second.bytes += delta.bytes;
  it->second.requests += delta.requests;
  return folded;
}

}  // namespace

UsageWindow::UsageWindow(std::chrono::seconds window, size_t max_keys, Clock clock)
    : window_s_(std::max<int64_t>(1, window.count())),
      max_keys_(std::max<size_t>(1, max_keys)),
      clock_(clock),
      id_(next_window_id.fetch_add(1, std::memory_order_relaxed)) {}

UsageWindow::~UsageWindow() = default;

int64_t UsageWindow::window_start(int64_t now_ms) const {
  const int64_t seconds = now_ms / 1000;
  return seconds - seconds % window_s_;
}

UsageWindow::Shard& UsageWindow::local_shard() {
  // Plain thread_locals (no constructor, so no guard on access), tagged with the window's id:
  // a thread that outlives one UsageWindow never follows its pointer into the next.
  thread_local uint64_t owner_id = 0;
  thread_local Shard* shard = nullptr;
  if (owner_id != id_) [[unlikely]] {
    shard = &register_thread();
    owner_id = id_;
  }
  return *shard;
}

UsageWindow::Shard& UsageWindow::register_thread() {
  std::lock_guard guard(registry_mu_);
  const auto self = std::this_thread::get_id();
  for (auto& shard : shards_)
    if (shard->owner == self) return *shard;
  shards_.push_back(std::make_unique<Shard>());
  shards_.back()->owner = self;
  return *shards_.back();
}

void UsageWindow::record(const UsageKeyView& key, uint64_t bytes) {
  const int64_t now = clock_();
  Shard& shard = local_shard();
  bool folded;
  {
    std::lock_guard guard(shard.mu);
    if (now < shard.from_ms || now >= shard.until_ms) [[unlikely]] {
      if (!shard.open.empty()) shard.ended.emplace_back(shard.window, std::move(shard.open));
      shard.open.clear();
      shard.window = window_start(now);
      shard.from_ms = shard.window * 1000;
      shard.until_ms = (shard.window + window_s_) * 1000;
    }
    folded = add(shard.open, max_keys_, key, Totals{bytes, 1});
  }
  if (folded) [[unlikely]]
    note_overflow();
}

void UsageWindow::note_overflow() {
  if (overflow_logged_.load(std::memory_order_relaxed) || overflow_logged_.exchange(true)) return;
  spdlog::warn(
      "usage: more than {} distinct (tenant, namespace, direction, protocol, kind) keys in one "
      "{} s window; further new keys are summed under namespace \"{}\" (logged once)",
      max_keys_, window_s_, kOverflowNamespace);
}

std::vector<Aggregate> UsageWindow::take(int64_t before) {
  std::vector<std::pair<int64_t, Map>> taken;
  {
    std::lock_guard registry(registry_mu_);
    for (auto& shard : shards_) {
      std::lock_guard guard(shard->mu);
      for (auto& ended : shard->ended)
        if (ended.first < before) taken.push_back(std::move(ended));
      std::erase_if(shard->ended, [&](const auto& ended) { return ended.first < before; });
      if (shard->window < before && !shard->open.empty()) {
        taken.emplace_back(shard->window, std::move(shard->open));
        shard->open.clear();
      }
    }
  }

  std::map<int64_t, Map> merged;
  bool folded = false;
  for (auto& [window, map] : taken) {
    Map& into = merged[window];
    if (into.empty()) {
      into = std::move(map);
      continue;
    }
    for (const auto& [key, totals] : map) folded |= add(into, max_keys_, key.view(), totals);
  }
  if (folded) note_overflow();

  std::vector<Aggregate> out;
  for (auto& [window, map] : merged)
    for (auto& [key, totals] : map)
      out.push_back(Aggregate{window, key, totals.bytes, totals.requests});
  std::sort(out.begin(), out.end(),
            [](const Aggregate& a, const Aggregate& b) { return order_of(a) < order_of(b); });
  return out;
}

}  // namespace meshcache::agent::usage
