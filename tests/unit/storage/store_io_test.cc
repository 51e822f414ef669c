// store_io_test.cc: writing, reading, ranges, write validation, overwrite and removal through
// the Store interface (test thread).
#include <catch2/catch.hpp>

#include "storage/artifact_id.h"
#include "storage/keys.h"
#include "test_support.h"

using namespace meshcache;
using namespace meshcache::storage;
using namespace meshcache::storage::test;

namespace {

constexpr uint64_t kChunk = 1024;
const std::string kPending(keys::kPendingPrefix);

}  // namespace

TEST_CASE("bodies round-trip at chunk boundaries") {
  TempDir dir;
  uint64_t total_chunks = 0;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    const size_t sizes[] = {0, 1, kChunk - 1, kChunk, kChunk + 1, kChunk * 7 / 2};
    // 700-byte pieces cross chunk edges; 5000-byte pieces take the whole-chunk path.
    for (size_t piece : {size_t{700}, size_t{5000}}) {
      for (size_t size : sizes) {
        auto r = artifact("cas/" + std::to_string(size) + "/" + std::to_string(piece));
        auto data = body(size, static_cast<uint8_t>(size + piece));
        WriteOptions wo;
        wo.content_type = "application/x-test";
        wo.extras = {{"x-artifact-tag", "tag"}};
        wo.expected_size = size;
        wo.expected_sha256 = sha256_hex(data);
        auto m = put(*store, r, data, wo, piece);
        INFO(m.status().message());
        REQUIRE(m.ok());
        CHECK(m->size == size);
        CHECK(m->sha256_hex == sha256_hex(data));

        auto h = store->head(r);
        REQUIRE(h.ok());
        CHECK(h->artifact_id == artifact_id(r));
        CHECK(h->size == size);
        CHECK(h->sha256_hex == sha256_hex(data));
        CHECK(h->content_type == "application/x-test");
        CHECK(h->extras == wo.extras);
        CHECK(h->origin == Origin::local);
        CHECK(h->version_ms == fake_now.load());
        CHECK(h->key == r.key);
        CHECK(h->tenant == "acme");

        CHECK(read_range(*store, *h, 0, size) == data);
        auto all = store->read_all(*h);
        REQUIRE(all.ok());
        CHECK(*all == data);
        // Bodies up to one chunk live in the manifest.
        CHECK((h->inline_body != nullptr) == (size <= kChunk));
        if (size > kChunk) total_chunks += chunk_count(size, kChunk);
      }
    }
    CHECK(store->stats().artifacts == 12);
  }
  CHECK(count_rows(dir.path(), Cf::chunks) == total_chunks);
  CHECK(count_rows(dir.path(), Cf::meta, kPending) == 0);
}

TEST_CASE("ranged reads return exactly the requested bytes") {
  TempDir dir;
  auto store = open_store(small_options(dir.path(), kChunk));
  const auto data = body(kChunk * 7 / 2, 9);
  auto m = put(*store, artifact("range"), data);
  REQUIRE(m.ok());
  const uint64_t size = data.size();
  const std::pair<uint64_t, uint64_t> ranges[] = {{0, 0},
                                                  {0, 1},
                                                  {kChunk - 1, 2},
                                                  {kChunk, kChunk},
                                                  {100, size - 100},
                                                  {size - 1, 1},
                                                  {size, 0},
                                                  {kChunk * 3, size - kChunk * 3},
                                                  {5, 10}};
  for (auto [offset, length] : ranges) {
    INFO(offset << "+" << length);
    CHECK(read_range(*store, *m, offset, length) == data.substr(offset, length));
  }

  SECTION("a range inside one chunk is one piece of exactly that size") {
    auto reader = store->read(*m, kChunk + 10, 20);
    REQUIRE(reader.ok());
    auto chunk = (*reader)->next();
    REQUIRE(chunk.ok());
    REQUIRE(*chunk);
    CHECK((*chunk)->size() == 20);
    CHECK(std::string(reinterpret_cast<const char*>((*chunk)->data()), 20) ==
          data.substr(kChunk + 10, 20));
    auto end = (*reader)->next();
    REQUIRE(end.ok());
    CHECK_FALSE(*end);
  }
  SECTION("ranges past the end are refused") {
    CHECK(store->read(*m, size + 1, 0).status().code() == Code::invalid_argument);
    CHECK(store->read(*m, 10, size).status().code() == Code::invalid_argument);
    CHECK(store->read(*m, 1, UINT64_MAX).status().code() == Code::invalid_argument);
  }
}

TEST_CASE("a digest mismatch at commit leaves nothing readable and no chunks") {
  TempDir dir;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    WriteOptions wo;
    wo.expected_sha256 = sha256_hex("something else");
    auto m = put(*store, artifact("cas/bad"), body(kChunk * 3 + 5), wo);
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().code() == Code::digest_mismatch);
    CHECK(store->head(artifact("cas/bad")).status().code() == Code::not_found);
    CHECK(store->stats().artifacts == 0);
    CHECK(store->stats().bytes == 0);

    // The expected digest is compared case-insensitively.
    auto data = body(100);
    std::string upper = sha256_hex(data);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    wo.expected_sha256 = upper;
    CHECK(put(*store, artifact("cas/good"), data, wo).ok());
  }
  CHECK(count_rows(dir.path(), Cf::chunks) == 0);  // the good body is inline
  CHECK(count_rows(dir.path(), Cf::meta, kPending) == 0);
}

