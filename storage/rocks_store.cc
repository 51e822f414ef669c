// rocks_store.cc: the Store on RocksDB: open and recovery, lookups, reads, the commit of writes
// through the LWW gate, removal, records and stats (any thread; per-artifact steps serialize on
// striped locks, reads take none).
#include "storage/rocks_store.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>

#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include "storage/artifact_id.h"
#include "storage/backfill_index.h"
#include "storage/body_reader.h"
#include "storage/keys.h"
#include "storage/manifest_codec.h"
#include "storage/wall_clock.h"
#include "storage/writer.h"

namespace meshcache::storage {

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  auto store = RocksStore::open(options, wall_clock_ms);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(std::move(store).value());
}

RocksStore::RocksStore(DataDirLock lock, std::unique_ptr<RocksDb> db, const StoreOptions& options,
                       Clock clock)
    : lock_(std::move(lock)),
      db_(std::move(db)),
      options_(options),
      clock_(clock),
      outbox_(*db_, counters_, options.max_outbox_rows) {
  commit_options_.sync = options.fsync;
  // A lost access refresh only makes eviction slightly less accurate after a crash.
  refresh_options_.disableWAL = true;
}

Result<std::unique_ptr<RocksStore>> RocksStore::open(const StoreOptions& options, Clock clock) {
  if (options.path.empty()) return Status(Code::invalid_argument, "store path is empty");
  if (options.chunk_bytes == 0) return Status(Code::invalid_argument, "chunk_bytes is 0");
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec)
    return Status(Code::io_error, fmt::format("cannot create {}: {}", options.path, ec.message()));
  auto lock = DataDirLock::acquire(options.path);
  if (!lock.ok()) return lock.status();
  auto db = RocksDb::open(options.path);
  if (!db.ok()) return db.status();

  std::unique_ptr<RocksStore> store(
      new RocksStore(std::move(lock).value(), std::move(db).value(), options, clock));
  Status s = store->load_chunk_bytes();
  if (s.ok()) s = store->counters_.load(store->db_->db(), store->db_->cf(Cf::meta));
  if (s.ok()) s = store->sweep_pending_writes();
  if (s.ok()) s = store->outbox_.load();
  if (s.ok()) s = backfill::build_if_missing(*store->db_, store->commit_options_);
  if (!s.ok()) return s;
  store->tombstones_ =
      std::make_unique<Tombstones>(*store->db_, store->counters_, store->locks_, store->outbox_,
                                   store->options_.chunk_bytes, store->commit_options_);
  store->evictor_ = std::make_unique<Evictor>(*store->db_, store->counters_, store->locks_,
                                              options.capacity_bytes, store->options_.chunk_bytes);
  // The capacity may have shrunk since the last run.
  store->evict_if_over_capacity();
  return store;
}

Status RocksStore::load_chunk_bytes() {
  // Bodies on disk are cut at the size the store was created with; a later option change
  // applies to new stores only, or existing bodies would be read at the wrong offsets.
  const rocksdb::Slice key(keys::kChunkBytes.data(), keys::kChunkBytes.size());
  std::string value;
  auto s = db_->db()->Get(rocksdb::ReadOptions(), db_->cf(Cf::meta), key, &value);
  if (s.ok()) {
    if (value.size() != 8 || keys::get_be64(value.data()) == 0)
      return Status(Code::corruption, "stored chunk size is malformed");
    options_.chunk_bytes = keys::get_be64(value.data());
    return Status::Ok();
  }
  if (!s.IsNotFound()) return from_rocks(s, "reading the chunk size");
  char encoded[8];
  keys::put_be64(encoded, options_.chunk_bytes);
  s = db_->db()->Put(commit_options_, db_->cf(Cf::meta), key, rocksdb::Slice(encoded, 8));
  return s.ok() ? Status::Ok() : from_rocks(s, "storing the chunk size");
}

