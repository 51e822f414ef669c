// mock_router.cc: request buffering, routing, the fault plan and the request log (the server's
// single I/O loop thread).
#include "tests/mock_cp/mock_router.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <optional>

#include "agent/http/string_body.h"

namespace meshcache::mockcp {
namespace {

// Far above any contract document (5000 usage events are about 2 MiB), far below trouble.
constexpr uint64_t kMaxBodyBytes = 8ull << 20;

constexpr std::string_view kAdminPrefix = "/_mock/";

// What a load balancer in front of a dead service answers: not JSON, not the contract.
constexpr std::string_view kLoadBalancerPage =
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n"
    "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n";

Reply too_large() { return error_reply(413, "payload_too_large"); }

void send(http::Exchange& ex, const Reply& reply) {
  http::Response response;
  response.status = reply.status;
  response.headers = reply.headers;
  response.content_length = reply.body.size();
  if (ex.request().method == "HEAD" || reply.body.empty()) {
    ex.respond(std::move(response), nullptr);
  } else {
    ex.respond(std::move(response), std::make_unique<http::StringBody>(reply.body));
  }
}

// A bug in a handler must not take down the process the tests depend on: it becomes a 500.
template <typename Fn>
Reply guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    spdlog::error("handler failed: {}", e.what());
    return error_reply(500, "internal_server_error");
  }
}

// Buffers the request body (bounded), then hands the whole request to the router.
class BufferedHandler final : public http::Handler {
 public:
  explicit BufferedHandler(MockRouter& router) : router_(router) {}

  void on_request(http::Exchange& ex) override {
    const auto& declared = ex.request().content_length;
    if (declared && *declared > kMaxBodyBytes) {
      router_.finish(ex, {}, too_large());
      return;
    }
    if (declared) body_.reserve(*declared);
  }

  void on_body(http::Exchange& ex, std::span<const uint8_t> bytes) override {
    if (ex.responded()) return;
    // Chunked bodies declare nothing: the bound holds as they arrive.
    if (body_.size() + bytes.size() > kMaxBodyBytes) {
      router_.finish(ex, {}, too_large());
      return;
    }
    body_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  void on_complete(http::Exchange& ex) override {
    if (!ex.responded()) router_.serve(ex, body_, alive_);
  }

  void on_abort() override { alive_.reset(); }

 private:
  MockRouter& router_;
  std::string body_;
  std::shared_ptr<void> alive_ = std::make_shared<char>();
};

}  // namespace

std::unique_ptr<http::Handler> MockRouter::route(const http::Request&) {
  return std::make_unique<BufferedHandler>(*this);
}

void MockRouter::serve(http::Exchange& ex, std::string_view body, std::weak_ptr<void> alive) {
  const http::Request& request = ex.request();
  if (request.path.starts_with(kAdminPrefix)) {
    Reply reply = guarded([&] { return admin_.handle(request, body); });
    spdlog::debug("admin {} {} -> {}", request.method, request.path, reply.status);
    send(ex, reply);
    return;
  }

  std::optional<Endpoint> endpoint = endpoint_for_path(request.path);
  std::optional<Fault> fault = endpoint ? state_->faults.take(*endpoint) : std::nullopt;
  FaultMode mode = fault ? fault->mode : FaultMode::none;
  Reply reply;
  if (!endpoint) {
    reply = error_reply(404, "not_found");
  } else if (mode == FaultMode::down) {
    reply = Reply{503, {{"content-type", "text/html"}}, std::string(kLoadBalancerPage)};
  } else if (mode == FaultMode::error) {
    reply = error_reply(500, "internal_server_error");
  } else if (mode == FaultMode::status) {
    reply = Reply{fault->status, {{"content-type", "application/json"}}, dump(fault->body)};
  } else {
    reply = guarded([&] { return node_.handle(*endpoint, request, body); });
  }
  if (mode == FaultMode::garbage) {
    // Half a JSON object and a comment: the status says success, the body cannot be parsed.
    reply.body = reply.body.substr(0, reply.body.size() / 2) + "<!-- garbage -->";
  }
  if (mode != FaultMode::slow) {
    finish(ex, body, reply);
    return;
  }
  // The work is done now; only the answer waits, as behind a slow network.
  record(request, body, reply.status);
  http::Exchange* target = &ex;
  ex.executor().post_after(fault->delay, [target, alive = std::move(alive), reply] {
    if (!alive.expired()) send(*target, reply);
  });
}

void MockRouter::finish(http::Exchange& ex, std::string_view body, const Reply& reply) {
  if (!ex.request().path.starts_with(kAdminPrefix)) record(ex.request(), body, reply.status);
  send(ex, reply);
}

void MockRouter::record(const http::Request& request, std::string_view body, int status) {
  std::optional<Endpoint> endpoint = endpoint_for_path(request.path);
  std::string_view name = endpoint ? info(*endpoint).name : std::string_view("unknown");
  spdlog::info("{} {} {} -> {}", name, request.method, request.path, status);
  state_->journal.record(name, request, body, status);
}

}  // namespace meshcache::mockcp
