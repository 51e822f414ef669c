// outbox.h: the rows owed to each replication target, their sequence numbers and per-target
// depths (any thread: committing threads stage rows, the push worker scans and deletes them).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/write_batch.h>

#include "storage/counters.h"
#include "storage/rocks_db.h"
#include "storage/status.h"
#include "storage/store.h"

namespace meshcache::storage {

class Outbox {
 public:
  Outbox(const RocksDb& db, Counters& counters, uint64_t max_rows);

  // At open: every target's persisted depth, and the next sequence from each target's last row
  // (one seek per target, never a pass over the rows).
  [[nodiscard]] Status load();

  // invalid_argument for an empty target or one with NUL (it would break the key layout);
  // unavailable when `targets` more rows would pass the bound.
  [[nodiscard]] Status check(const std::vector<std::string>& targets) const;

  // Puts one row per target with `value` into `batch` and merges their count into the persisted
  // totals, and returns the rows' first sequence. They are counted in memory at once, before the
  // batch is written, so a deleter can never see a row that is not counted yet. Call settle()
  // with that sequence once the batch's Write returned, written or not.
  uint64_t stage(rocksdb::WriteBatch& batch, const std::vector<std::string>& targets,
                 rocksdb::Slice value);
  void settle(const std::vector<std::string>& targets, uint64_t first_seq, bool written);

  // Rows stop before the oldest staged batch not yet settled: batches are written concurrently
  // and may land out of sequence order, and a reader whose cursor passed a later row would
  // otherwise never see the earlier one.
  Result<std::vector<OutboxRow>> scan(std::string_view target, uint64_t from_seq, size_t limit);
  [[nodiscard]] Status remove(std::string_view target, std::span<const uint64_t> seqs);
  Result<uint64_t> drop(std::string_view target);
  std::map<std::string, uint64_t> depths() const;

 private:
  // Adds `change` to the target's depth (mu_ held); a target with no rows leaves the map.
  void count(std::string_view target, int64_t change);
  // Writes the deletion of `rows` rows of `target` staged in `batch` (deleters hold delete_mu_).
  [[nodiscard]] Status write_deletes(rocksdb::WriteBatch& batch, std::string_view target,
                                     uint64_t rows);

  const RocksDb& db_;
  Counters& counters_;
  const uint64_t max_rows_;
  // Serializes deleters: each counts the rows it deletes by reading them first, which is exact
  // only if no other deleter removes them in between. Writers add rows under fresh sequence
  // numbers and never need it.
  std::mutex delete_mu_;
  mutable std::mutex mu_;  // guards the three below
  uint64_t next_seq_ = 0;
  // First sequences of the batches staged and not settled, ascending (allocation order).
  std::vector<uint64_t> unsettled_;
  std::map<std::string, uint64_t, std::less<>> depths_;
};

}  // namespace meshcache::storage
