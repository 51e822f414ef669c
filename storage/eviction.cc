// eviction.cc: capacity-bounded eviction of the least recently accessed artifacts (the
// committing thread that pushed the store over capacity; one pass at a time).
#include "storage/eviction.h"

#include <memory>

namespace meshcache::storage {

Evictor::Evictor(const RocksDb& db, Counters& counters, ArtifactLocks& locks,
                 uint64_t capacity_bytes, uint64_t chunk_bytes)
    : db_(db),
      counters_(counters),
      locks_(locks),
      capacity_bytes_(capacity_bytes),
      chunk_bytes_(chunk_bytes) {}

Status Evictor::run() {
  if (capacity_bytes_ == 0 || counters_.bytes() <= capacity_bytes_) return Status::Ok();
  std::lock_guard pass(pass_mu_);
  // Another thread's pass may have made room while this one waited.
  if (counters_.bytes() <= capacity_bytes_) return Status::Ok();
  const uint64_t target = capacity_bytes_ - capacity_bytes_ / 10;

  rocksdb::ReadOptions scan;
  scan.fill_cache = false;  // a pass touches cold rows only
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(scan, db_.cf(Cf::access)));
  for (it->SeekToFirst(); it->Valid() && counters_.bytes() > target; it->Next()) {
    auto row = keys::parse_access(it->key());
    if (!row) return Status(Code::corruption, "malformed row in the access index");
    auto s = evict(*row);
    if (!s.ok()) return s;
  }
  return it->status().ok() ? Status::Ok() : from_rocks(it->status(), "scanning the access index");
}

Status Evictor::evict(const keys::AccessRow& row) {
  auto& slot = locks_.slot(row.id);
  std::lock_guard guard(slot.mu);
  auto m = db_.get_manifest(rocksdb::ReadOptions(), row.id);
  if (!m.ok() && m.status().code() != Code::not_found) return m.status();
  rocksdb::WriteBatch batch;
  if (!m.ok() || m->last_access_ms != row.last_access_ms) {
    // Not the artifact's access row (checked under its lock, so deleting it is safe). Either
    // the iterator's snapshot predates a removal, overwrite or read of the artifact (the row
    // is already gone), or a crash lost a WAL-less access refresh while a later logged
    // removal or eviction replayed, resurrecting the row it had replaced.
    (void)batch.Delete(db_.cf(Cf::access), keys::access(row.last_access_ms, row.id).slice());
    auto s = db_.db()->Write(rocksdb::WriteOptions(), &batch);
    return s.ok() ? Status::Ok() : from_rocks(s, "deleting a stale access row");
  }

  CounterDelta delta{.bytes = -static_cast<int64_t>(m->size),
                     .artifacts = -1,
                     .evictions = 1,
                     .evicted_bytes = static_cast<int64_t>(m->size)};
  db_.delete_artifact(batch, row.id, *m, chunk_bytes_);
  Counters::stage(batch, db_.cf(Cf::meta), delta);
  // WAL on without sync: losing an eviction to a crash only means evicting it again.
  auto s = db_.db()->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return from_rocks(s, "evicting an artifact");
  counters_.apply(delta);
  return Status::Ok();
}

}  // namespace meshcache::storage
