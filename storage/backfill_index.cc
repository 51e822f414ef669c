// backfill_index.cc: the newest-first backfill index, its one-time build at open (startup
// thread) and its listing (internal-plane I/O threads).
#include "storage/backfill_index.h"

#include <memory>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "storage/keys.h"
#include "storage/manifest_codec.h"

namespace meshcache::storage::backfill {
namespace {

constexpr size_t kHeaderBytes = kPrefix.size() + 8 + 1;
// Just past every index key: '0' follows '/'.
constexpr std::string_view kEnd = "backfill/idx0";
// Rows per batch while building: bounded memory on a store of any size.
constexpr size_t kBuildBatchRows = 4096;

BackfillKind kind_of(const Manifest& m) {
  return m.inline_body ? BackfillKind::inline_body : BackfillKind::segment;
}

std::string size_value(uint64_t size) {
  std::string value(8, '\0');
  keys::put_be64(value.data(), size);
  return value;
}

Result<BackfillEntry> parse(rocksdb::Slice key, rocksdb::Slice value) {
  const auto malformed = [] { return Status(Code::corruption, "malformed backfill index row"); };
  if (key.size() < kHeaderBytes || !key.starts_with({kPrefix.data(), kPrefix.size()}))
    return malformed();
  BackfillEntry entry;
  entry.version_ms = static_cast<int64_t>(~keys::get_be64(key.data() + kPrefix.size()));
  const auto kind = static_cast<uint8_t>(key[kHeaderBytes - 1]);
  entry.record_id.assign(key.data() + kHeaderBytes, key.size() - kHeaderBytes);
  switch (static_cast<BackfillKind>(kind)) {
    case BackfillKind::segment:
    case BackfillKind::inline_body:
      if (value.size() != 8 || entry.record_id.empty()) return malformed();
      entry.size = keys::get_be64(value.data());
      break;
    case BackfillKind::tombstone:
      if (!value.empty()) return malformed();
      break;
    default:
      return malformed();
  }
  entry.kind = static_cast<BackfillKind>(kind);
  entry.index_key = key.ToString();
  return entry;
}

// Appends rows for every manifest, then every tombstone, writing a batch whenever it fills.
class Builder {
 public:
  Builder(const RocksDb& db, const rocksdb::WriteOptions& options) : db_(db), options_(options) {}

