// task_thread.h: one thread that runs posted tasks in order, now or after a delay: the mesh's
// home for store work too long for an I/O loop (namespace deletes) and its periodic chores.
// post()/post_after() from any thread; the tasks run on the owned thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace meshcache::replication {

class TaskThread {
 public:
  TaskThread();
  ~TaskThread();  // stop()
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;

  void post(std::function<void()> task) {
    post_after(std::chrono::milliseconds(0), std::move(task));
  }
  void post_after(std::chrono::milliseconds delay, std::function<void()> task);
  // Runs what is due, drops the rest, joins. Idempotent.
  void stop();

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  // Due time → task; equal times keep posting order.
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace meshcache::replication
