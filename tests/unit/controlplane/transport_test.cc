// transport_test.cc: the libcurl CpTransport against the in-process HTTPS fake: auth header,
// form encoding, trust, limits, timeouts, timers and stop() (test thread + transport thread).
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "agent/controlplane/backoff.h"
#include "agent/controlplane/cp_transport.h"
#include "fake_control_plane.h"

namespace meshcache::agent::cp::test {
namespace {

CpTransportOptions options_for(const FakeControlPlane& cp) {
  CpTransportOptions o;
  o.base_url = cp.url() + "/";
  o.client_id = "cache_test";
  o.client_secret = "s3cret";
  o.ca_path = cp.server_ca_path();
  return o;
}

// Collects one reply and wakes the test thread.
struct ReplyBox {
  Waiter waiter;
  std::optional<CpReply> reply;
  std::thread::id thread;
  std::function<void(CpReply)> callback() {
    return [this](CpReply r) {
      waiter.notify([&] {
        thread = std::this_thread::get_id();
        reply = std::move(r);
      });
    };
  }
  bool wait(std::chrono::milliseconds limit = 10s) {
    return waiter.until([&] { return reply.has_value(); }, limit);
  }
};

}  // namespace

TEST_CASE("post_json sends JSON with the Basic credential and returns the answer") {
  FakeControlPlane cp;
  cp.on("/x", fixed(202, {{"accepted", 3}}));
  auto t = CpTransport::start(options_for(cp));
  ReplyBox box;
  t->post_json("/x", R"({"a":1})", box.callback());
  REQUIRE(box.wait());
  CHECK(box.reply->status == 202);
  CHECK(Json::parse(box.reply->body) == Json{{"accepted", 3}});
  CHECK(box.reply->error.empty());
  CHECK(box.thread != std::this_thread::get_id());
  auto seen = cp.requests("/x");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].body == R"({"a":1})");
  CHECK(seen[0].content_type == "application/json");
  CHECK(seen[0].authorization == "Basic Y2FjaGVfdGVzdDpzM2NyZXQ=");  // cache_test:s3cret
}

TEST_CASE("post_form encodes the fields and sends no Authorization header") {
  FakeControlPlane cp;
  cp.on("/f", fixed(200, {{"ok", true}}));
  auto t = CpTransport::start(options_for(cp));
  ReplyBox box;
  t->post_form("/f", {{"token", "a b&c=d/é"}, {"client_id", "cache_x"}}, box.callback());
  REQUIRE(box.wait());
  CHECK(box.reply->status == 200);
  auto seen = cp.requests("/f");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].body == "client_id=cache_x&token=a%20b%26c%3Dd%2F%C3%A9");
  CHECK(seen[0].content_type == "application/x-www-form-urlencoded");
  CHECK(seen[0].authorization.empty());
}

TEST_CASE("a server the extra CA does not vouch for is refused") {
  FakeControlPlane cp;
  cp.on("/x", fixed(200, Json::object()));
  auto o = options_for(cp);
  o.ca_path.reset();  // the system store alone does not know the fake's CA
  auto t = CpTransport::start(o);
  ReplyBox box;
  t->post_json("/x", "{}", box.callback());
  REQUIRE(box.wait());
  CHECK(box.reply->status == 0);
  CHECK_THAT(box.reply->error, Catch::Contains("certificate"));
  CHECK(cp.requests("/x").empty());
}

TEST_CASE("an unreadable extra CA file is a startup error") {
  CpTransportOptions o;
  o.base_url = "https://127.0.0.1:1";
  o.ca_path = "/nonexistent/ca.pem";
  CHECK_THROWS_WITH(CpTransport::start(o), Catch::Contains("MESHCACHE_CONTROL_PLANE_CA_PATH"));
}

TEST_CASE("an answer over 1 MiB is an error") {
  FakeControlPlane cp;
  cp.on("/big", [](const Recorded&) { return Answer{200, std::string((1 << 20) + 10, 'x')}; });
  auto t = CpTransport::start(options_for(cp));
  ReplyBox box;
  t->post_json("/big", "{}", box.callback());
  REQUIRE(box.wait());
  CHECK(box.reply->status == 0);
  CHECK(box.reply->body.empty());
  CHECK_THAT(box.reply->error, Catch::Contains("1 MiB"));
}

