// records_test.cc: the small durable records beside the artifacts: round trip, key order,
// paging, deletion, spaces kept apart, persistence, and stores created before records existed
// (test thread).
#include <rocksdb/db.h>

#include <algorithm>

#include <catch2/catch.hpp>

#include "test_support.h"

using namespace meshcache;
using namespace meshcache::storage;
using namespace meshcache::storage::test;

namespace {

using Records = std::vector<Store::Record>;

Records scan(Store& store, std::string_view space, size_t limit = 1000,
             std::string_view after = {}) {
  auto rows = store.scan_records(space, limit, after);
  INFO(rows.status().message());
  REQUIRE(rows.ok());
  return std::move(rows).value();
}

void put(Store& store, std::string_view space, const Records& records) {
  Status s = store.put_records(space, records);
  INFO(s.message());
  REQUIRE(s.ok());
}

void erase(Store& store, std::string_view space, const std::vector<std::string>& keys) {
  Status s = store.delete_records(space, keys);
  INFO(s.message());
  REQUIRE(s.ok());
}

}  // namespace

TEST_CASE("records round-trip in bytewise key order") {
  TempDir dir;
  auto store = open_store(small_options(dir.path()));
  CHECK(scan(*store, "usage").empty());
  const std::string binary("\x00\x01", 2), high("\xff\x00", 2);
  put(*store, "usage", {{"b", "2"}, {high, "high"}, {"a", "1"}, {binary, "bin"}, {"ab", "x"}});
  CHECK(scan(*store, "usage") ==
        Records{{binary, "bin"}, {"a", "1"}, {"ab", "x"}, {"b", "2"}, {high, "high"}});

  // A put of an existing key replaces its value.
  put(*store, "usage", {{"a", "one"}});
  CHECK(scan(*store, "usage", 1) == Records{{binary, "bin"}});
  CHECK(scan(*store, "usage", 2, binary) == Records{{"a", "one"}, {"ab", "x"}});
}

TEST_CASE("scan pages with `after`, which need not be a stored key") {
  TempDir dir;
  auto store = open_store(small_options(dir.path()));
  Records all;
  for (int i = 0; i < 25; ++i)
    all.emplace_back((i < 10 ? "k00" : "k0") + std::to_string(i), std::to_string(i));
  put(*store, "usage", all);

  Records paged;
  std::string after;
  for (;;) {
    auto page = scan(*store, "usage", 7, after);
    if (page.empty()) break;
    CHECK(page.size() <= 7);
    after = page.back().first;
    paged.insert(paged.end(), page.begin(), page.end());
  }
  CHECK(paged == all);
  CHECK(scan(*store, "usage", 2, "k0105") == Records{{"k011", "11"}, {"k012", "12"}});
  CHECK(scan(*store, "usage", 5, "k024").empty());
  CHECK(scan(*store, "usage", 0).empty());
}

TEST_CASE("deleted records are gone, absent keys are ignored") {
  TempDir dir;
  auto store = open_store(small_options(dir.path()));
  put(*store, "usage", {{"a", "1"}, {"b", "2"}, {"c", "3"}});
  erase(*store, "usage", {"a", "c", "missing"});
  CHECK(scan(*store, "usage") == Records{{"b", "2"}});
  erase(*store, "usage", {});
  CHECK(scan(*store, "usage") == Records{{"b", "2"}});
}

TEST_CASE("spaces are isolated, even when one name prefixes another") {
  TempDir dir;
  auto store = open_store(small_options(dir.path()));
  put(*store, "u", {{"k", "u"}, {"z", "u"}});
  put(*store, "us", {{"k", "us"}});
  put(*store, "usage", {{"", "empty key"}, {"k", "usage"}});
  CHECK(scan(*store, "u") == Records{{"k", "u"}, {"z", "u"}});
  CHECK(scan(*store, "us") == Records{{"k", "us"}});
  CHECK(scan(*store, "usage") == Records{{"", "empty key"}, {"k", "usage"}});
  CHECK(scan(*store, "other").empty());

  erase(*store, "us", {"k"});
  CHECK(scan(*store, "us").empty());
  CHECK(scan(*store, "u").size() == 2);
  CHECK(scan(*store, "usage").size() == 2);
}

TEST_CASE("a space must be non-empty and free of NUL") {
  TempDir dir;
  auto store = open_store(small_options(dir.path()));
  const Records one{{"k", "v"}};
  CHECK(store->put_records("", one).code() == Code::invalid_argument);
  CHECK(store->put_records(std::string("a\0b", 3), one).code() == Code::invalid_argument);
  CHECK(store->scan_records("", 1, {}).status().code() == Code::invalid_argument);
  CHECK(store->delete_records("", std::vector<std::string>{"k"}).code() == Code::invalid_argument);
}

TEST_CASE("records survive a reopen, with fsync on") {
  TempDir dir;
  auto options = small_options(dir.path());
  options.fsync = true;
  {
    auto store = open_store(options);
    put(*store, "usage", {{"a", "1"}, {"b", "2"}});
    erase(*store, "usage", {"a"});
  }
  auto store = open_store(options);
  CHECK(scan(*store, "usage") == Records{{"b", "2"}});
}

TEST_CASE("a store created before the records family existed opens and gains it") {
  TempDir dir;
  const auto options = small_options(dir.path());
  {
    auto store = open_store(options);
    REQUIRE(test::put(*store, artifact("kept"), "body").ok());
  }
  {
    // Drop the family, leaving the store as an older build created it.
    auto db = RocksDb::open(dir.path());
    REQUIRE(db.ok());
    REQUIRE((*db)->db()->DropColumnFamily((*db)->cf(Cf::records)).ok());
  }
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
  REQUIRE(std::find(names.begin(), names.end(), "records") == names.end());

  auto store = open_store(options);
  CHECK(store->head(artifact("kept")).ok());
  CHECK(scan(*store, "usage").empty());
  put(*store, "usage", {{"a", "1"}});
  CHECK(scan(*store, "usage") == Records{{"a", "1"}});
}
