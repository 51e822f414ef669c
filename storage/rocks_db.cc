// rocks_db.cc: opens RocksDB with the column families and the memory budget of a node (startup
// thread), and the row deletions the store's writers, remover and evictor share (any thread).
#include "storage/rocks_db.h"

#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include "storage/backfill_index.h"
#include "storage/counters.h"
#include "storage/keys.h"
#include "storage/manifest_codec.h"

namespace meshcache::storage {
namespace {

constexpr size_t kMiB = 1024 * 1024;

// Names in Cf order. A family added later (records, backfill) is created when an older store
// opens, thanks to create_missing_column_families.
constexpr const char* kCfNames[] = {"manifests", "tombstones", "chunks",  "outbox",
                                    "access",    "meta",       "records", "backfill"};
static_assert(std::size(kCfNames) == static_cast<size_t>(Cf::count));

// The node's RSS target is 128 MiB under load: a 32 MiB shared block cache, an 8 MiB blob
// cache, and memtables capped at 40 MiB in total leave room for connections and buffers.
rocksdb::DBOptions db_options() {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_open_files = 512;
  o.max_background_jobs = 2;
  o.info_log_level = rocksdb::WARN_LEVEL;
  o.keep_log_file_num = 2;
  o.max_log_file_size = 4 * kMiB;
  o.max_manifest_file_size = 16 * kMiB;
  o.max_total_wal_size = 64 * kMiB;
  o.db_write_buffer_size = 40 * kMiB;
  // Access refreshes skip the WAL; flushing every family together keeps a manifest and its
  // access row from being persisted apart, which would orphan the artifact from eviction.
  o.atomic_flush = true;
  return o;
}

rocksdb::ColumnFamilyOptions cf_options(const std::shared_ptr<rocksdb::TableFactory>& table) {
  rocksdb::ColumnFamilyOptions o;
  o.table_factory = table;
  o.write_buffer_size = 2 * kMiB;
  o.max_write_buffer_number = 2;
  o.level_compaction_dynamic_level_bytes = true;
  return o;
}

rocksdb::ColumnFamilyOptions chunk_options(const std::shared_ptr<rocksdb::TableFactory>& table) {
  rocksdb::ColumnFamilyOptions o = cf_options(table);
  o.write_buffer_size = 16 * kMiB;
  o.max_write_buffer_number = 2;
  // Build outputs are mostly compressed already; compressing again costs CPU on every read.
  o.compression = rocksdb::kNoCompression;
  // Integrated BlobDB: chunk values of 8 KiB and up live in blob files, so compaction moves
  // only small keys, never body bytes.
  o.enable_blob_files = true;
  o.min_blob_size = 8 * 1024;
  o.blob_file_size = 64 * kMiB;
  o.blob_compression_type = rocksdb::kNoCompression;
  o.enable_blob_garbage_collection = true;
  o.blob_cache = rocksdb::NewLRUCache(8 * kMiB);
  return o;
}

}  // namespace

Status from_rocks(const rocksdb::Status& s, std::string_view what) {
  std::string message = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return Status(Code::not_found, std::move(message));
  if (s.IsCorruption()) return Status(Code::corruption, std::move(message));
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Status(Code::unavailable, message);
  if (s.IsIOError() || s.IsNoSpace()) return Status(Code::io_error, std::move(message));
  return Status(Code::internal, std::move(message));
}

Result<std::unique_ptr<RocksDb>> RocksDb::open(const std::string& path) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(32 * kMiB, -1, false, /*high_pri_pool_ratio=*/0.5);
  // Index and filter blocks count against the cache (bounded memory) but stay resident.
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.optimize_filters_for_memory = true;
  std::shared_ptr<rocksdb::TableFactory> factory(rocksdb::NewBlockBasedTableFactory(table));

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options(factory));
  for (size_t i = 0; i < std::size(kCfNames); ++i) {
    auto which = static_cast<Cf>(i);
    auto options = which == Cf::chunks ? chunk_options(factory) : cf_options(factory);
    if (which == Cf::meta) options.merge_operator = Counters::merge_operator();
    // Manifests carry small bodies inline, as incompressible as the chunks; their other fields
    // (hex digests, short names) gain little from compression either.
    if (which == Cf::manifests) options.compression = rocksdb::kNoCompression;
    families.emplace_back(kCfNames[i], std::move(options));
  }

  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  auto s = rocksdb::DB::Open(db_options(), path, families, &handles, &raw);
  if (!s.ok()) return from_rocks(s, "opening RocksDB at " + path);

  std::unique_ptr<RocksDb> out(new RocksDb());
  out->db_.reset(raw);
  // handles[0] is the default family, which the store does not use.
  raw->DestroyColumnFamilyHandle(handles[0]);
  for (size_t i = 0; i < out->handles_.size(); ++i)
    out->handles_[i] = Handle(handles[i + 1], HandleCloser{raw});
  return out;
}

Result<Manifest> RocksDb::get_manifest(const rocksdb::ReadOptions& options,
                                       const Digest& id) const {
  rocksdb::PinnableSlice value;
  auto s = db_->Get(options, cf(Cf::manifests), keys::manifest(id), &value);
  if (s.IsNotFound()) return Status(Code::not_found, "artifact not found");
  if (!s.ok()) return from_rocks(s, "reading a manifest");
  return decode_manifest(value, to_hex(id));
}

void RocksDb::delete_chunks(rocksdb::WriteBatch& batch, const Digest& id, int64_t version_ms,
                            uint64_t count) const {
  keys::ChunkKey key(id, version_ms);
  for (uint64_t i = 0; i < count; ++i) (void)batch.Delete(cf(Cf::chunks), key.at(i));
}

void RocksDb::delete_artifact(rocksdb::WriteBatch& batch, const Digest& id, const Manifest& m,
                              uint64_t chunk_bytes) const {
  (void)batch.Delete(cf(Cf::manifests), keys::manifest(id));
  (void)batch.Delete(cf(Cf::access), keys::access(m.last_access_ms, id).slice());
  backfill::delete_artifact(batch, *this, m);
  if (!m.inline_body) delete_chunks(batch, id, m.version_ms, chunk_count(m.size, chunk_bytes));
}

}  // namespace meshcache::storage
