// internal_reply.h: how the internal plane answers: Kura's {"message"} errors, JSON bodies,
// 503s with a Retry-After, handlers that answer from the request head alone or from a body
// read whole, and answers computed on a background thread. I/O loop thread of the exchange
// (run_in_background's work: the background thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/http/exchange.h"
#include "replication/internal_handlers.h"

namespace meshcache::replication {

void reply_json(http::Exchange& ex, int status, std::string body,
                std::vector<http::Header> headers = {});
// {"message": message}
void reply_message(http::Exchange& ex, int status, std::string_view message);
// 503 with a random Retry-After of 1 or 2 s (Kura's backpressure); `error` adds
// {"error": error} beside the message when not empty.
void reply_busy(http::Exchange& ex, std::string_view error, std::string_view message);
void reply_no_content(http::Exchange& ex);
// A failure: 400 invalid_argument, 413 too_large, 503 unavailable (with Retry-After), else
// 500; the message is the status's.
void reply_failure(http::Exchange& ex, const Status& status);

// A route that answers from the request head alone; whatever body follows is left to the
// server (discarded or refused).
class HeadHandler : public http::Handler {
 public:
  void on_body(http::Exchange&, std::span<const uint8_t>) override {}
  void on_complete(http::Exchange&) override {}
};
std::unique_ptr<http::Handler> make_message_handler(int status, std::string message);
std::unique_ptr<http::Handler> make_busy_handler(std::string message);

// A route that reads its whole body into memory first: at most `limit` bytes, else (by
// Content-Length, or while reading) 413 "{what} larger than {limit} bytes".
class BufferedBodyHandler : public http::Handler {
 public:
  BufferedBodyHandler(uint64_t limit, std::string_view what) : limit_(limit), what_(what) {}
  void on_request(http::Exchange& ex) override;
  void on_body(http::Exchange& ex, std::span<const uint8_t> bytes) final;
  void on_complete(http::Exchange& ex) final { on_whole_body(ex, std::exchange(body_, {})); }

 protected:
  virtual void on_whole_body(http::Exchange& ex, std::string body) = 0;

 private:
  void too_large(http::Exchange& ex);

  uint64_t limit_;
  std::string_view what_;
  std::string body_;
};

// Guards answers that come back later: a handler owns one, its destruction (or abort) marks
// the exchange gone, and a posted answer checks it before touching the exchange.
class Liveness {
 public:
  Liveness() = default;
  Liveness(const Liveness&) = delete;
  Liveness& operator=(const Liveness&) = delete;
  ~Liveness() { *alive_ = false; }
  std::shared_ptr<const bool> token() const { return alive_; }

 private:
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Runs `work` through ctx.background (it may walk the store for a while), then `answer` with
// its result on the exchange's loop, unless the exchange went away meanwhile.
template <typename T>
void run_in_background(const SharedState& state, http::Exchange& ex, const Liveness& liveness,
                       std::function<T()> work, std::function<void(http::Exchange&, T)> answer) {
  http::LoopExecutor& loop = ex.executor();
  http::Exchange* exchange = &ex;
  state->ctx.background([&loop, exchange, alive = liveness.token(), work = std::move(work),
                         answer = std::move(answer)]() mutable {
    auto result = std::make_shared<T>(work());
    loop.post([exchange, alive = std::move(alive), answer = std::move(answer), result] {
      if (*alive) answer(*exchange, std::move(*result));
    });
  });
}

}  // namespace meshcache::replication