  Status run() {
    // Rows an interrupted build left behind may name artifacts that changed since.
    (void)batch_.DeleteRange(db_.cf(Cf::backfill), rocksdb::Slice(kPrefix.data(), kPrefix.size()),
                             rocksdb::Slice(kEnd.data(), kEnd.size()));
    rocksdb::ReadOptions scan;
    scan.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(scan, db_.cf(Cf::manifests)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto id = it->key();
      if (id.size() != 32) return Status(Code::corruption, "malformed manifest key");
      auto m = decode_manifest(it->value(),
                               to_hex({reinterpret_cast<const uint8_t*>(id.data()), id.size()}));
      if (!m.ok()) return m.status();
      put_artifact(batch_, db_, *m);
      if (Status s = added(); !s.ok()) return s;
    }
    if (!it->status().ok()) return from_rocks(it->status(), "scanning manifests");

    it.reset(db_.db()->NewIterator(scan, db_.cf(Cf::tombstones)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      const size_t split = key.find('\0');
      if (split == std::string_view::npos || it->value().size() != 8)
        return Status(Code::corruption, "malformed tombstone row");
      put_tombstone(batch_, db_, key.substr(split + 1),
                    static_cast<int64_t>(keys::get_be64(it->value().data())));
      if (Status s = added(); !s.ok()) return s;
    }
    if (!it->status().ok()) return from_rocks(it->status(), "scanning tombstones");

    (void)batch_.Put(db_.cf(Cf::meta),
                     rocksdb::Slice(keys::kBackfillBuilt.data(), keys::kBackfillBuilt.size()), {});
    if (Status s = flush(); !s.ok()) return s;
    if (rows_ > 0) spdlog::info("store: built the backfill index ({} rows)", rows_);
    return Status::Ok();
  }

 private:
  Status added() {
    ++rows_;
    return rows_ % kBuildBatchRows == 0 ? flush() : Status::Ok();
  }

  Status flush() {
    auto s = db_.db()->Write(options_, &batch_);
    batch_.Clear();
    return s.ok() ? Status::Ok() : from_rocks(s, "building the backfill index");
  }

  const RocksDb& db_;
  const rocksdb::WriteOptions& options_;
  rocksdb::WriteBatch batch_;
  size_t rows_ = 0;
};

}  // namespace

std::string key(int64_t version_ms, BackfillKind kind, std::string_view record_id) {
  std::string out(kHeaderBytes, '\0');
  out.replace(0, kPrefix.size(), kPrefix);
  keys::put_be64(out.data() + kPrefix.size(), ~static_cast<uint64_t>(version_ms));
  out[kHeaderBytes - 1] = static_cast<char>(kind);
  out.append(record_id);
  return out;
}

void put_artifact(rocksdb::WriteBatch& batch, const RocksDb& db, const Manifest& m) {
  (void)batch.Put(db.cf(Cf::backfill), key(effective_version(m), kind_of(m), m.artifact_id),
                  size_value(m.size));
}

void delete_artifact(rocksdb::WriteBatch& batch, const RocksDb& db, const Manifest& m) {
  (void)batch.Delete(db.cf(Cf::backfill), key(effective_version(m), kind_of(m), m.artifact_id));
}

void put_tombstone(rocksdb::WriteBatch& batch, const RocksDb& db, std::string_view ns,
                   int64_t version_ms) {
  (void)batch.Put(db.cf(Cf::backfill), key(version_ms, BackfillKind::tombstone, ns), {});
}

void delete_tombstone(rocksdb::WriteBatch& batch, const RocksDb& db, std::string_view ns,
                      int64_t version_ms) {
  (void)batch.Delete(db.cf(Cf::backfill), key(version_ms, BackfillKind::tombstone, ns));
}

Status build_if_missing(const RocksDb& db, const rocksdb::WriteOptions& options) {
  std::string marker;
  auto s = db.db()->Get(rocksdb::ReadOptions(), db.cf(Cf::meta),
                        rocksdb::Slice(keys::kBackfillBuilt.data(), keys::kBackfillBuilt.size()),
                        &marker);
  if (s.ok()) return Status::Ok();
  if (!s.IsNotFound()) return from_rocks(s, "reading the backfill index marker");
  return Builder(db, options).run();
}

Result<BackfillPage> list(const RocksDb& db, std::string_view after, size_t limit) {
  if (!after.empty() && !after.starts_with(kPrefix))
    return Status(Code::invalid_argument, "the cursor is not a backfill index key");
  if (limit == 0) return Status(Code::invalid_argument, "limit is 0");
  const rocksdb::Slice upper(kEnd.data(), kEnd.size());
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db.db()->NewIterator(options, db.cf(Cf::backfill)));
  const rocksdb::Slice start = after.empty() ? rocksdb::Slice(kPrefix.data(), kPrefix.size())
                                             : rocksdb::Slice(after.data(), after.size());
  it->Seek(start);
  if (!after.empty() && it->Valid() && it->key() == start) it->Next();
  BackfillPage page;
  for (; it->Valid() && page.entries.size() < limit; it->Next()) {
    auto entry = parse(it->key(), it->value());
    if (!entry.ok()) return entry.status();
    page.entries.push_back(std::move(entry).value());
  }
  if (!it->status().ok()) return from_rocks(it->status(), "reading the backfill index");
  // Kura returns null after a full page that nothing follows, so a row must exist past it.
  if (it->Valid()) page.next_after = page.entries.back().index_key;
  return page;
}

}  // namespace meshcache::storage::backfill
