// backoff.cc: capped exponential retry delays with jitter (CpTransport thread).
#include "agent/controlplane/backoff.h"

#include <algorithm>

namespace meshcache::agent::cp {

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap)
    : base_(std::max(base, std::chrono::milliseconds(1))),
      cap_(std::max(cap, base_)),
      rng_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::next() {
  // Stop doubling once the cap is reached so the shift never overflows.
  auto ceiling = base_;
  for (int i = 0; i < failures_ && ceiling < cap_; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap_);
  if (ceiling < cap_) ++failures_;
  std::uniform_int_distribution<int64_t> pick(ceiling.count() / 2, ceiling.count());
  return std::chrono::milliseconds(pick(rng_));
}

}  // namespace meshcache::agent::cp
