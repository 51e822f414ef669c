// outbox_test.cc: the replication outbox through the Store: scan, delete, drop and depths across
// restarts, namespace rows, the bound on rows, and exact counts under concurrency (test thread
// plus writer and deleter threads).
#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "storage/artifact_id.h"
#include "storage/keys.h"
#include "storage/outbox.h"
#include "test_support.h"

using namespace meshcache;
using namespace meshcache::storage;
using namespace meshcache::storage::test;

namespace {

constexpr uint64_t kChunk = 1024;
using Depths = std::map<std::string, uint64_t>;

WriteOptions to(std::vector<std::string> targets) {
  WriteOptions o;
  o.outbox_targets = std::move(targets);
  return o;
}

std::vector<OutboxRow> scan(Store& store, std::string_view target, uint64_t from = 0,
                            size_t limit = 1000) {
  auto rows = store.scan_outbox(target, from, limit);
  INFO(rows.status().message());
  REQUIRE(rows.ok());
  return std::move(rows).value();
}

std::vector<uint64_t> seqs_of(const std::vector<OutboxRow>& rows) {
  std::vector<uint64_t> out;
  for (const auto& row : rows) out.push_back(row.seq);
  return out;
}

}  // namespace

TEST_CASE("outbox rows scan in commit order, delete, drop, and keep their depths across restarts") {
  TempDir dir;
  fake_now = kT0;
  std::vector<uint64_t> seqs_a;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    CHECK(store->outbox_depths().empty());
    for (const char* key : {"one", "two", "three"}) {
      REQUIRE(put(*store, artifact(key), body(100), to({"https://a", "https://b"})).ok());
      fake_now += 10;
    }
    CHECK(store->outbox_depths() == Depths{{"https://a", 3}, {"https://b", 3}});
    CHECK(store->stats().outbox_rows == 6);

    auto rows = scan(*store, "https://a");
    REQUIRE(rows.size() == 3);
    seqs_a = seqs_of(rows);
    CHECK(std::is_sorted(seqs_a.begin(), seqs_a.end()));
    CHECK(rows[0].kind == OutboxRow::Kind::artifact);
    CHECK(rows[0].artifact_id == artifact_id(artifact("one")));
    CHECK(rows[0].version_ms == kT0);
    CHECK(rows[2].artifact_id == artifact_id(artifact("three")));
    CHECK(rows[2].version_ms == kT0 + 20);
    // From a sequence (inclusive), up to a limit; other targets' rows never show.
    CHECK(seqs_of(scan(*store, "https://a", seqs_a[1])) ==
          std::vector<uint64_t>{seqs_a[1], seqs_a[2]});
    CHECK(seqs_of(scan(*store, "https://a", 0, 2)) == std::vector<uint64_t>{seqs_a[0], seqs_a[1]});
    CHECK(scan(*store, "https://a", 0, 0).empty());
    CHECK(scan(*store, "https://", 0).empty());
    CHECK(scan(*store, "https://nobody").empty());

    // Missing rows (delivered before, or never there) are fine and not counted.
    const uint64_t deleted[] = {seqs_a[0], seqs_a[1], seqs_a[1], 999'999};
    REQUIRE(store->delete_outbox("https://a", deleted).ok());
    CHECK(seqs_of(scan(*store, "https://a")) == std::vector<uint64_t>{seqs_a[2]});
    REQUIRE(store->delete_outbox("https://a", deleted).ok());
    CHECK(store->outbox_depths() == Depths{{"https://a", 1}, {"https://b", 3}});
    CHECK(store->stats().outbox_rows == 4);
  }
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    CHECK(store->outbox_depths() == Depths{{"https://a", 1}, {"https://b", 3}});
    CHECK(store->stats().outbox_rows == 4);
    CHECK(seqs_of(scan(*store, "https://a")) == std::vector<uint64_t>{seqs_a[2]});
    REQUIRE(put(*store, artifact("four"), body(10), to({"https://a"})).ok());
    auto rows = scan(*store, "https://a");
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].seq > seqs_a[2]);  // sequences continue past those in use

    auto dropped = store->drop_outbox_target("https://b");
    REQUIRE(dropped.ok());
    CHECK(*dropped == 3);
    CHECK(store->drop_outbox_target("https://b").value() == 0);
    CHECK(scan(*store, "https://b").empty());
    CHECK(store->outbox_depths() == Depths{{"https://a", 2}});
    CHECK(store->stats().outbox_rows == 2);
  }
  auto store = open_store(small_options(dir.path(), kChunk));
  CHECK(store->outbox_depths() == Depths{{"https://a", 2}});
  CHECK(store->stats().outbox_rows == 2);
}

