// test_node.h: drives the cache router the way the HTTP server does, without sockets: a fake
// Exchange records the response and drains its BodySource, over a real Store in a temp dir.
// Test thread only, except FakeLoop::post (any thread).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/auth/authorizer.h"
#include "agent/cache/cache_router.h"
#include "agent/config.h"
#include "agent/metrics.h"
#include "storage/store.h"
#include "tests/unit/temp_dir.h"

namespace meshcache::agent::test {

using ::meshcache::testutil::TempDir;

struct Reply {
  int status = 0;
  std::vector<http::Header> headers;
  uint64_t content_length = 0;
  bool has_body_source = false;
  std::string body;
  bool body_error = false;
  bool answered_in_on_request = false;  // before any body byte (the 100-continue case)

  const std::string* header(std::string_view name) const;
};

struct Call {
  std::string method = "GET";
  std::string target = "/";  // path and query, as sent
  std::string body;
  std::vector<http::Header> headers;
  bool chunked = false;    // no declared Content-Length
  size_t piece_bytes = 7;  // on_body slices, to exercise reassembly
  bool expect_continue = false;
  std::optional<uint64_t> declared_length;  // overrides body.size() when set
};

// The fake exchanges' I/O loop: tasks posted from any thread wait until the test thread, which
// plays the loop, runs them.
class FakeLoop final : public http::LoopExecutor {
 public:
  void post(std::function<void()> task) override;
  // The delay is not simulated: the task runs with the next run_posted().
  void post_after(std::chrono::milliseconds delay, std::function<void()> task) override;
  // Runs what is queued, and what those tasks post; returns how many ran.
  size_t run_posted();
  // Waits until a task is queued (another thread posts it); false on timeout.
  bool wait_posted(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  std::mutex mutex_;
  std::condition_variable posted_;
  std::deque<std::function<void()>> tasks_;
};

class FakeExchange;

// One request driven callback by callback, for tests that act between the server's calls.
// Destroying it destroys the handler, as the session does.
class Flow {
 public:
  Flow(std::unique_ptr<FakeExchange> ex, std::unique_ptr<http::Handler> handler);
  ~Flow();

  // on_body; the test decides whether that happens while paused (bytes the server had already
  // parsed when the handler paused).
  void body(std::string_view bytes);
  void complete();
  // on_abort, then the handler goes, as the session does.
  void abort();
  bool paused() const;
  bool responded() const;
  const Reply& reply() const;

 private:
  std::unique_ptr<FakeExchange> ex_;
  std::unique_ptr<http::Handler> handler_;
};

class TestNode {
 public:
  using MakeAuth = std::function<std::unique_ptr<Authorizer>(const Config&)>;

  TestNode();
  explicit TestNode(std::function<void(Config&)> configure, MakeAuth make_auth = {});
  ~TestNode();

  // The whole request: runs posted tasks while the handler holds the body (a token lookup),
  // waiting for tasks other threads post.
  Reply call(const Call& call);
  // Routes the request and calls on_request; the test drives the rest.
  std::unique_ptr<Flow> begin(const Call& call);
  Reply simple(std::string method, std::string target, std::string body = {},
               std::vector<http::Header> headers = {});
  Reply get(std::string target, std::vector<http::Header> headers = {});
  Reply head(std::string target, std::vector<http::Header> headers = {});
  Reply put(std::string target, std::string body, std::vector<http::Header> headers = {});
  Reply post(std::string target, std::string body, std::vector<http::Header> headers = {});

  // Closes and reopens the store (state that must survive a restart).
  void reopen();

  Config config;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<Authorizer> auth;
  NodeState state = NodeState::serving;
  FakeLoop loop;

 private:
  void open();

  TempDir dir_;
  std::shared_ptr<http::Router> router_;
};

std::string sha256_hex(std::string_view data);

}  // namespace meshcache::agent::test
