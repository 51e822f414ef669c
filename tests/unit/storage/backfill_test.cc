// backfill_test.cc: the newest-first backfill index: its key layout and order, cursor paging,
// how commits, removals, evictions and tombstones keep it current, and its one-time build for a
// store that lacks it (test thread).
#include <catch2/catch.hpp>

#include "storage/artifact_id.h"
#include "storage/backfill_index.h"
#include "storage/keys.h"
#include "test_support.h"

using namespace meshcache;
using namespace meshcache::storage;
using namespace meshcache::storage::test;

namespace {

constexpr uint64_t kChunk = 1024;  // bodies up to 1 KiB are inline

std::vector<BackfillEntry> list_all(Store& store) {
  auto page = store.list_backfill("", 100'000);
  INFO(page.status().message());
  REQUIRE(page.ok());
  CHECK_FALSE(page->next_after);
  return std::move(page->entries);
}

std::vector<std::string> keys_of(const std::vector<BackfillEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.index_key);
  return out;
}

std::string expected_key(int64_t version, uint8_t kind, const std::string& record_id) {
  std::string key = "backfill/idx/";
  char be[8];
  keys::put_be64(be, ~static_cast<uint64_t>(version));
  key.append(be, 8);
  key.push_back(static_cast<char>(kind));
  return key + record_id;
}

void put_at(Store& store, const ArtifactRef& ref, size_t size, int64_t version) {
  auto m = put(store, ref, body(size), replica(version));
  INFO(m.status().message());
  REQUIRE(m.ok());
}

}  // namespace

TEST_CASE("the index lists newest first, then by kind byte, then by record id") {
  TempDir dir;
  fake_now = kT0;
  auto store = open_store(small_options(dir.path(), kChunk));
  CHECK(list_all(*store).empty());
  put_at(*store, in_ns("web", "z"), 10, kT0 + 100);
  put_at(*store, in_ns("web", "x1"), 3000, kT0 + 300);
  put_at(*store, in_ns("web", "y"), 6, kT0 + 300);
  put_at(*store, in_ns("web", "x2"), 2000, kT0 + 300);
  REQUIRE(store->delete_namespace("acme", "gone", kT0 + 200, {}).value());
  REQUIRE(store->delete_namespace("acme", "t300", kT0 + 300, {}).value());

  std::string x1 = artifact_id(in_ns("web", "x1")), x2 = artifact_id(in_ns("web", "x2"));
  uint64_t x1_size = 3000, x2_size = 2000;
  if (x2 < x1) {
    std::swap(x1, x2);
    std::swap(x1_size, x2_size);
  }
  const auto y = artifact_id(in_ns("web", "y")), z = artifact_id(in_ns("web", "z"));
  auto entries = list_all(*store);
  CHECK(keys_of(entries) == std::vector<std::string>{
                                expected_key(kT0 + 300, 1, x1), expected_key(kT0 + 300, 1, x2),
                                expected_key(kT0 + 300, 2, y), expected_key(kT0 + 300, 3, "t300"),
                                expected_key(kT0 + 200, 3, "gone"), expected_key(kT0 + 100, 2, z)});
  REQUIRE(entries.size() == 6);
  CHECK(entries[0].kind == BackfillKind::segment);
  CHECK(entries[0].record_id == x1);
  CHECK(entries[0].version_ms == kT0 + 300);
  CHECK(entries[0].size == x1_size);
  CHECK(entries[1].size == x2_size);
  CHECK(entries[2].kind == BackfillKind::inline_body);
  CHECK(entries[2].size == 6);
  CHECK(entries[3].kind == BackfillKind::tombstone);
  CHECK(entries[3].record_id == "t300");
  CHECK(entries[3].size == 0);
  CHECK(entries[4].record_id == "gone");
  CHECK(entries[4].version_ms == kT0 + 200);
  CHECK(entries[5].record_id == z);
  CHECK(entries[5].size == 10);
}

TEST_CASE("pages follow the cursor; a full page that nothing follows has no cursor") {
  TempDir dir;
  fake_now = kT0;
  auto store = open_store(small_options(dir.path(), kChunk));
  const int total = GENERATE(4, 5);
  for (int i = 0; i < total; ++i) put_at(*store, artifact(std::to_string(i)), 20, kT0 + i);
  const auto all = keys_of(list_all(*store));
  REQUIRE(all.size() == static_cast<size_t>(total));

  std::vector<std::string> paged;
  std::string after;
  for (int page_no = 0;; ++page_no) {
    REQUIRE(page_no < 3);
    auto page = store->list_backfill(after, 2);
    REQUIRE(page.ok());
    for (const auto& e : page->entries) paged.push_back(e.index_key);
    if (!page->next_after) {
      // 4 rows: the second page is full and still the last; 5 rows: a third page of one.
      CHECK(page_no == (total == 4 ? 1 : 2));
      break;
    }
    CHECK(*page->next_after == page->entries.back().index_key);
    CHECK(page->entries.size() == 2);
    after = *page->next_after;
  }
  CHECK(paged == all);

  // Past the last row, and a cursor that names no row but sorts within the index.
  auto end = store->list_backfill(all.back(), 2);
  REQUIRE(end.ok());
  CHECK(end->entries.empty());
  CHECK_FALSE(end->next_after);
  auto between = store->list_backfill(all[0] + "~", 100);
  REQUIRE(between.ok());
  CHECK(keys_of(between->entries) == std::vector<std::string>(all.begin() + 1, all.end()));
  auto fits = store->list_backfill("", total);
  REQUIRE(fits.ok());
  CHECK(fits->entries.size() == static_cast<size_t>(total));
  CHECK_FALSE(fits->next_after);

  CHECK(store->list_backfill("nope", 2).status().code() == Code::invalid_argument);
  CHECK(store->list_backfill("", 0).status().code() == Code::invalid_argument);
}

