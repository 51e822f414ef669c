// auth_control_plane_test.cc: the `control-plane` client auth mode (grants, caching, single
// flight, failures) and the cache handlers' wait for a token lookup, with a fake introspector
// whose answers the test releases by hand (test thread; one test answers from another thread).
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "agent/auth/control_plane_authorizer.h"
#include "tests/unit/agent/test_node.h"

using meshcache::agent::AuthCacheOptions;
using meshcache::agent::AuthMode;
using meshcache::agent::Authorizer;
using meshcache::agent::Config;
using meshcache::agent::make_control_plane_authorizer;
using meshcache::agent::NodeState;
using meshcache::agent::cp::CacheGrants;
using meshcache::agent::cp::Introspection;
using meshcache::agent::cp::Introspector;
using meshcache::agent::test::Call;
using meshcache::agent::test::Flow;
using meshcache::agent::test::Reply;
using meshcache::agent::test::TestNode;
using namespace std::chrono_literals;

namespace {

using Outcome = Introspection::Outcome;

// Records every introspection; the test answers them in order.
class FakeIntrospector final : public Introspector {
 public:
  void introspect(std::string token, std::function<void(Introspection)> done) override {
    std::lock_guard lock(mutex_);
    tokens_.push_back(token);
    pending_.push_back(std::move(done));
  }

  size_t pending() {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }
  size_t calls() {
    std::lock_guard lock(mutex_);
    return tokens_.size();
  }
  std::string last_token() {
    std::lock_guard lock(mutex_);
    return tokens_.empty() ? "" : tokens_.back();
  }
  // Answers the oldest pending call (on the calling thread).
  void answer(Introspection answer) {
    std::function<void(Introspection)> done;
    {
      std::lock_guard lock(mutex_);
      REQUIRE_FALSE(pending_.empty());
      done = std::move(pending_.front());
      pending_.pop_front();
    }
    done(std::move(answer));
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> tokens_;
  std::deque<std::function<void(Introspection)>> pending_;
};

Introspection active(CacheGrants grants) {
  Introspection i;
  i.outcome = Outcome::active;
  i.grants = std::move(grants);
  return i;
}

Introspection with_outcome(Outcome outcome) {
  Introspection i;
  i.outcome = outcome;
  i.detail = "fake";
  return i;
}

// Account "acme" may write (and so read) every namespace of the tenant.
CacheGrants acme_writer() { return {{}, {"ACME"}, {}, {}}; }

std::vector<meshcache::http::Header> bearer(const std::string& token) {
  return {{"authorization", "Bearer " + token}};
}

Call request(std::string method, std::string target, std::string token, std::string body = {}) {
  Call c;
  c.method = std::move(method);
  c.target = std::move(target);
  c.body = std::move(body);
  if (!token.empty()) c.headers = bearer(token);
  return c;
}

// A node in control-plane mode (tenant "acme") over `fake`.
struct CpNode {
  explicit CpNode(FakeIntrospector& fake, AuthCacheOptions options = {})
      : node([](Config& c) { c.auth = AuthMode::control_plane; },
             [&fake, options](const Config&) {
               return make_control_plane_authorizer(options, fake);
             }) {}

  // Begins the request, which must wait for a lookup, answers it, and finishes the request.
  Reply answered(const Call& call, FakeIntrospector& fake, Introspection answer) {
    std::unique_ptr<Flow> flow = node.begin(call);
    REQUIRE(flow->paused());
    REQUIRE_FALSE(flow->responded());
    fake.answer(std::move(answer));
    node.loop.run_posted();
    if (!call.body.empty() && !flow->responded()) flow->body(call.body);
    if (!flow->responded()) flow->complete();
    REQUIRE(flow->responded());
    return flow->reply();
  }

