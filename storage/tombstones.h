// tombstones.h: namespace tombstones, the last-writer-wins gate they take part in, and namespace
// deletes (any thread: the internal plane applies deletes, committing threads check tombstones).
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/options.h>

#include "storage/artifact_locks.h"
#include "storage/counters.h"
#include "storage/outbox.h"
#include "storage/rocks_db.h"
#include "storage/status.h"
#include "storage/store.h"

namespace meshcache::storage {

// Kura's gate (reference/internal-plane.md section 4) for an `incoming` version against the
// namespace's tombstone and the stored effective version. Version 0 means "stamp it now": it
// applies only when there is neither.
ApplyVerdict lww_gate(int64_t incoming, std::optional<int64_t> tombstone,
                      std::optional<int64_t> existing);

class Tombstones {
 public:
  Tombstones(const RocksDb& db, Counters& counters, ArtifactLocks& locks, Outbox& outbox,
             uint64_t chunk_bytes, const rocksdb::WriteOptions& commit_options);

  Result<std::optional<int64_t>> get(std::string_view tenant, std::string_view ns) const;

  // A commit holds this from its tombstone check until its batch is written; apply() takes it
  // exclusively to write a tombstone. So every artifact either saw the tombstone at commit or
  // was committed before the purge that follows the tombstone starts scanning.
  std::shared_lock<std::shared_mutex> hold_for_commit() { return std::shared_lock(mu_); }

  // Store::delete_namespace. A version of 0 counts as none (Kura: version 0 purges).
  Result<bool> apply(const std::string& tenant, const std::string& ns,
                     std::optional<int64_t> version_ms, const std::vector<std::string>& targets);

 private:
  // Removes the namespace's artifacts with an effective version at or below `up_to` (all of
  // them when unset), scanning every manifest once.
  [[nodiscard]] Status purge(std::string_view tenant, std::string_view ns,
                             std::optional<int64_t> up_to);
  // Removes the artifacts of one scan round, re-checked under their locks: one lock and one
  // batch per lock stripe.
  [[nodiscard]] Status remove_round(std::vector<Digest>& ids, std::string_view tenant,
                                    std::string_view ns, std::optional<int64_t> up_to);

  const RocksDb& db_;
  Counters& counters_;
  ArtifactLocks& locks_;
  Outbox& outbox_;
  const uint64_t chunk_bytes_;
  const rocksdb::WriteOptions& commit_options_;
  std::shared_mutex mu_;
};

}  // namespace meshcache::storage
