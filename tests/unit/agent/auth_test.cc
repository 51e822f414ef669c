// auth_test.cc: the tokens authorizer (bearer, basic in both base64 alphabets, grants, file
// errors) and how the router applies it (test thread).
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/auth/authorizer.h"
#include "tests/unit/agent/test_node.h"

using meshcache::agent::AuthMode;
using meshcache::agent::Authorizer;
using meshcache::agent::Config;
using meshcache::agent::test::sha256_hex;
using meshcache::agent::test::TempDir;
using meshcache::agent::test::TestNode;

namespace {

// "bzuser:pw?>?" encodes differently in the two alphabets (…Pz4/ vs …Pz4_), as Bazel sends it.
const std::string kBazelToken = "pw?>?";

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string tokens_json() {
  nlohmann::json doc{
      {"tokens",
       {{{"name", "ci"}, {"sha256", sha256_hex("ci-secret")}, {"read", {"*"}}, {"write", {"team"}}},
        {{"name", "reader"}, {"sha256", sha256_hex("ro-secret")}, {"read", {"team", ""}}},
        {{"name", "bazel"}, {"sha256", sha256_hex(kBazelToken)}, {"write", {"*"}}}}}};
  return doc.dump();
}

meshcache::http::Request with_auth(std::string value) {
  meshcache::http::Request r;
  r.method = "GET";
  r.path = "/";
  if (!value.empty()) r.headers.push_back({"authorization", std::move(value)});
  return r;
}

}  // namespace

TEST_CASE("auth none allows everything", "[auth]") {
  Config config;
  auto auth = Authorizer::make(config);
  CHECK(auth->mode() == "none");
  CHECK(auth->check(with_auth(""), "t", "ns", true).status == 0);
}

TEST_CASE("tokens: bearer, grants, write implies read", "[auth]") {
  TempDir dir;
  Config config;
  config.auth = AuthMode::tokens;
  config.auth_tokens_file = write_file(dir, "tokens.json", tokens_json());
  auto auth = Authorizer::make(config);
  CHECK(auth->mode() == "tokens");

  CHECK(auth->check(with_auth(""), "t", "team", false).status == 401);
  CHECK(auth->check(with_auth("Bearer nope"), "t", "team", false).status == 401);
  CHECK(auth->check(with_auth("Bearer ci-secre"), "t", "team", false).status == 401);
  CHECK(auth->check(with_auth("Bearer ci-secretx"), "t", "team", false).status == 401);
  CHECK(auth->check(with_auth("Token ci-secret"), "t", "team", false).status == 401);

  CHECK(auth->check(with_auth("Bearer ci-secret"), "t", "team", true).status == 0);
  CHECK(auth->check(with_auth("bearer ci-secret"), "t", "other", false).status == 0);
  auto denied = auth->check(with_auth("Bearer ci-secret"), "t", "other", true);
  CHECK(denied.status == 403);
  CHECK(denied.message.find("ci-secret") == std::string::npos);

  CHECK(auth->check(with_auth("Bearer ro-secret"), "t", "team", false).status == 0);
  CHECK(auth->check(with_auth("Bearer ro-secret"), "t", "", false).status == 0);
  CHECK(auth->check(with_auth("Bearer ro-secret"), "t", "team", true).status == 403);
  CHECK(auth->check(with_auth("Bearer ro-secret"), "t", "other", false).status == 403);
  // write implies read
  CHECK(auth->check(with_auth("Bearer " + kBazelToken), "t", "any", false).status == 0);
}