  TestNode node;
};

std::string error_of(const Reply& r) { return nlohmann::json::parse(r.body)["error"]; }

meshcache::http::Request raw(const std::string& token) {
  meshcache::http::Request r;
  r.method = "GET";
  r.path = "/";
  if (!token.empty()) r.headers = bearer(token);
  return r;
}

// needs_lookup → lookup → answer → the cache holds the decision.
void learn(Authorizer& auth, FakeIntrospector& fake, const std::string& token,
           Introspection answer) {
  auto request = raw(token);
  meshcache::agent::RequestCredential credential;
  REQUIRE(auth.needs_lookup(request, credential));
  bool ready = false;
  auth.lookup(request, [&] { ready = true; });
  fake.answer(std::move(answer));
  REQUIRE(ready);
}

bool needs_lookup(Authorizer& auth, const std::string& token) {
  meshcache::agent::RequestCredential credential;
  return auth.needs_lookup(raw(token), credential);
}

// Waits (bounded) until `token`'s cached decision has expired.
void wait_expiry(Authorizer& auth, const std::string& token) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!needs_lookup(auth, token)) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(1ms);
  }
}

// Captures what spdlog writes while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return text_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

}  // namespace

TEST_CASE("control-plane: a valid token reads and writes its tenant", "[auth][cp]") {
  FakeIntrospector fake;
  CpNode cp(fake);
  auto put =
      cp.answered(request("PUT", "/cache/k1", "tok-a", "hello"), fake, active(acme_writer()));
  CHECK(put.status == 200);
  CHECK(fake.last_token() == "tok-a");
  // Cached now: no lookup, no pause.
  auto get = cp.node.call(request("GET", "/cache/k1", "tok-a"));
  CHECK(get.status == 200);
  CHECK(get.body == "hello");
  CHECK(get.answered_in_on_request);
  CHECK(fake.calls() == 1);
  CHECK(cp.node.auth->cached_decisions() == 1);
  CHECK(cp.node.auth->mode() == "control-plane");
}

TEST_CASE("control-plane: account and project grants, write implies read", "[auth][cp]") {
  FakeIntrospector fake;
  auto auth = make_control_plane_authorizer({}, fake);
  // account read on acme; project write on acme/App; project read on acme/docs
  learn(*auth, fake, "t1", active({{"Acme"}, {}, {"acme/docs"}, {"ACME/app"}}));
  auto check = [&](std::string_view tenant, std::string_view ns, bool write) {
    return auth->check(raw("t1"), tenant, ns, write).status;
  };
  CHECK(check("acme", "", false) == 0);     // tenant scope: the account grant
  CHECK(check("acme", "any", false) == 0);  // an account grant covers every namespace
  CHECK(check("ACME", "x", false) == 0);
  CHECK(check("acme", "", true) == 403);  // tenant-scope write needs an account write grant
  CHECK(check("acme", "app", true) == 0);
  CHECK(check("acme", "APP", true) == 0);
  CHECK(check("acme", "docs", true) == 403);
  CHECK(check("other", "", false) == 403);
  CHECK(check("other", "app", true) == 403);

  learn(*auth, fake, "t2", active({{}, {}, {"acme/docs"}, {"acme/app"}}));
  auto check2 = [&](std::string_view ns, bool write) {
    return auth->check(raw("t2"), "acme", ns, write).status;
  };
  CHECK(check2("docs", false) == 0);
  CHECK(check2("app", false) == 0);  // write implies read
  CHECK(check2("", false) == 403);   // project grants never cover the tenant scope
  CHECK(check2("docsx", false) == 403);
  CHECK(check2("doc", false) == 403);
  auto denied = auth->check(raw("t2"), "acme", "docs", true);
  CHECK(denied.message == "the token has no write grant for acme/docs");
  CHECK(auth->check(raw("t2"), "acme", "", false).message ==
        "the token has no read grant for acme");
}

TEST_CASE("control-plane: another tenant's token gets 403", "[auth][cp]") {
  FakeIntrospector fake;
  CpNode cp(fake);
  auto r = cp.answered(request("GET", "/v8/artifacts/abc?slug=team", "other-token"), fake,
                       active({{"globex"}, {"globex"}, {"globex/team"}, {}}));
  CHECK(r.status == 403);
  CHECK(error_of(r) == "forbidden");
  CHECK(nlohmann::json::parse(r.body)["message"] == "the token has no read grant for acme/team");
}

