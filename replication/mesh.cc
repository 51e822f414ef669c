// mesh.cc: Mesh: wires the internal listener, the push worker, warm-up and the task thread, and
// decides when a join needs a warm-up. start()/stop() on the main thread; the rest as noted in
// mesh.h.
#include "replication/mesh.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <stdexcept>

#include "agent/http/server.h"
#include "replication/internal_router.h"
#include "replication/push_worker.h"
#include "replication/replication_metrics.h"
#include "replication/task_thread.h"
#include "replication/warmup.h"
#include "storage/wall_clock.h"

namespace meshcache::replication {
namespace {

using namespace std::chrono_literals;

// records space "mesh", key "last_seen": the last time this node was in the mesh (Unix ms,
// decimal). Absent = never joined.
constexpr std::string_view kSpace = "mesh";
constexpr std::string_view kLastSeen = "last_seen";
// How often last_seen is refreshed while the node runs: the absence is measured to within this.
constexpr auto kSeenInterval = 60s;

class MeshImpl final : public Mesh {
 public:
  MeshImpl(MeshOptions options, storage::Store& store, MeshHooks hooks)
      : options_(std::move(options)), store_(store), hooks_(std::move(hooks)) {
    PushOptions push;
    push.node_url = options_.node_url;
    push.gateway_url = options_.gateway_url;
    push.static_peers = options_.static_peers;
    push.identity = options_.identity;
    push.membership_interval = options_.membership_interval;
    push_ = std::make_unique<PushWorker>(push, store_, metrics_, hooks_.tenant);
    warmup_status_.state = "waiting_for_peers";
    if (options_.internal_listen) start_listener();
  }

  ~MeshImpl() override { stop(); }

  void join() override {
    if (joined_.exchange(true)) return;
    // The candidates now (every one is a write target until a poll rejects it) are the ones
    // the first round polls.
    const bool candidates = !push_->write_targets()->empty();
    push_->start([this, candidates](std::vector<std::string> admitted) {
      first_round(candidates, std::move(admitted));
    });
    tasks_.post([this] { refresh_last_seen(); });
  }

  void set_control_plane_peers(std::vector<std::string> peers) override {
    push_->set_control_plane_peers(std::move(peers));
  }

  std::shared_ptr<const std::vector<std::string>> write_targets() const override {
    return push_->write_targets();
  }

  void wrote() override { push_->wake(); }

  void background(std::function<void()> task) override { tasks_.post(std::move(task)); }

  MeshStatus status() const override {
    MeshStatus s;
    if (server_) s.internal_listener = internal_address_;
    s.mtls = static_cast<bool>(options_.server_context);
    s.gateway_url = options_.gateway_url;
    s.peers = push_->peers();
    std::lock_guard lock(warmup_mu_);
    s.warmup = warmup_ ? warmup_->status() : warmup_status_;
    return s;
  }

  void render_metrics(std::string& out) const override {
    metrics_.render(out, store_.outbox_depths());
  }

  void stop() override {
    std::lock_guard stop_lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    // The push thread may be starting a warm-up from its first round: once stopping_ is set it
    // will not, so the one that exists (if any) is the last.
    std::unique_ptr<WarmUp> warmup;
    {
      std::lock_guard lock(warmup_mu_);
      stopping_ = true;
      warmup = std::move(warmup_);
    }
    if (warmup) warmup->stop();
    push_->stop();
    // Tasks post answers to the listener's loops: they end first, while the loops still exist.
    tasks_.stop();
    if (server_) server_->stop();
    // A node stopped mid-warm-up has not joined yet: the next start warms up again.
    if (joined_ && settled_) write_last_seen();
  }

 private:
  void start_listener() {
    InternalContext ctx;
    ctx.store = &store_;
    ctx.metrics = &metrics_;
    ctx.region = options_.region;
    ctx.node_url = options_.node_url;
    ctx.gateway_url = options_.gateway_url;
    ctx.tenant = hooks_.tenant;
    ctx.joined = [this] { return joined_.load(); };
    ctx.traffic_state = [this] { return traffic_state(); };
    ctx.max_artifact_bytes = options_.max_artifact_bytes;
    ctx.background = [this](std::function<void()> task) { tasks_.post(std::move(task)); };

    http::ServerOptions server;
    server.io_threads = options_.io_threads;
    server.limits.max_body_bytes = options_.max_artifact_bytes;
    if (options_.server_context) {
      // mTLS only: no cleartext listener at all.
      server.tls_listen = *options_.internal_listen;
      server.tls_context = [fn = options_.server_context] { return fn(); };
    } else {
      server.listen = *options_.internal_listen;
    }
    server_ = http::Server::start(server, make_internal_router(std::move(ctx)));
    internal_address_ =
        options_.server_context ? server_->tls_address().value_or("") : server_->listen_address();
    spdlog::info("internal peer plane on {} ({})", internal_address_,
                 options_.server_context ? "mTLS, h2 and http/1.1" : "plain HTTP, h1 and h2c");
  }