TEST_CASE("namespace-delete rows round trip beside artifact rows") {
  TempDir dir;
  fake_now = kT0;
  auto store = open_store(small_options(dir.path(), kChunk));
  // 31 bytes would make a naive (kind, version, namespace) row 40 bytes, an artifact row's size.
  const std::vector<std::string> namespaces = {"", std::string(31, 'n'), std::string(32, 'm'),
                                               std::string("with\0nul", 8), "web"};
  int64_t version = kT0 + 1000;
  for (const auto& ns : namespaces) {
    REQUIRE(store->delete_namespace("acme", ns, version++, {"https://a"}).value());
    REQUIRE(put(*store, artifact("k" + std::to_string(version)), "x", to({"https://a"})).ok());
  }
  auto rows = scan(*store, "https://a");
  REQUIRE(rows.size() == 2 * namespaces.size());
  for (size_t i = 0; i < namespaces.size(); ++i) {
    const auto& ns_row = rows[2 * i];
    INFO("namespace #" << i);
    CHECK(ns_row.kind == OutboxRow::Kind::namespace_delete);
    CHECK(ns_row.ns == namespaces[i]);
    CHECK(ns_row.version_ms == kT0 + 1000 + static_cast<int64_t>(i));
    CHECK(ns_row.artifact_id.empty());
    const auto& artifact_row = rows[2 * i + 1];
    CHECK(artifact_row.kind == OutboxRow::Kind::artifact);
    CHECK(artifact_row.artifact_id ==
          artifact_id(artifact("k" + std::to_string(kT0 + 1001 + static_cast<int64_t>(i)))));
    CHECK(artifact_row.ns.empty());
  }
  CHECK(store->stats().outbox_rows == 2 * namespaces.size());
  // An ignored (older) delete writes no rows.
  CHECK_FALSE(store->delete_namespace("acme", "web", kT0, {"https://a"}).value());
  CHECK(store->stats().outbox_rows == 2 * namespaces.size());
}

TEST_CASE("a full outbox refuses local writes before their body, never replicated ones") {
  TempDir dir;
  fake_now = kT0;
  auto options = small_options(dir.path(), kChunk);
  options.max_outbox_rows = 5;
  auto store = open_store(options);
  REQUIRE(put(*store, artifact("a"), "a", to({"p", "q"})).ok());
  REQUIRE(put(*store, artifact("b"), "b", to({"p", "q"})).ok());
  auto refused = store->begin_write(artifact("c"), to({"p", "q"}));
  CHECK(refused.status().code() == Code::unavailable);
  CHECK(refused.status().message() == "outbox is full: 4 rows waiting for peers");
  auto deleted = store->delete_namespace("acme", "web", kT0 + 10, {"p", "q"});
  CHECK(deleted.status().code() == Code::unavailable);
  CHECK(store->namespace_tombstone("acme", "web").value() == 0);
  // One more row still fits; writes without targets and replicated applies are not affected.
  REQUIRE(put(*store, artifact("c"), "c", to({"p"})).ok());
  CHECK(store->begin_write(artifact("d"), to({"p"})).status().code() == Code::unavailable);
  REQUIRE(put(*store, artifact("d"), "d").ok());
  auto options_r = replica(kT0 + 100);
  options_r.outbox_targets = {"p", "q"};
  REQUIRE(put(*store, artifact("e"), "e", options_r).ok());
  CHECK(store->stats().outbox_rows == 5);
  // Delivery makes room again.
  REQUIRE(store->drop_outbox_target("q").value() == 2);
  REQUIRE(put(*store, artifact("f"), "f", to({"p", "q"})).ok());
}

