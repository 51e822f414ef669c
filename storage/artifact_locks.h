// artifact_locks.h: striped per-artifact mutexes that serialize the read-modify-write steps on
// one artifact (commit, remove, evict, access refresh), plus the versions of its writes in
// flight (any thread; never taken on the plain read path).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <vector>

#include "storage/sha256.h"

namespace meshcache::storage {

class ArtifactLocks {
 public:
  struct Slot {
    std::mutex mu;
    // (artifact, version_ms) of Writers that have not committed or been discarded yet: their
    // chunk keys are taken even though no manifest names them.
    struct Writing {
      Digest id;
      int64_t version_ms;
    };
    std::vector<Writing> writing;
  };

  // The digest is uniformly distributed, so its first byte is a fair stripe choice.
  Slot& slot(const Digest& id) { return slots_[id[0] % kSlots]; }

 private:
  static constexpr size_t kSlots = 64;
  std::array<Slot, kSlots> slots_;
};

}  // namespace meshcache::storage
