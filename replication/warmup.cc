// warmup.cc: join-time warm-up: its own thread runs one curl multi that drives every peer's
// backfill pass; status() and stop() come from other threads.
#include "replication/warmup.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "replication/curl_handles.h"
#include "replication/warmup_peer.h"
#include "storage/wall_clock.h"

namespace meshcache::replication {
namespace {

using namespace std::chrono_literals;

// An upper bound on one wait, so a lost wakeup could never stall the thread for long.
constexpr auto kMaxPoll = 1000ms;

class WarmUpImpl final : public WarmUp, private WarmupProgress {
 public:
  WarmUpImpl(WarmupOptions options, std::vector<std::string> peers, storage::Store& store,
             ReplicationMetrics& metrics, std::function<void()> settled)
      : options_(std::move(options)),
        peers_(std::move(peers)),
        target_{&store, &metrics, options_.tenant, options_.max_artifact_bytes},
        settled_(std::move(settled)),
        multi_(make_multi()) {
    status_.state = "running";
    status_.started_ms = wall_clock_ms();
    thread_ = std::thread([this] { run(); });
  }
  ~WarmUpImpl() override { stop(); }

  WarmupStatus status() const override {
    std::lock_guard lock(mu_);
    WarmupStatus s = status_;
    if (s.started_ms) {
      int64_t until = s.finished_ms.value_or(wall_clock_ms());
      double seconds = std::max<int64_t>(until - *s.started_ms, 1) / 1000.0;
      s.bytes_per_second = static_cast<double>(s.bytes_done) / seconds;
      if (s.state == "running" && s.bytes_per_second > 0 && s.bytes_known >= s.bytes_done) {
        s.eta_seconds = static_cast<double>(s.bytes_known - s.bytes_done) / s.bytes_per_second;
      }
    }
    return s;
  }

  void stop() override {
    stopping_.store(true);
    curl_multi_wakeup(multi_.get());
    if (std::this_thread::get_id() == thread_.get_id()) return;  // from settled(): ends anyway
    std::lock_guard lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

 private:
  void known(uint64_t records, uint64_t bytes) override {
    std::lock_guard lock(mu_);
    status_.records_known += records;
    status_.bytes_known += bytes;
  }
  void done(uint64_t records, uint64_t bytes) override {
    std::lock_guard lock(mu_);
    status_.records_done += records;
    status_.bytes_done += bytes;
  }
  void error(const std::string& message) override {
    std::lock_guard lock(mu_);
    status_.last_error = message;
  }

  void run();
  void drive(std::vector<std::unique_ptr<PeerPass>>& passes);
  void finish(const std::vector<std::unique_ptr<PeerPass>>& passes);

  const WarmupOptions options_;
  const std::vector<std::string> peers_;
  const ApplyTarget target_;
  const std::function<void()> settled_;
  CurlMulti multi_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  WarmupStatus status_;  // guarded by mu_

  std::mutex join_mu_;  // two threads calling stop() must not both join
  std::thread thread_;
};

void WarmUpImpl::run() {
  if (!peers_.empty()) spdlog::info("warm-up: pulling from {} peer(s)", peers_.size());
  std::vector<std::unique_ptr<PeerPass>> passes;
  WarmupProgress& progress = *this;
  for (const std::string& peer : peers_) {
    passes.push_back(
        std::make_unique<PeerPass>(peer, options_, target_, multi_.get(), stopping_, progress));
  }
  drive(passes);
  if (stopping_.load()) return;  // stopped before it settled: the node is going down
  finish(passes);
  passes.clear();
  settled_();
}

void WarmUpImpl::drive(std::vector<std::unique_ptr<PeerPass>>& passes) {
  while (!stopping_.load()) {
    int running = 0;
    curl_multi_perform(multi_.get(), &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      void* owner = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &owner);
      // Ending a pass may remove other handles of it; libcurl drops their queued messages.
      static_cast<PeerPass*>(owner)->finished(msg->easy_handle, msg->data.result,
                                              WarmupClock::now());
    }
    if (stopping_.load()) break;

    auto now = WarmupClock::now();
    auto next = now + kMaxPoll;
    bool active = false;
    for (auto& pass : passes) {
      next = std::min(next, pass->pump(now));
      active = active || pass->outcome() == PeerPass::Outcome::running;
    }
    if (!active) break;

    long curl_ms = -1;
    curl_multi_timeout(multi_.get(), &curl_ms);
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now);
    if (curl_ms >= 0) wait = std::min(wait, std::chrono::milliseconds(curl_ms));
    wait = std::clamp<std::chrono::milliseconds>(wait, 0ms, kMaxPoll);
    curl_multi_poll(multi_.get(), nullptr, 0, static_cast<int>(wait.count()), nullptr);
  }
}

// Done when some peer completed its pass, or none could serve one (no peer is capable:
// nothing to warm from). Gave up when every capable peer failed or was given up on.
void WarmUpImpl::finish(const std::vector<std::unique_ptr<PeerPass>>& passes) {
  bool completed = false, failed = false;
  for (const auto& pass : passes) {
    completed = completed || pass->outcome() == PeerPass::Outcome::completed;
    failed = failed || pass->outcome() == PeerPass::Outcome::failed ||
             pass->outcome() == PeerPass::Outcome::gave_up;
  }
  std::lock_guard lock(mu_);
  status_.state = !completed && failed ? "gave_up" : "done";
  status_.finished_ms = wall_clock_ms();
  spdlog::info("warm-up {}: {} of {} records, {} of {} bytes{}{}", status_.state,
               status_.records_done, status_.records_known, status_.bytes_done, status_.bytes_known,
               status_.last_error.empty() ? "" : "; last error: ", status_.last_error);
}

}  // namespace

std::unique_ptr<WarmUp> WarmUp::start(WarmupOptions options, std::vector<std::string> peers,
                                      storage::Store& store, ReplicationMetrics& metrics,
                                      std::function<void()> settled) {
  return std::make_unique<WarmUpImpl>(std::move(options), std::move(peers), store, metrics,
                                      std::move(settled));
}

}  // namespace meshcache::replication
