// counters.cc: the store's running totals, in atomics and as merge operands in the meta column
// family (any thread).
//
// Persisting them (rather than scanning every manifest at open) keeps open() independent of the
// store's size: with 100k manifests, scanning and decoding them took 130-160 ms on top of a
// 50-60 ms open (2 loaded cores); reading five merged keys takes microseconds.
#include "storage/counters.h"

#include <array>
#include <string_view>
#include <utility>

#include <rocksdb/slice.h>

#include "storage/rocks_db.h"

namespace meshcache::storage {
namespace {

constexpr std::string_view kBytes = "counter/bytes", kArtifacts = "counter/artifacts",
                           kEvictions = "counter/evictions",
                           kEvictedBytes = "counter/evicted_bytes",
                           kOutboxRows = "counter/outbox_rows";

std::array<char, 8> encode(uint64_t v) {
  std::array<char, 8> out;
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
  return out;
}

bool decode(const rocksdb::Slice& in, uint64_t* v) {
  if (in.size() != 8) return false;
  *v = 0;
  for (int i = 7; i >= 0; --i) *v = *v << 8 | static_cast<uint8_t>(in[i]);
  return true;
}

class AddOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    uint64_t base = 0, add = 0;
    if ((existing != nullptr && !decode(*existing, &base)) || !decode(value, &add)) return false;
    auto sum = encode(base + add);
    new_value->assign(sum.data(), sum.size());
    return true;
  }
  const char* Name() const override { return "meshcache.uint64add"; }
};

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> Counters::merge_operator() {
  return std::make_shared<AddOperator>();
}

Status Counters::load(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* meta) {
  const std::pair<std::string_view, std::atomic<uint64_t>*> fields[] = {
      {kBytes, &bytes_},
      {kArtifacts, &artifacts_},
      {kEvictions, &evictions_},
      {kEvictedBytes, &evicted_bytes_},
      {kOutboxRows, &outbox_rows_}};
  for (const auto& [key, field] : fields) {
    std::string value;
    auto s = db->Get(rocksdb::ReadOptions(), meta, rocksdb::Slice(key.data(), key.size()), &value);
    uint64_t total = 0;
    if (s.ok() && !decode(value, &total))
      return Status(Code::corruption, "store counter " + std::string(key) + " is malformed");
    if (!s.ok() && !s.IsNotFound()) return from_rocks(s, "reading the store's counters");
    field->store(total, std::memory_order_relaxed);
  }
  return Status::Ok();
}

void Counters::stage(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* meta,
                     const CounterDelta& delta) {
  const std::pair<std::string_view, int64_t> fields[] = {{kBytes, delta.bytes},
                                                         {kArtifacts, delta.artifacts},
                                                         {kEvictions, delta.evictions},
                                                         {kEvictedBytes, delta.evicted_bytes},
                                                         {kOutboxRows, delta.outbox_rows}};
  for (const auto& [key, change] : fields)
    if (change != 0) stage_add(batch, meta, rocksdb::Slice(key.data(), key.size()), change);
}

void Counters::stage_add(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* meta,
                         rocksdb::Slice key, int64_t change) {
  // Two's complement makes a negative change a wrapping add.
  auto operand = encode(static_cast<uint64_t>(change));
  (void)batch.Merge(meta, key, rocksdb::Slice(operand.data(), operand.size()));
}

std::optional<uint64_t> Counters::parse_total(rocksdb::Slice value) {
  uint64_t total = 0;
  if (!decode(value, &total)) return std::nullopt;
  return total;
}

void Counters::apply(const CounterDelta& delta) {
  bytes_.fetch_add(static_cast<uint64_t>(delta.bytes), std::memory_order_relaxed);
  artifacts_.fetch_add(static_cast<uint64_t>(delta.artifacts), std::memory_order_relaxed);
  evictions_.fetch_add(static_cast<uint64_t>(delta.evictions), std::memory_order_relaxed);
  evicted_bytes_.fetch_add(static_cast<uint64_t>(delta.evicted_bytes), std::memory_order_relaxed);
  outbox_rows_.fetch_add(static_cast<uint64_t>(delta.outbox_rows), std::memory_order_relaxed);
}

}  // namespace meshcache::storage
