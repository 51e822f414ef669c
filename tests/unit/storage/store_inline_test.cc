// store_inline_test.cc: small bodies live in their manifest row: round trips around the inline
// limit, ranges, overwrites between the two forms, no chunk lookups, eviction (test thread).
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>
#include <catch2/catch.hpp>

#include "storage/keys.h"
#include "test_support.h"

using namespace meshcache;
using namespace meshcache::storage;
using namespace meshcache::storage::test;

namespace {

// The default chunk size, larger than the inline limit, so the limit is kInlineBytes itself.
constexpr uint64_t kChunk = 256 * 1024;
constexpr uint64_t kLimit = RocksStore::kInlineBytes;
const std::string kPending(keys::kPendingPrefix);

// Rows of one column family in an open store.
size_t live_rows(const RocksStore& store, Cf cf, const std::string& prefix = "") {
  std::unique_ptr<rocksdb::Iterator> it(
      store.db().db()->NewIterator(rocksdb::ReadOptions(), store.db().cf(cf)));
  size_t n = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
  REQUIRE(it->status().ok());
  return n;
}

}  // namespace

TEST_CASE("bodies up to the inline limit round-trip in the manifest, larger ones in chunks") {
  static_assert(kLimit < kChunk);
  TempDir dir;
  auto store = open_store(small_options(dir.path(), kChunk));
  REQUIRE(store->inline_limit() == kLimit);
  const size_t sizes[] = {0, 1, kLimit - 1, kLimit, kLimit + 1};
  // 700-byte pieces, and the whole body in one append.
  for (size_t piece : {size_t{700}, kLimit + 2}) {
    for (size_t size : sizes) {
      auto r = artifact("inline/" + std::to_string(size) + "/" + std::to_string(piece));
      const auto data = body(size, static_cast<uint8_t>(size + piece));
      WriteOptions wo;
      wo.expected_size = size;
      wo.expected_sha256 = sha256_hex(data);
      auto committed = put(*store, r, data, wo, piece);
      INFO(committed.status().message());
      REQUIRE(committed.ok());
      const bool inline_expected = size <= kLimit;
      CHECK((committed->inline_body != nullptr) == inline_expected);
      CHECK(store->read_all(*committed).value() == data);

      auto h = store->head(r);
      REQUIRE(h.ok());
      CHECK(h->size == size);
      CHECK(h->sha256_hex == sha256_hex(data));
      REQUIRE((h->inline_body != nullptr) == inline_expected);
      if (inline_expected) CHECK(*h->inline_body == data);
      CHECK(read_range(*store, *h, 0, size) == data);
      CHECK(store->read_all(*h).value() == data);
    }
  }
  // Only the two kLimit + 1 bodies have chunk rows, and no write left a pending marker.
  CHECK(live_rows(*store, Cf::chunks) == 2);
  CHECK(live_rows(*store, Cf::meta, kPending) == 0);
  CHECK(store->stats().artifacts == 10);
}

TEST_CASE("ranged reads of an inline body") {
  TempDir dir;
  auto store = open_store(small_options(dir.path(), kChunk));
  const auto data = body(4096, 3);
  auto m = put(*store, artifact("range"), data);
  REQUIRE(m.ok());
  REQUIRE(m->inline_body);
  const std::pair<uint64_t, uint64_t> ranges[] = {{0, 0},    {0, 1},    {5, 100},  {4095, 1},
                                                  {4096, 0}, {1, 4095}, {0, 4096}, {2048, 2000}};
  for (auto [offset, length] : ranges) {
    INFO(offset << "+" << length);
    CHECK(read_range(*store, *m, offset, length) == data.substr(offset, length));
  }
  CHECK(store->read(*m, 4096, 1).status().code() == Code::invalid_argument);
  CHECK(store->read(*m, 4097, 0).status().code() == Code::invalid_argument);

  // A chunk keeps the bytes alive after the reader and every manifest copy are gone.
  std::unique_ptr<Chunk> chunk;
  {
    auto h = store->head(artifact("range"));
    REQUIRE(h.ok());
    auto reader = store->read(*h, 10, 20);
    REQUIRE(reader.ok());
    chunk = std::move((*reader)->next()).value();
  }
  REQUIRE(chunk);
  CHECK(std::string(reinterpret_cast<const char*>(chunk->data()), chunk->size()) ==
        data.substr(10, 20));
}

