// fuzz_router.h: a router whose handlers answer in every way the sessions support (early,
// on completion, later, with large pulled bodies), for the libFuzzer targets (fuzzer thread).
#pragma once

#include <event2/buffer.h>

#include <memory>
#include <set>

#include "agent/http/exchange.h"
#include "agent/http/server.h"
#include "agent/http/session.h"

namespace meshcache::http::fuzz {

class FuzzRouter final : public Router {
 public:
  std::unique_ptr<Handler> route(const Request& request) override;
  // Answers every exchange held by a /l handler, as a later (asynchronous) answer would.
  void answer_held();

  std::set<Exchange*> held;
};

// The fuzzed handlers answer synchronously; anything posted is dropped.
class NullExecutor final : public LoopExecutor {
 public:
  void post(std::function<void()>) override {}
  void post_after(std::chrono::milliseconds, std::function<void()>) override {}
};

class NullHost final : public SessionHost {
 public:
  void wake() override { ++wakes; }
  int wakes = 0;
};

// One session's surroundings, with limits small enough for the fuzzer to reach them.
struct FuzzEnv {
  FuzzEnv();
  Limits limits;
  ServerCounters counters;
  RequestIds ids;
  FuzzRouter router;
  NullExecutor executor;
  SessionEnv env{router, limits, counters, ids, executor};
  NullHost host;
  EvbufferPtr in{evbuffer_new()};
  EvbufferPtr out{evbuffer_new()};
};

// Feeds `data` to `session` in pieces whose sizes derive from the data, reading its output
// between pieces, then exercises timers, drain and EOF.
void drive(Session& session, FuzzEnv& env, const uint8_t* data, size_t size);

}  // namespace meshcache::http::fuzz
