// counters.h: the store's running totals (bytes, artifacts, evictions, outbox rows), kept in
// atomics for stats() and persisted as merge operands in the same batch as the rows they count
// (any thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/write_batch.h>

#include "storage/status.h"

namespace meshcache::storage {

// Signed changes to the totals that one batch makes.
struct CounterDelta {
  int64_t bytes = 0;
  int64_t artifacts = 0;
  int64_t evictions = 0;
  int64_t evicted_bytes = 0;
  int64_t outbox_rows = 0;
};

class Counters {
 public:
  // The meta column family's merge operator: 64-bit wrapping addition, so a persisted total is
  // always exactly the sum of the committed batches, with no read-modify-write race.
  static std::shared_ptr<rocksdb::MergeOperator> merge_operator();

  [[nodiscard]] Status load(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* meta);
  // Adds the delta to `batch`; call apply() once the batch is written.
  static void stage(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* meta,
                    const CounterDelta& delta);
  // The same for a total of its own under any meta `key` (the outbox's per-target depths), and
  // the reading of such a total: nullopt when malformed.
  static void stage_add(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* meta,
                        rocksdb::Slice key, int64_t change);
  static std::optional<uint64_t> parse_total(rocksdb::Slice value);
  void apply(const CounterDelta& delta);

  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  uint64_t artifacts() const { return artifacts_.load(std::memory_order_relaxed); }
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }
  uint64_t evicted_bytes() const { return evicted_bytes_.load(std::memory_order_relaxed); }
  uint64_t outbox_rows() const { return outbox_rows_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> bytes_{0}, artifacts_{0}, evictions_{0}, evicted_bytes_{0}, outbox_rows_{0};
};

}  // namespace meshcache::storage