TEST_CASE("overwrites between inline and chunked bodies leave no orphan chunks") {
  TempDir dir;
  auto store = open_store(small_options(dir.path(), 1024));
  const auto small = body(300, 1), large = body(1024 * 5 / 2, 2), small2 = body(1024, 3);
  const auto r = artifact("flip");

  REQUIRE(put(*store, r, small).ok());
  CHECK(live_rows(*store, Cf::chunks) == 0);

  // inline → chunked
  REQUIRE(put(*store, r, large).ok());
  CHECK(live_rows(*store, Cf::chunks) == 3);
  auto h = store->head(r);
  REQUIRE(h.ok());
  CHECK_FALSE(h->inline_body);
  CHECK(store->read_all(*h).value() == large);
  CHECK(store->stats().bytes == large.size());

  // chunked → inline
  REQUIRE(put(*store, r, small2).ok());
  CHECK(live_rows(*store, Cf::chunks) == 0);
  h = store->head(r);
  REQUIRE(h.ok());
  CHECK(h->inline_body);
  CHECK(store->read_all(*h).value() == small2);
  CHECK(store->stats().bytes == small2.size());
  CHECK(store->stats().artifacts == 1);

  REQUIRE(store->remove(r).ok());
  CHECK(live_rows(*store, Cf::manifests) == 0);
  CHECK(live_rows(*store, Cf::access) == 0);
  CHECK(live_rows(*store, Cf::meta, kPending) == 0);
  CHECK(store->stats().bytes == 0);
}

TEST_CASE("an inline read makes no RocksDB lookup") {
  TempDir dir;
  auto store = open_store(small_options(dir.path(), 1024));
  const auto small = body(1000, 1), large = body(3000, 2);
  REQUIRE(put(*store, artifact("small"), small).ok());
  REQUIRE(put(*store, artifact("large"), large).ok());
  auto s = store->head(artifact("small"));
  auto l = store->head(artifact("large"));
  REQUIRE(s.ok());
  REQUIRE(l.ok());

  // Empty the chunks family: the chunked body is gone, the inline one still reads.
  std::unique_ptr<rocksdb::Iterator> it(
      store->db().db()->NewIterator(rocksdb::ReadOptions(), store->db().cf(Cf::chunks)));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    REQUIRE(store->db()
                .db()
                ->Delete(rocksdb::WriteOptions(), store->db().cf(Cf::chunks), it->key())
                .ok());
  REQUIRE(it->status().ok());
  CHECK(store->read_all(*l).status().code() == Code::corruption);

  // And it queries no memtable at all (the manifest is fresh, so no access refresh either).
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  CHECK(store->read_all(*s).value() == small);
  CHECK(rocksdb::get_perf_context()->get_from_memtable_count == 0);
  // The counter does count a chunk lookup, so the check above means something.
  CHECK_FALSE(store->read_all(*l).ok());
  CHECK(rocksdb::get_perf_context()->get_from_memtable_count > 0);
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
}

TEST_CASE("an abandoned inline-sized write leaves no rows") {
  TempDir dir;
  auto store = open_store(small_options(dir.path(), 1024));
  {
    auto w = store->begin_write(artifact("abandoned"), {});
    REQUIRE(w.ok());
    const auto data = body(1024);
    REQUIRE((*w)->append(bytes_of(data)).ok());
    // Nothing was written to RocksDB yet: the body may still end inline.
    CHECK(live_rows(*store, Cf::chunks) == 0);
    CHECK(live_rows(*store, Cf::meta, kPending) == 0);
  }
  CHECK(store->head(artifact("abandoned")).status().code() == Code::not_found);
  CHECK(live_rows(*store, Cf::manifests) == 0);
}

TEST_CASE("eviction counts and removes inline bodies") {
  TempDir dir;
  auto options = small_options(dir.path(), kChunk);
  options.capacity_bytes = 40 * 1024;
  auto store = open_store(options);
  fake_now = kT0;
  for (const char* key : {"a", "b", "c"}) {
    auto m = put(*store, artifact(key), body(12 * 1024));
    REQUIRE(m.ok());
    CHECK(m->inline_body);
    fake_now += 1000;
  }
  CHECK(store->stats().bytes == 36 * 1024);
  // 48 KiB > 40 KiB: "a" (oldest access) goes, leaving 36 KiB, under 90% of capacity.
  REQUIRE(put(*store, artifact("d"), body(12 * 1024)).ok());
  CHECK(store->head(artifact("a")).status().code() == Code::not_found);
  auto stats = store->stats();
  CHECK(stats.evictions == 1);
  CHECK(stats.evicted_bytes == 12 * 1024);
  CHECK(stats.bytes == 36 * 1024);
  CHECK(stats.artifacts == 3);
  CHECK(live_rows(*store, Cf::manifests) == 3);
  CHECK(live_rows(*store, Cf::access) == 3);
  CHECK(live_rows(*store, Cf::chunks) == 0);
}
