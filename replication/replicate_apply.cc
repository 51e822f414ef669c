// replicate_apply.cc: producers, replica write options and outcome names of the LWW apply
// path; any thread.
#include "replication/replicate_apply.h"

#include <array>

namespace meshcache::replication {
namespace {

constexpr std::array<std::string_view, 9> kProducers = {
    "xcode", "gradle", "module", "reapi", "nx", "metro",  // Kura's
    "bazel", "http",   "turbo",                           // meshcache's
};

}  // namespace

bool known_producer(std::string_view producer) {
  for (std::string_view p : kProducers) {
    if (p == producer) return true;
  }
  return false;
}

storage::WriteOptions replica_write_options(std::string content_type, int64_t version_ms,
                                            std::optional<uint64_t> expected_size) {
  storage::WriteOptions options;
  options.content_type = std::move(content_type);
  options.origin = storage::Origin::replica;
  if (version_ms != 0) options.version_ms = version_ms;
  options.expected_size = expected_size;
  return options;
}

std::string_view failure_outcome(const Status& failure) {
  if (failure.code() != Code::conflict) return kErrorOutcome;
  for (auto v : {storage::ApplyVerdict::ignored_equal, storage::ApplyVerdict::ignored_stale,
                 storage::ApplyVerdict::ignored_tombstone}) {
    if (storage::verdict_name(v) == failure.message()) return storage::verdict_name(v);
  }
  return kErrorOutcome;
}

std::string_view apply_small(storage::Store& store, const storage::ArtifactRef& ref,
                             int64_t version_ms, std::string content_type, std::string_view body) {
  Result<storage::ApplyVerdict> verdict = store.lww_verdict(ref, version_ms);
  if (!verdict.ok()) return kErrorOutcome;
  if (*verdict != storage::ApplyVerdict::applied) return storage::verdict_name(*verdict);
  auto writer = store.begin_write(
      ref, replica_write_options(std::move(content_type), version_ms, body.size()));
  if (!writer.ok()) return failure_outcome(writer.status());
  Status appended =
      writer.value()->append({reinterpret_cast<const uint8_t*>(body.data()), body.size()});
  if (!appended.ok()) return failure_outcome(appended);
  Result<storage::Manifest> committed = writer.value()->commit();
  if (!committed.ok()) return failure_outcome(committed.status());
  return storage::verdict_name(storage::ApplyVerdict::applied);
}

}  // namespace meshcache::replication