TEST_CASE("bad targets are refused everywhere") {
  TempDir dir;
  auto store = open_store(small_options(dir.path(), kChunk));
  const std::string nul("a\0b", 3);
  for (const std::string& target : {std::string(), nul}) {
    CHECK(store->scan_outbox(target, 0, 10).status().code() == Code::invalid_argument);
    const uint64_t seq = 1;
    CHECK(store->delete_outbox(target, {&seq, 1}).code() == Code::invalid_argument);
    CHECK(store->drop_outbox_target(target).status().code() == Code::invalid_argument);
    CHECK(store->begin_write(artifact("k"), to({target})).status().code() ==
          Code::invalid_argument);
  }
}

TEST_CASE("depths and the row count stay exact with concurrent writers and deleters") {
  TempDir dir;
  fake_now = kT0;
  constexpr int kWriters = 2, kWrites = 150;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    std::atomic<int> writers_done{0};
    std::atomic<bool> failed{false};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w)
      threads.emplace_back([&, w] {
        for (int i = 0; i < kWrites; ++i)
          if (!put(*store, artifact(std::to_string(w) + "/" + std::to_string(i)), "x",
                   to({"t", "u"}))
                   .ok())
            failed = true;
        ++writers_done;
      });
    // Two deleters deliver the same rows of "t": each row must be counted off exactly once.
    for (int d = 0; d < 2; ++d)
      threads.emplace_back([&] {
        for (;;) {
          const bool last_pass = writers_done.load() == kWriters;
          auto rows = store->scan_outbox("t", 0, 64);
          if (!rows.ok()) {
            failed = true;
            return;
          }
          auto seqs = seqs_of(*rows);
          if (!store->delete_outbox("t", seqs).ok()) failed = true;
          if (last_pass && rows->empty()) return;
        }
      });
    for (auto& t : threads) t.join();
    REQUIRE_FALSE(failed);
    CHECK(scan(*store, "t").empty());
    CHECK(store->outbox_depths() == Depths{{"u", kWriters * kWrites}});
    CHECK(store->stats().outbox_rows == kWriters * kWrites);
  }
  auto store = open_store(small_options(dir.path(), kChunk));
  CHECK(store->outbox_depths() == Depths{{"u", kWriters * kWrites}});
  CHECK(store->stats().outbox_rows == kWriters * kWrites);
}

TEST_CASE("a scan stops before a row whose batch is still being written") {
  TempDir dir;
  auto db = RocksDb::open(dir.path());
  REQUIRE(db.ok());
  Counters counters;
  Outbox outbox(**db, counters, 0);
  REQUIRE(outbox.load().ok());
  const std::vector<std::string> targets = {"t"};
  const auto value = keys::outbox_value(Digest{}, kT0);
  const auto write = [&](rocksdb::WriteBatch& batch) {
    REQUIRE((*db)->db()->Write(rocksdb::WriteOptions(), &batch).ok());
  };
  const auto seqs_from = [&](uint64_t from) {
    auto rows = outbox.scan("t", from, 10);
    REQUIRE(rows.ok());
    return seqs_of(*rows);
  };

  rocksdb::WriteBatch earlier, later;
  const uint64_t a = outbox.stage(earlier, targets, value.slice());
  const uint64_t b = outbox.stage(later, targets, value.slice());
  REQUIRE(a < b);
  // The later batch lands first: a reader that passed it would never come back for the other.
  write(later);
  outbox.settle(targets, b, true);
  CHECK(seqs_from(0).empty());
  write(earlier);
  outbox.settle(targets, a, true);
  CHECK(seqs_from(0) == std::vector<uint64_t>{a, b});

  // A batch that was never written holds nothing back and is not counted.
  rocksdb::WriteBatch lost, next;
  const uint64_t c = outbox.stage(lost, targets, value.slice());
  const uint64_t d = outbox.stage(next, targets, value.slice());
  write(next);
  outbox.settle(targets, d, true);
  CHECK(seqs_from(b + 1).empty());
  outbox.settle(targets, c, false);
  CHECK(seqs_from(b + 1) == std::vector<uint64_t>{d});
  CHECK(outbox.depths() == Depths{{"t", 3}});
  CHECK(counters.outbox_rows() == 3);
}
