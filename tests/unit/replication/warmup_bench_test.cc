// warmup_bench_test.cc: warm-up throughput on loopback into a real store, from the fake peer
// (frames served from memory) and from a meshcache peer's own backfill routes (a second real
// store). Hidden: run with `replication_warmup_tests "[bench]"`; MESHCACHE_WARMUP_BENCH_MIB sets
// the size, 1024 by default. Test thread; the servers and the warm-up run their own.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "warmup_support.h"

namespace meshcache::replication::test {
namespace {

// Artifacts of 4 KiB..4 MiB (log-uniform sizes) adding up to the benchmark's size.
std::vector<Item> bench_items() {
  const char* env = std::getenv("MESHCACHE_WARMUP_BENCH_MIB");
  uint64_t total = (env ? std::strtoull(env, nullptr, 10) : 1024) << 20;
  std::string pool = bytes_of(8 << 20, 7);
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> log_size(std::log(4096.0), std::log(4194304.0));
  std::vector<Item> items;
  uint64_t bytes = 0;
  while (bytes < total) {
    auto size = static_cast<size_t>(std::exp(log_size(rng)));
    size_t offset = (items.size() * 4099) % (pool.size() - size);
    items.push_back(artifact(fmt::format("bench/{}", items.size()), pool.substr(offset, size),
                             1'700'000'000'000 - static_cast<int64_t>(items.size())));
    bytes += size;
  }
  return items;
}

void measure(const char* from, const std::string& url, const std::vector<Item>& items) {
  uint64_t bytes = 0;
  for (const Item& i : items) bytes += i.body.size();
  Node node;
  auto start = std::chrono::steady_clock::now();
  node.start({url});
  WarmupStatus st = node.settle(10min);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE(st.state == "done");
  REQUIRE(st.bytes_done == bytes);
  for (size_t i = 0; i < items.size(); i += items.size() / 16 + 1) {
    CHECK(node.local.body_of(items[i]) == items[i].body);
  }
  std::printf("warm-up from %s: %zu artifacts, %.1f MiB in %.2f s: %.1f MB/s\n", from, items.size(),
              bytes / 1048576.0, seconds, bytes / seconds / 1e6);
}

}  // namespace

TEST_CASE("warm-up throughput from the fake peer", "[.][bench]") {
  std::vector<Item> items = bench_items();
  FakePeer peer;
  peer.serve(items);
  measure("the fake peer", peer.url(), items);
}

TEST_CASE("warm-up throughput from a meshcache peer", "[.][bench]") {
  std::vector<Item> items = bench_items();
  RouterPeer peer;
  for (const Item& i : items) peer.source.put(i);
  measure("a meshcache peer", peer.url(), items);
}

}  // namespace meshcache::replication::test
