// backfill_index.h: the newest-first index of manifests and tombstones that peers page through
// when they warm up (any thread; rows are staged into the batches that change what they list).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "storage/rocks_db.h"
#include "storage/status.h"
#include "storage/store.h"

namespace meshcache::storage::backfill {

// Kura's key layout (reference/internal-plane.md section 2): the prefix, BE64 of the bitwise
// NOT of the effective version (so newer sorts first), the kind byte, then the record id. The
// value is the body's size, BE64, for artifacts and empty for tombstones.
inline constexpr std::string_view kPrefix = "backfill/idx/";
std::string key(int64_t version_ms, BackfillKind kind, std::string_view record_id);

// Kura lists a manifest stored with version 0 at its creation time; meshcache always stamps a
// version, but a replicated store may hold either.
inline int64_t effective_version(const Manifest& m) {
  return m.version_ms != 0 ? m.version_ms : m.created_ms;
}

// The row listing `m`, and the row of a namespace's tombstone.
void put_artifact(rocksdb::WriteBatch& batch, const RocksDb& db, const Manifest& m);
void delete_artifact(rocksdb::WriteBatch& batch, const RocksDb& db, const Manifest& m);
void put_tombstone(rocksdb::WriteBatch& batch, const RocksDb& db, std::string_view ns,
                   int64_t version_ms);
void delete_tombstone(rocksdb::WriteBatch& batch, const RocksDb& db, std::string_view ns,
                      int64_t version_ms);

// At open: a store that an older version wrote has no index (no marker in meta). Rebuilds it
// from every manifest and tombstone, then writes the marker, so it runs once per store.
[[nodiscard]] Status build_if_missing(const RocksDb& db, const rocksdb::WriteOptions& options);

// Up to `limit` rows strictly after the raw key `after` ("" = from the newest). next_after is
// set only when another row follows the page.
Result<BackfillPage> list(const RocksDb& db, std::string_view after, size_t limit);

}  // namespace meshcache::storage::backfill
