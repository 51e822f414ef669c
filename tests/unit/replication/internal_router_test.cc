// internal_router_test.cc: the internal plane's gate (not joined yet), routing errors and
// GET /_internal/status with the gateway advertisement (test thread plus the server's loops).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include "internal_support.h"

namespace meshcache::replication::test {
namespace {

nlohmann::json json_of(const Reply& r) { return nlohmann::json::parse(r.body); }

Reply status_with_host(InternalNode& node, const std::string& query, const std::string& host,
                       bool h2 = false) {
  Call c;
  c.url = node.url("/_internal/status" + query);
  if (!host.empty()) c.headers.push_back("Host: " + host);
  c.h2 = h2;
  return call(c);
}

}  // namespace

TEST_CASE("internal: before the mesh is joined every route answers 503 with Retry-After") {
  InternalNode node;
  node.joined = false;
  for (auto [method, path] : {std::pair{"GET", "/_internal/status"},
                              std::pair{"PUT", "/_internal/replicate/artifact?producer=nx"},
                              std::pair{"POST", "/_internal/backfill/bodies"},
                              std::pair{"GET", "/_internal/backfill/entries"}}) {
    INFO(path);
    Call c;
    c.method = method;
    c.url = node.url(path);
    Reply r = call(c);
    CHECK(r.status == 503);
    CHECK((r.headers["retry-after"] == "1" || r.headers["retry-after"] == "2"));
    CHECK(r.headers["content-type"] == "application/json");
    CHECK(json_of(r) == nlohmann::json{{"message", "node is not in the mesh yet"}});
  }
  node.joined = true;
  CHECK(call(request("GET", node.url("/_internal/status"))).status == 200);
}

TEST_CASE("internal: unknown routes are 404 and wrong methods 405, with {message}") {
  InternalNode node;
  Reply missing = call(request("GET", node.url("/_internal/nothing")));
  CHECK(missing.status == 404);
  CHECK(json_of(missing).contains("message"));
  CHECK(!missing.headers["x-request-id"].empty());
  CHECK(call(request("GET", node.url("/_internal/backfill/artifacts/"))).status == 404);
  CHECK(call(request("GET", node.url("/_internal/backfill/artifacts/a/b"))).status == 404);
  Reply wrong = call(request("POST", node.url("/_internal/status")));
  CHECK(wrong.status == 405);
  CHECK(json_of(wrong).contains("message"));
  CHECK(call(request("GET", node.url("/_internal/replicate/artifact"))).status == 405);
  CHECK(call(request("PUT", node.url("/_internal/backfill/artifacts/ab"))).status == 405);
}

TEST_CASE("internal: status answers region, tenant, node URL and traffic state") {
  InternalNode node;
  Reply r = call(request("GET", node.url("/_internal/status")));
  REQUIRE(r.status == 200);
  CHECK(r.headers["content-type"] == "application/json");
  CHECK(!r.headers["x-request-id"].empty());
  CHECK(json_of(r) == nlohmann::json{{"region", "eu-west"},
                                     {"tenant_id", "acme"},
                                     {"node_url", "https://node-a.internal:7443"},
                                     {"traffic_state", "serving"}});
  // No gateway configured: scope=global changes nothing.
  CHECK(json_of(status_with_host(node, "?scope=global", ""))["node_url"] ==
        "https://node-a.internal:7443");
}

TEST_CASE("internal: a gateway advertises its URL by scope or by the host it was reached at") {
  NodeOptions options;
  options.gateway_url = "https://Gateway.Example.com:9443";
  InternalNode node(options);
  const std::string gateway = options.gateway_url;
  const std::string own = options.node_url;
  auto advertised = [&](const std::string& query, const std::string& host, bool h2 = false) {
    Reply r = status_with_host(node, query, host, h2);
    REQUIRE(r.status == 200);
    return json_of(r)["node_url"].get<std::string>();
  };
  CHECK(advertised("", "") == own);  // Host is 127.0.0.1:port
  CHECK(advertised("?scope=global", "") == gateway);
  CHECK(advertised("?scope=Global", "") == own);  // exactly "global"
  CHECK(advertised("?scope=regional", "") == own);
  // The port is cut and case ignored, over HTTP/1 (Host) and h2 (:authority).
  CHECK(advertised("", "gateway.example.com") == gateway);
  CHECK(advertised("", "GATEWAY.example.COM:1234") == gateway);
  CHECK(advertised("", "gateway.example.com:1234", true) == gateway);
  CHECK(advertised("", "node-a.internal:7443", true) == own);
  CHECK(advertised("", "gateway.example.co") == own);
  CHECK(advertised("", "gateway.example.com.evil") == own);
}

TEST_CASE("internal: an IPv6 gateway host is compared without brackets and port") {
  NodeOptions options;
  options.gateway_url = "http://[fd00::AB]:9443";
  InternalNode node(options);
  auto advertised = [&](const std::string& host) {
    return json_of(status_with_host(node, "", host))["node_url"].get<std::string>();
  };
  CHECK(advertised("[fd00::ab]:8443") == options.gateway_url);
  CHECK(advertised("[FD00::AB]") == options.gateway_url);
  CHECK(advertised("[fd00::ac]:8443") == options.node_url);
}

}  // namespace meshcache::replication::test