TEST_CASE("control-plane: a missing or inactive token gets 401, refusals cached briefly",
          "[auth][cp]") {
  FakeIntrospector fake;
  AuthCacheOptions options;
  options.deny_ttl = 200ms;
  CpNode cp(fake, options);

  auto missing = cp.node.call(request("GET", "/cache/k", ""));
  CHECK(missing.status == 401);
  CHECK(missing.answered_in_on_request);
  REQUIRE(missing.header("www-authenticate") != nullptr);
  auto basic_without_password = cp.node.get("/cache/k", {{"authorization", "Basic dXNlcjo="}});
  CHECK(basic_without_password.status == 401);
  CHECK(fake.calls() == 0);  // nothing to ask about

  auto invalid =
      cp.answered(request("GET", "/cache/k", "bad"), fake, with_outcome(Outcome::inactive));
  CHECK(invalid.status == 401);
  CHECK(error_of(invalid) == "unauthorized");
  // The refusal is remembered: no second introspection while it lasts.
  auto again = cp.node.call(request("GET", "/cache/k", "bad"));
  CHECK(again.status == 401);
  CHECK(again.answered_in_on_request);
  CHECK(fake.calls() == 1);
  // ... and only briefly.
  wait_expiry(*cp.node.auth, "bad");
  auto later = cp.answered(request("GET", "/cache/k", "bad"), fake, active(acme_writer()));
  CHECK(later.status == 404);  // allowed now; no such key
  CHECK(fake.calls() == 2);
}

TEST_CASE("control-plane: concurrent requests with one token share one introspection",
          "[auth][cp]") {
  FakeIntrospector fake;
  CpNode cp(fake);
  auto first = cp.node.begin(request("GET", "/cache/shared", "tok"));
  auto second = cp.node.begin(request("HEAD", "/cache/shared", "tok"));
  auto other = cp.node.begin(request("GET", "/cache/shared", "tok-2"));
  CHECK(first->paused());
  CHECK(second->paused());
  CHECK(fake.calls() == 2);  // tok once, tok-2 once
  fake.answer(active(acme_writer()));
  CHECK(cp.node.loop.run_posted() == 2);
  first->complete();
  second->complete();
  CHECK(first->reply().status == 404);
  CHECK(second->reply().status == 404);
  CHECK_FALSE(first->paused());
  CHECK_FALSE(other->responded());
  fake.answer(with_outcome(Outcome::inactive));
  cp.node.loop.run_posted();
  other->complete();
  CHECK(other->reply().status == 401);
}

TEST_CASE("control-plane: a body that arrives during the lookup is stored intact", "[auth][cp]") {
  FakeIntrospector fake;
  CpNode cp(fake);
  std::string body;
  for (int i = 0; i < 5000; ++i) body += static_cast<char>('a' + i % 26);
  Call put = request("PUT", "/cache/upload", "tok", body);
  auto flow = cp.node.begin(put);
  REQUIRE(flow->paused());
  // Bytes the server had parsed before the pause took hold, then all of it and the end.
  flow->body(std::string_view(body).substr(0, 1000));
  flow->body(std::string_view(body).substr(1000, 3000));
  CHECK_FALSE(flow->responded());
  fake.answer(active(acme_writer()));
  cp.node.loop.run_posted();
  CHECK_FALSE(flow->paused());
  flow->body(std::string_view(body).substr(4000));
  flow->complete();
  CHECK(flow->reply().status == 200);
  CHECK(cp.node.get("/cache/upload", bearer("tok")).body == body);

  SECTION("the whole body and its end before the answer") {
    auto flow2 = cp.node.begin(request("PUT", "/cache/upload2", "tok-new", body));
    flow2->body(body);
    flow2->complete();
    CHECK_FALSE(flow2->responded());
    fake.answer(active(acme_writer()));
    cp.node.loop.run_posted();
    CHECK(flow2->reply().status == 200);
    CHECK(cp.node.get("/cache/upload2", bearer("tok")).body == body);
  }
  SECTION("a refused token's held body is dropped") {
    auto flow2 = cp.node.begin(request("PUT", "/cache/upload3", "tok-bad", body));
    flow2->body(body);
    fake.answer(with_outcome(Outcome::inactive));
    cp.node.loop.run_posted();
    CHECK(flow2->reply().status == 401);
    CHECK(cp.node.get("/cache/upload3", bearer("tok")).status == 404);
  }
  SECTION("too much body while waiting answers 503 once") {
    auto flow2 = cp.node.begin(request("PUT", "/cache/upload4", "tok-flood", body));
    std::string mib(1 << 20, 'x');
    flow2->body(mib);
    CHECK_FALSE(flow2->responded());
    flow2->body("y");
    CHECK(flow2->reply().status == 503);
    fake.answer(active(acme_writer()));
    cp.node.loop.run_posted();  // the exchange must not be answered twice
    CHECK(cp.node.get("/cache/upload4", bearer("tok")).status == 404);
  }
}

