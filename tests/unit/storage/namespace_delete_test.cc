// namespace_delete_test.cc: namespace tombstones (what they remove, keep and block, in either
// arrival order, across a restart) and the purge without a version (test thread).
#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "storage/keys.h"
#include "test_support.h"

using namespace meshcache;
using namespace meshcache::storage;
using namespace meshcache::storage::test;

namespace {

constexpr uint64_t kChunk = 1024;

}  // namespace

TEST_CASE("a tombstone removes older artifacts of its namespace and keeps everything else") {
  TempDir dir;
  fake_now = kT0;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    CHECK(store->namespace_tombstone("acme", "web").value() == 0);
    REQUIRE(put(*store, in_ns("web", "old-local"), body(kChunk * 2, 1)).ok());  // kT0
    REQUIRE(put(*store, in_ns("web", "old-replica"), "r", replica(kT0 + 400)).ok());
    REQUIRE(put(*store, in_ns("web", "at-tombstone"), "t", replica(kT0 + 500)).ok());
    REQUIRE(put(*store, in_ns("web", "newer"), "n", replica(kT0 + 501)).ok());
    REQUIRE(put(*store, in_ns("api", "other-ns"), "o").ok());
    REQUIRE(put(*store, ArtifactRef{"bazel", "other", "web", "other-tenant"}, "x").ok());
    REQUIRE(put(*store, ArtifactRef{"gradle", "acme", "web", "old-local"}, "g").ok());

    auto applied = store->delete_namespace("acme", "web", kT0 + 500, {});
    REQUIRE(applied.ok());
    CHECK(*applied);
    CHECK(store->namespace_tombstone("acme", "web").value() == kT0 + 500);
    CHECK(store->namespace_tombstone("acme", "api").value() == 0);
    CHECK(store->namespace_tombstone("other", "web").value() == 0);
    for (const char* gone : {"old-local", "old-replica", "at-tombstone"})
      CHECK(store->head(in_ns("web", gone)).status().code() == Code::not_found);
    CHECK(store->head(ArtifactRef{"gradle", "acme", "web", "old-local"}).status().code() ==
          Code::not_found);
    CHECK(store->head(in_ns("web", "newer")).ok());
    CHECK(store->head(in_ns("api", "other-ns")).ok());
    CHECK(store->head(ArtifactRef{"bazel", "other", "web", "other-tenant"}).ok());
    auto stats = store->stats();
    CHECK(stats.artifacts == 3);
    CHECK(stats.bytes == 3);
    CHECK(stats.evictions == 0);

    // An older or equal tombstone is Kura's ignored_older; a newer one replaces it.
    CHECK_FALSE(store->delete_namespace("acme", "web", kT0 + 500, {}).value());
    CHECK_FALSE(store->delete_namespace("acme", "web", kT0 + 100, {}).value());
    CHECK(store->namespace_tombstone("acme", "web").value() == kT0 + 500);
  }
  // The removed bodies' chunks went with them; the tombstone outlives a restart.
  CHECK(count_rows(dir.path(), Cf::chunks) == 0);
  CHECK(count_rows(dir.path(), Cf::tombstones) == 1);
  auto store = open_store(small_options(dir.path(), kChunk));
  CHECK(store->namespace_tombstone("acme", "web").value() == kT0 + 500);
  CHECK(store->begin_write(in_ns("web", "late"), replica(kT0 + 499)).status().message() ==
        "ignored_tombstone");
  CHECK(store->stats().artifacts == 3);
}

TEST_CASE("a tombstone wins over older applies in either arrival order") {
  TempDir dir;
  fake_now = kT0;
  auto store = open_store(small_options(dir.path(), kChunk));
  const auto ref = in_ns("web", "k");
  const bool delete_first = GENERATE(true, false);
  auto apply = [&](int64_t version) { return put(*store, ref, "v", replica(version)); };
  if (delete_first) {
    REQUIRE(store->delete_namespace("acme", "web", kT0 + 200, {}).value());
    auto late = apply(kT0 + 150);
    CHECK(late.status().message() == "ignored_tombstone");
  } else {
    REQUIRE(apply(kT0 + 150).ok());
    REQUIRE(store->delete_namespace("acme", "web", kT0 + 200, {}).value());
  }
  CHECK(store->head(ref).status().code() == Code::not_found);
  // A newer apply lands in both orders; the newest tombstone then takes it too.
  REQUIRE(apply(kT0 + 250).ok());
  CHECK(store->head(ref).ok());
  REQUIRE(store->delete_namespace("acme", "web", kT0 + 300, {}).value());
  CHECK(store->head(ref).status().code() == Code::not_found);
  CHECK(store->stats().artifacts == 0);
}

