// usage_window_test.cc: sums across threads, window alignment, the key cap, and no allocation
// on the hot path once a key exists (test thread plus a few recording threads).
#include "agent/usage/usage_window.h"

#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "usage_test_support.h"

using namespace meshcache::agent::usage;
using meshcache::agent::usage::test::fake_clock;
using meshcache::agent::usage::test::fake_now_ms;
using meshcache::agent::usage::test::kWindowStart;

// Counts this thread's allocations, so a test can assert that a stretch of code made none.
namespace {
thread_local size_t allocations = 0;
}

void* operator new(size_t size) {
  ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// The nothrow forms too (Catch uses them), so that no block is freed by another family's
// delete (ASan checks).
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  ++allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

const Aggregate* find(const std::vector<Aggregate>& all, std::string_view ns, bool write = false) {
  for (const auto& a : all)
    if (a.key.ns == ns && a.key.write == write) return &a;
  return nullptr;
}

UsageKeyView key(std::string_view ns, bool write = false) {
  return {"acme", ns, "bazel", "cas", write};
}

}  // namespace

TEST_CASE("sums across threads, per key and direction") {
  fake_now_ms = kWindowStart * 1000 + 5000;
  UsageWindow window(std::chrono::seconds(60), 1000, fake_clock);
  constexpr int kThreads = 4, kRecords = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&window, t] {
      const std::string own = "thread" + std::to_string(t);
      for (int i = 0; i < kRecords; ++i) {
        window.record(key("web"), 10);
        window.record(key("web", true), 3);
      }
      window.record(key(own), 7);
    });
  for (auto& th : threads) th.join();

  auto all = window.take(std::numeric_limits<int64_t>::max());
  REQUIRE(all.size() == 2 + kThreads);
  const Aggregate* read = find(all, "web");
  REQUIRE(read);
  CHECK(read->bytes == 10ull * kThreads * kRecords);
  CHECK(read->requests == uint64_t{kThreads} * kRecords);
  CHECK(read->window_start == kWindowStart);
  CHECK(read->key.tenant == "acme");
  CHECK(read->key.protocol == "bazel");
  CHECK(read->key.artifact_kind == "cas");
  const Aggregate* write = find(all, "web", true);
  REQUIRE(write);
  CHECK(write->bytes == 3ull * kThreads * kRecords);
  for (int t = 0; t < kThreads; ++t) {
    const Aggregate* own = find(all, "thread" + std::to_string(t));
    REQUIRE(own);
    CHECK(own->bytes == 7);
    CHECK(own->requests == 1);
  }
  // Taken means gone.
  CHECK(window.take(std::numeric_limits<int64_t>::max()).empty());
}

TEST_CASE("windows are aligned, and take() leaves the ones not yet ended") {
  fake_now_ms = kWindowStart * 1000 + 59'999;
  UsageWindow window(std::chrono::seconds(60), 1000, fake_clock);
  CHECK(window.window_start(fake_now_ms) == kWindowStart);
  window.record(key("web"), 1);
  fake_now_ms = (kWindowStart + 60) * 1000;
  CHECK(window.window_start(fake_now_ms) == kWindowStart + 60);
  window.record(key("web"), 2);
  window.record(key("web"), 2);

  auto ended = window.take(kWindowStart + 60);
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].window_start == kWindowStart);
  CHECK(ended[0].bytes == 1);
  auto open = window.take(std::numeric_limits<int64_t>::max());
  REQUIRE(open.size() == 1);
  CHECK(open[0].window_start == kWindowStart + 60);
  CHECK(open[0].bytes == 4);
  CHECK(open[0].requests == 2);
}

TEST_CASE("keys past the cap fold into the overflow namespace, in a shard and in the merge") {
  fake_now_ms = kWindowStart * 1000 + 5000;
  UsageWindow window(std::chrono::seconds(60), 3, fake_clock);
  for (std::string_view ns : {"a", "b", "c", "d", "e"}) window.record(key(ns), 10);
  std::thread([&] {
    for (std::string_view ns : {"a", "f", "g"}) window.record(key(ns), 1);
  }).join();

  auto all = window.take(std::numeric_limits<int64_t>::max());
  REQUIRE(all.size() == 4);
  CHECK(find(all, "a")->bytes == 11);
  CHECK(find(all, "b")->bytes == 10);
  CHECK(find(all, "c")->bytes == 10);
  const Aggregate* other = find(all, UsageWindow::kOverflowNamespace);
  REQUIRE(other);
  CHECK(other->bytes == 22);  // d, e in the shard; f, g in the merge
  CHECK(other->requests == 4);
}

TEST_CASE("record() allocates nothing once its key exists in the window") {
  fake_now_ms = kWindowStart * 1000 + 5000;
  UsageWindow window(std::chrono::seconds(60), 1000, fake_clock);
  const std::string long_ns(100, 'n');  // longer than any small-string buffer
  const size_t first = allocations;
  window.record(key(long_ns), 1);
  window.record(key(long_ns, true), 1);
  CHECK(allocations > first);  // new keys (and this thread's shard) do allocate
  const size_t before = allocations;
  for (int i = 0; i < 1000; ++i) {
    window.record(key(long_ns), 1);
    window.record(key(long_ns, true), 1);
  }
  CHECK(allocations == before);
  CHECK(window.take(std::numeric_limits<int64_t>::max()).size() == 2);
}