TEST_CASE("control-plane: a request aborted before the answer is left alone", "[auth][cp]") {
  FakeIntrospector fake;
  CpNode cp(fake);
  auto gone = cp.node.begin(request("PUT", "/cache/aborted", "tok", "data"));
  auto aborted_only = cp.node.begin(request("GET", "/cache/aborted", "tok"));
  gone->body("da");
  gone->abort();          // the handler is destroyed
  aborted_only->abort();  // on_abort only: the flow keeps the exchange
  fake.answer(active(acme_writer()));
  CHECK(cp.node.loop.run_posted() == 2);  // both resumes run and do nothing
  CHECK_FALSE(gone->responded());
  CHECK_FALSE(aborted_only->responded());
  CHECK(cp.node.get("/cache/aborted", bearer("tok")).status == 404);
}

TEST_CASE("control-plane: a revoked token stops working once its allow expires", "[auth][cp]") {
  FakeIntrospector fake;
  AuthCacheOptions options;
  options.allow_ttl = 500ms;
  CpNode cp(fake, options);
  CHECK(cp.answered(request("PUT", "/cache/r", "tok", "v"), fake, active(acme_writer())).status ==
        200);
  // Revoked at the control plane now; the cached allow still serves without asking...
  CHECK(cp.node.call(request("GET", "/cache/r", "tok")).status == 200);
  CHECK(fake.calls() == 1);
  // ... until it expires; then the control plane's answer counts.
  wait_expiry(*cp.node.auth, "tok");
  auto r = cp.answered(request("GET", "/cache/r", "tok"), fake, with_outcome(Outcome::inactive));
  CHECK(r.status == 401);
  CHECK(cp.node.call(request("GET", "/cache/r", "tok")).status == 401);
}

TEST_CASE("control-plane: unreachable control plane", "[auth][cp]") {
  FakeIntrospector fake;
  AuthCacheOptions options;
  options.allow_ttl = 300ms;
  options.failure_hold = 2000ms;
  CpNode cp(fake, options);
  REQUIRE(
      cp.answered(request("PUT", "/cache/u", "cached", "v"), fake, active(acme_writer())).status ==
      200);
  wait_expiry(*cp.node.auth, "cached");

  // A token with an expired allow keeps working when the refresh fails...
  auto stale =
      cp.answered(request("GET", "/cache/u", "cached"), fake, with_outcome(Outcome::unreachable));
  CHECK(stale.status == 200);
  CHECK(stale.body == "v");
  // ... and during the failure hold it needs no new lookup.
  CHECK(cp.node.call(request("GET", "/cache/u", "cached")).status == 200);
  CHECK(fake.calls() == 2);

  // A new token cannot be decided: 503 with Retry-After, and no decision is cached.
  size_t decisions = cp.node.auth->cached_decisions();
  auto fresh = cp.answered(request("GET", "/cache/u", "new-token"), fake,
                           with_outcome(Outcome::unreachable));
  CHECK(fresh.status == 503);
  CHECK(error_of(fresh) == "unavailable");
  CHECK(nlohmann::json::parse(fresh.body)["message"] ==
        "the control plane cannot be reached to check this token");
  REQUIRE(fresh.header("retry-after") != nullptr);
  CHECK(*fresh.header("retry-after") == "2");
  CHECK(cp.node.auth->cached_decisions() == decisions);
  // Held briefly so that a burst does not hammer the control plane.
  CHECK(cp.node.call(request("GET", "/cache/u", "new-token")).status == 503);
  CHECK(fake.calls() == 3);
}

