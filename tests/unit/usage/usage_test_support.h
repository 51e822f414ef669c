// usage_test_support.h: fixtures for the usage tests: a temp data dir, a settable clock, and a
// CpTransport fake that keeps posts and tasks until the test answers or runs them (test thread).
#pragma once

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "agent/controlplane/cp_transport.h"
#include "storage/store.h"
#include "tests/unit/temp_dir.h"

namespace meshcache::agent::usage::test {

using ::meshcache::testutil::TempDir;

inline std::unique_ptr<storage::Store> open_store(const std::string& path) {
  storage::StoreOptions options;
  options.path = path;
  auto store = storage::Store::open(options);
  INFO(store.status().message());
  REQUIRE(store.ok());
  return std::move(store).value();
}

// The clock reporters are built with in these tests: 5 s into a 60 s window.
inline constexpr int64_t kWindowStart = 1'700'000'040;  // a multiple of 60
inline std::atomic<int64_t> fake_now_ms{kWindowStart * 1000 + 5000};
inline int64_t fake_clock() { return fake_now_ms.load(); }

class FakeTransport final : public cp::CpTransport {
 public:
  struct Post {
    std::string path;
    std::string json;
    std::function<void(cp::CpReply)> done;
  };
  struct Task {
    std::chrono::milliseconds delay;
    std::function<void()> run;
  };

  void post_json(std::string path, std::string json,
                 std::function<void(cp::CpReply)> done) override {
    posts.push_back({std::move(path), std::move(json), std::move(done)});
  }
  void post_form(std::string, std::map<std::string, std::string>,
                 std::function<void(cp::CpReply)>) override {
    FAIL("usage delivery never posts a form");
  }
  void schedule(std::chrono::milliseconds delay, std::function<void()> task) override {
    tasks.push_back({delay, std::move(task)});
  }
  void stop() override {}

  // Answers the oldest unanswered post (status 0 = no response, with `body` as the error).
  void answer(long status, std::string body = "{}") {
    REQUIRE(!posts.empty());
    Post post = std::move(posts.front());
    posts.pop_front();
    cp::CpReply reply;
    reply.status = status;
    (status == 0 ? reply.error : reply.body) = std::move(body);
    post.done(std::move(reply));
  }

  // Runs the tasks scheduled so far (not those they schedule) and returns their delays.
  std::vector<std::chrono::milliseconds> run_tasks() {
    std::deque<Task> due;
    due.swap(tasks);
    std::vector<std::chrono::milliseconds> delays;
    for (auto& task : due) {
      delays.push_back(task.delay);
      task.run();
    }
    return delays;
  }

  std::deque<Post> posts;
  std::deque<Task> tasks;
};

}  // namespace meshcache::agent::usage::test
