// lww_test.cc: the last-writer-wins gate: its outcomes, the re-checks of a replicated apply at
// begin_write and at commit, and local writes next to tombstones (test thread).
#include <catch2/catch.hpp>

#include "storage/artifact_id.h"
#include "storage/tombstones.h"
#include "test_support.h"

using namespace meshcache;
using namespace meshcache::storage;
using namespace meshcache::storage::test;

namespace {

constexpr uint64_t kChunk = 1024;

ApplyVerdict verdict(Store& store, const ArtifactRef& ref, int64_t version) {
  auto v = store.lww_verdict(ref, version);
  INFO(v.status().message());
  REQUIRE(v.ok());
  return *v;
}

// The message of a refused replicated begin_write, or "" when it was accepted.
std::string refusal(Store& store, const ArtifactRef& ref, int64_t version) {
  auto w = store.begin_write(ref, replica(version));
  if (w.ok()) return "";
  CHECK(w.status().code() == Code::conflict);
  return w.status().message();
}

}  // namespace

TEST_CASE("verdict names are Kura's outcome strings") {
  CHECK(verdict_name(ApplyVerdict::applied) == "applied");
  CHECK(verdict_name(ApplyVerdict::ignored_equal) == "ignored_equal");
  CHECK(verdict_name(ApplyVerdict::ignored_stale) == "ignored_stale");
  CHECK(verdict_name(ApplyVerdict::ignored_tombstone) == "ignored_tombstone");
}

TEST_CASE("the gate follows the contract's order: tombstone, then the stored version") {
  using V = ApplyVerdict;
  CHECK(lww_gate(5, std::nullopt, std::nullopt) == V::applied);
  CHECK(lww_gate(0, std::nullopt, std::nullopt) == V::applied);
  CHECK(lww_gate(6, std::nullopt, 5) == V::applied);
  CHECK(lww_gate(5, std::nullopt, 5) == V::ignored_equal);
  CHECK(lww_gate(4, std::nullopt, 5) == V::ignored_stale);
  CHECK(lww_gate(0, std::nullopt, 5) == V::ignored_stale);
  CHECK(lww_gate(10, 10, std::nullopt) == V::ignored_tombstone);
  CHECK(lww_gate(9, 10, std::nullopt) == V::ignored_tombstone);
  CHECK(lww_gate(0, 10, std::nullopt) == V::ignored_tombstone);
  CHECK(lww_gate(11, 10, std::nullopt) == V::applied);
  CHECK(lww_gate(11, 10, 11) == V::ignored_equal);
  CHECK(lww_gate(9, 10, 20) == V::ignored_tombstone);  // the tombstone is checked first
}

TEST_CASE("lww_verdict reads the manifest and the namespace's tombstone") {
  TempDir dir;
  auto store = open_store(small_options(dir.path(), kChunk));
  fake_now = kT0;
  const auto ref = artifact("k");
  CHECK(verdict(*store, ref, 0) == ApplyVerdict::applied);
  CHECK(verdict(*store, ref, 1) == ApplyVerdict::applied);
  auto local = put(*store, ref, "local");
  REQUIRE(local.ok());
  CHECK(verdict(*store, ref, kT0 + 1) == ApplyVerdict::applied);
  CHECK(verdict(*store, ref, kT0) == ApplyVerdict::ignored_equal);
  CHECK(verdict(*store, ref, kT0 - 1) == ApplyVerdict::ignored_stale);
  CHECK(verdict(*store, ref, 0) == ApplyVerdict::ignored_stale);

  // Another namespace's tombstone does not matter; this one's does, even with no local copy.
  REQUIRE(store->delete_namespace("acme", "other", kT0 + 100, {}).ok());
  CHECK(verdict(*store, ref, kT0 + 1) == ApplyVerdict::applied);
  REQUIRE(store->delete_namespace("acme", "web", kT0 + 100, {}).ok());
  CHECK(store->head(ref).status().code() == Code::not_found);
  CHECK(verdict(*store, ref, kT0 + 100) == ApplyVerdict::ignored_tombstone);
  CHECK(verdict(*store, ref, 0) == ApplyVerdict::ignored_tombstone);
  CHECK(verdict(*store, ref, kT0 + 101) == ApplyVerdict::applied);
  CHECK(store->lww_verdict(ref, -1).status().code() == Code::invalid_argument);
}

