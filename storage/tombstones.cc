// tombstones.cc: namespace tombstones, the last-writer-wins gate and namespace deletes (the
// internal plane's I/O threads apply deletes; committing threads read tombstones).
#include "storage/tombstones.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>

#include <spdlog/spdlog.h>

#include "storage/backfill_index.h"
#include "storage/keys.h"
#include "storage/manifest_codec.h"

namespace meshcache::storage {
namespace {

// Artifacts collected per scan round: bounded memory for a namespace of any size.
constexpr size_t kRoundIds = 4096;

bool doomed(const Manifest& m, std::string_view tenant, std::string_view ns,
            std::optional<int64_t> up_to) {
  return m.tenant == tenant && m.ns == ns && (!up_to || backfill::effective_version(m) <= *up_to);
}

}  // namespace

std::string_view verdict_name(ApplyVerdict verdict) {
  switch (verdict) {
    case ApplyVerdict::applied:
      return "applied";
    case ApplyVerdict::ignored_equal:
      return "ignored_equal";
    case ApplyVerdict::ignored_stale:
      return "ignored_stale";
    case ApplyVerdict::ignored_tombstone:
      return "ignored_tombstone";
  }
  return "applied";
}

ApplyVerdict lww_gate(int64_t incoming, std::optional<int64_t> tombstone,
                      std::optional<int64_t> existing) {
  if (tombstone && (incoming == 0 || *tombstone >= incoming))
    return ApplyVerdict::ignored_tombstone;
  if (!existing) return ApplyVerdict::applied;
  // No tie-break: on an equal version the local copy wins, even if the bytes differ.
  if (incoming != 0 && *existing < incoming) return ApplyVerdict::applied;
  return incoming == *existing ? ApplyVerdict::ignored_equal : ApplyVerdict::ignored_stale;
}

Tombstones::Tombstones(const RocksDb& db, Counters& counters, ArtifactLocks& locks, Outbox& outbox,
                       uint64_t chunk_bytes, const rocksdb::WriteOptions& commit_options)
    : db_(db),
      counters_(counters),
      locks_(locks),
      outbox_(outbox),
      chunk_bytes_(chunk_bytes),
      commit_options_(commit_options) {}

Result<std::optional<int64_t>> Tombstones::get(std::string_view tenant, std::string_view ns) const {
  rocksdb::PinnableSlice value;
  auto s = db_.db()->Get(rocksdb::ReadOptions(), db_.cf(Cf::tombstones),
                         keys::tombstone(tenant, ns), &value);
  if (s.IsNotFound()) return std::optional<int64_t>();
  if (!s.ok()) return from_rocks(s, "reading a namespace tombstone");
  if (value.size() != 8) return Status(Code::corruption, "malformed namespace tombstone");
  return std::optional<int64_t>(static_cast<int64_t>(keys::get_be64(value.data())));
}

Result<bool> Tombstones::apply(const std::string& tenant, const std::string& ns,
                               std::optional<int64_t> version_ms,
                               const std::vector<std::string>& targets) {
  if (tenant.find('\0') != std::string::npos)
    return Status(Code::invalid_argument, "tenant contains NUL");
  if (version_ms && *version_ms < 0)
    return Status(Code::invalid_argument, "a tombstone's version is negative");
  if (!version_ms || *version_ms == 0) {
    if (Status s = purge(tenant, ns, std::nullopt); !s.ok()) return s;
    return true;
  }
  if (Status s = outbox_.check(targets); !s.ok()) return s;
  {
    std::unique_lock guard(mu_);
    auto stored = get(tenant, ns);
    if (!stored.ok()) return stored.status();
    if (*stored && **stored >= *version_ms) return false;
    rocksdb::WriteBatch batch;
    char encoded[8];
    keys::put_be64(encoded, static_cast<uint64_t>(*version_ms));
    (void)batch.Put(db_.cf(Cf::tombstones), keys::tombstone(tenant, ns),
                    rocksdb::Slice(encoded, sizeof encoded));
    if (*stored) backfill::delete_tombstone(batch, db_, ns, **stored);
    backfill::put_tombstone(batch, db_, ns, *version_ms);
    const uint64_t first_seq =
        outbox_.stage(batch, targets, keys::outbox_namespace_value(ns, *version_ms));
    auto s = db_.db()->Write(commit_options_, &batch);
    outbox_.settle(targets, first_seq, s.ok());
    if (!s.ok()) return from_rocks(s, "writing a namespace tombstone");
  }
  if (Status s = purge(tenant, ns, version_ms); !s.ok()) return s;
  return true;
}

Status Tombstones::purge(std::string_view tenant, std::string_view ns,
                         std::optional<int64_t> up_to) {
  rocksdb::ReadOptions scan;
  scan.fill_cache = false;  // one pass over cold rows
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(scan, db_.cf(Cf::manifests)));
  std::vector<Digest> round;
  size_t removed = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 32) return Status(Code::corruption, "malformed manifest key");
    Digest id;
    std::copy_n(it->key().data(), id.size(), id.begin());
    auto m = decode_manifest(it->value(), to_hex(id));
    if (!m.ok()) return m.status();
    if (!doomed(*m, tenant, ns, up_to)) continue;
    round.push_back(id);
    if (round.size() < kRoundIds) continue;
    removed += round.size();
    if (Status s = remove_round(round, tenant, ns, up_to); !s.ok()) return s;
  }
  if (!it->status().ok()) return from_rocks(it->status(), "scanning manifests");
  removed += round.size();
  if (Status s = remove_round(round, tenant, ns, up_to); !s.ok()) return s;
  if (removed > 0) spdlog::info("store: a namespace delete removed {} artifact(s)", removed);
  return Status::Ok();
}

Status Tombstones::remove_round(std::vector<Digest>& ids, std::string_view tenant,
                                std::string_view ns, std::optional<int64_t> up_to) {
  const auto slot_of = [this](const Digest& id) { return &locks_.slot(id); };
  std::sort(ids.begin(), ids.end(), [&](const Digest& a, const Digest& b) {
    return std::less<>()(slot_of(a), slot_of(b));
  });
  for (auto first = ids.begin(); first != ids.end();) {
    auto& slot = *slot_of(*first);
    auto last =
        std::find_if(first, ids.end(), [&](const Digest& id) { return slot_of(id) != &slot; });
    std::lock_guard guard(slot.mu);
    rocksdb::WriteBatch batch;
    CounterDelta delta;
    for (; first != last; ++first) {
      // Re-read under the lock: the artifact may have been overwritten with a newer version
      // (kept), removed or evicted since the scan saw it.
      auto m = db_.get_manifest(rocksdb::ReadOptions(), *first);
      if (!m.ok() && m.status().code() == Code::not_found) continue;
      if (!m.ok()) return m.status();
      if (!doomed(*m, tenant, ns, up_to)) continue;
      db_.delete_artifact(batch, *first, *m, chunk_bytes_);
      delta.bytes -= static_cast<int64_t>(m->size);
      --delta.artifacts;
    }
    if (delta.artifacts == 0) continue;
    Counters::stage(batch, db_.cf(Cf::meta), delta);
    auto s = db_.db()->Write(commit_options_, &batch);
    if (!s.ok()) return from_rocks(s, "removing a namespace's artifacts");
    counters_.apply(delta);
  }
  ids.clear();
  return Status::Ok();
}

}  // namespace meshcache::storage
