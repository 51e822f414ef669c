// io_loop.h: one I/O thread: its event_base, listeners and connections. Built and started
// from the main thread; everything else in it runs on its own thread (post() is the only
// cross-thread entry).
#pragma once

#include <event2/event.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "agent/http/server.h"
#include "agent/http/session.h"

namespace meshcache::http {

class Connection;
class Listener;

struct EventFree {
  void operator()(event* e) const { event_free(e); }
};
using EventPtr = std::unique_ptr<event, EventFree>;

// What the Server shares with all of its loops.
struct ServerShared {
  Limits limits;
  std::shared_ptr<Router> router;
  ServerCounters counters;
  std::atomic<bool> draining{false};
  // drain() waits on these until connections_open reaches 0.
  std::mutex mu;
  std::condition_variable cv;

  void connection_opened();
  void connection_closed();
};

class IoLoop final : public LoopExecutor {
 public:
  explicit IoLoop(ServerShared& shared);
  ~IoLoop();
  IoLoop(const IoLoop&) = delete;
  IoLoop& operator=(const IoLoop&) = delete;

  // Main thread, before start().
  event_base* base() const { return base_.get(); }
  void add_listener(std::unique_ptr<Listener> listener);
  void start();
  // Any thread but the loop's: closes everything on the loop, stops it and joins the thread.
  void stop();
  // Any thread: runs `task` on the loop thread soon.
  void post(std::function<void()> task) override;
  // Loop thread: runs `task` after `delay`; dropped when the loop stops first.
  void post_after(std::chrono::milliseconds delay, std::function<void()> task) override;

  // Loop thread.
  void accept(evutil_socket_t fd, const sockaddr* addr, SSL_CTX* tls);
  void retire(Connection* connection);  // freed later, outside the connection's callbacks
  void begin_drain();
  void close_all();
  const SessionEnv& env() const { return env_; }
  const Limits& limits() const { return shared_.limits; }
  bool draining() const { return draining_; }
  ServerShared& shared() { return shared_; }

 private:
  struct EventBaseFree {
    void operator()(event_base* b) const { event_base_free(b); }
  };
  static void on_tasks(evutil_socket_t, short, void* arg) noexcept;
  static void on_reap(evutil_socket_t, short, void* arg) noexcept;
  static void on_delayed(evutil_socket_t, short, void* arg) noexcept;

  struct Delayed {
    IoLoop* loop = nullptr;
    EventPtr timer;
    std::function<void()> task;
  };

  ServerShared& shared_;
  RequestIds ids_;
  SessionEnv env_;
  std::unique_ptr<event_base, EventBaseFree> base_;
  EventPtr tasks_event_;
  EventPtr reap_event_;
  std::mutex tasks_mu_;
  std::vector<std::function<void()>> tasks_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> dead_;
  std::unordered_map<Delayed*, std::unique_ptr<Delayed>> delayed_;
  bool draining_ = false;
  std::thread thread_;
};

}  // namespace meshcache::http
