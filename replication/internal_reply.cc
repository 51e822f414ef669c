// internal_reply.cc: the internal plane's answers ({"message"} errors, JSON, 503 with
// Retry-After); I/O loop threads.
#include "replication/internal_reply.h"

#include <nlohmann/json.hpp>

#include <random>

#include "agent/http/string_body.h"
#include "replication/wire_json.h"

namespace meshcache::replication {
namespace {

// Kura's backpressure answers spread their retries over 1 to 2 seconds.
std::string retry_after() {
  thread_local std::minstd_rand rng{std::random_device{}()};
  return rng() % 2 == 0 ? "1" : "2";
}

class MessageHandler final : public HeadHandler {
 public:
  MessageHandler(int status, std::string message, bool busy)
      : status_(status), message_(std::move(message)), busy_(busy) {}
  void on_request(http::Exchange& ex) override {
    if (busy_) {
      reply_busy(ex, {}, message_);
    } else {
      reply_message(ex, status_, message_);
    }
  }

 private:
  int status_;
  std::string message_;
  bool busy_;
};

}  // namespace

void reply_json(http::Exchange& ex, int status, std::string body,
                std::vector<http::Header> headers) {
  http::Response r;
  r.status = status;
  r.headers = std::move(headers);
  r.headers.push_back({"content-type", "application/json"});
  r.content_length = body.size();
  ex.respond(std::move(r), std::make_unique<http::StringBody>(std::move(body)));
}

void reply_message(http::Exchange& ex, int status, std::string_view message) {
  reply_json(ex, status, wire::dump_json({{"message", message}}));
}

void reply_busy(http::Exchange& ex, std::string_view error, std::string_view message) {
  nlohmann::json body = {{"message", message}};
  if (!error.empty()) body["error"] = error;
  reply_json(ex, 503, wire::dump_json(body), {{"retry-after", retry_after()}});
}

void reply_no_content(http::Exchange& ex) {
  http::Response r;
  r.status = 204;
  ex.respond(std::move(r));
}

void reply_failure(http::Exchange& ex, const Status& status) {
  switch (status.code()) {
    case Code::invalid_argument:
      return reply_message(ex, 400, status.message());
    case Code::too_large:
      return reply_message(ex, 413, status.message());
    case Code::unavailable:
      return reply_busy(ex, {}, status.message());
    default:
      return reply_message(ex, 500, status.message());
  }
}

std::unique_ptr<http::Handler> make_message_handler(int status, std::string message) {
  return std::make_unique<MessageHandler>(status, std::move(message), false);
}

std::unique_ptr<http::Handler> make_busy_handler(std::string message) {
  return std::make_unique<MessageHandler>(503, std::move(message), true);
}

}  // namespace meshcache::replication