Status RocksStore::sweep_pending_writes() {
  // Each marker names one write that put chunks but never committed (the commit batch deletes
  // it): only those chunk ranges are visited, never the whole family.
  const rocksdb::Slice prefix(keys::kPendingPrefix.data(), keys::kPendingPrefix.size());
  rocksdb::WriteBatch batch;
  size_t swept = 0;
  std::unique_ptr<rocksdb::Iterator> markers(
      db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::meta)));
  for (markers->Seek(prefix); markers->Valid() && markers->key().starts_with(prefix);
       markers->Next()) {
    auto row = keys::parse_pending(markers->key());
    if (!row) return Status(Code::corruption, "malformed pending-write marker");
    keys::ChunkKey chunk(row->id, row->version_ms);
    std::unique_ptr<rocksdb::Iterator> chunks(
        db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf(Cf::chunks)));
    for (chunks->Seek(chunk.prefix()); chunks->Valid() && chunks->key().starts_with(chunk.prefix());
         chunks->Next())
      (void)batch.Delete(db_->cf(Cf::chunks), chunks->key());
    if (!chunks->status().ok()) return from_rocks(chunks->status(), "sweeping chunks");
    (void)batch.Delete(db_->cf(Cf::meta), markers->key());
    ++swept;
  }
  if (!markers->status().ok()) return from_rocks(markers->status(), "reading pending writes");
  if (swept == 0) return Status::Ok();
  auto s = db_->db()->Write(commit_options_, &batch);
  if (!s.ok()) return from_rocks(s, "sweeping uncommitted writes");
  spdlog::info("store: swept {} uncommitted write(s) left by an earlier run", swept);
  return Status::Ok();
}

Result<Manifest> RocksStore::head(const ArtifactRef& ref) {
  return db_->get_manifest(rocksdb::ReadOptions(), artifact_digest(ref));
}

Result<Manifest> RocksStore::head_id(std::string_view artifact_id) {
  auto id = digest_from_hex(artifact_id);
  if (!id) return Status(Code::invalid_argument, "malformed artifact id");
  return db_->get_manifest(rocksdb::ReadOptions(), *id);
}

Result<std::unique_ptr<BodyReader>> RocksStore::read(const Manifest& m, uint64_t offset,
                                                     uint64_t length) {
  if (offset > m.size || length > m.size - offset)
    return Status(Code::invalid_argument,
                  fmt::format("range {}+{} is outside the {} byte body", offset, length, m.size));
  auto id = digest_from_hex(m.artifact_id);
  if (!id) return Status(Code::invalid_argument, "malformed artifact id");
  if (clock_() - m.last_access_ms >= kAccessRefreshMs) refresh_access(*id, m);
  if (m.inline_body) {
    if (m.inline_body->size() != m.size)
      return Status(Code::invalid_argument, "inline body does not match the manifest's size");
    return std::unique_ptr<BodyReader>(new InlineBodyReader(m.inline_body, offset, length));
  }
  return std::unique_ptr<BodyReader>(
      new RocksBodyReader(*db_, *id, m.version_ms, options_.chunk_bytes, offset, length));
}

Result<std::string> RocksStore::read_all(const Manifest& m) {
  auto reader = read(m, 0, m.size);
  if (!reader.ok()) return reader.status();
  std::string body;
  body.reserve(m.size);
  for (;;) {
    auto chunk = (*reader)->next();
    if (!chunk.ok()) return chunk.status();
    if (!*chunk) return body;
    body.append(reinterpret_cast<const char*>((*chunk)->data()), (*chunk)->size());
  }
}

void RocksStore::refresh_access(const Digest& id, const Manifest& m) {
  auto& slot = locks_.slot(id);
  std::lock_guard guard(slot.mu);
  const int64_t now = clock_();
  // Re-read under the lock: the caller's manifest may be stale, and rewriting it would undo a
  // newer commit.
  auto current = db_->get_manifest(rocksdb::ReadOptions(), id);
  if (!current.ok() || current->version_ms != m.version_ms ||
      now - current->last_access_ms < kAccessRefreshMs)
    return;
  rocksdb::WriteBatch batch;
  (void)batch.Delete(db_->cf(Cf::access), keys::access(current->last_access_ms, id).slice());
  current->last_access_ms = now;
  (void)batch.Put(db_->cf(Cf::manifests), keys::manifest(id), encode_manifest(*current));
  (void)batch.Put(db_->cf(Cf::access), keys::access(now, id).slice(), {});
  auto s = db_->db()->Write(refresh_options_, &batch);
  // Best effort: a failed refresh leaves the older access time, which only ages the artifact.
  if (!s.ok()) spdlog::warn("store: refreshing last access failed: {}", s.ToString());
}

