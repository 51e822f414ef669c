// outbox.cc: the rows owed to each replication target and their depths (committing threads
// stage rows; the push worker's thread scans and deletes them).
#include "storage/outbox.h"

#include <algorithm>
#include <limits>
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
  std::lock_guard guard(mu_);
  depths_.clear();
  const rocksdb::Slice prefix(keys::kOutboxDepthPrefix.data(), keys::kOutboxDepthPrefix.size());
  std::unique_ptr<rocksdb::Iterator> totals(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Cf::meta)));
  for (totals->Seek(prefix); totals->Valid() && totals->key().starts_with(prefix); totals->Next()) {
    auto depth = Counters::parse_total(totals->value());
    if (!depth) return Status(Code::corruption, "malformed outbox depth");
    // A target whose rows were all delivered or dropped keeps a total of 0.
    if (*depth == 0) continue;
    rocksdb::Slice target = totals->key();
    target.remove_prefix(prefix.size());
    depths_.emplace(target.ToString(), *depth);
  }
  if (!totals->status().ok()) return from_rocks(totals->status(), "reading the outbox depths");

  // The next sequence is one past the highest in use; only targets with rows have any.
  std::unique_ptr<rocksdb::Iterator> rows(
      db_.db()->NewIterator(rocksdb::ReadOptions(), db_.cf(Cf::outbox)));
  next_seq_ = 0;
  for (const auto& [target, depth] : depths_) {
    rows->SeekForPrev(keys::outbox(target, std::numeric_limits<uint64_t>::max()));
    if (!rows->Valid()) continue;
    auto last = keys::parse_outbox(rows->key());
    if (last && last->first == target) next_seq_ = std::max(next_seq_, last->second + 1);
  }
  if (!rows->status().ok()) return from_rocks(rows->status(), "reading the outbox");
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

uint64_t Outbox::stage(rocksdb::WriteBatch& batch, const std::vector<std::string>& targets,
                       rocksdb::Slice value) {
  if (targets.empty()) return 0;
  uint64_t first = 0;
  {
    std::lock_guard guard(mu_);
    first = next_seq_;
    next_seq_ += targets.size();
    unsettled_.push_back(first);
    for (const auto& target : targets) count(target, 1);
  }
  uint64_t seq = first;
  for (const auto& target : targets) {
    (void)batch.Put(db_.cf(Cf::outbox), keys::outbox(target, seq++), value);
    Counters::stage_add(batch, db_.cf(Cf::meta), keys::outbox_depth(target), 1);
  }
  const CounterDelta delta{.outbox_rows = static_cast<int64_t>(targets.size())};
  Counters::stage(batch, db_.cf(Cf::meta), delta);
  counters_.apply(delta);
  return first;
}

void Outbox::settle(const std::vector<std::string>& targets, uint64_t first_seq, bool written) {
  if (targets.empty()) return;
  {
    std::lock_guard guard(mu_);
    std::erase(unsettled_, first_seq);
    if (written) return;
    for (const auto& target : targets) count(target, -1);
  }
  counters_.apply(CounterDelta{.outbox_rows = -static_cast<int64_t>(targets.size())});
}

Result<std::vector<OutboxRow>> Outbox::scan(std::string_view target, uint64_t from_seq,
                                            size_t limit) {
  if (Status s = check_target(target); !s.ok()) return s;
  std::vector<OutboxRow> rows;
  if (limit == 0) return rows;
  uint64_t horizon = 0;
  {
    std::lock_guard guard(mu_);
    horizon = unsettled_.empty() ? next_seq_ : unsettled_.front();
  }
  // Every row below the horizon was written before this iterator is made, so it sees them all.
  const std::string bound = keys::outbox(target, horizon);
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
  std::lock_guard guard(mu_);
  return {depths_.begin(), depths_.end()};
}

void Outbox::count(std::string_view target, int64_t change) {
  auto it = depths_.find(target);
  if (it == depths_.end()) it = depths_.emplace(std::string(target), 0).first;
  it->second += static_cast<uint64_t>(change);
  if (it->second == 0) depths_.erase(it);
}

Status Outbox::write_deletes(rocksdb::WriteBatch& batch, std::string_view target, uint64_t rows) {
  if (rows == 0) return Status::Ok();
  const CounterDelta delta{.outbox_rows = -static_cast<int64_t>(rows)};
  Counters::stage(batch, db_.cf(Cf::meta), delta);
  Counters::stage_add(batch, db_.cf(Cf::meta), keys::outbox_depth(target), delta.outbox_rows);
  // No sync: a deletion lost to a crash only means delivering those rows again.
  auto s = db_.db()->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return from_rocks(s, "deleting outbox rows");
  counters_.apply(delta);
  std::lock_guard guard(mu_);
  count(target, delta.outbox_rows);
  return Status::Ok();
}

}  // namespace meshcache::storage
