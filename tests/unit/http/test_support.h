// test_support.h: a recording router, body sources, a fake session host and an HTTP/1 response
// reader for the meshcache_http unit tests (test thread only).
#pragma once

#include <event2/buffer.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/http/exchange.h"
#include "agent/http/server.h"
#include "agent/http/session.h"
#include "tests/unit/http/raw_socket.h"

namespace meshcache::http::test {

// Hands out `text` in pieces of at most `piece` bytes.
class StringBody final : public BodySource {
 public:
  explicit StringBody(std::string text, size_t piece = 1 << 20)
      : text_(std::move(text)), piece_(piece) {}
  Result<size_t> pull(evbuffer* out, size_t max_bytes) override;

 private:
  std::string text_;
  size_t piece_;
  size_t pos_ = 0;
};

// `size` bytes of a repeating pattern, in pieces of at most `piece` bytes; counts its pulls.
class PatternBody final : public BodySource {
 public:
  PatternBody(uint64_t size, size_t piece, int* pulls = nullptr)
      : left_(size), piece_(piece), pulls_(pulls) {}
  Result<size_t> pull(evbuffer* out, size_t max_bytes) override;
  static char byte_at(uint64_t offset) { return static_cast<char>('a' + offset % 26); }

 private:
  uint64_t left_;
  uint64_t offset_ = 0;
  size_t piece_;
  int* pulls_;
};

// Records what handlers saw; routes by path:
//   /hello            200 "hello" from on_request
//   /echo             200 with the request body, from on_complete
//   /reject           413 from on_request
//   /big?size=N       200 with N pattern bytes (pieces of 16 KiB)
//   /fail             a body source that errors after the head
//   /later            answers only when answer_later() is called (an async answer)
//   /hold             an echo that pauses its body in on_request until release_held()
//   anything else     404 from on_request
class TestRouter final : public Router {
 public:
  std::unique_ptr<Handler> route(const Request& request) override;
  // Answers the oldest /later exchange with 200 "later".
  bool answer_later();
  // Releases the oldest held /hold exchange's body.
  bool release_held();

  std::vector<std::string> events;  // "request GET /echo", "body 5", "complete /echo", "abort /x"
  std::vector<Request> requests;
  std::vector<Exchange*> later;
  std::vector<Exchange*> held;
  int pulls = 0;
};

// Runs posted tasks when the test says so (run_all), like a loop turn.
class TestExecutor final : public LoopExecutor {
 public:
  void post(std::function<void()> task) override { tasks.push_back(std::move(task)); }
  void post_after(std::chrono::milliseconds, std::function<void()> task) override {
    tasks.push_back(std::move(task));
  }
  void run_all() {
    auto now = std::move(tasks);
    tasks.clear();
    for (auto& t : now) t();
  }
  std::vector<std::function<void()>> tasks;
};

class TestHost final : public SessionHost {
 public:
  void wake() override { ++wakes; }
  int wakes = 0;
};

// Everything a session needs, with small limits that tests can tune.
struct TestEnv {
  TestEnv();
  Limits limits;
  ServerCounters counters;
  RequestIds ids;
  std::shared_ptr<TestRouter> router = std::make_shared<TestRouter>();
  TestExecutor executor;
  SessionEnv env{*router, limits, counters, ids, executor};
  TestHost host;
  EvbufferPtr out{evbuffer_new()};
  EvbufferPtr in{evbuffer_new()};
};

// Runs a shell command; its standard output.
std::string run(const std::string& command);
using meshcache::testutil::connect_to;
using meshcache::testutil::send_all;

std::string drain_buffer(evbuffer* b);
void add(evbuffer* b, std::string_view s);

struct ParsedResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

// Splits HTTP/1.1 responses out of `wire`. `head_requests` lists, per response, whether it
// answers a HEAD (no body then despite Content-Length). Stops at the first incomplete one.
std::vector<ParsedResponse> parse_responses(std::string_view wire,
                                            std::vector<bool> head_requests = {});

}  // namespace meshcache::http::test
