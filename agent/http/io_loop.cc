// io_loop.cc: an I/O thread running one event_base with its listeners and connections.
#include "agent/http/io_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "agent/http/connection.h"
#include "agent/http/listener.h"

namespace meshcache::http {
namespace {

std::string format_peer(const sockaddr* addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    return fmt::format("{}:{}", host, ntohs(in->sin_port));
  }
  if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    return fmt::format("[{}]:{}", host, ntohs(in6->sin6_port));
  }
  return "unknown";
}

}  // namespace

void ServerShared::connection_opened() {
  counters.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  counters.connections_open.fetch_add(1);
}

void ServerShared::connection_closed() {
  counters.connections_open.fetch_sub(1);
  // Both atomics are sequentially consistent: either drain() sees the new count, or we see
  // its flag and wake it.
  if (draining.load()) {
    std::lock_guard lock(mu);
    cv.notify_all();
  }
}

IoLoop::IoLoop(ServerShared& shared)
    : shared_(shared),
      env_{*shared.router, shared.limits, shared.counters, ids_, *this},
      base_(event_base_new()) {
  if (!base_) throw std::runtime_error("cannot create an event loop");
  tasks_event_.reset(event_new(base_.get(), -1, 0, on_tasks, this));
  reap_event_.reset(event_new(base_.get(), -1, 0, on_reap, this));
  if (!tasks_event_ || !reap_event_) throw std::runtime_error("cannot create loop events");
}

IoLoop::~IoLoop() {
  stop();
  // Connections, timers and listeners go before the events and the base they live on.
  delayed_.clear();
  dead_.clear();
  connections_.clear();
  listeners_.clear();
}

void IoLoop::add_listener(std::unique_ptr<Listener> listener) {
  listeners_.push_back(std::move(listener));
}

void IoLoop::start() {
  thread_ = std::thread([this] { event_base_loop(base_.get(), EVLOOP_NO_EXIT_ON_EMPTY); });
}

void IoLoop::stop() {
  if (!thread_.joinable()) return;
  post([this] {
    close_all();
    // loopexit, not loopbreak: the bufferevents just freed finalize (SSL_free) in callbacks
    // that must still run.
    event_base_loopexit(base_.get(), nullptr);
  });
  thread_.join();
}

void IoLoop::post(std::function<void()> task) {
  {
    std::lock_guard lock(tasks_mu_);
    tasks_.push_back(std::move(task));
  }
  event_active(tasks_event_.get(), 0, 0);
}

void IoLoop::post_after(std::chrono::milliseconds delay, std::function<void()> task) {
  auto owned = std::make_unique<Delayed>();
  Delayed* d = owned.get();
  d->loop = this;
  d->task = std::move(task);
  d->timer.reset(evtimer_new(base_.get(), on_delayed, d));
  if (!d->timer) {
    spdlog::error("cannot create a timer; running a delayed task now");
    d->task();
    return;
  }
  auto ms = delay.count() < 0 ? 0 : delay.count();
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  evtimer_add(d->timer.get(), &tv);
  delayed_.emplace(d, std::move(owned));
}

void IoLoop::on_delayed(evutil_socket_t, short, void* arg) noexcept {
  auto* d = static_cast<Delayed*>(arg);
  IoLoop& loop = *d->loop;
  auto it = loop.delayed_.find(d);
  if (it == loop.delayed_.end()) return;
  // Own it until the task has run: the task may post more delayed work (rehashing the map).
  std::unique_ptr<Delayed> owned = std::move(it->second);
  loop.delayed_.erase(it);
  owned->task();
}

void IoLoop::on_tasks(evutil_socket_t, short, void* arg) noexcept {
  auto& loop = *static_cast<IoLoop*>(arg);
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(loop.tasks_mu_);
    tasks.swap(loop.tasks_);
  }
  for (auto& task : tasks) task();
}

void IoLoop::on_reap(evutil_socket_t, short, void* arg) noexcept {
  static_cast<IoLoop*>(arg)->dead_.clear();
}

void IoLoop::accept(evutil_socket_t fd, const sockaddr* addr, SSL_CTX* tls) {
  if (draining_) {
    evutil_closesocket(fd);
    return;
  }
  // Responses are written whole; Nagle would only delay the last segment.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto connection = std::make_unique<Connection>(*this, fd, format_peer(addr), tls);
  Connection* key = connection.get();
  connections_.emplace(key, std::move(connection));
  key->start();
}

void IoLoop::retire(Connection* connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  dead_.push_back(std::move(it->second));
  connections_.erase(it);
  event_active(reap_event_.get(), 0, 0);
}

void IoLoop::begin_drain() {
  draining_ = true;
  listeners_.clear();
  // drain() may retire a connection, which edits the map: walk a snapshot.
  std::vector<Connection*> open;
  open.reserve(connections_.size());
  for (auto& [c, owner] : connections_) open.push_back(c);
  for (Connection* c : open) {
    if (connections_.count(c)) c->drain();
  }
}

void IoLoop::close_all() {
  listeners_.clear();
  delayed_.clear();
  // Runs from a posted task, never inside a connection's callback: freeing now is safe.
  connections_.clear();
  dead_.clear();
}

}  // namespace meshcache::http
