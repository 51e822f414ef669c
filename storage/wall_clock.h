// wall_clock.h: the wall clock in Unix milliseconds, the unit of every version_ms, outbox
// timestamp and status time (any thread). Header-only in meshcache_status, so every target
// shares this one definition.
#pragma once

#include <chrono>
#include <cstdint>

namespace meshcache {

inline int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace meshcache
