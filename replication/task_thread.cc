// task_thread.cc: the mesh's task thread (tasks run on it; posting from any thread).
#include "replication/task_thread.h"

namespace meshcache::replication {

TaskThread::TaskThread() : thread_([this] { run(); }) {}

TaskThread::~TaskThread() { stop(); }

void TaskThread::post_after(std::chrono::milliseconds delay, std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    tasks_.emplace(std::chrono::steady_clock::now() + delay, std::move(task));
  }
  cv_.notify_one();
}

void TaskThread::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void TaskThread::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (!tasks_.empty() && tasks_.begin()->first <= now) {
      auto task = std::move(tasks_.begin()->second);
      tasks_.erase(tasks_.begin());
      lock.unlock();
      task();
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (tasks_.empty())
      cv_.wait(lock);
    else
      cv_.wait_until(lock, tasks_.begin()->first);
  }
}

}  // namespace meshcache::replication