TEST_CASE("a declared size must match the body") {
  TempDir dir;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    WriteOptions wo;
    wo.expected_size = kChunk * 2;

    SECTION("short") {
      auto m = put(*store, artifact("short"), body(kChunk + 1), wo);
      REQUIRE_FALSE(m.ok());
      CHECK(m.status().code() == Code::invalid_argument);
    }
    SECTION("overrun is refused by append, and commit stays refused") {
      auto w = store->begin_write(artifact("long"), wo);
      REQUIRE(w.ok());
      auto data = body(kChunk * 2 + 1);
      CHECK((*w)->append(bytes_of(data).first(kChunk * 2)).ok());
      CHECK((*w)->append(bytes_of(data).subspan(kChunk * 2)).code() == Code::invalid_argument);
      CHECK((*w)->commit().status().code() == Code::invalid_argument);
    }
    CHECK(store->stats().artifacts == 0);
  }
  CHECK(count_rows(dir.path(), Cf::chunks) == 0);
  CHECK(count_rows(dir.path(), Cf::meta, kPending) == 0);
}

TEST_CASE("bodies over max_artifact_bytes are too large") {
  TempDir dir;
  {
    auto options = small_options(dir.path(), kChunk);
    options.max_artifact_bytes = 5000;
    auto store = open_store(options);

    WriteOptions declared;
    declared.expected_size = 5001;
    CHECK(store->begin_write(artifact("big"), declared).status().code() == Code::too_large);

    auto m = put(*store, artifact("big"), body(6000));
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().code() == Code::too_large);
    CHECK(put(*store, artifact("fits"), body(5000)).ok());
    CHECK(store->head(artifact("big")).status().code() == Code::not_found);
  }
  CHECK(count_rows(dir.path(), Cf::chunks) == 5);
}

TEST_CASE("a destroyed uncommitted writer leaves no chunks") {
  TempDir dir;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    {
      auto w = store->begin_write(artifact("abandoned"), {});
      REQUIRE(w.ok());
      auto data = body(kChunk * 5 / 2);
      REQUIRE((*w)->append(bytes_of(data)).ok());
      CHECK((*w)->bytes_written() == data.size());
    }
    CHECK(store->head(artifact("abandoned")).status().code() == Code::not_found);
    // The version it reserved is free again.
    CHECK(put(*store, artifact("abandoned"), "x").ok());
  }
  CHECK(count_rows(dir.path(), Cf::chunks) == 0);  // "x" is inline
  CHECK(count_rows(dir.path(), Cf::meta, kPending) == 0);
}

TEST_CASE("an overwrite does not change what an open reader returns") {
  TempDir dir;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    const auto v1 = body(kChunk * 7 / 2, 1), v2 = body(kChunk * 2, 2);
    auto m1 = put(*store, artifact("a"), v1);
    REQUIRE(m1.ok());

    auto reader = store->read(*m1, 0, v1.size());
    REQUIRE(reader.ok());
    auto first = (*reader)->next();
    REQUIRE(first.ok());
    std::string got(reinterpret_cast<const char*>((*first)->data()), (*first)->size());

    auto m2 = put(*store, artifact("a"), v2);
    REQUIRE(m2.ok());
    // Same clock millisecond: the version is bumped so chunk keys never collide.
    CHECK(m2->version_ms == m1->version_ms + 1);

    for (;;) {
      auto chunk = (*reader)->next();
      REQUIRE(chunk.ok());
      if (!*chunk) break;
      got.append(reinterpret_cast<const char*>((*chunk)->data()), (*chunk)->size());
    }
    CHECK(got == v1);
    auto h = store->head(artifact("a"));
    REQUIRE(h.ok());
    CHECK(h->version_ms == m2->version_ms);
    CHECK(store->read_all(*h).value() == v2);
    CHECK(store->stats().bytes == v2.size());
    CHECK(store->stats().artifacts == 1);

    SECTION("a stale manifest then reads as a miss, not corruption") {
      CHECK(store->read_all(*m1).status().code() == Code::not_found);
    }
  }
  CHECK(count_rows(dir.path(), Cf::chunks) == 2);
}