TEST_CASE("a server that never answers times out") {
  FakeControlPlane cp;
  cp.on("/never", [](const Recorded&) { return never_answer(); });
  auto o = options_for(cp);
  o.request_timeout = 300ms;
  o.form_request_timeout = 200ms;
  std::atomic<int> answered{0}, unanswered{0};
  o.on_reply = [&](bool a) { (a ? answered : unanswered).fetch_add(1); };
  auto t = CpTransport::start(o);
  ReplyBox json_box, form_box;
  t->post_json("/never", "{}", json_box.callback());
  t->post_form("/never", {{"token", "t"}}, form_box.callback());
  REQUIRE(json_box.wait());
  REQUIRE(form_box.wait());
  CHECK(json_box.reply->status == 0);
  CHECK_THAT(json_box.reply->error, Catch::Contains("timed out"));
  CHECK(json_box.reply->elapsed >= 290ms);
  CHECK(json_box.reply->elapsed < 3s);
  CHECK(form_box.reply->status == 0);
  CHECK(form_box.reply->elapsed < json_box.reply->elapsed);
  CHECK(unanswered == 2);
  CHECK(answered == 0);
}

TEST_CASE("a closed port is a transport error") {
  CpTransportOptions o;
  o.base_url = "https://127.0.0.1:1";
  auto t = CpTransport::start(o);
  ReplyBox box;
  t->post_json("/x", "{}", box.callback());
  REQUIRE(box.wait());
  CHECK(box.reply->status == 0);
  CHECK_FALSE(box.reply->error.empty());
}

TEST_CASE("scheduled tasks run on the transport thread in due order") {
  CpTransportOptions o;
  o.base_url = "https://127.0.0.1:1";
  auto t = CpTransport::start(o);
  Waiter w;
  std::vector<int> order;
  std::thread::id where;
  t->schedule(60ms, [&] { w.notify([&] { order.push_back(3); }); });
  t->schedule(0ms, [&] { w.notify([&] { order.push_back(1); }); });
  t->schedule(20ms, [&] {
    w.notify([&] {
      order.push_back(2);
      where = std::this_thread::get_id();
    });
  });
  REQUIRE(w.until([&] { return order.size() == 3; }));
  CHECK(order == std::vector<int>{1, 2, 3});
  CHECK(where != std::this_thread::get_id());
}

TEST_CASE("stop() cancels requests in flight and pending tasks; their callbacks never run") {
  FakeControlPlane cp;
  cp.on("/never", [](const Recorded&) { return never_answer(); });
  auto t = CpTransport::start(options_for(cp));
  std::atomic<int> callbacks{0};
  t->post_json("/never", "{}", [&](CpReply) { callbacks.fetch_add(1); });
  t->post_json("/never", "{}", [&](CpReply) { callbacks.fetch_add(1); });
  t->schedule(10s, [&] { callbacks.fetch_add(1); });
  REQUIRE(cp.wait_requests("/never", 2));
  auto started = std::chrono::steady_clock::now();
  t->stop();
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  t->post_json("/never", "{}", [&](CpReply) { callbacks.fetch_add(1); });  // dropped
  t->stop();                                                               // idempotent
  t.reset();
  CHECK(callbacks == 0);
}

TEST_CASE("stop() from a callback ends the thread after that callback") {
  FakeControlPlane cp;
  cp.on("/x", fixed(200, Json::object()));
  auto t = CpTransport::start(options_for(cp));
  Waiter w;
  int calls = 0;
  t->post_json("/x", "{}", [&](CpReply) {
    t->schedule(0ms, [&] { w.notify([&] { ++calls; }); });
    t->stop();
    w.notify([&] { ++calls; });
  });
  REQUIRE(w.until([&] { return calls >= 1; }));
  t.reset();  // joins
  CHECK(calls == 1);
}

TEST_CASE("backoff grows to its cap with jitter and resets") {
  Backoff b(100ms, 1000ms);
  std::vector<std::chrono::milliseconds> ceilings = {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms};
  std::vector<std::chrono::milliseconds> longest(ceilings.size(), 0ms);
  for (int round = 0; round < 50; ++round) {
    b.reset();
    for (size_t i = 0; i < ceilings.size(); ++i) {
      auto d = b.next();
      CHECK(d >= ceilings[i] / 2);
      CHECK(d <= ceilings[i]);
    }
  }
  // Jitter: many draws at the cap are not all the same.
  std::set<int64_t> seen;
  for (int i = 0; i < 20; ++i) seen.insert(b.next().count());
  CHECK(seen.size() > 1);
}

}  // namespace meshcache::agent::cp::test
