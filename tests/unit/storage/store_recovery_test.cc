// store_recovery_test.cc: what survives a restart or a killed process, the sweep of uncommitted
// writes, and the data-dir lock (test thread; some tests fork a child that is SIGKILLed).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include <catch2/catch.hpp>

#include "storage/keys.h"
#include "test_support.h"

using namespace meshcache;
using namespace meshcache::storage;
using namespace meshcache::storage::test;

namespace {

constexpr uint64_t kChunk = 1024;
const std::string kPending(keys::kPendingPrefix);

// Runs `work` in a child process that then dies by SIGKILL: no destructor, no close, no flush,
// exactly like a crashed node. `work` returns false to report a failed step (exit code 2).
void run_and_kill(const std::function<bool()>& work) {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (!work()) _exit(2);
    kill(getpid(), SIGKILL);
    _exit(3);  // not reached
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
}

}  // namespace

TEST_CASE("a write cut off by a crash is swept at the next open") {
  TempDir dir;
  const auto data = body(kChunk * 3 + 100);
  run_and_kill([&] {
    auto store = RocksStore::open(small_options(dir.path(), kChunk), fake_clock);
    if (!store.ok()) return false;
    if (!put(*store.value(), artifact("committed"), "kept").ok()) return false;
    auto w = (*store)->begin_write(artifact("cut"), {});
    if (!w.ok()) return false;
    auto s = (*w)->append(bytes_of(data));
    if (!s.ok()) return false;
    w->release();  // the process dies with the writer open
    return true;
  });
  // What the crash left: three full chunks and the pending marker (the tail was still buffered;
  // "kept" is inline).
  REQUIRE(count_rows(dir.path(), Cf::chunks) == 3);
  REQUIRE(count_rows(dir.path(), Cf::meta, kPending) == 1);

  {
    auto store = open_store(small_options(dir.path(), kChunk));
    CHECK(store->head(artifact("cut")).status().code() == Code::not_found);
    auto kept = store->head(artifact("committed"));
    REQUIRE(kept.ok());
    CHECK(store->read_all(*kept).value() == "kept");
    CHECK(store->stats().artifacts == 1);
  }
  CHECK(count_rows(dir.path(), Cf::chunks) == 0);
  CHECK(count_rows(dir.path(), Cf::meta, kPending) == 0);
}

TEST_CASE("an acknowledged write survives a killed process") {
  TempDir dir;
  const auto data = body(kChunk * 5 / 2, 4);
  auto options = small_options(dir.path(), kChunk);
  options.fsync = GENERATE(false, true);  // a killed process needs the WAL, not the sync
  run_and_kill([&] {
    auto store = RocksStore::open(options, fake_clock);
    if (!store.ok()) return false;
    WriteOptions wo;
    wo.outbox_targets = {"peer"};
    return put(*store.value(), artifact("acked"), data, wo).ok();
  });
  auto store = open_store(small_options(dir.path(), kChunk));
  auto m = store->head(artifact("acked"));
  REQUIRE(m.ok());
  CHECK(store->read_all(*m).value() == data);
  CHECK(store->stats().bytes == data.size());
  CHECK(store->stats().artifacts == 1);
  CHECK(store->stats().outbox_rows == 1);
}

TEST_CASE("reopening keeps data, stats and the outbox sequence") {
  TempDir dir;
  auto options = small_options(dir.path(), kChunk);
  options.capacity_bytes = 1 << 20;
  StoreStats before;
  {
    auto store = open_store(options);
    WriteOptions wo;
    wo.outbox_targets = {"a", "b"};
    REQUIRE(put(*store, artifact("one"), body(3000, 1), wo).ok());
    REQUIRE(put(*store, artifact("two"), body(10, 2)).ok());
    REQUIRE(put(*store, artifact("two"), body(20, 3)).ok());
    REQUIRE(store->remove(artifact("one")).ok());
    REQUIRE(put(*store, artifact("three"), body(kChunk, 4), wo).ok());
    before = store->stats();
    CHECK(before.bytes == 20 + kChunk);
    CHECK(before.artifacts == 2);
    CHECK(before.outbox_rows == 4);
  }
  {
    // A different chunk size applies to new stores only: existing bodies keep theirs.
    auto store = open_store(small_options(dir.path(), 4096));
    CHECK(store->options().chunk_bytes == kChunk);
    auto after = store->stats();
    CHECK(after.bytes == before.bytes);
    CHECK(after.artifacts == before.artifacts);
    CHECK(after.outbox_rows == before.outbox_rows);
    CHECK(store->read_all(store->head(artifact("two")).value()).value() == body(20, 3));
    CHECK(store->read_all(store->head(artifact("three")).value()).value() == body(kChunk, 4));
    WriteOptions wo;
    wo.outbox_targets = {"a"};
    REQUIRE(put(*store, artifact("four"), body(5, 5), wo).ok());
  }
  // Sequences continue past the highest one in use: five distinct rows, "a" ordered by write.
  auto db = RocksDb::open(dir.path());
  REQUIRE(db.ok());
  std::unique_ptr<rocksdb::Iterator> it(
      (*db)->db()->NewIterator(rocksdb::ReadOptions(), (*db)->cf(Cf::outbox)));
  std::vector<uint64_t> seqs_a;
  size_t rows = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++rows)
    if (it->key().starts_with(rocksdb::Slice("a\0", 2)))
      seqs_a.push_back(keys::get_be64(it->key().data() + 2));
  CHECK(rows == 5);
  REQUIRE(seqs_a.size() == 3);
  CHECK(seqs_a[0] < seqs_a[1]);
  CHECK(seqs_a[1] < seqs_a[2]);
}

TEST_CASE("the data dir lock refuses a second open") {
  TempDir dir;
  auto first = open_store(small_options(dir.path()));
  auto second = Store::open(small_options(dir.path()));
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Code::unavailable);
  CHECK(second.status().message() == "data dir " + dir.path() +
                                         " is in use by another meshcache process (pid " +
                                         std::to_string(getpid()) + ")");

  SECTION("from another process too") {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto other = Store::open(small_options(dir.path()));
      _exit(!other.ok() && other.status().code() == Code::unavailable ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  SECTION("and is released on close") {
    first.reset();
    auto again = Store::open(small_options(dir.path()));
    INFO(again.status().message());
    CHECK(again.ok());
  }
}