TEST_CASE("control-plane: a stale allow retries in the background of other requests",
          "[auth][cp]") {
  FakeIntrospector fake;
  AuthCacheOptions options;
  options.allow_ttl = 20ms;
  options.failure_hold = 20ms;
  auto auth = make_control_plane_authorizer(options, fake);
  learn(*auth, fake, "tok", active(acme_writer()));
  wait_expiry(*auth, "tok");
  learn(*auth, fake, "tok", with_outcome(Outcome::unreachable));
  CHECK(auth->check(raw("tok"), "acme", "", false).status == 0);
  wait_expiry(*auth, "tok");  // the failure hold is over: the next request retries
  bool ready = false;
  auth->lookup(raw("tok"), [&] { ready = true; });
  CHECK_FALSE(ready);
  // While that retry is out, the others use the stale allow rather than wait.
  CHECK_FALSE(needs_lookup(*auth, "tok"));
  CHECK(auth->check(raw("tok"), "acme", "", true).status == 0);
  fake.answer(with_outcome(Outcome::inactive));
  CHECK(ready);
  CHECK(auth->check(raw("tok"), "acme", "", false).status == 401);
}

TEST_CASE("control-plane: a stale allow has a hard ceiling", "[auth][cp]") {
  FakeIntrospector fake;
  AuthCacheOptions options;
  options.allow_ttl = 20ms;
  options.stale_ceiling = 50ms;
  auto auth = make_control_plane_authorizer(options, fake);
  learn(*auth, fake, "tok", active(acme_writer()));
  wait_expiry(*auth, "tok");
  learn(*auth, fake, "tok", with_outcome(Outcome::unreachable));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (auth->check(raw("tok"), "acme", "", false).status == 0) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(1ms);
  }
  auto after = auth->check(raw("tok"), "acme", "", false);
  CHECK(after.status == 503);
  CHECK(after.retry_after_seconds > 0);
}

TEST_CASE("control-plane: a rejected node credential gives 503 and one error log", "[auth][cp]") {
  LogCapture logs;
  FakeIntrospector fake;
  CpNode cp(fake);
  auto r = cp.answered(request("GET", "/cache/x", "tok-1"), fake,
                       with_outcome(Outcome::client_rejected));
  CHECK(r.status == 503);
  CHECK(r.header("retry-after") != nullptr);
  CHECK(nlohmann::json::parse(r.body)["message"].get<std::string>().find("node's credential") !=
        std::string::npos);
  auto r2 = cp.answered(request("GET", "/cache/x", "tok-2"), fake,
                        with_outcome(Outcome::client_rejected));
  CHECK(r2.status == 503);
  std::string text = logs.text();
  size_t first = text.find("rejected this node's credential");
  REQUIRE(first != std::string::npos);
  CHECK(text.find("rejected this node's credential", first + 1) == std::string::npos);
  CHECK(text.find("[error]") != std::string::npos);
}

TEST_CASE("control-plane: the cache and the lookups in flight are bounded", "[auth][cp]") {
  FakeIntrospector fake;
  AuthCacheOptions options;
  options.max_entries = 64;
  options.max_in_flight = 2;
  auto auth = make_control_plane_authorizer(options, fake);
  for (int i = 0; i < 2000; ++i) {
    learn(*auth, fake, "random-" + std::to_string(i), with_outcome(Outcome::inactive));
  }
  CHECK(auth->cached_decisions() <= 64);
  CHECK(auth->cached_decisions() >= 32);

  int ready = 0;
  auth->lookup(raw("a"), [&] { ++ready; });
  auth->lookup(raw("b"), [&] { ++ready; });
  CHECK(ready == 0);
  auth->lookup(raw("c"), [&] { ++ready; });  // over the cap: answered at once, not queued
  CHECK(ready == 1);
  CHECK(fake.pending() == 2);
  auto busy = auth->check(raw("c"), "acme", "", false);
  CHECK(busy.status == 503);
  CHECK(busy.retry_after_seconds > 0);
  fake.answer(active(acme_writer()));
  fake.answer(active(acme_writer()));
  CHECK(ready == 3);
  CHECK(auth->check(raw("a"), "acme", "", false).status == 0);
}

TEST_CASE("control-plane: the password of Basic is what gets introspected", "[auth][cp]") {
  FakeIntrospector fake;
  CpNode cp(fake);
  // base64("bzuser:pw?>?"): standard "Ynp1c2VyOnB3Pz4/", URL-safe "Ynp1c2VyOnB3Pz4_"
  Call c = request("GET", "/cache/b", "");
  c.headers = {{"authorization", "Basic Ynp1c2VyOnB3Pz4_"}};
  CHECK(cp.answered(c, fake, active(acme_writer())).status == 404);
  CHECK(fake.last_token() == "pw?>?");
  // Same token in the other alphabet, and as Bearer: the cached decision.
  c.headers = {{"authorization", "Basic Ynp1c2VyOnB3Pz4/"}};
  CHECK(cp.node.call(c).status == 404);
  CHECK(cp.node.call(request("GET", "/cache/b", "pw?>?")).status == 404);
  CHECK(fake.calls() == 1);
}