TEST_CASE("a replicated begin_write refuses what lost, with the verdict as its message") {
  TempDir dir;
  auto store = open_store(small_options(dir.path(), kChunk));
  fake_now = kT0;
  const auto ref = artifact("k");

  SECTION("version 0 is stamped now when there is no local copy, and stale when there is") {
    auto m = put(*store, ref, "first", replica(0));
    REQUIRE(m.ok());
    CHECK(m->version_ms == kT0);
    CHECK(m->origin == Origin::replica);
    CHECK(refusal(*store, ref, 0) == "ignored_stale");
  }
  SECTION("equal, older and tombstoned versions") {
    REQUIRE(put(*store, ref, "at 500", replica(kT0 + 500)).ok());
    CHECK(refusal(*store, ref, kT0 + 500) == "ignored_equal");
    CHECK(refusal(*store, ref, kT0 + 499) == "ignored_stale");
    REQUIRE(store->delete_namespace("acme", "web", kT0 + 1000, {}).value());
    CHECK(refusal(*store, ref, kT0 + 1000) == "ignored_tombstone");
    CHECK(refusal(*store, ref, 0) == "ignored_tombstone");
    CHECK(refusal(*store, ref, kT0 + 1001).empty());
  }
  SECTION(
      "the same version still streaming is retried, not acknowledged; a newer one is left "
      "to commit") {
    auto first = store->begin_write(ref, replica(kT0 + 10));
    REQUIRE(first.ok());
    // Its first attempt may never finish: acknowledging the retry would lose the artifact.
    auto retry = store->begin_write(ref, replica(kT0 + 10));
    CHECK(retry.status().code() == Code::unavailable);
    auto older = store->begin_write(ref, replica(kT0 + 5));
    REQUIRE(older.ok());
    REQUIRE((*first)->append(bytes_of("newer")).ok());
    REQUIRE((*first)->commit().ok());
    REQUIRE((*older)->append(bytes_of("older")).ok());
    auto lost = (*older)->commit();
    CHECK(lost.status().code() == Code::conflict);
    CHECK(lost.status().message() == "ignored_stale");
    CHECK(store->read_all(store->head(ref).value()).value() == "newer");
  }
  SECTION("outbox targets are ignored: what a node received is never forwarded") {
    auto options = replica(kT0 + 1);
    options.outbox_targets = {"https://peer"};
    REQUIRE(put(*store, ref, "received", options).ok());
    CHECK(store->stats().outbox_rows == 0);
    CHECK(store->outbox_depths().empty());
  }
}

TEST_CASE("commit re-checks a replicated apply against what landed while it streamed") {
  TempDir dir;
  fake_now = kT0;
  const auto ref = artifact("k");
  const auto big = body(kChunk * 3, 5);
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    SECTION("a newer version") {
      auto slow = store->begin_write(ref, replica(kT0 + 100));
      REQUIRE(slow.ok());
      REQUIRE((*slow)->append(bytes_of(big)).ok());
      REQUIRE(put(*store, ref, "newer", replica(kT0 + 200)).ok());
      auto lost = (*slow)->commit();
      CHECK(lost.status().code() == Code::conflict);
      CHECK(lost.status().message() == "ignored_stale");
      auto h = store->head(ref);
      REQUIRE(h.ok());
      CHECK(h->version_ms == kT0 + 200);
      CHECK(store->stats().artifacts == 1);
      CHECK(store->stats().bytes == 5);
    }
    SECTION("a namespace delete") {
      auto slow = store->begin_write(ref, replica(kT0 + 100));
      REQUIRE(slow.ok());
      REQUIRE((*slow)->append(bytes_of(big)).ok());
      REQUIRE(store->delete_namespace("acme", "web", kT0 + 100, {}).value());
      auto lost = (*slow)->commit();
      CHECK(lost.status().code() == Code::conflict);
      CHECK(lost.status().message() == "ignored_tombstone");
      CHECK(store->head(ref).status().code() == Code::not_found);
      CHECK(store->stats().artifacts == 0);
      CHECK(store->stats().bytes == 0);
    }
  }
  // The loser's chunks were discarded, not left behind.
  CHECK(count_rows(dir.path(), Cf::chunks) == 0);
}

TEST_CASE("local writes step over tombstones and lose to a newer one cleanly") {
  TempDir dir;
  fake_now = kT0;
  const auto ref = artifact("k");
  auto store = open_store(small_options(dir.path(), kChunk));
  WriteOptions pushed;
  pushed.outbox_targets = {"https://peer"};

  SECTION("a tombstone ahead of the clock does not block a client write") {
    REQUIRE(store->delete_namespace("acme", "web", kT0 + 5000, {}).value());
    auto m = put(*store, ref, "client", pushed);
    REQUIRE(m.ok());
    CHECK(m->version_ms == kT0 + 5001);
    CHECK(store->head(ref).ok());
    auto rows = store->scan_outbox("https://peer", 0, 10);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 1);
    CHECK((*rows)[0].version_ms == kT0 + 5001);
  }
  SECTION("a write overtaken by a newer namespace delete succeeds as deleted") {
    auto writer = store->begin_write(ref, pushed);
    REQUIRE(writer.ok());
    REQUIRE((*writer)->append(bytes_of(body(kChunk * 2))).ok());
    REQUIRE(store->delete_namespace("acme", "web", kT0 + 10, {}).value());
    auto m = (*writer)->commit();
    REQUIRE(m.ok());
    CHECK(m->version_ms == kT0);
    CHECK(store->head(ref).status().code() == Code::not_found);
    CHECK(store->stats().artifacts == 0);
    CHECK(store->stats().outbox_rows == 0);  // peers learn of the delete, not of this write
    CHECK(store->outbox_depths().empty());
  }
}

TEST_CASE("head_id finds a manifest by its hex id") {
  TempDir dir;
  auto store = open_store(small_options(dir.path(), kChunk));
  const auto ref = artifact("by-id");
  REQUIRE(put(*store, ref, "body").ok());
  auto m = store->head_id(artifact_id(ref));
  REQUIRE(m.ok());
  CHECK(m->key == "by-id");
  CHECK(m->artifact_id == artifact_id(ref));
  CHECK(store->head_id(artifact_id(artifact("absent"))).status().code() == Code::not_found);
  CHECK(store->head_id("xyz").status().code() == Code::invalid_argument);
  CHECK(store->head_id(artifact_id(ref) + "0").status().code() == Code::invalid_argument);
}