TEST_CASE("versions follow last-writer-wins") {
  TempDir dir;
  auto store = open_store(small_options(dir.path(), kChunk));
  fake_now = 1'700'000'500'000;
  auto local = put(*store, artifact("k"), "local");
  REQUIRE(local.ok());

  WriteOptions replica;
  replica.origin = Origin::replica;
  SECTION("a replicated version equal or older is refused before the body") {
    replica.version_ms = local->version_ms;
    CHECK(store->begin_write(artifact("k"), replica).status().code() == Code::conflict);
    replica.version_ms = local->version_ms - 1;
    CHECK(store->begin_write(artifact("k"), replica).status().code() == Code::conflict);
  }
  SECTION("a newer replicated version applies and keeps its version") {
    replica.version_ms = local->version_ms + 500;
    auto m = put(*store, artifact("k"), "remote", replica);
    REQUIRE(m.ok());
    CHECK(m->version_ms == local->version_ms + 500);
    CHECK(store->head(artifact("k"))->origin == Origin::replica);
    // A local write after it is newer still, though the clock is behind.
    auto again = put(*store, artifact("k"), "local again");
    REQUIRE(again.ok());
    CHECK(again->version_ms == m->version_ms + 1);
  }
  SECTION(
      "of two overlapping local writes, the later one wins; the earlier one succeeds as "
      "overwritten") {
    auto first = store->begin_write(artifact("k"), {});
    auto second = store->begin_write(artifact("k"), {});
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    auto a = body(kChunk * 2, 3), b = body(kChunk * 2, 4);
    REQUIRE((*first)->append(bytes_of(a)).ok());
    REQUIRE((*second)->append(bytes_of(b)).ok());
    auto won = (*second)->commit();
    REQUIRE(won.ok());
    auto lost = (*first)->commit();
    REQUIRE(lost.ok());
    CHECK(lost->version_ms == won->version_ms);
    CHECK(lost->sha256_hex == won->sha256_hex);
    CHECK(store->read_all(store->head(artifact("k")).value()).value() == b);
    CHECK(store->stats().artifacts == 1);
    CHECK(store->stats().bytes == b.size());
  }
}

TEST_CASE("remove deletes an artifact and reports a miss when absent") {
  TempDir dir;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    CHECK(store->remove(artifact("none")).code() == Code::not_found);
    REQUIRE(put(*store, artifact("gone"), body(kChunk * 3)).ok());
    REQUIRE(put(*store, artifact("kept"), body(10)).ok());
    CHECK(store->remove(artifact("gone")).ok());
    CHECK(store->head(artifact("gone")).status().code() == Code::not_found);
    CHECK(store->remove(artifact("gone")).code() == Code::not_found);
    CHECK(store->stats().artifacts == 1);
    CHECK(store->stats().bytes == 10);
  }
  CHECK(count_rows(dir.path(), Cf::chunks) == 0);  // "kept" is inline
  CHECK(count_rows(dir.path(), Cf::access) == 1);
  CHECK(count_rows(dir.path(), Cf::manifests) == 1);
}

TEST_CASE("a chunk missing from a committed body is corruption") {
  TempDir dir;
  const auto data = body(kChunk * 3);
  Manifest m;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    m = put(*store, artifact("damaged"), data).value();
  }
  {
    auto db = RocksDb::open(dir.path());
    REQUIRE(db.ok());
    keys::ChunkKey key(*digest_from_hex(m.artifact_id), m.version_ms);
    REQUIRE((*db)->db()->Delete(rocksdb::WriteOptions(), (*db)->cf(Cf::chunks), key.at(1)).ok());
  }
  auto store = open_store(small_options(dir.path(), kChunk));
  CHECK(store->read_all(m).status().code() == Code::corruption);
  CHECK(read_range(*store, m, 0, kChunk) == data.substr(0, kChunk));
}

TEST_CASE("outbox rows commit with the artifact and are counted") {
  TempDir dir;
  const Digest id = artifact_digest(artifact("pushed"));
  int64_t version = 0;
  {
    auto store = open_store(small_options(dir.path(), kChunk));
    WriteOptions wo;
    wo.outbox_targets = {"https://peer-a", "https://gateway"};
    auto m = put(*store, artifact("pushed"), body(50), wo);
    REQUIRE(m.ok());
    version = m->version_ms;
    CHECK(store->stats().outbox_rows == 2);
    CHECK(put(*store, artifact("quiet"), body(5)).ok());
    CHECK(store->stats().outbox_rows == 2);

    wo.outbox_targets = {std::string("bad\0target", 10)};
    CHECK(store->begin_write(artifact("x"), wo).status().code() == Code::invalid_argument);
  }
  auto db = RocksDb::open(dir.path());
  REQUIRE(db.ok());
  std::unique_ptr<rocksdb::Iterator> it(
      (*db)->db()->NewIterator(rocksdb::ReadOptions(), (*db)->cf(Cf::outbox)));
  std::vector<std::string> targets;
  std::vector<uint64_t> seqs;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto key = it->key().ToString();
    REQUIRE(key.size() > 9);
    targets.push_back(key.substr(0, key.size() - 9));
    CHECK(key[key.size() - 9] == '\0');
    seqs.push_back(keys::get_be64(key.data() + key.size() - 8));
    auto value = it->value().ToString();
    REQUIRE(value.size() == 40);
    CHECK(std::equal(id.begin(), id.end(), reinterpret_cast<const uint8_t*>(value.data())));
    CHECK(static_cast<int64_t>(keys::get_be64(value.data() + 32)) == version);
  }
  CHECK(targets == std::vector<std::string>{"https://gateway", "https://peer-a"});
  REQUIRE(seqs.size() == 2);
  CHECK(seqs[0] != seqs[1]);
}
