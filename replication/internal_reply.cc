// internal_reply.cc: the internal plane's answers ({"message"} errors, JSON, 503 with
// Retry-After); I/O loop threads.
#include "replication/internal_reply.h"

#include <fmt/format.h>
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

// A 503 is Kura's backpressure answer, so it carries a Retry-After.
class MessageHandler final : public HeadHandler {
 public:
  MessageHandler(int status, std::string message) : status_(status), message_(std::move(message)) {}
  void on_request(http::Exchange& ex) override {
    if (status_ == 503) return reply_busy(ex, {}, message_);
    reply_message(ex, status_, message_);
  }

 private:
  int status_;
  std::string message_;
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

void BufferedBodyHandler::on_request(http::Exchange& ex) {
  const std::optional<uint64_t>& length = ex.request().content_length;
  if (!length) return;
  if (*length > limit_) return too_large(ex);
  body_.reserve(*length);
}

void BufferedBodyHandler::on_body(http::Exchange& ex, std::span<const uint8_t> bytes) {
  if (bytes.size() > limit_ - body_.size()) {
    body_ = {};
    return too_large(ex);
  }
  body_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void BufferedBodyHandler::too_large(http::Exchange& ex) {
  reply_message(ex, 413, fmt::format("{} larger than {} bytes", what_, limit_));
}

std::unique_ptr<http::Handler> make_message_handler(int status, std::string message) {
  return std::make_unique<MessageHandler>(status, std::move(message));
}

std::unique_ptr<http::Handler> make_busy_handler(std::string message) {
  return std::make_unique<MessageHandler>(503, std::move(message));
}

}  // namespace meshcache::replication
