// warmup_peer.h: one peer's backfill pass (Kura's backfill/pass.rs): pages its listing
// newest-first, fetches the missing bodies one batch at a time (large ones one by one), applies
// them, and retries or gives up as the contract classifies each answer. A state machine driven
// by the warm-up thread's curl multi; warm-up thread only.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replication/warmup.h"
#include "replication/warmup_applier.h"
#include "replication/warmup_transfer.h"
#include "replication/wire.h"

namespace meshcache::replication {

using WarmupClock = std::chrono::steady_clock;

// Where a pass reports its progress (shared by all the peers' passes).
class WarmupProgress {
 public:
  virtual void known(uint64_t records, uint64_t bytes) = 0;
  virtual void done(uint64_t records, uint64_t bytes) = 0;
  virtual void error(const std::string& message) = 0;

 protected:
  ~WarmupProgress() = default;
};

class PeerPass {
 public:
  enum class Outcome { running, completed, not_capable, failed, gave_up };

  PeerPass(std::string_view peer, const WarmupOptions& options, const ApplyTarget& target,
           CURLM* multi, const std::atomic<bool>& stop, WarmupProgress& progress);
  PeerPass(const PeerPass&) = delete;
  PeerPass& operator=(const PeerPass&) = delete;

  // Starts the requests that are due. Returns when it next needs a call if no transfer
  // finishes before (time_point::max() when only transfers can move it on).
  WarmupClock::time_point pump(WarmupClock::time_point now);
  // The multi reported one of this pass's transfers (its CURLOPT_PRIVATE is this) done.
  void finished(CURL* easy, CURLcode code, WarmupClock::time_point now);
  Outcome outcome() const { return outcome_; }

 private:
  // One POST /bodies batch or GET /artifacts/{id} in flight. The transfer is declared last so
  // it goes first: it feeds the applier, which points into `records`.
  struct Fetch {
    std::vector<wire::ListedEntry> records;
    size_t resolved = 0;  // records[0, resolved) are settled for this peer
    std::unique_ptr<FrameApplier> applier;
    std::unique_ptr<BackfillTransfer> transfer;
  };
  enum class Answer { ok, not_found, retry, fail };

  void start_listing();
  void start_bodies();
  void start_single();
  Status start_fetch(Fetch& fetch, bool single, std::string url, std::string post_json,
                     uint64_t max_bytes);
  void on_frame(Fetch& fetch, size_t index, Resolution resolution);

  void on_listing(const TransferReply& reply, WarmupClock::time_point now);
  Status take_listing(const std::string& json);
  Status take_entry(const wire::ListedEntry& entry, int64_t oldest_ms);
  void on_fetch(std::unique_ptr<Fetch> fetch, const TransferReply& reply, bool single,
                WarmupClock::time_point now);

  Answer classify(const TransferReply& reply, const char* what, std::string& why) const;
  void retry(WarmupClock::time_point& lane, WarmupClock::time_point now,
             std::chrono::seconds retry_after, const std::string& why);
  void succeeded() { failures_ = 0; }
  void end(Outcome outcome, const std::string& why);

  const std::string url_;  // without a trailing '/'
  const WarmupOptions& options_;
  const ApplyTarget& target_;
  CURLM* multi_;
  const std::atomic<bool>& stop_;
  WarmupProgress& progress_;
  Outcome outcome_ = Outcome::running;

  // Listing.
  std::optional<std::string> cursor_;  // next_after as the peer sent it
  bool listing_done_ = false;
  uint64_t listed_bytes_ = 0;  // every artifact listed so far, held or not: the budget's measure
  std::unique_ptr<BackfillTransfer> listing_;
  WarmupClock::time_point listing_at_{};

  // Records to fetch, newest first.
  std::deque<wire::ListedEntry> batchable_;
  std::deque<wire::ListedEntry> singles_;
  std::unique_ptr<Fetch> bodies_;  // one bodies request in flight per peer
  std::vector<std::unique_ptr<Fetch>> single_fetches_;
  WarmupClock::time_point bodies_at_{}, singles_at_{};

  // Consecutive retryable failures, and when the streak began (for give_up_after).
  uint32_t failures_ = 0;
  WarmupClock::time_point streak_start_{};
};

}  // namespace meshcache::replication
