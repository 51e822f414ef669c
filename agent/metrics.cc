// metrics.cc: the node's Prometheus counters. record_*() run on the I/O loop threads without a
// lock: each thread adds to its own shard of relaxed atomics (fixed label sets indexed by small
// enums), and render() (any thread) sums the shards.
#include "agent/metrics.h"

#include <fmt/format.h>

#include <array>
#include <atomic>

namespace meshcache::agent {
namespace {

// The public port's route labels (agent/cache/cache_handler.h) plus the peer plane; anything
// else is counted as "other" rather than growing the label set.
constexpr std::array<std::string_view, 18> kRoutes = {
    "bazel_ac",     "bazel_cas",     "ccache", "gradle",           "turbo_artifact",
    "turbo_status", "turbo_events",  "nx",     "xcode_cas",        "xcode_keyvalue",
    "module",       "module_upload", "metro",  "namespace_delete", "probe",
    "not_found",    "internal",      "other"};
constexpr std::array<std::string_view, 6> kMethods = {"GET",  "HEAD",   "PUT",
                                                      "POST", "DELETE", "OTHER"};
constexpr std::array<std::string_view, 5> kStatusClasses = {"1xx", "2xx", "3xx", "4xx", "5xx"};
// Upper bounds in seconds; printed from the strings so `le` labels stay exact.
constexpr std::array<double, 16> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                             0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                             1,      2.5,     5,      10};
constexpr std::array<std::string_view, 16> kBucketLabels = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",   "0.1",     "0.25",   "0.5",   "1",      "2.5",   "5",    "10"};
constexpr size_t kShards = 8;

using Counter = std::atomic<uint64_t>;

struct RouteCounters {
  Counter requests[kMethods.size()][kStatusClasses.size()] = {};
  Counter bytes_in{0};
  Counter bytes_out{0};
  Counter buckets[kBuckets.size() + 1] = {};  // per bucket, not cumulative; the last is +Inf
  Counter latency_ns{0};
};

// Per-thread counters, on their own cache lines.
struct alignas(64) Shard {
  RouteCounters routes[kRoutes.size()];
  Counter hits{0};
  Counter misses{0};
};

template <size_t N>
size_t index_of(const std::array<std::string_view, N>& labels, std::string_view label) {
  for (size_t i = 0; i + 1 < N; ++i) {
    if (labels[i] == label) return i;
  }
  return N - 1;  // "other" / "OTHER"
}

// Shard of the calling thread, assigned round-robin on first use. Any shard is correct (render
// sums them all); spreading threads only keeps them off each other's cache lines.
size_t shard_of_this_thread() {
  static std::atomic<size_t> next{0};
  thread_local size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return index;
}

void add(Counter& counter, uint64_t n) { counter.fetch_add(n, std::memory_order_relaxed); }
uint64_t get(const Counter& counter) { return counter.load(std::memory_order_relaxed); }

}  // namespace

struct Metrics::Impl {
  std::array<Shard, kShards> shards;
  std::atomic<const http::ServerCounters*> server{nullptr};

  Shard& mine() { return shards[shard_of_this_thread()]; }