TEST_CASE("control-plane: an answer from another thread resumes on the loop", "[auth][cp]") {
  FakeIntrospector fake;
  CpNode cp(fake);
  auto flow = cp.node.begin(request("PUT", "/cache/thread", "tok", "abc"));
  std::thread transport([&] { fake.answer(active(acme_writer())); });
  REQUIRE(cp.node.loop.wait_posted());
  transport.join();
  cp.node.loop.run_posted();
  flow->body("abc");
  flow->complete();
  CHECK(flow->reply().status == 200);
}

TEST_CASE("control-plane: tokens never appear in responses or logs", "[auth][cp]") {
  LogCapture logs;
  FakeIntrospector fake;
  AuthCacheOptions options;
  options.max_in_flight = 1;
  CpNode cp(fake, options);
  const std::string sentinel = "SENTINEL-TOKEN-7f3a";
  std::vector<Reply> replies;
  replies.push_back(cp.answered(request("GET", "/v8/artifacts/a?slug=t", sentinel + "1"), fake,
                                active({{"globex"}, {}, {}, {}})));
  replies.push_back(cp.answered(request("GET", "/cache/a", sentinel + "2"), fake,
                                with_outcome(Outcome::inactive)));
  replies.push_back(cp.answered(request("GET", "/cache/a", sentinel + "3"), fake,
                                with_outcome(Outcome::unreachable)));
  replies.push_back(cp.answered(request("GET", "/cache/a", sentinel + "4"), fake,
                                with_outcome(Outcome::client_rejected)));
  auto holder = cp.node.begin(request("GET", "/cache/a", sentinel + "5"));
  replies.push_back(cp.node.call(request("GET", "/cache/a", sentinel + "6")));  // busy
  fake.answer(active(acme_writer()));
  cp.node.loop.run_posted();
  holder->complete();
  replies.push_back(holder->reply());
  std::vector<int> statuses;
  for (const Reply& r : replies) {
    statuses.push_back(r.status);
    CHECK(r.body.find("SENTINEL") == std::string::npos);
    for (const auto& h : r.headers) CHECK(h.value.find("SENTINEL") == std::string::npos);
  }
  CHECK(statuses == std::vector<int>{403, 401, 503, 503, 503, 404});
  CHECK(logs.text().find("SENTINEL") == std::string::npos);
}

TEST_CASE("control-plane: while enrolling, cache routes answer 503 and probes answer",
          "[auth][cp]") {
  FakeIntrospector fake;
  CpNode cp(fake);
  cp.node.state = NodeState::enrolling;
  auto r = cp.node.call(request("GET", "/cache/e", "tok"));
  CHECK(r.status == 503);
  CHECK(error_of(r) == "enrolling");
  REQUIRE(r.header("retry-after") != nullptr);
  auto ready = cp.node.call(request("GET", "/ready", "tok"));
  CHECK(ready.status == 503);
  CHECK(nlohmann::json::parse(ready.body)["status"] == "enrolling");
  CHECK(cp.node.call(request("GET", "/up", "tok")).status == 200);
  CHECK(cp.node.call(request("GET", "/metrics", "tok")).status == 200);
  CHECK(cp.node.call(request("GET", "/nope", "tok")).status == 404);
  CHECK(fake.calls() == 0);  // probes and fixed errors never look tokens up
  cp.node.state = NodeState::serving;
  CHECK(cp.answered(request("GET", "/cache/e", "tok"), fake, active(acme_writer())).status == 404);
}

TEST_CASE("control-plane: startup needs the control-plane client", "[auth][cp]") {
  Config config;
  config.auth = AuthMode::control_plane;
  CHECK_THROWS_WITH(Authorizer::make(config), Catch::Contains("control-plane client"));
  FakeIntrospector fake;
  config.auth_cache_ttl = 1234ms;
  CHECK(Authorizer::make(config, &fake)->mode() == "control-plane");
}
