// cache_handler.cc: answering, timing, metrics and auth shared by every public-port handler
// (I/O loop thread of the connection).
#include "agent/cache/cache_handler.h"

#include <spdlog/spdlog.h>

#include "agent/cache/json_error.h"

namespace meshcache::agent::cache {
namespace {

// Metrics label sets are fixed, so the method is reduced to a static literal.
std::string_view method_label(std::string_view method) {
  for (std::string_view known : {"GET", "HEAD", "PUT", "POST", "DELETE"}) {
    if (method == known) return known;
  }
  return "OTHER";
}

class ErrorHandler final : public CacheHandler {
 public:
  ErrorHandler(const CacheContext& ctx, std::string_view route, int status, std::string_view code,
               std::string message, std::string_view allow)
      : CacheHandler(ctx, route),
        status_(status),
        code_(code),
        message_(std::move(message)),
        allow_(allow) {}

 private:
  void start(http::Exchange& ex) override {
    if (!allow_.empty()) {
      respond_method_not_allowed(ex, allow_);
    } else {
      respond_error(ex, status_, code_, message_);
    }
  }

  int status_;
  std::string_view code_;
  std::string message_;
  std::string_view allow_;
};

}  // namespace

CacheHandler::CacheHandler(const CacheContext& ctx, std::string_view route)
    : ctx_(ctx), route_(route), started_(std::chrono::steady_clock::now()) {}

void CacheHandler::on_request(http::Exchange& ex) {
  method_ = method_label(ex.request().method);
  start(ex);
}

void CacheHandler::on_body(http::Exchange& ex, std::span<const uint8_t> bytes) {
  bytes_in_ += bytes.size();
  if (!answered_) body(ex, bytes);
}

void CacheHandler::on_complete(http::Exchange& ex) {
  if (!answered_) complete(ex);
}

void CacheHandler::on_abort() {
  if (answered_) return;
  answered_ = true;  // nothing may answer on a dead exchange
  // 499 (nginx's "client closed request") keeps aborted uploads visible in the 4xx class.
  if (ctx_.metrics != nullptr) {
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started_;
    ctx_.metrics->record_request(route_, method_, 499, bytes_in_, 0, elapsed.count());
  }
}

void CacheHandler::respond(http::Exchange& ex, http::Response response,
                           std::unique_ptr<http::BodySource> body) {
  if (answered_) return;
  answered_ = true;
  if (ctx_.metrics != nullptr) {
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started_;
    uint64_t bytes_out = body != nullptr ? response.content_length : 0;
    ctx_.metrics->record_request(route_, method_, response.status, bytes_in_, bytes_out,
                                 elapsed.count());
  }
  ex.respond(std::move(response), std::move(body));
}

void CacheHandler::respond_empty(http::Exchange& ex, int status) {
  http::Response response;
  response.status = status;
  respond(ex, std::move(response));
}

void CacheHandler::respond_json(http::Exchange& ex, int status, std::string json,
                                std::vector<http::Header> headers) {
  http::Response response;
  response.status = status;
  response.headers = std::move(headers);
  response.headers.push_back({"content-type", std::string(kJson)});
  response.content_length = json.size();
  bool head = ex.request().method == "HEAD";
  respond(ex, std::move(response), head ? nullptr : std::make_unique<StringBody>(std::move(json)));
}

void CacheHandler::respond_error(http::Exchange& ex, int status, std::string_view code,
                                 std::string_view message) {
  respond_json(ex, status, json_error_body(code, message));
}

void CacheHandler::respond_status(http::Exchange& ex, const Status& status,
                                  int digest_mismatch_status) {
  HttpError error = http_error(status.code(), digest_mismatch_status);
  if (error.status >= 500) {
    spdlog::warn("{} {}: {}", ex.request().method, ex.request().path, status.message());
    respond_error(ex, error.status, error.code, "the cache could not complete the request");
    return;
  }
  respond_error(ex, error.status, error.code, status.message());
}

void CacheHandler::respond_method_not_allowed(http::Exchange& ex, std::string_view allow) {
  respond_json(ex, 405, json_error_body("method_not_allowed", "method not allowed on this route"),
               {{"allow", std::string(allow)}});
}

bool CacheHandler::authorize(http::Exchange& ex, std::string_view ns, bool write) {
  if (ctx_.auth == nullptr) return true;
  AuthDecision decision = ctx_.auth->check(ex.request(), ctx_.config->tenant_id, ns, write);
  if (decision.status == 0) return true;
  std::string_view code = decision.status == 401   ? "unauthorized"
                          : decision.status == 403 ? "forbidden"
                                                   : "unavailable";
  std::vector<http::Header> headers;
  if (decision.status == 401) headers.push_back({"www-authenticate", "Bearer realm=\"meshcache\""});
  respond_json(ex, decision.status, json_error_body(code, decision.message), std::move(headers));
  return false;
}

std::unique_ptr<http::Handler> make_error_handler(const CacheContext& ctx, std::string_view route,
                                                  int status, std::string_view code,
                                                  std::string message, std::string_view allow) {
  return std::make_unique<ErrorHandler>(ctx, route, status, code, std::move(message), allow);
}

}  // namespace meshcache::agent::cache