  template <typename F>
  uint64_t sum(F field) const {
    uint64_t total = 0;
    for (const Shard& shard : shards) total += get(field(shard));
    return total;
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::record_request(std::string_view route, std::string_view method, int status,
                             uint64_t bytes_in, uint64_t bytes_out, double seconds) {
  RouteCounters& r = impl_->mine().routes[index_of(kRoutes, route)];
  size_t status_class = status >= 100 && status < 600 ? static_cast<size_t>(status / 100 - 1) : 4;
  add(r.requests[index_of(kMethods, method)][status_class], 1);
  if (bytes_in != 0) add(r.bytes_in, bytes_in);
  if (bytes_out != 0) add(r.bytes_out, bytes_out);
  size_t bucket = 0;
  while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
  add(r.buckets[bucket], 1);
  add(r.latency_ns, seconds > 0 ? static_cast<uint64_t>(seconds * 1e9) : 0);
}

void Metrics::record_hit() { add(impl_->mine().hits, 1); }
void Metrics::record_miss() { add(impl_->mine().misses, 1); }
uint64_t Metrics::hits() const {
  return impl_->sum([](const Shard& s) -> const Counter& { return s.hits; });
}
uint64_t Metrics::misses() const {
  return impl_->sum([](const Shard& s) -> const Counter& { return s.misses; });
}

uint64_t Metrics::requests() const {
  uint64_t total = 0;
  for (const Shard& shard : impl_->shards) {
    for (const RouteCounters& r : shard.routes) {
      for (const auto& by_method : r.requests) {
        for (const Counter& c : by_method) total += get(c);
      }
    }
  }
  return total;
}

void Metrics::set_server_counters(const http::ServerCounters* counters) {
  impl_->server.store(counters, std::memory_order_release);
}

std::string Metrics::render(const storage::StoreStats& store) const {
  fmt::memory_buffer out;
  auto family = [&out](std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto sample = [&out](std::string_view name, uint64_t value) {
    fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
  };
  auto route_sum = [this](size_t route, auto field) {
    return impl_->sum([&](const Shard& s) -> const Counter& { return field(s.routes[route]); });
  };

  family("meshcache_http_requests_total", "counter",
         "Requests answered on the public port, by route, method and status class.");
  std::array<uint64_t, kRoutes.size()> per_route{};
  for (size_t r = 0; r < kRoutes.size(); ++r) {
    for (size_t m = 0; m < kMethods.size(); ++m) {
      for (size_t c = 0; c < kStatusClasses.size(); ++c) {
        uint64_t n = route_sum(
            r, [&](const RouteCounters& rc) -> const Counter& { return rc.requests[m][c]; });
        if (n == 0) continue;
        per_route[r] += n;
        fmt::format_to(std::back_inserter(out),
                       "meshcache_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} "
                       "{}\n",
                       kRoutes[r], kMethods[m], kStatusClasses[c], n);
      }
    }
  }

  family("meshcache_http_request_bytes_total", "counter", "Request body bytes received, by route.");
  for (size_t r = 0; r < kRoutes.size(); ++r) {
    if (per_route[r] == 0) continue;
    fmt::format_to(
        std::back_inserter(out), "meshcache_http_request_bytes_total{{route=\"{}\"}} {}\n",
        kRoutes[r],
        route_sum(r, [](const RouteCounters& rc) -> const Counter& { return rc.bytes_in; }));
  }
  family("meshcache_http_response_bytes_total", "counter",
         "Response body bytes sent (as announced), by route.");
  for (size_t r = 0; r < kRoutes.size(); ++r) {
    if (per_route[r] == 0) continue;
    fmt::format_to(
        std::back_inserter(out), "meshcache_http_response_bytes_total{{route=\"{}\"}} {}\n",
        kRoutes[r],
        route_sum(r, [](const RouteCounters& rc) -> const Counter& { return rc.bytes_out; }));
  }

  family("meshcache_http_request_duration_seconds", "histogram",
         "Time from a request's headers to its response headers, by route.");
  for (size_t r = 0; r < kRoutes.size(); ++r) {
    if (per_route[r] == 0) continue;
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= kBuckets.size(); ++b) {
      cumulative +=
          route_sum(r, [&](const RouteCounters& rc) -> const Counter& { return rc.buckets[b]; });
      fmt::format_to(
          std::back_inserter(out),
          "meshcache_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
          kRoutes[r], b < kBuckets.size() ? kBucketLabels[b] : "+Inf", cumulative);
    }
    uint64_t ns =
        route_sum(r, [](const RouteCounters& rc) -> const Counter& { return rc.latency_ns; });
    fmt::format_to(std::back_inserter(out),
                   "meshcache_http_request_duration_seconds_sum{{route=\"{}\"}} {:.9f}\n"
                   "meshcache_http_request_duration_seconds_count{{route=\"{}\"}} {}\n",
                   kRoutes[r], static_cast<double>(ns) / 1e9, kRoutes[r], cumulative);
  }

  family("meshcache_cache_hits_total", "counter", "Artifact reads answered from the store.");
  sample("meshcache_cache_hits_total", hits());
  family("meshcache_cache_misses_total", "counter", "Artifact reads that found nothing (404).");
  sample("meshcache_cache_misses_total", misses());

  family("meshcache_store_bytes", "gauge", "Sum of committed body sizes.");
  sample("meshcache_store_bytes", store.bytes);
  family("meshcache_store_artifacts", "gauge", "Artifacts in the store.");
  sample("meshcache_store_artifacts", store.artifacts);
  family("meshcache_store_capacity_bytes", "gauge", "Store bound (0 = unbounded).");
  sample("meshcache_store_capacity_bytes", store.capacity_bytes);
  family("meshcache_store_evictions_total", "counter", "Artifacts evicted to stay under capacity.");
  sample("meshcache_store_evictions_total", store.evictions);
  family("meshcache_store_evicted_bytes_total", "counter", "Body bytes evicted.");
  sample("meshcache_store_evicted_bytes_total", store.evicted_bytes);
  family("meshcache_store_outbox_rows", "gauge", "Replication rows not yet acknowledged by peers.");
  sample("meshcache_store_outbox_rows", store.outbox_rows);

  if (const http::ServerCounters* server = impl_->server.load(std::memory_order_acquire)) {
    family("meshcache_server_connections_accepted_total", "counter", "Connections accepted.");
    sample("meshcache_server_connections_accepted_total", server->connections_accepted.load());
    family("meshcache_server_connections_open", "gauge", "Connections open now.");
    sample("meshcache_server_connections_open", server->connections_open.load());
    family("meshcache_server_requests_total", "counter", "Requests parsed by the HTTP server.");
    sample("meshcache_server_requests_total", server->requests.load());
    family("meshcache_server_protocol_errors_total", "counter",
           "Malformed requests and HTTP/2 protocol errors.");
    sample("meshcache_server_protocol_errors_total", server->protocol_errors.load());
  }
  return fmt::to_string(out);
}

}  // namespace meshcache::agent
