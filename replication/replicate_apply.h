// replicate_apply.h: the receiving side's apply path through the LWW gate, shared by the
// per-artifact, batch and warm-up paths: known producers, the write options of a replica, and
// the outcome name of an attempt. Any thread (the store is thread-safe).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/status.h"
#include "storage/store.h"

namespace meshcache::replication {

// The outcome of an apply that failed (beside the verdict names).
inline constexpr std::string_view kErrorOutcome = "error";

// Kura's producers plus meshcache's own; anything else is refused (400 / outcome "error").
bool known_producer(std::string_view producer);

// Origin replica, the sender's version (0 = none: the store stamps its clock), and the
// declared size when there is one. Never enqueued again: a replica has no outbox targets.
storage::WriteOptions replica_write_options(std::string content_type, int64_t version_ms,
                                            std::optional<uint64_t> expected_size);

// The outcome to count for a failed write: the verdict a replicated begin_write()/commit()
// lost a race to (Code::conflict, message = verdict name), else "error".
std::string_view failure_outcome(const Status& failure);

// Gate and write of a body already in memory (batch items): the outcome name (a verdict, or
// "error").
std::string_view apply_small(storage::Store& store, const storage::ArtifactRef& ref,
                             int64_t version_ms, std::string content_type, std::string_view body);

}  // namespace meshcache::replication
