// router_test.cc: routing by first segment, 404/405, key rules, probes (test thread).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/unit/agent/test_node.h"

using meshcache::agent::NodeState;
using meshcache::agent::test::TestNode;

TEST_CASE("unknown routes answer 404 with a JSON error", "[router]") {
  TestNode node;
  for (const char* target : {"/nope", "/_internal/status", "/v8/other", "/v1/nope/x", "/api/x",
                             "/api/cache/other/x", "/up/more", "/foo/bar"}) {
    INFO(target);
    auto r = node.get(target);
    CHECK(r.status == 404);
    REQUIRE(r.header("content-type") != nullptr);
    CHECK(*r.header("content-type") == "application/json");
    auto body = nlohmann::json::parse(r.body);
    CHECK(body["error"] == "not_found");
    CHECK(body["message"].is_string());
  }
}

TEST_CASE("a wrong method gets 405 with allow", "[router]") {
  TestNode node;
  std::string hash(64, 'a');
  auto r = node.simple("DELETE", "/ac/" + hash);
  CHECK(r.status == 405);
  REQUIRE(r.header("allow") != nullptr);
  CHECK(*r.header("allow") == "GET, HEAD, PUT");

  r = node.post("/cache/some/key", "x");
  CHECK(r.status == 405);
  CHECK(*r.header("allow") == "GET, HEAD, PUT, DELETE");

  r = node.put("/v8/artifacts/status?slug=t", "x");
  CHECK(r.status == 405);
  r = node.get("/api/cache/keyvalue");
  CHECK(r.status == 405);
  CHECK(*r.header("allow") == "PUT");
  r = node.post("/up", "");
  CHECK(r.status == 405);
}

TEST_CASE("keys with .., NUL, backslash or over 1024 bytes are refused", "[router][keys]") {
  TestNode node;
  for (const char* target :
       {"/cache/a/../b", "/cache/..", "/cache/a%00b", "/cache/a%5Cb", "/cache/",
        "/api/cache/gradle/..", "/api/metro/cache/x/../y", "/v1/cache/a%00"}) {
    INFO(target);
    CHECK(node.put(target, "body").status == 400);
    CHECK(node.get(target).status == 400);
  }
  std::string longest(1024, 'k');
  CHECK(node.put("/cache/" + longest, "body").status == 200);
  CHECK(node.get("/cache/" + longest).body == "body");
  CHECK(node.put("/cache/" + longest + "k", "body").status == 400);
  // ".." inside a segment is an ordinary name
  CHECK(node.put("/cache/a..b/c", "body").status == 200);
}

TEST_CASE("namespaces follow the key rules", "[router][keys]") {
  TestNode node;
  CHECK(node.get("/api/cache/gradle/k?namespace_id=a%00b").status == 400);
  CHECK(node.get("/v8/artifacts/abc?slug=..").status == 400);
}

TEST_CASE("probes: up, ready by node state, metrics", "[probes]") {
  TestNode node;
  auto up = node.get("/up");
  CHECK(up.status == 200);
  CHECK(nlohmann::json::parse(up.body)["status"] == "up");

  node.state = NodeState::starting;
  auto ready = node.get("/ready");
  CHECK(ready.status == 503);
  CHECK(nlohmann::json::parse(ready.body)["status"] == "starting");
  node.state = NodeState::serving;
  ready = node.get("/ready");
  CHECK(ready.status == 200);
  CHECK(nlohmann::json::parse(ready.body)["status"] == "serving");
  node.state = NodeState::draining;
  ready = node.get("/ready");
  CHECK(ready.status == 503);
  CHECK(nlohmann::json::parse(ready.body)["status"] == "draining");

  node.put("/cache/k", "v");
  node.get("/cache/k");
  node.get("/cache/missing");
  auto metrics = node.get("/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.header("content-type")->rfind("text/plain", 0) == 0);
  CHECK(metrics.body.find("meshcache_cache_hits_total 1\n") != std::string::npos);
  CHECK(metrics.body.find("meshcache_cache_misses_total 1\n") != std::string::npos);
  CHECK(metrics.body.find(
            "meshcache_http_requests_total{route=\"ccache\",method=\"PUT\",status=\"2xx\"} 1") !=
        std::string::npos);
  CHECK(metrics.body.find("meshcache_store_artifacts 1\n") != std::string::npos);
}

TEST_CASE("HEAD on an error carries no body", "[router]") {
  TestNode node;
  auto r = node.head("/cache/missing");
  CHECK(r.status == 404);
  CHECK_FALSE(r.has_body_source);
  CHECK(r.content_length > 0);
}
