// eviction.h: capacity-bounded eviction of the least recently accessed artifacts, walking the
// access index oldest first (the committing thread that pushed the store over capacity).
#pragma once

#include <cstdint>
#include <mutex>

#include <rocksdb/options.h>

#include "storage/artifact_locks.h"
#include "storage/counters.h"
#include "storage/keys.h"
#include "storage/rocks_db.h"

namespace meshcache::storage {

class Evictor {
 public:
  Evictor(const RocksDb& db, Counters& counters, ArtifactLocks& locks, uint64_t capacity_bytes,
          uint64_t chunk_bytes);

  // When the committed bytes exceed capacity, evicts until they are under 90% of it, so
  // evictions come in occasional passes rather than on every commit near the bound. Evictions
  // never write outbox rows: peers keep their copies.
  [[nodiscard]] Status run();

 private:
  [[nodiscard]] Status evict(const keys::AccessRow& row);

  const RocksDb& db_;
  Counters& counters_;
  ArtifactLocks& locks_;
  const uint64_t capacity_bytes_;
  const uint64_t chunk_bytes_;
  // One pass at a time: concurrent passes would walk the same oldest rows.
  std::mutex pass_mu_;
};

}  // namespace meshcache::storage
