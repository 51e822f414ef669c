// outbox.cc: the rows owed to each replication target and their depths (committing threads
// stage rows; the push worker's thread scans and deletes them).
#include "storage/outbox.h"

#include <algorithm>
#include <memory>

#include <fmt/core.h>

#include "storage/keys.h"

namespace meshcache::storage {
namespace {

// Deletes per batch when a whole target is dropped: bounded memory for any backlog.
constexpr size_t kDropBatchRows = 4096;

Status check_target(std::string_view target) {
  if (target.empty() || target.find('\0') != std::string_view::npos)
    return Status(Code::invalid_argument, "outbox target is empty or contains NUL");
  return Status::Ok();
}

// Keys of `target` sort below this: '\x01' follows the separator.
std::string upper_bound_of(std::string_view target) {
  std::string bound(target);
  bound.push_back('\x01');
  return bound;
}

Result<OutboxRow> parse_row(uint64_t seq, rocksdb::Slice value) {
  OutboxRow row;
  row.seq = seq;
  if (value.size() < 40) return Status(Code::corruption, "malformed outbox row");
  row.version_ms = static_cast<int64_t>(keys::get_be64(value.data() + 32));
  const auto* id = reinterpret_cast<const uint8_t*>(value.data());
  if (value.size() == 40) {
    row.kind = OutboxRow::Kind::artifact;
    row.artifact_id = to_hex({id, 32});
    return row;
  }
  if (value[40] != 1 || std::any_of(id, id + 32, [](uint8_t b) { return b != 0; }))
    return Status(Code::corruption, "malformed outbox row");
  row.kind = OutboxRow::Kind::namespace_delete;
  row.ns.assign(value.data() + 41, value.size() - 41);
  return row;
}

}  // namespace

Outbox::Outbox(const RocksDb& db, Counters& counters, uint64_t max_rows)
    : db_(db), counters_(counters), max_rows_(max_rows) {}

Status Outbox::load() {
  rocksdb::ReadOptions scan;
  scan.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(scan, db_.cf(Cf::outbox)));
  uint64_t next = 0;
  std::lock_guard guard(depth_mu_);
  depths_.clear();
  std::string target;
  uint64_t* depth = nullptr;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto parsed = keys::parse_outbox(it->key());
    if (!parsed) return Status(Code::corruption, "malformed outbox key");
    next = std::max(next, parsed->second + 1);
    // Rows of one target are contiguous: one map lookup per target, not per row.
    if (depth == nullptr || parsed->first != target) {
      target.assign(parsed->first);
      depth = &depths_[target];
    }
    ++*depth;
  }
  if (!it->status().ok()) return from_rocks(it->status(), "reading the outbox");
  next_seq_.store(next, std::memory_order_relaxed);
  return Status::Ok();
}

Status Outbox::check(const std::vector<std::string>& targets) const {
  for (const auto& target : targets)
    if (Status s = check_target(target); !s.ok()) return s;
  if (max_rows_ == 0 || targets.empty()) return Status::Ok();
  const uint64_t rows = counters_.outbox_rows();
  if (rows + targets.size() > max_rows_)
    return Status(Code::unavailable,
                  fmt::format("outbox is full: {} rows waiting for peers", rows));
  return Status::Ok();
}

void Outbox::stage(rocksdb::WriteBatch& batch, const std::vector<std::string>& targets,
                   rocksdb::Slice value) {
  if (targets.empty()) return;
  uint64_t seq = next_seq_.fetch_add(targets.size(), std::memory_order_relaxed);
  for (const auto& target : targets) {
    (void)batch.Put(db_.cf(Cf::outbox), keys::outbox(target, seq++), value);
    count(target, 1);
  }
  const CounterDelta delta{.outbox_rows = static_cast<int64_t>(targets.size())};
  Counters::stage(batch, db_.cf(Cf::meta), delta);
  counters_.apply(delta);
}

void Outbox::cancel(const std::vector<std::string>& targets) {
  for (const auto& target : targets) count(target, -1);
  counters_.apply(CounterDelta{.outbox_rows = -static_cast<int64_t>(targets.size())});
}

