// eviction_test.cc: capacity-bounded eviction in least-recently-read order, its counters, and
// its safety next to concurrent writers (test thread plus writer threads).
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "storage/artifact_id.h"
#include "storage/keys.h"
#include "test_support.h"

using namespace meshcache;
using namespace meshcache::storage;
using namespace meshcache::storage::test;

namespace {

constexpr uint64_t kChunk = 1024;

}  // namespace

TEST_CASE("eviction removes the least recently read artifacts first") {
  TempDir dir;
  auto options = small_options(dir.path(), kChunk);
  options.capacity_bytes = 10 * 1024;
  {
    auto store = open_store(options);
    fake_now = kT0;
    WriteOptions wo;
    wo.outbox_targets = {"peer"};
    for (const char* key : {"a", "b", "c"}) {
      REQUIRE(put(*store, artifact(key), body(3 * 1024), wo).ok());
      fake_now += 1000;
    }
    // A read within the refresh interval does not move "b" ahead of "c".
    auto b = store->head(artifact("b"));
    REQUIRE(b.ok());
    CHECK(store->read_all(*b).ok());
    CHECK(store->head(artifact("b"))->last_access_ms == b->last_access_ms);

    // Reading "a" after the interval makes it the most recently used.
    fake_now += RocksStore::kAccessRefreshMs;
    auto a = store->head(artifact("a"));
    REQUIRE(a.ok());
    CHECK(read_range(*store, *a, 0, 10) == body(3 * 1024).substr(0, 10));
    CHECK(store->head(artifact("a"))->last_access_ms == fake_now.load());

    fake_now += 1000;
    // 12 KiB > 10 KiB: evict "b" (oldest access) and stop at 9 KiB, 90% of capacity.
    REQUIRE(put(*store, artifact("d"), body(3 * 1024)).ok());
    CHECK(store->head(artifact("b")).status().code() == Code::not_found);
    for (const char* key : {"a", "c", "d"}) CHECK(store->head(artifact(key)).ok());
    auto stats = store->stats();
    CHECK(stats.evictions == 1);
    CHECK(stats.evicted_bytes == 3 * 1024);
    CHECK(stats.bytes == 9 * 1024);
    CHECK(stats.artifacts == 3);
    CHECK(stats.capacity_bytes == 10 * 1024);
    CHECK(stats.outbox_rows == 3);  // evictions never replicate

    // 12 KiB again: "c" is next; "a" was read more recently.
    fake_now += 1000;
    REQUIRE(put(*store, artifact("e"), body(3 * 1024)).ok());
    CHECK(store->head(artifact("c")).status().code() == Code::not_found);
    CHECK(store->head(artifact("a")).ok());
    CHECK(store->stats().evictions == 2);
  }
  CHECK(count_rows(dir.path(), Cf::chunks) == 3 * 3);
  CHECK(count_rows(dir.path(), Cf::access) == 3);
  CHECK(count_rows(dir.path(), Cf::outbox) == 3);

  SECTION("counters survive a reopen, and a smaller capacity evicts at open") {
    options.capacity_bytes = 4 * 1024;
    auto store = open_store(options);
    auto stats = store->stats();
    CHECK(stats.evictions == 2 + 2);
    CHECK(stats.evicted_bytes == 4 * 3 * 1024);
    CHECK(stats.artifacts == 1);
    CHECK(store->head(artifact("e")).ok());
  }
}

TEST_CASE("an eviction pass deletes access rows that name no artifact") {
  TempDir dir;
  auto options = small_options(dir.path(), kChunk);
  options.capacity_bytes = 8 * 1024;
  {
    auto store = open_store(options);
    REQUIRE(put(*store, artifact("old"), body(3 * 1024)).ok());
    fake_now += 1000;
    REQUIRE(put(*store, artifact("new"), body(3 * 1024)).ok());
  }
  {
    // The row a lost access refresh leaves: older than every real row, no manifest behind it.
    auto db = RocksDb::open(dir.path());
    REQUIRE(db.ok());
    auto stale = keys::access(1, artifact_digest(artifact("ghost")));
    REQUIRE(
        (*db)->db()->Put(rocksdb::WriteOptions(), (*db)->cf(Cf::access), stale.slice(), {}).ok());
  }
  REQUIRE(count_rows(dir.path(), Cf::access) == 3);
  {
    auto store = open_store(options);
    fake_now += 1000;
    REQUIRE(put(*store, artifact("third"), body(3 * 1024)).ok());
    CHECK(store->head(artifact("old")).status().code() == Code::not_found);
    CHECK(store->head(artifact("new")).ok());
    CHECK(store->stats().evictions == 1);
  }
  CHECK(count_rows(dir.path(), Cf::access) == 2);
}

TEST_CASE("eviction stays consistent with writers on several threads") {
  TempDir dir;
  auto options = small_options(dir.path(), kChunk);
  options.capacity_bytes = 64 * 1024;
  constexpr int kThreads = 4, kWrites = 150, kKeys = 40;
  {
    auto store = open_store(options);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kWrites; ++i) {
          // Keys overlap between threads, so overwrites race commits and evictions.
          auto key = "k" + std::to_string((i * 7 + t) % kKeys);
          auto m = put(*store, artifact(key), body(512 + (i * 397 + t * 911) % 6000, uint8_t(i)));
          if (!m.ok() && m.status().code() != Code::conflict) ++failures;
          auto h = store->head(artifact(key));
          if (h.ok()) {
            auto got = store->read_all(*h);
            // Evicted or overwritten between head and read: a miss, never corruption.
            if (!got.ok() && got.status().code() != Code::not_found) ++failures;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(failures == 0);

    auto stats = store->stats();
    CHECK(stats.bytes <= options.capacity_bytes);
    CHECK(stats.evictions > 0);
    uint64_t bytes = 0, artifacts = 0;
    for (int k = 0; k < kKeys; ++k) {
      auto h = store->head(artifact("k" + std::to_string(k)));
      if (!h.ok()) continue;
      bytes += h->size;
      ++artifacts;
      auto got = store->read_all(*h);
      REQUIRE(got.ok());
      CHECK(sha256_hex(*got) == h->sha256_hex);
    }
    CHECK(stats.bytes == bytes);
    CHECK(stats.artifacts == artifacts);
  }
  // Every surviving row belongs to a committed artifact: no orphans, no stale access rows.
  auto store = open_store(options);
  uint64_t chunks = 0, artifacts = store->stats().artifacts;
  for (int k = 0; k < kKeys; ++k) {
    auto h = store->head(artifact("k" + std::to_string(k)));
    if (h.ok() && !h->inline_body) chunks += chunk_count(h->size, kChunk);
  }
  store.reset();
  CHECK(count_rows(dir.path(), Cf::chunks) == chunks);
  CHECK(count_rows(dir.path(), Cf::access) == artifacts);
  CHECK(count_rows(dir.path(), Cf::manifests) == artifacts);
  CHECK(count_rows(dir.path(), Cf::meta, std::string(keys::kPendingPrefix)) == 0);
}
