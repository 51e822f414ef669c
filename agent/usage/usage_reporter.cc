// usage_reporter.cc: the UsageReporter: record() on the I/O loops into the window; window
// closes and deliveries (one POST at a time, capped backoff) on the CpTransport thread;
// flush_open_window() on the main thread at shutdown.
#include "agent/usage/usage_reporter.h"

#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>
#include "agent/controlplane/backoff.h"

#include "agent/usage/usage_outbox.h"
#include "agent/usage/usage_window.h"

namespace meshcache::agent::usage {
namespace {

// Distinct keys a window keeps before folding new namespaces into the overflow one. Real traffic
// has a few thousand at most (projects × directions × protocols × kinds); the cap bounds what a
// client inventing namespaces costs: ~2 KiB a key between the shards, the merge, the event rows
// and their write batch, so ~20 MiB at a close, within the node's 128 MiB budget.
constexpr size_t kMaxKeysPerWindow = 10'000;

int64_t system_now_ms() {
  // The coarse clock is read from the vDSO without a syscall; its few milliseconds of
  // granularity do not matter to windows of a minute.
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

// The control plane's {"error": code}, or "".
std::string error_code(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return {};
  auto it = j.find("error");
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Closing and delivery. Shared, so that a task or reply the transport runs after the reporter
// is gone holds only a weak_ptr and finds nothing to do.
class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(storage::Store& store, cp::CpTransport& transport, UsageOptions options,
       std::function<void(const cp::CallStatus&)> report)
      : window(options.window, kMaxKeysPerWindow, options.now_ms ? options.now_ms : system_now_ms),
        outbox(store, options.node_id, options.region, window.window_seconds()),
        transport_(transport),
        options_(std::move(options)),
        report_(std::move(report)),
        batch_limit_(std::max<size_t>(1, options_.max_batch)),
        backoff_(options_.retry_base, options_.retry_cap) {}

  UsageWindow window;
  UsageOutbox outbox;

  void start() { later(std::chrono::milliseconds(0), &Core::tick); }

  // Any thread. Concurrent closes (the transport's tick and the shutdown flush) take disjoint
  // sums from the shards, and the outbox serializes their writes.
  void close(int64_t before) {
    if (Status s = outbox.append(window.take(before)); !s.ok())
      spdlog::error("usage: writing closed windows to the outbox failed: {}", s.message());
  }

 private:
  // Transport thread from here on.

  // At each window boundary: close what ended, send it, and come back at the next boundary.
  void tick() {
    const int64_t now = window.now_ms();
    const int64_t open = window.window_start(now);
    close(open);
    deliver();
    later(std::chrono::milliseconds((open + window.window_seconds()) * 1000 - now), &Core::tick);
  }

  void deliver() {
    if (sending_ || retry_pending_) return;
    auto rows = outbox.oldest(batch_limit_);
    if (rows.ok() && rows->empty()) return;
    status_.last_attempt_unix = now_s();
    if (!rows.ok()) return failed("store: " + rows.status().message());
    std::string body = outbox.batch_body(*rows);
    std::vector<std::string> keys;
    keys.reserve(rows->size());
    for (auto& row : *rows) keys.push_back(std::move(row.first));
    sending_ = true;
    transport_.post_json(options_.path, std::move(body),
                         [weak = weak_from_this(), keys = std::move(keys)](cp::CpReply reply) {
                           if (auto self = weak.lock()) self->on_reply(keys, reply);
                         });
  }

  void on_reply(const std::vector<std::string>& keys, const cp::CpReply& reply) {
    sending_ = false;
    if (reply.status >= 200 && reply.status < 300) {
      if (Status s = outbox.remove(keys); !s.ok()) return failed("store: " + s.message());
      backoff_.reset();
      status_.last_success_unix = now_s();
      status_.next_attempt_unix.reset();
      publish(fmt::format("ok: {} events", keys.size()));
      return deliver();  // the next batch, if any, at once
    }
    const std::string code = error_code(reply.body);
    std::string result =
        reply.status == 0 ? (reply.error.empty() ? std::string("no response") : reply.error)
                          : fmt::format("http {}{}{}", reply.status, code.empty() ? "" : " ", code);
    // Too many events for the control plane: a smaller batch is the fix, not a later retry.
    if (reply.status == 413 && keys.size() > 1) {
      batch_limit_ = keys.size() / 2;
      spdlog::warn("usage: the control plane refused {} events in one batch (413); sending {}",
                   keys.size(), batch_limit_);
      publish(fmt::format("{}: batch halved to {}", result, batch_limit_));
      return deliver();
    }
    if (reply.status == 403 && code == "tenant_mismatch")
      spdlog::error(
          "usage: the control plane rejected {} events with 403 tenant_mismatch (an event's "
          "tenant is not this credential's account); the events stay in the outbox and are "
          "retried",
          keys.size());
    else
      spdlog::warn("usage: delivering {} events failed: {}; they stay in the outbox", keys.size(),
                   result);
    failed(std::move(result));
  }

  void failed(std::string result) {
    const std::chrono::milliseconds wait = backoff_.next();
    status_.next_attempt_unix = (window.now_ms() + wait.count()) / 1000;
    publish(std::move(result));
    retry_pending_ = true;
    later(wait, &Core::retry);
  }

  void retry() {
    retry_pending_ = false;
    deliver();
  }

  void publish(std::string result) {
    status_.last_result = std::move(result);
    if (report_) report_(status_);
  }

  void later(std::chrono::milliseconds delay, void (Core::*step)()) {
    transport_.schedule(delay, [weak = weak_from_this(), step] {
      if (auto self = weak.lock()) ((*self).*step)();
    });
  }

  int64_t now_s() const { return window.now_ms() / 1000; }

  cp::CpTransport& transport_;
  const UsageOptions options_;
  const std::function<void(const cp::CallStatus&)> report_;
  size_t batch_limit_;
  bool sending_ = false;        // one POST at a time
  bool retry_pending_ = false;  // a failure's retry is scheduled: new closes wait for it
  cp::Backoff backoff_;         // grows with failures in a row
  cp::CallStatus status_;
};

class Reporter final : public UsageReporter {
 public:
  explicit Reporter(std::shared_ptr<Core> core) : core_(std::move(core)) {}

  void record(std::string_view tenant, std::string_view ns, bool write, std::string_view protocol,
              std::string_view artifact_kind, uint64_t bytes) override {
    core_->window.record({tenant, ns, protocol, artifact_kind, write}, bytes);
  }
  void start() override { core_->start(); }
  void flush_open_window() override { core_->close(std::numeric_limits<int64_t>::max()); }
  uint64_t outbox_events() const override { return core_->outbox.size(); }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace

std::unique_ptr<UsageReporter> UsageReporter::make(
    storage::Store& store, cp::CpTransport& transport, UsageOptions options,
    std::function<void(const cp::CallStatus&)> report) {
  return std::make_unique<Reporter>(
      std::make_shared<Core>(store, transport, std::move(options), std::move(report)));
}

}  // namespace meshcache::agent::usage