Result<RocksStore::GateInputs> RocksStore::read_gate_inputs(const Digest& id,
                                                            std::string_view tenant,
                                                            std::string_view ns) const {
  GateInputs in;
  auto tombstone = tombstones_->get(tenant, ns);
  if (!tombstone.ok()) return tombstone.status();
  in.tombstone = *tombstone;
  auto stored = db_->get_manifest(rocksdb::ReadOptions(), id);
  if (!stored.ok() && stored.status().code() != Code::not_found) return stored.status();
  if (stored.ok()) {
    in.existing = backfill::effective_version(*stored);
    in.manifest = std::move(stored).value();
  }
  return in;
}

Result<std::unique_ptr<Writer>> RocksStore::begin_write(const ArtifactRef& ref,
                                                        WriteOptions options) {
  // What a node received is never forwarded, so a replicated apply writes no outbox rows. A
  // full outbox refuses a local write before its body arrives.
  if (options.origin == Origin::replica)
    options.outbox_targets.clear();
  else if (Status s = outbox_.check(options.outbox_targets); !s.ok())
    return s;
  // Refused before the body arrives, so HTTP can answer 413 to Expect: 100-continue.
  if (options.expected_size && *options.expected_size > options_.max_artifact_bytes)
    return Status(Code::too_large,
                  fmt::format("declared size {} exceeds the {} byte limit", *options.expected_size,
                              options_.max_artifact_bytes));
  const Digest id = artifact_digest(ref);
  auto version = reserve_version(id, ref, options);
  if (!version.ok()) return version.status();
  return std::unique_ptr<Writer>(new RocksWriter(*this, id, *version, ref, std::move(options)));
}

Result<int64_t> RocksStore::reserve_version(const Digest& id, const ArtifactRef& ref,
                                            const WriteOptions& options) {
  const int64_t requested = options.version_ms.value_or(0);
  if (requested < 0) return Status(Code::invalid_argument, "version_ms is negative");
  auto& slot = locks_.slot(id);
  std::lock_guard guard(slot.mu);
  auto stored = read_gate_inputs(id, ref.tenant, ref.ns);
  if (!stored.ok()) return stored.status();
  const auto& existing = stored->existing;
  const auto& tombstone = stored->tombstone;
  // Writes in flight own their versions' chunk keys even though no manifest names them.
  int64_t in_flight = std::numeric_limits<int64_t>::min();
  bool same_in_flight = false;
  for (const auto& w : slot.writing) {
    if (w.id != id) continue;
    in_flight = std::max(in_flight, w.version_ms);
    same_in_flight |= w.version_ms == requested;
  }

  int64_t version = requested;
  if (options.origin == Origin::replica) {
    auto verdict = lww_gate(requested, tombstone, existing);
    // Another apply of this very version is streaming (a sender's retry of an upload whose first
    // attempt may never finish): not applied yet, so "ignored" would acknowledge bytes nobody
    // stored. The sender retries, and by then the first attempt has committed or gone.
    if (verdict == ApplyVerdict::applied && same_in_flight)
      return Status(
          Code::unavailable,
          fmt::format("version {} of this artifact is still being received; retry", requested));
    if (verdict != ApplyVerdict::applied)
      return Status(Code::conflict, std::string(verdict_name(verdict)));
    // Version 0 with no local copy and no tombstone: stamped now, as Kura does. A newer version
    // in flight is left to the commit's check.
    if (version == 0) {
      version = clock_();
      if (version <= in_flight) version = in_flight + 1;
    }
  } else {
    // Local writes always supersede: strictly newer than the stored version, every write in
    // flight and the namespace's tombstone, so a client write is never blocked by a delete.
    if (version == 0) version = clock_();
    const int64_t floor =
        std::max({in_flight, existing.value_or(in_flight), tombstone.value_or(in_flight)});
    if (version <= floor) version = floor + 1;
  }
  slot.writing.push_back({id, version});
  return version;
}

void RocksStore::release_version(ArtifactLocks::Slot& slot, const Digest& id, int64_t version_ms) {
  std::erase_if(slot.writing,
                [&](const auto& w) { return w.id == id && w.version_ms == version_ms; });
}

