// outbox.h: the rows owed to each replication target, their sequence numbers and per-target
// depths (any thread: committing threads stage rows, the push worker scans and deletes them).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "storage/counters.h"
#include "storage/rocks_db.h"
#include "storage/status.h"
#include "storage/store.h"

namespace meshcache::storage {

class Outbox {
 public:
  Outbox(const RocksDb& db, Counters& counters, uint64_t max_rows);

  // At open: one pass over the rows gives the next sequence and every target's depth.
  [[nodiscard]] Status load();

  // invalid_argument for an empty target or one with NUL (it would break the key layout);
  // unavailable when `targets` more rows would pass the bound.
  [[nodiscard]] Status check(const std::vector<std::string>& targets) const;

  // Puts one row per target with `value` into `batch` and merges their count into the persisted
  // total. They are counted in memory at once, before the batch is written, so a deleter can
  // never see a row that is not counted yet; call cancel() if the batch was not written.
  void stage(rocksdb::WriteBatch& batch, const std::vector<std::string>& targets,
             rocksdb::Slice value);
  void cancel(const std::vector<std::string>& targets);

  Result<std::vector<OutboxRow>> scan(std::string_view target, uint64_t from_seq, size_t limit);
  [[nodiscard]] Status remove(std::string_view target, std::span<const uint64_t> seqs);
  Result<uint64_t> drop(std::string_view target);
  std::map<std::string, uint64_t> depths() const;

 private:
  // Adds `change` to the target's depth; a target with no rows leaves the map.
  void count(std::string_view target, int64_t change);
  // Writes the deletion of `rows` rows of `target` staged in `batch` (deleters hold delete_mu_).
  [[nodiscard]] Status write_deletes(rocksdb::WriteBatch& batch, std::string_view target,
                                     uint64_t rows);

  const RocksDb& db_;
  Counters& counters_;
  const uint64_t max_rows_;
  std::atomic<uint64_t> next_seq_{0};
  // Serializes deleters: each counts the rows it deletes by reading them first, which is exact
  // only if no other deleter removes them in between. Writers add rows under fresh sequence
  // numbers and never need it.
  std::mutex delete_mu_;
  mutable std::mutex depth_mu_;
  std::map<std::string, uint64_t, std::less<>> depths_;
};

}  // namespace meshcache::storage
