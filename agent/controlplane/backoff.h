// backoff.h: capped exponential retry delays with jitter (used on the CpTransport thread;
// one instance per retried call, not shared between threads).
#pragma once

#include <chrono>
#include <random>

namespace meshcache::agent::cp {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap);

  // The delay before the next try: uniform in [ceiling/2, ceiling], ceiling = min(cap,
  // base * 2^failures). The jitter keeps nodes that failed together from retrying together;
  // the floor keeps a retry from coming at once and makes the growth certain.
  std::chrono::milliseconds next();
  void reset() { failures_ = 0; }

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace meshcache::agent::cp