TEST_CASE("the index follows overwrites, removals, tombstones and evictions") {
  TempDir dir;
  fake_now = kT0;
  auto options = small_options(dir.path(), kChunk);
  options.capacity_bytes = 10 * 1024;
  auto store = open_store(options);
  const auto k = artifact("k");
  const auto id = artifact_id(k);

  REQUIRE(put(*store, k, "small").ok());
  CHECK(keys_of(list_all(*store)) == std::vector<std::string>{expected_key(kT0, 2, id)});
  fake_now += 10;
  REQUIRE(put(*store, k, body(3000)).ok());
  auto entries = list_all(*store);
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].index_key == expected_key(kT0 + 10, 1, id));
  CHECK(entries[0].size == 3000);
  REQUIRE(store->remove(k).ok());
  CHECK(list_all(*store).empty());

  // A newer tombstone replaces the older one's row; an ignored one changes nothing. Its purge
  // takes the removed artifacts' rows with it.
  put_at(*store, in_ns("a", "old"), 10, kT0 + 50);
  REQUIRE(store->delete_namespace("acme", "a", kT0 + 100, {}).value());
  REQUIRE(store->delete_namespace("acme", "a", kT0 + 200, {}).value());
  REQUIRE_FALSE(store->delete_namespace("acme", "a", kT0 + 150, {}).value());
  CHECK(keys_of(list_all(*store)) == std::vector<std::string>{expected_key(kT0 + 200, 3, "a")});

  // 4 × 3 KiB passes 10 KiB: the least recently read one is evicted, and its row with it.
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    fake_now += 1000;
    REQUIRE(put(*store, artifact("e" + std::to_string(i)), body(3 * 1024)).ok());
    ids.push_back(artifact_id(artifact("e" + std::to_string(i))));
  }
  REQUIRE(store->stats().evictions == 1);
  entries = list_all(*store);
  REQUIRE(entries.size() == 4);  // three artifacts and the tombstone
  for (const auto& e : entries) CHECK(e.record_id != ids[0]);
  CHECK(entries[0].record_id == ids[3]);
  CHECK(entries[3].kind == BackfillKind::tombstone);
}

TEST_CASE("a store without the index builds it at open, once") {
  TempDir dir;
  fake_now = kT0;
  std::vector<std::string> expected;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    put_at(*store, in_ns("web", "seg"), 5000, kT0 + 1);
    put_at(*store, in_ns("web", "inl"), 50, kT0 + 2);
    REQUIRE(put(*store, in_ns("web", "local"), "l").ok());
    REQUIRE(store->delete_namespace("acme", "old", kT0 - 5, {}).value());
    expected = keys_of(list_all(*store));
    REQUIRE(expected.size() == 4);
  }
  const std::string marker(keys::kBackfillBuilt);
  const std::string stale = backfill::key(kT0 + 9, BackfillKind::segment, std::string(64, 'f'));
  const std::string eight(8, '\0');
  {
    // What an older version left: no marker and no index (plus a row that must not survive).
    auto db = RocksDb::open(dir.path());
    REQUIRE(db.ok());
    auto* raw = (*db)->db();
    REQUIRE(raw->Delete(rocksdb::WriteOptions(), (*db)->cf(Cf::meta), marker).ok());
    for (const auto& key : expected)
      REQUIRE(raw->Delete(rocksdb::WriteOptions(), (*db)->cf(Cf::backfill), key).ok());
    REQUIRE(raw->Put(rocksdb::WriteOptions(), (*db)->cf(Cf::backfill), stale, eight).ok());
  }
  CHECK(count_rows(dir.path(), Cf::backfill) == 1);
  CHECK(count_rows(dir.path(), Cf::meta, marker) == 0);
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    CHECK(keys_of(list_all(*store)) == expected);
  }
  CHECK(count_rows(dir.path(), Cf::meta, marker) == 1);
  {
    // With the marker present, open() leaves the index alone.
    auto db = RocksDb::open(dir.path());
    REQUIRE(db.ok());
    REQUIRE((*db)->db()->Put(rocksdb::WriteOptions(), (*db)->cf(Cf::backfill), stale, eight).ok());
  }
  auto store = open_store(small_options(dir.path(), kChunk));
  CHECK(list_all(*store).size() == expected.size() + 1);
}