TEST_CASE("tokens: basic auth with the standard and the URL-safe alphabet", "[auth]") {
  TempDir dir;
  Config config;
  config.auth = AuthMode::tokens;
  config.auth_tokens_file = write_file(dir, "tokens.json", tokens_json());
  auto auth = Authorizer::make(config);

  // base64("bzuser:pw?>?"): standard "Ynp1c2VyOnB3Pz4/", URL-safe "Ynp1c2VyOnB3Pz4_"
  CHECK(auth->check(with_auth("Basic Ynp1c2VyOnB3Pz4/"), "t", "x", true).status == 0);
  CHECK(auth->check(with_auth("Basic Ynp1c2VyOnB3Pz4_"), "t", "x", true).status == 0);
  // base64("user:ci-secret") with and without padding
  CHECK(auth->check(with_auth("Basic dXNlcjpjaS1zZWNyZXQ="), "t", "team", true).status == 0);
  CHECK(auth->check(with_auth("Basic dXNlcjpjaS1zZWNyZXQ"), "t", "team", true).status == 0);
  // base64(":ci-secret"): no user name
  CHECK(auth->check(with_auth("Basic OmNpLXNlY3JldA=="), "t", "team", true).status == 0);

  CHECK(auth->check(with_auth("Basic Y2ktc2VjcmV0"), "t", "team", false).status == 401);  // no ':'
  CHECK(auth->check(with_auth("Basic dXNlcjo="), "t", "team", false).status == 401);      // "user:"
  CHECK(auth->check(with_auth("Basic !!!!"), "t", "team", false).status == 401);
  CHECK(auth->check(with_auth("Basic a"), "t", "team", false).status == 401);
  CHECK(auth->check(with_auth("Basic dXNlcjp3cm9uZw=="), "t", "team", false).status == 401);
}

TEST_CASE("tokens: a bad file stops startup with a clear message", "[auth]") {
  TempDir dir;
  Config config;
  config.auth = AuthMode::tokens;
  CHECK_THROWS_WITH(Authorizer::make(config), Catch::Contains("MESHCACHE_AUTH_TOKENS_FILE"));

  config.auth_tokens_file = dir.path() + "/missing.json";
  CHECK_THROWS_WITH(Authorizer::make(config), Catch::Contains("cannot read"));

  auto expect = [&](const std::string& text, const char* fragment) {
    INFO(text);
    config.auth_tokens_file = write_file(dir, "bad.json", text);
    CHECK_THROWS_WITH(Authorizer::make(config), Catch::Contains(fragment));
  };
  expect("{not json", "not valid JSON");
  expect(R"({"tokens": {}})", "must be");
  expect(R"({"tokens": []})", "no tokens");
  expect(R"({"tokens": [{"sha256": ")" + sha256_hex("a") + R"("}]})", "name");
  expect(R"({"tokens": [{"name": "a", "sha256": "abc"}]})", "sha256");
  expect(R"({"tokens": [{"name": "a", "sha256": ")" + sha256_hex("a") + R"(", "read": "x"}]})",
         "array");
  expect(R"({"tokens": [{"name": "a", "sha256": ")" + sha256_hex("a") +
             R"("},)"
             R"({"name": "b", "sha256": ")" +
             sha256_hex("a") + R"("}]})",
         "same token hash");
}

TEST_CASE("the router answers 401 with a challenge and 403, probes need no token", "[auth]") {
  TempDir dir;
  std::string path = write_file(dir, "tokens.json", tokens_json());
  TestNode node([&](Config& c) {
    c.auth = AuthMode::tokens;
    c.auth_tokens_file = path;
  });
  auto r = node.get("/v8/artifacts/abc?slug=team");
  CHECK(r.status == 401);
  REQUIRE(r.header("www-authenticate") != nullptr);
  CHECK(*r.header("www-authenticate") == "Bearer realm=\"meshcache\"");
  CHECK(nlohmann::json::parse(r.body)["error"] == "unauthorized");

  CHECK(node.put("/v8/artifacts/abc?slug=team", "x", {{"authorization", "Bearer ci-secret"}})
            .status == 202);
  CHECK(node.get("/v8/artifacts/abc?slug=team", {{"authorization", "Bearer ro-secret"}}).status ==
        200);
  auto forbidden =
      node.put("/v8/artifacts/abc?slug=team", "y", {{"authorization", "Bearer ro-secret"}});
  CHECK(forbidden.status == 403);
  CHECK(nlohmann::json::parse(forbidden.body)["error"] == "forbidden");
  CHECK(node.get("/v8/artifacts/abc?slug=team", {{"authorization", "Bearer ro-secret"}}).body ==
        "x");

  // Bazel with user:token@ in the URL: base64url Basic, tenant scope
  std::string hash = sha256_hex("blob");
  CHECK(node.put("/cas/" + hash, "blob", {{"authorization", "Basic Ynp1c2VyOnB3Pz4_"}}).status ==
        200);

  CHECK(node.get("/up").status == 200);
  CHECK(node.get("/ready").status == 200);
  CHECK(node.get("/metrics").status == 200);
}
