// test_node.cc: the fake Exchange and the temp-dir node behind the agent tests (test thread).
#include "tests/unit/agent/test_node.h"

#include <event2/buffer.h>
#include <openssl/sha.h>
#include <stdlib.h>

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <filesystem>

#include "agent/http/request_target.h"

namespace meshcache::agent::test {
namespace {

struct EvbufferFree {
  void operator()(evbuffer* b) const { evbuffer_free(b); }
};

class FakeExchange final : public http::Exchange {
 public:
  explicit FakeExchange(http::Request request) : request_(std::move(request)) {}

  const http::Request& request() const override { return request_; }
  bool responded() const override { return reply_.status != 0; }

  void respond(http::Response response, std::unique_ptr<http::BodySource> body) override {
    REQUIRE_FALSE(responded());
    reply_.status = response.status;
    reply_.headers = std::move(response.headers);
    reply_.content_length = response.content_length;
    reply_.has_body_source = body != nullptr;
    if (body == nullptr) return;
    // Pull like the server does: bounded pieces until the source says it is complete.
    std::unique_ptr<evbuffer, EvbufferFree> out(evbuffer_new());
    for (;;) {
      Result<size_t> pulled = body->pull(out.get(), 64 * 1024);
      if (!pulled.ok()) {
        reply_.body_error = true;
        break;
      }
      if (pulled.value() == 0) break;
    }
    size_t n = evbuffer_get_length(out.get());
    reply_.body.resize(n);
    evbuffer_remove(out.get(), reply_.body.data(), n);
  }

  Reply reply_;

 private:
  http::Request request_;
};

}  // namespace

TempDir::TempDir() {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "meshcache-agent-XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

const std::string* Reply::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name == name) return &h.value;
  }
  return nullptr;
}

TestNode::TestNode() : TestNode([](Config&) {}) {}

TestNode::TestNode(std::function<void(Config&)> configure) {
  config.tenant_id = "acme";
  config.max_artifact_bytes = 1 << 20;
  configure(config);
  metrics = std::make_unique<Metrics>();
  auth = Authorizer::make(config);
  open();
}

TestNode::~TestNode() {
  router_.reset();
  store.reset();
}

void TestNode::open() {
  storage::StoreOptions options;
  options.path = dir_.path() + "/store";
  options.max_artifact_bytes = 16 << 20;  // above the node's limit: the handlers must enforce it
  options.chunk_bytes = 1024;             // small chunks: multi-chunk bodies in every test
  auto opened = storage::Store::open(options);
  REQUIRE(opened.ok());
  store = std::move(opened.value());
  CacheContext ctx;
  ctx.config = &config;
  ctx.store = store.get();
  ctx.metrics = metrics.get();
  ctx.auth = auth.get();
  ctx.state = [this] { return state; };
  router_ = make_cache_router(std::move(ctx));
}

void TestNode::reopen() {
  router_.reset();
  store.reset();
  open();
}

Reply TestNode::call(const Call& call) {
  http::Request request;
  request.method = call.method;
  REQUIRE(http::set_request_target(request, call.target));
  request.headers = call.headers;
  if (!call.chunked) request.content_length = call.declared_length.value_or(call.body.size());
  request.has_body = call.chunked ? !call.body.empty() : request.content_length.value() > 0;
  request.expect_continue = call.expect_continue;
  request.request_id = "test";
  request.peer = "127.0.0.1:1";

  std::unique_ptr<http::Handler> handler = router_->route(request);
  REQUIRE(handler != nullptr);
  FakeExchange ex(std::move(request));
  handler->on_request(ex);
  bool early = ex.responded();
  std::string_view rest = call.body;
  while (!rest.empty() && !ex.responded()) {
    std::string_view piece = rest.substr(0, call.piece_bytes);
    rest.remove_prefix(piece.size());
    handler->on_body(ex, {reinterpret_cast<const uint8_t*>(piece.data()), piece.size()});
  }
  if (!ex.responded()) handler->on_complete(ex);
  REQUIRE(ex.responded());
  ex.reply_.answered_in_on_request = early;
  return std::move(ex.reply_);
}

Reply TestNode::simple(std::string method, std::string target, std::string body,
                       std::vector<http::Header> headers) {
  Call c;
  c.method = std::move(method);
  c.target = std::move(target);
  c.body = std::move(body);
  c.headers = std::move(headers);
  return call(c);
}

Reply TestNode::get(std::string target, std::vector<http::Header> headers) {
  return simple("GET", std::move(target), {}, std::move(headers));
}

Reply TestNode::head(std::string target, std::vector<http::Header> headers) {
  return simple("HEAD", std::move(target), {}, std::move(headers));
}

Reply TestNode::put(std::string target, std::string body, std::vector<http::Header> headers) {
  return simple("PUT", std::move(target), std::move(body), std::move(headers));
}

Reply TestNode::post(std::string target, std::string body, std::vector<http::Header> headers) {
  return simple("POST", std::move(target), std::move(body), std::move(headers));
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return fmt::format("{:02x}", fmt::join(digest, digest + sizeof digest, ""));
}

}  // namespace meshcache::agent::test
