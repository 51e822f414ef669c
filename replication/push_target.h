// push_target.h: the delivery state of one candidate: where its next outbox scan starts, which
// rows are in flight, whether it takes batches, and its backoff with the recovery probe. Owned
// by the push thread; `report` is what peers() shows (written under the worker's lock).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>

#include "replication/mesh.h"

namespace meshcache::replication {

using SteadyClock = std::chrono::steady_clock;

class PushTarget {
 public:
  // Kura's outbox backoff: 2 s × 2^(n−1), capped at 60 s; we draw in [d/2, d] so that targets
  // failing together do not retry together. A probe goes out this often while backing off.
  static constexpr std::chrono::milliseconds kBaseDelay{2000};
  static constexpr std::chrono::milliseconds kMaxDelay{60000};
  static constexpr std::chrono::milliseconds kProbeEvery{1000};

  std::string send_url;  // the advertised node_url, without a trailing '/'
  bool admitted = false;

  // Outbox reading: rows below `cursor` were seen; `dirty` = rows may wait from `cursor` on (a
  // scan filled a page, or stopped at max_in_flight), false once the scan has caught up.
  uint64_t cursor = 0;
  bool dirty = true;
  std::unordered_set<uint64_t> in_flight_rows;
  size_t requests = 0;  // deliveries in flight
  // Rows a batch answered "error" for: the per-artifact route says why.
  std::unordered_set<uint64_t> single_only;

  bool poll_in_flight = false;
  bool probe_in_flight = false;
  PeerStatus report;  // its delivery fields: what peers() shows

  bool backing_off(SteadyClock::time_point now) const { return retry_at_ && now < *retry_at_; }
  // When the loop must next look at this target's backoff (its end or its next probe).
  std::optional<SteadyClock::time_point> next_timer() const;
  bool probe_due(SteadyClock::time_point now) const;
  bool retry_due(SteadyClock::time_point now) const { return retry_at_ && now >= *retry_at_; }
  // Ends a backoff whose time has come (retry_due): the rows are read again.
  void expire() {
    end_backoff();
    rescan();
  }

  // A delivery failed. Failures of requests that were already in flight when the backoff
  // started do not lengthen it. `unreachable`: no HTTP answer came, so a probe may cut the
  // backoff short as soon as the peer answers again.
  void failed(SteadyClock::time_point now, std::string error, bool unreachable, std::mt19937& rng);
  void delivered(int64_t now_ms, uint64_t rows);
  void probe_started(SteadyClock::time_point now);
  // The probe answered: the peer is back, so the backlog drains now rather than after the step.
  void probe_answered();
  void probe_failed() { probe_in_flight = false; }
  // Starts the scan over (failed rows are re-read, rows that committed out of order are found).
  void rescan() {
    cursor = 0;
    dirty = true;
  }

 private:
  void end_backoff();

  std::optional<SteadyClock::time_point> retry_at_;
  std::optional<SteadyClock::time_point> probe_at_;  // set while a probe may cut the backoff
};

}  // namespace meshcache::replication
