// cache_handler.cc: answering, timing, metrics and auth shared by every public-port handler
// (I/O loop thread of the connection).
#include "agent/cache/cache_handler.h"

#include <spdlog/spdlog.h>

#include "agent/cache/json_error.h"

namespace meshcache::agent::cache {
namespace {

// Body bytes held while a token is being checked: the pause stops the rest, so more than this
// means a client that ignores flow control.
constexpr size_t kMaxHeldBody = 1 << 20;
constexpr const char* kEnrollingRetryAfter = "5";

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

  bool serves_cache() const override { return false; }

  int status_;
  std::string_view code_;
  std::string message_;
  std::string_view allow_;
};

// The usage report's protocol and artifact kind of a route (a fixed set of literals).
struct UsageKind {
  std::string_view protocol;
  std::string_view artifact;
};

UsageKind usage_kind(std::string_view route) {
  static constexpr std::pair<std::string_view, UsageKind> kKinds[] = {
      {route::bazel_ac, {"bazel", "action_result"}},
      {route::bazel_cas, {"bazel", "cas"}},
      {route::ccache, {"http", "artifact"}},
      {route::gradle, {"gradle", "build_cache_entry"}},
      {route::turbo_artifact, {"turbo", "artifact"}},
      {route::turbo_status, {"turbo", "status"}},
      {route::turbo_events, {"turbo", "events"}},
      {route::nx, {"nx", "artifact"}},
      {route::xcode_cas, {"xcode", "cas"}},
      {route::xcode_keyvalue, {"xcode", "keyvalue"}},
      {route::module, {"module", "module"}},
      {route::module_upload, {"module", "module"}},
      {route::metro, {"metro", "artifact"}},
  };
  for (const auto& [name, kind] : kKinds) {
    if (name == route) return kind;
  }
  return {"http", "other"};
}

}  // namespace

CacheHandler::CacheHandler(const CacheContext& ctx, std::string_view route)
    : ctx_(ctx), route_(route), started_(std::chrono::steady_clock::now()) {}

void CacheHandler::on_request(http::Exchange& ex) {
  method_ = method_label(ex.request().method);
  if (serves_cache()) {
    if (ctx_.state && ctx_.state() == NodeState::enrolling) {
      respond_json(ex, 503,
                   json_error_body("enrolling", "the node is enrolling with its control plane"),
                   {{"retry-after", kEnrollingRetryAfter}});
      return;
    }
    if (ctx_.auth != nullptr && ctx_.auth->needs_lookup(ex.request(), credential_)) {
      wait_for_auth(ex);
      return;
    }
  }
  start(ex);
}

void CacheHandler::wait_for_auth(http::Exchange& ex) {
  ex.pause_body(true);
  auth_wait_ = std::make_shared<AuthWait>();
  // `ready` may run on any thread; only the loop may touch the handler, and only if it lives.
  http::LoopExecutor& loop = ex.executor();
  ctx_.auth->lookup(ex.request(), [&loop, &ex, this, alive = std::weak_ptr<AuthWait>(auth_wait_)] {
    loop.post([&ex, this, alive] {
      if (!alive.expired()) resume_after_auth(ex);
    });
  });
}

void CacheHandler::resume_after_auth(http::Exchange& ex) {
  std::shared_ptr<AuthWait> wait = std::move(auth_wait_);
  start(ex);
  if (!answered_ && !wait->body.empty()) {
    body(ex, {reinterpret_cast<const uint8_t*>(wait->body.data()), wait->body.size()});
  }
  if (!answered_ && wait->completed) complete(ex);
  ex.pause_body(false);
}

void CacheHandler::on_body(http::Exchange& ex, std::span<const uint8_t> bytes) {
  bytes_in_ += bytes.size();
  if (answered_) return;
  if (auth_wait_ == nullptr) {
    body(ex, bytes);
    return;
  }
  if (auth_wait_->body.size() + bytes.size() > kMaxHeldBody) {
    auth_wait_.reset();
    respond_error(ex, 503, "unavailable",
                  "the request body kept coming while its token was checked");
    return;
  }
  auth_wait_->body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void CacheHandler::on_complete(http::Exchange& ex) {
  if (answered_) return;
  if (auth_wait_ != nullptr) {
    auth_wait_->completed = true;
    return;
  }
  complete(ex);
}

void CacheHandler::on_abort() {
  auth_wait_.reset();
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
  uint64_t bytes_out = body != nullptr ? response.content_length : 0;
  if (ctx_.metrics != nullptr) {
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started_;
    ctx_.metrics->record_request(route_, method_, response.status, bytes_in_, bytes_out,
                                 elapsed.count());
  }
  // Usage counts what a client was served or stored, not refusals or misses.
  if (ctx_.usage != nullptr && usage_ns_ && response.status / 100 == 2) {
    bool write = method_ == "PUT" || method_ == "POST" || method_ == "DELETE";
    UsageKind kind = usage_kind(route_);
    ctx_.usage->record(ctx_.config->tenant_id, *usage_ns_, write, kind.protocol, kind.artifact,
                       write ? bytes_in_ : bytes_out);
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
  if (status.code() == Code::unavailable) {
    // Retryable by definition (a full outbox, a busy store): tell clients when.
    respond_json(ex, 503, json_error_body(error.code, status.message()), {{"retry-after", "5"}});
    return;
  }
  if (error.status >= 500) {
    spdlog::warn("{} {}: {}", ex.request().method, ex.request().path, status.message());
    respond_error(ex, error.status, error.code, "the cache could not complete the request");
    return;
  }
  respond_error(ex, error.status, error.code, status.message());
}

void CacheHandler::owe_copies(storage::WriteOptions& options) const {
  if (ctx_.mesh == nullptr) return;
  auto targets = ctx_.mesh->write_targets();
  if (targets && !targets->empty()) options.outbox_targets = *targets;
}

void CacheHandler::copies_owed() const {
  if (ctx_.mesh != nullptr) ctx_.mesh->wrote();
}

void CacheHandler::respond_method_not_allowed(http::Exchange& ex, std::string_view allow) {
  respond_json(ex, 405, json_error_body("method_not_allowed", "method not allowed on this route"),
               {{"allow", std::string(allow)}});
}

bool CacheHandler::authorize(http::Exchange& ex, std::string_view ns, bool write) {
  if (ctx_.usage != nullptr) usage_ns_ = std::string(ns);
  if (ctx_.auth == nullptr) return true;
  AuthDecision decision =
      ctx_.auth->check(ex.request(), credential_, ctx_.config->tenant_id, ns, write);
  if (decision.status == 0) return true;
  std::string_view code = decision.status == 401   ? "unauthorized"
                          : decision.status == 403 ? "forbidden"
                                                   : "unavailable";
  std::vector<http::Header> headers;
  if (decision.status == 401) headers.push_back({"www-authenticate", "Bearer realm=\"meshcache\""});
  if (decision.retry_after_seconds > 0) {
    headers.push_back({"retry-after", std::to_string(decision.retry_after_seconds)});
  }
  respond_json(ex, decision.status, json_error_body(code, decision.message), std::move(headers));
  return false;
}

std::unique_ptr<http::Handler> make_error_handler(const CacheContext& ctx, std::string_view route,
                                                  int status, std::string_view code,
                                                  std::string message, std::string_view allow) {
  return std::make_unique<ErrorHandler>(ctx, route, status, code, std::move(message), allow);
}

}  // namespace meshcache::agent::cache
