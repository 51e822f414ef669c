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

}  // namespace

class FakeExchange final : public http::Exchange {
 public:
  FakeExchange(http::Request request, FakeLoop& loop) : request_(std::move(request)), loop_(loop) {}

  const http::Request& request() const override { return request_; }
  bool responded() const override { return reply_.status != 0; }

  void respond(http::Response response, std::unique_ptr<http::BodySource> body) override {
    REQUIRE_FALSE(responded());
    reply_.status = response.status;
    reply_.headers = std::move(response.headers);
    reply_.content_length = response.content_length;
    reply_.has_body_source = body != nullptr;
    paused_ = false;  // an answered exchange takes no more body, as the server does
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

  void pause_body(bool paused) override {
    if (!responded()) paused_ = paused;
  }
  http::LoopExecutor& executor() override { return loop_; }

  Reply reply_;
  bool paused_ = false;

 private:
  http::Request request_;
  FakeLoop& loop_;
};

void FakeLoop::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  posted_.notify_all();
}

void FakeLoop::post_after(std::chrono::milliseconds, std::function<void()> task) {
  post(std::move(task));
}

size_t FakeLoop::run_posted() {
  size_t ran = 0;
  for (;;) {
    std::function<void()> task;
    {
      std::lock_guard lock(mutex_);
      if (tasks_.empty()) return ran;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
    ++ran;
  }
}

bool FakeLoop::wait_posted(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return posted_.wait_for(lock, timeout, [this] { return !tasks_.empty(); });
}

Flow::Flow(std::unique_ptr<FakeExchange> ex, std::unique_ptr<http::Handler> handler)
    : ex_(std::move(ex)), handler_(std::move(handler)) {
  handler_->on_request(*ex_);
}

Flow::~Flow() = default;

void Flow::body(std::string_view bytes) {
  REQUIRE(handler_ != nullptr);
  handler_->on_body(*ex_, {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

void Flow::complete() {
  REQUIRE(handler_ != nullptr);
  handler_->on_complete(*ex_);
}

void Flow::abort() {
  REQUIRE(handler_ != nullptr);
  handler_->on_abort();
  handler_.reset();
}

bool Flow::paused() const { return ex_->paused_; }
bool Flow::responded() const { return ex_->responded(); }
const Reply& Flow::reply() const { return ex_->reply_; }

const std::string* Reply::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name == name) return &h.value;
  }
  return nullptr;
}

TestNode::TestNode() : TestNode([](Config&) {}) {}

TestNode::TestNode(std::function<void(Config&)> configure, MakeAuth make_auth) {
  config.tenant_id = "acme";
  config.max_artifact_bytes = 1 << 20;
  configure(config);
  metrics = std::make_unique<Metrics>();
  auth = make_auth ? make_auth(config) : Authorizer::make(config);
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

std::unique_ptr<Flow> TestNode::begin(const Call& call) {
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
  return std::make_unique<Flow>(std::make_unique<FakeExchange>(std::move(request), loop),
                                std::move(handler));
}

Reply TestNode::call(const Call& call) {
  std::unique_ptr<Flow> flow = begin(call);
  // The server feeds nothing to a paused handler: the loop runs until it resumes.
  auto settle = [&] {
    while (flow->paused() && !flow->responded()) {
      if (loop.run_posted() == 0) REQUIRE(loop.wait_posted());
    }
  };
  settle();
  bool early = flow->responded();
  std::string_view rest = call.body;
  while (!rest.empty() && !flow->responded()) {
    std::string_view piece = rest.substr(0, call.piece_bytes);
    rest.remove_prefix(piece.size());
    flow->body(piece);
    settle();
  }
  if (!flow->responded()) flow->complete();
  REQUIRE(flow->responded());
  Reply reply = flow->reply();
  reply.answered_in_on_request = early;
  return reply;
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