Result<std::vector<OutboxRow>> Outbox::scan(std::string_view target, uint64_t from_seq,
                                            size_t limit) {
  if (Status s = check_target(target); !s.ok()) return s;
  std::vector<OutboxRow> rows;
  if (limit == 0) return rows;
  const std::string bound = upper_bound_of(target);
  const rocksdb::Slice upper(bound);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(options, db_.cf(Cf::outbox)));
  for (it->Seek(keys::outbox(target, from_seq)); it->Valid() && rows.size() < limit; it->Next()) {
    auto key = keys::parse_outbox(it->key());
    if (!key) return Status(Code::corruption, "malformed outbox key");
    auto row = parse_row(key->second, it->value());
    if (!row.ok()) return row.status();
    rows.push_back(std::move(row).value());
  }
  if (!it->status().ok()) return from_rocks(it->status(), "reading the outbox");
  return rows;
}

Status Outbox::remove(std::string_view target, std::span<const uint64_t> seqs) {
  if (Status s = check_target(target); !s.ok()) return s;
  std::vector<uint64_t> unique(seqs.begin(), seqs.end());
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  if (unique.empty()) return Status::Ok();
  std::vector<std::string> row_keys;
  row_keys.reserve(unique.size());
  for (uint64_t seq : unique) row_keys.push_back(keys::outbox(target, seq));
  std::vector<rocksdb::Slice> slices(row_keys.begin(), row_keys.end());
  std::vector<rocksdb::PinnableSlice> values(slices.size());
  std::vector<rocksdb::Status> found(slices.size());

  std::lock_guard guard(delete_mu_);
  db_.db()->MultiGet(rocksdb::ReadOptions(), db_.cf(Cf::outbox), slices.size(), slices.data(),
                     values.data(), found.data(), /*sorted_input=*/true);
  rocksdb::WriteBatch batch;
  uint64_t rows = 0;
  for (size_t i = 0; i < slices.size(); ++i) {
    if (found[i].IsNotFound()) continue;  // delivered and deleted before
    if (!found[i].ok()) return from_rocks(found[i], "reading the outbox");
    (void)batch.Delete(db_.cf(Cf::outbox), slices[i]);
    ++rows;
  }
  return write_deletes(batch, target, rows);
}

Result<uint64_t> Outbox::drop(std::string_view target) {
  if (Status s = check_target(target); !s.ok()) return s;
  const std::string bound = upper_bound_of(target);
  const rocksdb::Slice upper(bound);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper;
  options.fill_cache = false;

  std::lock_guard guard(delete_mu_);
  std::unique_ptr<rocksdb::Iterator> it(db_.db()->NewIterator(options, db_.cf(Cf::outbox)));
  rocksdb::WriteBatch batch;
  uint64_t staged = 0, dropped = 0;
  for (it->Seek(keys::outbox(target, 0)); it->Valid(); it->Next()) {
    (void)batch.Delete(db_.cf(Cf::outbox), it->key());
    if (++staged < kDropBatchRows) continue;
    if (Status s = write_deletes(batch, target, staged); !s.ok()) return s;
    dropped += staged;
    staged = 0;
    batch.Clear();
  }
  if (!it->status().ok()) return from_rocks(it->status(), "reading the outbox");
  if (Status s = write_deletes(batch, target, staged); !s.ok()) return s;
  return dropped + staged;
}

std::map<std::string, uint64_t> Outbox::depths() const {
  std::lock_guard guard(depth_mu_);
  return {depths_.begin(), depths_.end()};
}

void Outbox::count(std::string_view target, int64_t change) {
  std::lock_guard guard(depth_mu_);
  auto it = depths_.find(target);
  if (it == depths_.end()) it = depths_.emplace(std::string(target), 0).first;
  it->second += static_cast<uint64_t>(change);
  if (it->second == 0) depths_.erase(it);
}

Status Outbox::write_deletes(rocksdb::WriteBatch& batch, std::string_view target, uint64_t rows) {
  if (rows == 0) return Status::Ok();
  const CounterDelta delta{.outbox_rows = -static_cast<int64_t>(rows)};
  Counters::stage(batch, db_.cf(Cf::meta), delta);
  // No sync: a deletion lost to a crash only means delivering those rows again.
  auto s = db_.db()->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return from_rocks(s, "deleting outbox rows");
  counters_.apply(delta);
  count(target, -static_cast<int64_t>(rows));
  return Status::Ok();
}

}  // namespace meshcache::storage