  std::string traffic_state() const {
    std::lock_guard lock(warmup_mu_);
    return settled_ ? "serving" : "joining";
  }

  // Push thread: every candidate has answered (or failed) once.
  void first_round(bool candidates, std::vector<std::string> admitted) {
    const auto last_seen = read_last_seen();
    const int64_t now = wall_clock_ms();
    std::string why;
    if (!last_seen)
      why = "first join";
    else if (now - *last_seen > options_.absence.count())
      why = fmt::format("away for {} s", (now - *last_seen) / 1000);
    std::lock_guard lock(warmup_mu_);
    if (stopping_) return;
    // No peer configured at all: nothing to warm from, which is not a failure.
    if (why.empty() || !candidates) {
      warmup_status_.state = "not_needed";
      settle_locked();
      return;
    }
    if (admitted.empty()) {
      spdlog::warn("warm-up skipped ({}): no peer is reachable and admitted", why);
      warmup_status_.state = "gave_up";
      warmup_status_.last_error = "no peer was reachable and admitted";
      settle_locked();
      return;
    }
    spdlog::info("warming up from {} peer(s) ({})", admitted.size(), why);
    WarmupOptions w;
    w.identity = options_.identity;
    w.tenant = hooks_.tenant();
    w.budget_bytes = options_.capacity_bytes;
    w.horizon = options_.warmup_horizon;
    w.max_artifact_bytes = options_.max_artifact_bytes;
    warmup_ = WarmUp::start(w, std::move(admitted), store_, metrics_, [this] {
      std::lock_guard inner(warmup_mu_);
      settle_locked();
    });
  }

  void settle_locked() {
    if (settled_) return;
    settled_ = true;
    tasks_.post([this] { write_last_seen(); });
    if (hooks_.warmed) hooks_.warmed();
  }

  std::optional<int64_t> read_last_seen() {
    auto rows = store_.scan_records(kSpace, 16);
    if (!rows.ok()) {
      spdlog::warn("mesh: cannot read last_seen: {}", rows.status().message());
      return std::nullopt;
    }
    for (const auto& [key, value] : *rows) {
      if (key != kLastSeen) continue;
      try {
        return std::stoll(value);
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

  void write_last_seen() {
    const storage::Store::Record row{std::string(kLastSeen), std::to_string(wall_clock_ms())};
    Status s = store_.put_records(kSpace, std::span(&row, 1));
    if (!s.ok()) spdlog::warn("mesh: cannot record last_seen: {}", s.message());
  }

  // Task thread, every kSeenInterval once warm-up has settled.
  void refresh_last_seen() {
    bool settled;
    {
      std::lock_guard lock(warmup_mu_);
      settled = settled_;
    }
    if (settled) write_last_seen();
    tasks_.post_after(kSeenInterval, [this] { refresh_last_seen(); });
  }

  MeshOptions options_;
  storage::Store& store_;
  MeshHooks hooks_;
  ReplicationMetrics metrics_;
  TaskThread tasks_;
  std::unique_ptr<PushWorker> push_;
  std::unique_ptr<http::Server> server_;
  std::string internal_address_;
  std::atomic<bool> joined_{false};

  mutable std::mutex warmup_mu_;  // guards the members below
  std::unique_ptr<WarmUp> warmup_;
  WarmupStatus warmup_status_;
  bool settled_ = false;
  bool stopping_ = false;

  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<Mesh> Mesh::start(MeshOptions options, storage::Store& store, MeshHooks hooks) {
  if (!hooks.tenant) throw std::runtime_error("the mesh needs the node's tenant");
  return std::make_unique<MeshImpl>(std::move(options), store, std::move(hooks));
}

}  // namespace meshcache::replication
