// metrics_test.cc: lock-free counters and their Prometheus rendering (test threads).
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "agent/cache/cache_handler.h"
#include "agent/metrics.h"

using meshcache::agent::Metrics;

TEST_CASE("metrics render counters, histograms, store and server stats", "[metrics]") {
  Metrics metrics;
  metrics.record_request("bazel_cas", "GET", 200, 0, 1234, 0.0003);
  metrics.record_request("bazel_cas", "GET", 404, 0, 0, 0.002);
  metrics.record_request("bazel_cas", "PUT", 400, 99, 0, 20.0);
  metrics.record_request("made_up_route", "BREW", 999, 0, 0, 0.0);
  metrics.record_hit();
  metrics.record_miss();
  metrics.record_miss();
  CHECK(metrics.hits() == 1);
  CHECK(metrics.misses() == 2);
  CHECK(metrics.requests() == 4);

  meshcache::storage::StoreStats stats;
  stats.bytes = 42;
  stats.artifacts = 3;
  stats.evictions = 7;
  std::string text = metrics.render(stats);
  auto has = [&](const std::string& line) {
    INFO(line);
    CHECK(text.find(line) != std::string::npos);
  };
  has("# TYPE meshcache_http_requests_total counter\n");
  has("# HELP meshcache_http_requests_total ");
  has("meshcache_http_requests_total{route=\"bazel_cas\",method=\"GET\",status=\"2xx\"} 1\n");
  has("meshcache_http_requests_total{route=\"bazel_cas\",method=\"GET\",status=\"4xx\"} 1\n");
  has("meshcache_http_requests_total{route=\"bazel_cas\",method=\"PUT\",status=\"4xx\"} 1\n");
  has("meshcache_http_requests_total{route=\"other\",method=\"OTHER\",status=\"5xx\"} 1\n");
  has("meshcache_http_request_bytes_total{route=\"bazel_cas\"} 99\n");
  has("meshcache_http_response_bytes_total{route=\"bazel_cas\"} 1234\n");
  has("# TYPE meshcache_http_request_duration_seconds histogram\n");
  has("meshcache_http_request_duration_seconds_bucket{route=\"bazel_cas\",le=\"0.0005\"} 1\n");
  has("meshcache_http_request_duration_seconds_bucket{route=\"bazel_cas\",le=\"0.0025\"} 2\n");
  has("meshcache_http_request_duration_seconds_bucket{route=\"bazel_cas\",le=\"10\"} 2\n");
  has("meshcache_http_request_duration_seconds_bucket{route=\"bazel_cas\",le=\"+Inf\"} 3\n");
  has("meshcache_http_request_duration_seconds_count{route=\"bazel_cas\"} 3\n");
  has("meshcache_http_request_duration_seconds_sum{route=\"bazel_cas\"} 20.0023");
  has("meshcache_cache_hits_total 1\n");
  has("meshcache_cache_misses_total 2\n");
  has("meshcache_store_bytes 42\n");
  has("meshcache_store_artifacts 3\n");
  has("meshcache_store_evictions_total 7\n");
  CHECK(text.find("meshcache_server_") == std::string::npos);
  CHECK(text.find("route=\"nx\"") == std::string::npos);  // idle routes print nothing

  meshcache::http::ServerCounters server;
  server.connections_accepted = 5;
  server.connections_open = 2;
  metrics.set_server_counters(&server);
  text = metrics.render(stats);
  has("meshcache_server_connections_accepted_total 5\n");
  has("# TYPE meshcache_server_connections_open gauge\n");
  has("meshcache_server_connections_open 2\n");
}

TEST_CASE("metrics count exactly from many threads", "[metrics]") {
  Metrics metrics;
  constexpr int kThreads = 8, kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics] {
      for (int i = 0; i < kEach; ++i) {
        metrics.record_request("ccache", "GET", 200, 1, 2, 0.001);
        metrics.record_hit();
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(metrics.requests() == kThreads * kEach);
  CHECK(metrics.hits() == kThreads * kEach);
  std::string text = metrics.render({});
  CHECK(text.find("meshcache_http_requests_total{route=\"ccache\",method=\"GET\",status=\"2xx\"} "
                  "160000\n") != std::string::npos);
  CHECK(text.find("meshcache_http_response_bytes_total{route=\"ccache\"} 320000\n") !=
        std::string::npos);
}

TEST_CASE("every route label of the cache router is a known metrics label", "[metrics]") {
  namespace route = meshcache::agent::cache::route;
  for (std::string_view label :
       {route::bazel_ac, route::bazel_cas, route::ccache, route::gradle, route::turbo_artifact,
        route::turbo_status, route::turbo_events, route::nx, route::xcode_cas,
        route::xcode_keyvalue, route::module, route::module_upload, route::metro, route::probe,
        route::not_found}) {
    Metrics metrics;
    metrics.record_request(label, "GET", 200, 0, 0, 0.001);
    INFO(label);
    CHECK(metrics.render({}).find("route=\"" + std::string(label) + "\"") != std::string::npos);
  }
}