Result<Manifest> RocksStore::commit_write(const Digest& id, Manifest m, uint64_t chunks,
                                          const std::vector<std::string>& outbox_targets) {
  auto& slot = locks_.slot(id);
  const int64_t version = m.version_ms;
  m.created_ms = m.last_access_ms = clock_();
  std::optional<Manifest> overtaken;
  {
    std::lock_guard guard(slot.mu);
    // A newer version or a namespace delete may have landed while the body streamed.
    auto hold = tombstones_->hold_for_commit();
    auto stored = read_gate_inputs(id, m.tenant, m.ns);
    if (!stored.ok()) return stored.status();
    auto& previous = stored->manifest;
    const auto verdict = lww_gate(version, stored->tombstone, stored->existing);
    if (verdict != ApplyVerdict::applied && m.origin == Origin::replica)
      return Status(Code::conflict, std::string(verdict_name(verdict)));
    if (verdict != ApplyVerdict::applied) {
      // A local write has simply lost the last-writer-wins race: for its client the PUT
      // succeeded and was then overwritten (or deleted with its namespace), so it gets the
      // winner's manifest, or its own when a tombstone won.
      overtaken.emplace(previous && stored->existing >= version ? std::move(*previous)
                                                                : std::move(m));
    } else {
      rocksdb::WriteBatch batch;
      CounterDelta delta{.bytes = static_cast<int64_t>(m.size), .artifacts = 1};
      // The previous version's rows go first: a later Put of the same key in the batch wins.
      if (previous) {
        db_->delete_artifact(batch, id, *previous, options_.chunk_bytes);
        delta.bytes -= static_cast<int64_t>(previous->size);
        delta.artifacts = 0;
      }
      (void)batch.Put(db_->cf(Cf::manifests), keys::manifest(id), encode_manifest(m));
      (void)batch.Put(db_->cf(Cf::access), keys::access(m.last_access_ms, id).slice(), {});
      backfill::put_artifact(batch, *db_, m);
      if (chunks > 0) (void)batch.Delete(db_->cf(Cf::meta), keys::pending(id, version).slice());
      const uint64_t first_seq =
          outbox_.stage(batch, outbox_targets, keys::outbox_value(id, version).slice());
      Counters::stage(batch, db_->cf(Cf::meta), delta);
      // Returns once the batch is in the WAL (and synced with fsync): acknowledged means
      // durable against a process crash.
      auto s = db_->db()->Write(commit_options_, &batch);
      outbox_.settle(outbox_targets, first_seq, s.ok());
      if (!s.ok()) return from_rocks(s, "committing a write");
      counters_.apply(delta);
      release_version(slot, id, version);
    }
  }
  if (overtaken) {
    discard_write(id, version, chunks);  // its chunks were never exposed
    return std::move(*overtaken);
  }
  evict_if_over_capacity();
  return m;
}

void RocksStore::discard_write(const Digest& id, int64_t version_ms, uint64_t chunks) {
  if (chunks > 0) {
    rocksdb::WriteBatch batch;
    db_->delete_chunks(batch, id, version_ms, chunks);
    (void)batch.Delete(db_->cf(Cf::meta), keys::pending(id, version_ms).slice());
    auto s = db_->db()->Write(rocksdb::WriteOptions(), &batch);
    // The marker stays when this fails, so the next open() sweeps these chunks.
    if (!s.ok()) spdlog::warn("store: discarding an uncommitted write failed: {}", s.ToString());
  }
  // Only now may another write take this version's chunk keys.
  auto& slot = locks_.slot(id);
  std::lock_guard guard(slot.mu);
  release_version(slot, id, version_ms);
}

void RocksStore::evict_if_over_capacity() {
  auto s = evictor_->run();
  if (!s.ok()) spdlog::warn("store: eviction pass failed: {}", s.message());
}

Status RocksStore::remove(const ArtifactRef& ref) {
  const Digest id = artifact_digest(ref);
  auto& slot = locks_.slot(id);
  std::lock_guard guard(slot.mu);
  auto m = db_->get_manifest(rocksdb::ReadOptions(), id);
  if (!m.ok()) return m.status();
  rocksdb::WriteBatch batch;
  CounterDelta delta{.bytes = -static_cast<int64_t>(m->size), .artifacts = -1};
  db_->delete_artifact(batch, id, *m, options_.chunk_bytes);
  Counters::stage(batch, db_->cf(Cf::meta), delta);
  auto s = db_->db()->Write(commit_options_, &batch);
  if (!s.ok()) return from_rocks(s, "removing an artifact");
  counters_.apply(delta);
  return Status::Ok();
}

