// rocks_store.h: the Store on RocksDB: lookups, reads, writes' commit and discard, removal,
// records and stats (any thread; RocksDB is thread-safe, per-artifact steps serialize on striped
// locks).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rocksdb/options.h>

#include "storage/artifact_locks.h"
#include "storage/counters.h"
#include "storage/data_dir_lock.h"
#include "storage/eviction.h"
#include "storage/rocks_db.h"
#include "storage/store.h"

namespace meshcache::storage {

// Unix milliseconds. Injectable so tests can move time past the access-refresh interval.
using Clock = int64_t (*)();
int64_t wall_clock_ms();

class RocksStore final : public Store {
 public:
  // A read refreshes an artifact's last access only when the stored one is older than this, so
  // GET hits rarely write.
  static constexpr int64_t kAccessRefreshMs = 60'000;
  // Bodies up to this size (and at most one chunk) live in their manifest row, so a hit on one
  // is a single lookup; larger ones go to the chunks column family.
  static constexpr uint64_t kInlineBytes = 16 * 1024;
  uint64_t inline_limit() const { return std::min(kInlineBytes, options_.chunk_bytes); }

  static Result<std::unique_ptr<RocksStore>> open(const StoreOptions& options, Clock clock);

  Result<Manifest> head(const ArtifactRef& ref) override;
  Result<std::unique_ptr<BodyReader>> read(const Manifest& m, uint64_t offset,
                                           uint64_t length) override;
  Result<std::string> read_all(const Manifest& m) override;
  Result<std::unique_ptr<Writer>> begin_write(const ArtifactRef& ref,
                                              WriteOptions options) override;
  Status remove(const ArtifactRef& ref) override;
  Status put_records(std::string_view space, std::span<const Record> records) override;
  Result<std::vector<Record>> scan_records(std::string_view space, size_t limit,
                                           std::string_view after) override;
  Status delete_records(std::string_view space, std::span<const std::string> keys) override;
  StoreStats stats() const override;
  const StoreOptions& options() const override { return options_; }

  // For RocksWriter. commit_write() makes `m` the artifact's committed version in one batch (or
  // gives Code::conflict when a newer version committed meanwhile); discard_write() deletes
  // the chunks and pending marker of a write that will not commit. Exactly one of them ends
  // every write that begin_write() started.
  const RocksDb& db() const { return *db_; }
  Result<Manifest> commit_write(const Digest& id, Manifest m, uint64_t chunks,
                                const std::vector<std::string>& outbox_targets);
  void discard_write(const Digest& id, int64_t version_ms, uint64_t chunks);

 private:
  RocksStore(DataDirLock lock, std::unique_ptr<RocksDb> db, const StoreOptions& options,
             Clock clock);

  Result<int64_t> reserve_version(const Digest& id, const WriteOptions& options);
  static void release_version(ArtifactLocks::Slot& slot, const Digest& id, int64_t version_ms);
  void refresh_access(const Digest& id, const Manifest& m);
  void evict_if_over_capacity();
  Status load_chunk_bytes();
  Status sweep_pending_writes();
  Status load_outbox_seq();

  DataDirLock lock_;  // first member: released only after the DB has closed
  std::unique_ptr<RocksDb> db_;
  StoreOptions options_;
  Clock clock_;
  rocksdb::WriteOptions commit_options_;
  rocksdb::WriteOptions refresh_options_;
  Counters counters_;
  ArtifactLocks locks_;
  std::unique_ptr<Evictor> evictor_;
  std::atomic<uint64_t> next_outbox_seq_{0};
};

}  // namespace meshcache::storage
