// push_target.cc: a target's backoff and recovery probe (push thread).
#include "replication/push_target.h"

#include <algorithm>

namespace meshcache::replication {
namespace {

int64_t unix_ms_at(SteadyClock::time_point t) {
  auto from_now = std::chrono::duration_cast<std::chrono::milliseconds>(t - SteadyClock::now());
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch() + from_now)
      .count();
}

}  // namespace

std::optional<SteadyClock::time_point> PushTarget::next_timer() const {
  if (!retry_at_) return std::nullopt;
  if (probe_at_ && !probe_in_flight) return std::min(*retry_at_, *probe_at_);
  return retry_at_;
}

bool PushTarget::probe_due(SteadyClock::time_point now) const {
  return backing_off(now) && probe_at_ && !probe_in_flight && now >= *probe_at_;
}

void PushTarget::failed(SteadyClock::time_point now, std::string error, bool unreachable,
                        std::mt19937& rng) {
  report.last_error = std::move(error);
  rescan();  // after the backoff, the rows of the failed request are read again
  if (backing_off(now)) return;
  uint32_t n = ++report.consecutive_failures;
  auto ceiling =
      std::min<std::chrono::milliseconds>(kMaxDelay, kBaseDelay * (1ll << std::min(n - 1, 5u)));
  std::uniform_int_distribution<int64_t> draw(ceiling.count() / 2, ceiling.count());
  retry_at_ = now + std::chrono::milliseconds(draw(rng));
  // A peer that answered with an error is up: only waiting helps. One that did not answer may
  // come back any moment, and a cheap probe tells: the first goes out at once, because most
  // such failures are one broken connection to a peer that is fine (libcurl now and then fails
  // an h2 connection with "Error in the HTTP2 framing layer"), then one every kProbeEvery.
  probe_at_ = unreachable ? std::optional(now) : std::nullopt;
  report.next_retry_ms = unix_ms_at(*retry_at_);
}

void PushTarget::delivered(int64_t now_ms, uint64_t rows) {
  report.delivered += rows;
  report.last_success_ms = now_ms;
  report.consecutive_failures = 0;
}

void PushTarget::probe_started(SteadyClock::time_point now) {
  probe_in_flight = true;
  probe_at_ = now + kProbeEvery;
}

void PushTarget::probe_answered() {
  probe_in_flight = false;
  expire();
}

void PushTarget::end_backoff() {
  retry_at_.reset();
  probe_at_.reset();
  report.next_retry_ms.reset();
}

}  // namespace meshcache::replication