namespace {

Status check_space(std::string_view space) {
  if (space.empty() || space.find('\0') != std::string_view::npos)
    return Status(Code::invalid_argument, "record space is empty or contains NUL");
  return Status::Ok();
}

}  // namespace

Status RocksStore::put_records(std::string_view space, std::span<const Record> records) {
  if (Status s = check_space(space); !s.ok()) return s;
  if (records.empty()) return Status::Ok();
  rocksdb::WriteBatch batch;
  for (const auto& [key, value] : records)
    (void)batch.Put(db_->cf(Cf::records), keys::record(space, key), value);
  auto s = db_->db()->Write(commit_options_, &batch);
  return s.ok() ? Status::Ok() : from_rocks(s, "writing records");
}

Result<std::vector<Store::Record>> RocksStore::scan_records(std::string_view space, size_t limit,
                                                            std::string_view after) {
  if (Status s = check_space(space); !s.ok()) return s;
  std::vector<Record> out;
  if (limit == 0) return out;
  const std::string prefix = keys::record(space, {});
  // The bound keeps RocksDB from stepping into the next space (and over its tombstones).
  std::string bound = prefix;
  bound.back() = '\x01';
  const rocksdb::Slice upper(bound);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator(options, db_->cf(Cf::records)));
  const std::string start = keys::record(space, after);
  it->Seek(start);
  if (!after.empty() && it->Valid() && it->key() == rocksdb::Slice(start)) it->Next();
  for (; it->Valid() && out.size() < limit; it->Next()) {
    rocksdb::Slice key = it->key();
    key.remove_prefix(prefix.size());
    out.emplace_back(key.ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return from_rocks(it->status(), "reading records");
  return out;
}

Status RocksStore::delete_records(std::string_view space, std::span<const std::string> keys) {
  if (Status s = check_space(space); !s.ok()) return s;
  if (keys.empty()) return Status::Ok();
  rocksdb::WriteBatch batch;
  for (const auto& key : keys) (void)batch.Delete(db_->cf(Cf::records), keys::record(space, key));
  auto s = db_->db()->Write(commit_options_, &batch);
  return s.ok() ? Status::Ok() : from_rocks(s, "deleting records");
}

Result<ApplyVerdict> RocksStore::lww_verdict(const ArtifactRef& ref, int64_t version_ms) {
  if (version_ms < 0) return Status(Code::invalid_argument, "version_ms is negative");
  auto stored = read_gate_inputs(artifact_digest(ref), ref.tenant, ref.ns);
  if (!stored.ok()) return stored.status();
  return lww_gate(version_ms, stored->tombstone, stored->existing);
}

Result<bool> RocksStore::delete_namespace(const std::string& tenant, const std::string& ns,
                                          std::optional<int64_t> version_ms,
                                          const std::vector<std::string>& outbox_targets) {
  return tombstones_->apply(tenant, ns, version_ms, outbox_targets);
}

Result<int64_t> RocksStore::namespace_tombstone(const std::string& tenant, const std::string& ns) {
  auto tombstone = tombstones_->get(tenant, ns);
  if (!tombstone.ok()) return tombstone.status();
  return tombstone->value_or(0);
}

Result<std::vector<OutboxRow>> RocksStore::scan_outbox(std::string_view target, uint64_t from_seq,
                                                       size_t limit) {
  return outbox_.scan(target, from_seq, limit);
}

Status RocksStore::delete_outbox(std::string_view target, std::span<const uint64_t> seqs) {
  return outbox_.remove(target, seqs);
}

Result<uint64_t> RocksStore::drop_outbox_target(std::string_view target) {
  return outbox_.drop(target);
}

std::map<std::string, uint64_t> RocksStore::outbox_depths() const { return outbox_.depths(); }

Result<BackfillPage> RocksStore::list_backfill(std::string_view after, size_t limit) {
  return backfill::list(*db_, after, limit);
}

StoreStats RocksStore::stats() const {
  return StoreStats{.bytes = counters_.bytes(),
                    .artifacts = counters_.artifacts(),
                    .capacity_bytes = options_.capacity_bytes,
                    .evictions = counters_.evictions(),
                    .evicted_bytes = counters_.evicted_bytes(),
                    .outbox_rows = counters_.outbox_rows()};
}

}  // namespace meshcache::storage