TEST_CASE("no artifact at or below a tombstone survives commits racing the delete") {
  TempDir dir;
  fake_now = kT0;
  auto store = open_store(small_options(dir.path(), kChunk));
  constexpr int kApplies = 400;
  constexpr int64_t kTombstone = kT0 + kApplies / 2;
  std::atomic<int> done{0};
  std::atomic<bool> failed{false};
  // Replicated applies of versions on both sides of the tombstone, and local writes, which
  // are stamped with the clock (below the tombstone) until it exists.
  std::thread applier([&] {
    for (int i = 1; i <= kApplies; ++i, ++done) {
      auto m =
          put(*store, in_ns("web", "r" + std::to_string(i)), body(kChunk + i), replica(kT0 + i));
      if (!m.ok() && m.status().message() != "ignored_tombstone") failed = true;
    }
  });
  std::thread writer([&] {
    for (int i = 0; i < kApplies; ++i)
      if (!put(*store, in_ns("web", "l" + std::to_string(i)), body(kChunk + i)).ok()) failed = true;
  });
  while (done.load() < kApplies / 4) std::this_thread::yield();
  auto applied = store->delete_namespace("acme", "web", kTombstone, {});
  applier.join();
  writer.join();
  REQUIRE_FALSE(failed);
  REQUIRE(applied.ok());
  CHECK(*applied);
  for (int i = 1; i <= kApplies; ++i) {
    INFO("replicated version " << kT0 + i);
    CHECK(store->head(in_ns("web", "r" + std::to_string(i))).ok() == (kT0 + i > kTombstone));
  }
  uint64_t artifacts = kApplies / 2;
  for (int i = 0; i < kApplies; ++i) {
    auto m = store->head(in_ns("web", "l" + std::to_string(i)));
    if (!m.ok()) continue;
    ++artifacts;
    CHECK(m->version_ms > kTombstone);
  }
  CHECK(store->stats().artifacts == artifacts);
}

TEST_CASE("a namespace larger than one scan round is removed completely") {
  TempDir dir;
  fake_now = kT0;
  auto store = open_store(small_options(dir.path(), kChunk));
  constexpr int kArtifacts = 4096 + 300;  // more than one round of the purge's scan
  for (int i = 0; i < kArtifacts; ++i)
    REQUIRE(put(*store, in_ns("big", std::to_string(i)), "b").ok());
  REQUIRE(put(*store, in_ns("small", "kept"), "k").ok());
  REQUIRE(store->delete_namespace("acme", "big", kT0, {}).value());
  CHECK(store->stats().artifacts == 1);
  CHECK(store->stats().bytes == 1);
  for (int i : {0, 4095, 4096, kArtifacts - 1})
    CHECK(store->head(in_ns("big", std::to_string(i))).status().code() == Code::not_found);
}

TEST_CASE("a delete without a version purges the namespace and leaves no tombstone") {
  TempDir dir;
  fake_now = kT0;
  auto store = open_store(small_options(dir.path(), kChunk));
  REQUIRE(put(*store, in_ns("web", "a"), body(kChunk * 3)).ok());
  REQUIRE(put(*store, in_ns("web", "far-future"), "f", replica(kT0 * 2)).ok());
  REQUIRE(put(*store, in_ns("api", "kept"), "k").ok());
  const std::optional<int64_t> version = GENERATE(std::optional<int64_t>(), int64_t{0});
  auto purged = store->delete_namespace("acme", "web", version, {"https://peer"});
  REQUIRE(purged.ok());
  CHECK(*purged);
  CHECK(store->head(in_ns("web", "a")).status().code() == Code::not_found);
  CHECK(store->head(in_ns("web", "far-future")).status().code() == Code::not_found);
  CHECK(store->head(in_ns("api", "kept")).ok());
  CHECK(store->namespace_tombstone("acme", "web").value() == 0);
  CHECK(store->stats().outbox_rows == 0);  // a purge is never re-replicated
  CHECK(store->stats().artifacts == 1);
  // Nothing blocks later applies, of any version.
  CHECK(store->lww_verdict(in_ns("web", "a"), 1).value() == ApplyVerdict::applied);
  REQUIRE(put(*store, in_ns("web", "a"), "again", replica(0)).ok());
}

TEST_CASE("delete_namespace refuses bad input") {
  TempDir dir;
  auto store = open_store(small_options(dir.path(), kChunk));
  CHECK(store->delete_namespace(std::string("ac\0me", 5), "web", 5, {}).status().code() ==
        Code::invalid_argument);
  CHECK(store->delete_namespace("acme", "web", -1, {}).status().code() == Code::invalid_argument);
  CHECK(store->delete_namespace("acme", "web", 5, {""}).status().code() == Code::invalid_argument);
  CHECK(store->namespace_tombstone("acme", "web").value() == 0);
}
