// push_worker.cc: membership polls and outbox delivery on one libcurl multi handle, all on the
// push thread; start/stop, wake, write_targets, set_control_plane_peers and peers() are called
// from other threads.
#include "replication/push_worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "replication/curl_handles.h"
#include "replication/peer_set.h"
#include "replication/push_requests.h"
#include "replication/push_target.h"
#include "replication/push_transfer.h"
#include "replication/wire.h"
#include "storage/wall_clock.h"

namespace meshcache::replication {
namespace {

using std::chrono::milliseconds;
using Purpose = PushTransfer::Purpose;

constexpr size_t kScanRows = wire::kMaxBatchItems;  // a scan can fill one whole batch
constexpr milliseconds kStatusTimeout{5000};        // polls and probes are tiny
constexpr long kMaxWaitMs = 1000;

}  // namespace

struct PushWorker::Impl {
  Impl(PushOptions o, storage::Store& s, ReplicationMetrics& m, std::function<std::string()> t)
      : options(std::move(o)),
        store(s),
        metrics(m),
        tenant(std::move(t)),
        peer_set(options.node_url, options.gateway_url, options.static_peers),
        multi(make_multi()),
        rng(std::random_device{}()) {
    curl_multi_setopt(multi.get(), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    // HTTP/1.1 peers (cleartext) need a connection per request in flight, plus a poll and a
    // probe; HTTP/2 peers multiplex all of them on one.
    curl_multi_setopt(multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(options.max_in_flight + 2));
  }

  void run();
  void membership_round(SteadyClock::time_point now);
  void sync_candidates();
  void sweep_outbox();
  void first_round_check();
  void fill(const std::string& url, PushTarget& t, SteadyClock::time_point now);
  void flush(const std::string& url, PushTarget& t, PushBatch& batch);
  void send_artifact(const std::string& url, PushTarget& t, const storage::OutboxRow& row,
                     storage::Manifest m);
  void send_namespace(const std::string& url, PushTarget& t, const storage::OutboxRow& row);
  void launch(PushTarget& t, Result<std::unique_ptr<PushTransfer>> made, Status body,
              std::vector<storage::OutboxRow> rows);
  void start_status(const std::string& url, PushTarget& t, Purpose purpose);
  // Starts `tr`; null when libcurl refused it.
  PushTransfer* track(std::unique_ptr<PushTransfer> tr);
  void finish(std::unique_ptr<PushTransfer> tr);
  void on_poll(const PushTransfer& tr, PushTarget& t);
  void on_delivery(PushTransfer& tr, PushTarget& t);
  // Removes rows that need no more sending, counting `outcome` ("delivered", "dropped"; "" =
  // not counted: gone or superseded before it was sent).
  void settle(PushTarget& t, const std::string& url, std::span<const storage::OutboxRow> rows,
              std::string_view outcome);
  void body_unreadable(PushTarget& t, const PushTransfer& tr, const Status& why);
  void failed(PushTarget& t, const PushTransfer& tr, std::string error, bool unreachable);
  long wait_ms(SteadyClock::time_point now);

  const PushOptions options;
  storage::Store& store;
  ReplicationMetrics& metrics;
  const std::function<std::string()> tenant;
  PeerSet peer_set;

  CurlMulti multi;  // before `transfers`: they detach from it when destroyed
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> woken{false};
  std::atomic<bool> candidates_changed{false};

  // Push thread only, except that `targets` is inserted into and erased from, and every
  // `report` written, under stats_mu (peers() reads them).
  std::map<std::string, PushTarget> targets;  // by candidate URL (the outbox key)
  std::map<CURL*, std::unique_ptr<PushTransfer>> transfers;
  std::function<void(std::vector<std::string>)> first_round;
  std::optional<std::set<std::string>> first_round_waiting;
  SteadyClock::time_point next_round{};
  std::mt19937 rng;
  mutable std::mutex stats_mu;
};

void PushWorker::Impl::run() {
  sync_candidates();
  first_round_waiting.emplace();
  for (const auto& [url, t] : targets) first_round_waiting->insert(url);
  first_round_check();
  while (!stopping.load(std::memory_order_acquire)) {
    auto now = SteadyClock::now();
    if (candidates_changed.exchange(false) || now >= next_round) membership_round(now);
    bool wrote = woken.exchange(false);
    for (auto& [url, t] : targets) {
      if (t.retry_due(now)) {
        std::lock_guard lock(stats_mu);
        t.expire();
      }
      // The store never lists a row past one whose batch is still being written, so new rows
      // always lie at or after the cursor.
      if (wrote) t.dirty = true;
      if (t.admitted && t.probe_due(now)) start_status(url, t, Purpose::probe);
      fill(url, t, now);
    }
    int running = 0;
    curl_multi_perform(multi.get(), &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      auto it = transfers.find(msg->easy_handle);
      if (it == transfers.end()) continue;
      std::unique_ptr<PushTransfer> tr = std::move(it->second);
      transfers.erase(it);
      tr->finish(msg->data.result);
      finish(std::move(tr));
    }
    curl_multi_poll(multi.get(), nullptr, 0, static_cast<int>(wait_ms(SteadyClock::now())),
                    nullptr);
  }
  transfers.clear();  // aborts what is in flight; its rows stay for the next run
}

long PushWorker::Impl::wait_ms(SteadyClock::time_point now) {
  if (woken.load() || candidates_changed.load()) return 0;
  auto until = next_round;
  for (const auto& [url, t] : targets) {
    if (t.admitted && t.dirty && !t.backing_off(now) && t.requests < options.max_in_flight) {
      return 0;
    }
    if (auto timer = t.next_timer()) until = std::min(until, *timer);
  }
  long curl_ms = -1;
  curl_multi_timeout(multi.get(), &curl_ms);
  long ms = std::chrono::duration_cast<milliseconds>(until - now).count() + 1;
  if (curl_ms >= 0) ms = std::min(ms, curl_ms);
  return std::clamp(ms, 0l, kMaxWaitMs);
}

void PushWorker::Impl::sync_candidates() {
  auto list = peer_set.list();
  std::lock_guard lock(stats_mu);
  std::erase_if(targets, [&](const auto& entry) {
    return std::none_of(list.begin(), list.end(),
                        [&](const Candidate& c) { return c.url == entry.first; });
  });
  for (const auto& c : list) {
    PushTarget& t = targets[c.url];
    t.admitted = c.admission == Admission::admitted;
    if (t.admitted) t.send_url = base_url(c.node_url);
  }
  if (first_round_waiting) {
    std::erase_if(*first_round_waiting,
                  [&](const std::string& url) { return !targets.count(url); });
  }
}

void PushWorker::Impl::membership_round(SteadyClock::time_point now) {
  sync_candidates();
  sweep_outbox();
  for (auto& [url, t] : targets) {
    if (!t.poll_in_flight) start_status(url, t, Purpose::poll);
    t.dirty = true;  // a scan that a store error cut short resumes from its cursor
  }
  first_round_check();
  next_round = now + options.membership_interval;
}

void PushWorker::Impl::sweep_outbox() {
  for (const auto& [target, depth] : store.outbox_depths()) {
    if (depth == 0) continue;
    auto c = peer_set.find(target);
    if (c && c->admission != Admission::rejected) continue;
    auto n = store.drop_outbox_target(target);
    if (!n.ok()) {
      spdlog::warn("push: dropping the queued rows of {} failed: {}", target, n.status().message());
      continue;
    }
    if (!c) {
      spdlog::info("push: {} is no longer a peer: dropped its {} queued rows", target, *n);
      continue;
    }
    metrics.push_result(target, "dropped", *n);
    std::lock_guard lock(stats_mu);
    if (auto it = targets.find(target); it != targets.end()) it->second.report.dropped += *n;
  }
}

void PushWorker::Impl::first_round_check() {
  if (!first_round_waiting || !first_round_waiting->empty()) return;
  first_round_waiting.reset();
  std::vector<std::string> admitted;
  for (const auto& [url, t] : targets) {
    if (t.admitted) admitted.push_back(t.send_url);
  }
  if (first_round) first_round(std::move(admitted));
}

void PushWorker::Impl::start_status(const std::string& url, PushTarget& t, Purpose purpose) {
  std::string base = purpose == Purpose::poll ? base_url(url) : t.send_url;
  auto made = PushTransfer::make(purpose, url, base + "/_internal/status", options.identity);
  if (!made.ok()) {
    spdlog::warn("push: {}", made.status().message());
    return;
  }
  (*made)->set_timeout(kStatusTimeout);
  if (!track(std::move(made).value())) return;
  if (purpose == Purpose::poll) {
    t.poll_in_flight = true;
  } else {
    t.probe_started(SteadyClock::now());
  }
}

PushTransfer* PushWorker::Impl::track(std::unique_ptr<PushTransfer> tr) {
  if (Status s = tr->attach(multi.get()); !s.ok()) {
    spdlog::warn("push: {}", s.message());
    return nullptr;
  }
  CURL* e = tr->easy();
  return transfers.emplace(e, std::move(tr)).first->second.get();
}

void PushWorker::Impl::fill(const std::string& url, PushTarget& t, SteadyClock::time_point now) {
  if (!t.admitted || !t.dirty || t.backing_off(now) || t.requests >= options.max_in_flight) return;
  auto rows = store.scan_outbox(url, t.cursor, kScanRows);
  if (!rows.ok()) {
    spdlog::warn("push: reading the outbox of {} failed: {}", url, rows.status().message());
    t.dirty = false;  // the next membership round reads again
    return;
  }
  PushBatch batch;
  std::vector<storage::OutboxRow> settled;  // rows that need no sending
  bool more = rows->size() == kScanRows;
  size_t i = 0;
  for (; i < rows->size(); ++i) {
    const storage::OutboxRow& row = (*rows)[i];
    if (t.in_flight_rows.count(row.seq)) continue;
    if (t.requests + (batch.rows.empty() ? 0 : 1) >= options.max_in_flight) {
      more = true;
      break;
    }
    if (row.kind == storage::OutboxRow::Kind::namespace_delete) {
      send_namespace(url, t, row);
      continue;
    }
    auto m = store.head_id(row.artifact_id);
    if (!m.ok() && m.status().code() != Code::not_found) {
      spdlog::warn("push: reading {} for {} failed: {}", row.artifact_id, url,
                   m.status().message());
      more = false;  // the next membership round reads again
      break;
    }
    // Gone (a missing manifest counts as delivered, as Kura), or superseded by a newer write
    // (which has its own row) or by a received copy, which is never forwarded.
    if (!m.ok() || m->version_ms != row.version_ms) {
      settled.push_back(row);
      continue;
    }
    if (!t.report.batch_supported || !m->inline_body || t.single_only.count(row.seq)) {
      send_artifact(url, t, row, std::move(m).value());
      continue;
    }
    if (!batch.add(row, std::move(*m))) {
      flush(url, t, batch);
      if (t.requests >= options.max_in_flight) {
        more = true;
        break;
      }
      (void)batch.add(row, std::move(*m));
    }
    if (batch.full()) flush(url, t, batch);
  }
  flush(url, t, batch);
  if (i < rows->size()) {
    t.cursor = (*rows)[i].seq;
  } else if (!rows->empty()) {
    t.cursor = rows->back().seq + 1;
  }
  t.dirty = more;
  settle(t, url, settled, "");
}

void PushWorker::Impl::flush(const std::string& url, PushTarget& t, PushBatch& batch) {
  if (batch.rows.size() == 1) {
    send_artifact(url, t, batch.rows[0], std::move(batch.manifests[0]));
  } else if (!batch.rows.empty()) {
    auto made = PushTransfer::make(Purpose::batch, url,
                                   t.send_url + "/_internal/replicate/artifacts", options.identity);
    if (made.ok()) (*made)->upload_bytes(std::move(batch.body));
    launch(t, std::move(made), Status::Ok(), std::move(batch.rows));
  }
  batch = PushBatch{};
}

void PushWorker::Impl::send_artifact(const std::string& url, PushTarget& t,
                                     const storage::OutboxRow& row, storage::Manifest m) {
  auto made =
      PushTransfer::make(Purpose::artifact, url, artifact_url(t.send_url, m), options.identity);
  Status body = made.ok() ? (*made)->upload_artifact(store, std::move(m)) : Status::Ok();
  launch(t, std::move(made), std::move(body), {row});
}

void PushWorker::Impl::send_namespace(const std::string& url, PushTarget& t,
                                      const storage::OutboxRow& row) {
  launch(t,
         PushTransfer::make(Purpose::namespace_delete, url,
                            namespace_url(t.send_url, row.ns, row.version_ms), options.identity),
         Status::Ok(), {row});
}

void PushWorker::Impl::launch(PushTarget& t, Result<std::unique_ptr<PushTransfer>> made,
                              Status body, std::vector<storage::OutboxRow> rows) {
  if (!made.ok()) {
    spdlog::warn("push: {}", made.status().message());
    return;  // the rows stay; the next round reads them again
  }
  std::unique_ptr<PushTransfer> tr = std::move(made).value();
  tr->rows = std::move(rows);
  if (!body.ok()) {
    body_unreadable(t, *tr, body);
    return;
  }
  PushTransfer* sent = track(std::move(tr));
  if (!sent) return;  // the rows stay; the next round reads them again
  for (const auto& row : sent->rows) t.in_flight_rows.insert(row.seq);
  ++t.requests;
  std::lock_guard lock(stats_mu);
  t.report.in_flight = t.in_flight_rows.size();
}

void PushWorker::Impl::finish(std::unique_ptr<PushTransfer> tr) {
  auto it = targets.find(tr->target());
  if (it == targets.end()) return;  // no longer a candidate: its rows were dropped
  PushTarget& t = it->second;
  switch (tr->purpose()) {
    case Purpose::poll:
      on_poll(*tr, t);
      break;
    case Purpose::probe:
      if (tr->transport_error().empty()) {
        spdlog::info("push: {} answers again; sending its backlog", tr->target());
        std::lock_guard lock(stats_mu);
        t.probe_answered();
      } else {
        t.probe_failed();
      }
      break;
    default: {
      for (const auto& row : tr->rows) t.in_flight_rows.erase(row.seq);
      --t.requests;
      on_delivery(*tr, t);
      std::lock_guard lock(stats_mu);
      t.report.in_flight = t.in_flight_rows.size();
    }
  }
}

void PushWorker::Impl::on_poll(const PushTransfer& tr, PushTarget& t) {
  t.poll_in_flight = false;
  const std::string& url = tr.target();
  StatusVerdict v = peer_set.judge(tr.transport_error(), tr.http_status(), tr.response(), tenant());
  auto before = peer_set.record(url, v);
  if (first_round_waiting) first_round_waiting->erase(url);
  if (before && v.admission != Admission::pending) {
    bool admitted = v.admission == Admission::admitted;
    if (admitted) t.send_url = base_url(v.node_url);
    if (admitted && !t.admitted) {
      spdlog::info("push: {} admitted (node_url {})", url, v.node_url);
      t.rescan();
    }
    t.admitted = admitted;
    if (v.admission == Admission::rejected && *before != Admission::rejected) {
      spdlog::warn("push: {} is not a target: {}", url, v.reason);
      sweep_outbox();
    }
  }
  first_round_check();
}

void PushWorker::Impl::on_delivery(PushTransfer& tr, PushTarget& t) {
  const std::string& url = tr.target();
  if (!tr.body_error().ok()) {
    body_unreadable(t, tr, tr.body_error());
    return;
  }
  if (!tr.transport_error().empty()) {
    failed(t, tr, tr.transport_error(), true);
    return;
  }
  long status = tr.http_status();
  bool batch = tr.purpose() == Purpose::batch;
  if (status >= 200 && status <= 299 && batch) {
    auto outcomes = wire::parse_outcomes(tr.response());
    if (!outcomes.ok() || outcomes->size() != tr.rows.size()) {
      failed(t, tr, "batch answer does not match its items", false);
      return;
    }
    std::vector<storage::OutboxRow> done;
    for (size_t i = 0; i < tr.rows.size(); ++i) {
      if ((*outcomes)[i] != "error") {
        done.push_back(tr.rows[i]);
      } else {
        t.single_only.insert(tr.rows[i].seq);  // the single route tells why
      }
    }
    if (done.size() < tr.rows.size()) t.rescan();
    settle(t, url, done, "delivered");
    return;
  }
  if (status >= 200 && status <= 299) {
    settle(t, url, tr.rows, "delivered");
    return;
  }
  if (batch && (status == 404 || status == 405)) {
    spdlog::info("push: {} has no batch route ({}): sending one artifact per request", url, status);
    std::lock_guard lock(stats_mu);
    t.report.batch_supported = false;
    t.rescan();
    return;
  }
  if (batch && (status == 400 || status == 413)) {
    // The whole batch was refused: each item alone gets its own answer.
    for (const auto& row : tr.rows) t.single_only.insert(row.seq);
    t.rescan();
    return;
  }
  if (status == 400 || status == 413) {
    // A peer that refuses this request refuses it forever (a Kura peer does not know the
    // producer, or its limit is lower): retrying would only stall the target.
    std::string message = tr.error_message();
    const auto& row = tr.rows[0];
    auto log_level = message.find("Invalid artifact producer") != std::string::npos
                         ? spdlog::level::info
                         : spdlog::level::warn;
    spdlog::log(log_level, "push: {} refused {} {} v{} ({} {}); row dropped for it", url,
                row.kind == storage::OutboxRow::Kind::artifact ? "artifact" : "namespace delete",
                row.kind == storage::OutboxRow::Kind::artifact ? row.artifact_id : row.ns,
                row.version_ms, status, message);
    settle(t, url, tr.rows, "dropped");
    return;
  }
  failed(t, tr, fmt::format("HTTP {}: {}", status, tr.error_message()), false);
}

void PushWorker::Impl::body_unreadable(PushTarget& t, const PushTransfer& tr, const Status& why) {
  const storage::OutboxRow& row = tr.rows[0];
  if (why.code() == Code::not_found) {
    // Removed since the scan: nothing left to send, as for a missing manifest.
    settle(t, tr.target(), tr.rows, "");
  } else if (why.code() == Code::corruption) {
    // Never served, so never sent either: no peer can ever get these bytes from here.
    spdlog::error("push: {} is corrupt here ({}); row for {} dropped", row.artifact_id,
                  why.message(), tr.target());
    settle(t, tr.target(), tr.rows, "dropped");
  } else {
    spdlog::warn("push: reading {} for {} failed: {}; trying again next round", row.artifact_id,
                 tr.target(), why.message());
  }
}

void PushWorker::Impl::settle(PushTarget& t, const std::string& url,
                              std::span<const storage::OutboxRow> rows, std::string_view outcome) {
  if (rows.empty()) return;
  bool delivered = outcome == "delivered";
  int64_t now = wall_clock_ms();
  std::vector<uint64_t> seqs;
  for (const auto& row : rows) {
    seqs.push_back(row.seq);
    t.single_only.erase(row.seq);
    if (delivered) {
      metrics.observe_lag(static_cast<double>(std::max<int64_t>(0, now - row.version_ms)) / 1000);
    }
  }
  if (Status s = store.delete_outbox(url, seqs); !s.ok()) {
    // They go again later; the receiver's LWW makes that harmless.
    spdlog::warn("push: clearing rows of {} failed: {}", url, s.message());
  }
  if (outcome.empty()) return;
  metrics.push_result(url, outcome, rows.size());
  std::lock_guard lock(stats_mu);
  if (delivered) {
    t.delivered(now, rows.size());
  } else {
    t.report.dropped += rows.size();
  }
}

void PushWorker::Impl::failed(PushTarget& t, const PushTransfer& tr, std::string error,
                              bool unreachable) {
  metrics.push_result(tr.target(), "failed", tr.rows.size());
  bool was_backing_off = t.backing_off(SteadyClock::now());
  {
    std::lock_guard lock(stats_mu);
    t.failed(SteadyClock::now(), std::move(error), unreachable, rng);
  }
  if (!was_backing_off) {
    spdlog::warn("push: delivery to {} failed ({}); retrying in up to {} ms", tr.target(),
                 t.report.last_error,
                 t.report.next_retry_ms ? *t.report.next_retry_ms - wall_clock_ms() : 0);
  }
}

PushWorker::PushWorker(PushOptions options, storage::Store& store, ReplicationMetrics& metrics,
                       std::function<std::string()> tenant)
    : impl_(std::make_unique<Impl>(std::move(options), store, metrics, std::move(tenant))) {}

PushWorker::~PushWorker() { stop(); }

void PushWorker::start(std::function<void(std::vector<std::string> admitted)> first_round) {
  if (impl_->thread.joinable()) return;
  impl_->first_round = std::move(first_round);
  impl_->thread = std::thread([this] { impl_->run(); });
}

void PushWorker::set_control_plane_peers(std::vector<std::string> peers) {
  impl_->peer_set.set_control_plane(peers);
  impl_->candidates_changed.store(true);
  curl_multi_wakeup(impl_->multi.get());
}

std::shared_ptr<const std::vector<std::string>> PushWorker::write_targets() const {
  return impl_->peer_set.write_targets();
}

void PushWorker::wake() {
  // One wakeup per burst of writes: the loop reads every row a burst committed in one scan.
  if (!impl_->woken.exchange(true)) curl_multi_wakeup(impl_->multi.get());
}

std::vector<PeerStatus> PushWorker::peers() const {
  auto candidates = impl_->peer_set.list();
  auto depths = impl_->store.outbox_depths();
  std::vector<PeerStatus> out;
  std::lock_guard lock(impl_->stats_mu);
  for (auto& c : candidates) {
    auto it = impl_->targets.find(c.url);
    PeerStatus p = it != impl_->targets.end() ? it->second.report : PeerStatus{};
    p.url = c.url;
    p.source = c.source;
    p.admission = admission_name(c.admission);
    p.reason = std::move(c.reason);
    p.tenant_id = std::move(c.tenant_id);
    p.node_url = std::move(c.node_url);
    if (auto d = depths.find(c.url); d != depths.end()) p.outbox_depth = d->second;
    out.push_back(std::move(p));
  }
  return out;
}

void PushWorker::stop() {
  impl_->stopping.store(true, std::memory_order_release);
  curl_multi_wakeup(impl_->multi.get());
  // From the first_round callback the thread cannot join itself: it ends once that returns.
  if (impl_->thread.joinable() && impl_->thread.get_id() != std::this_thread::get_id()) {
    impl_->thread.join();
  }
}

}  // namespace meshcache::replication
