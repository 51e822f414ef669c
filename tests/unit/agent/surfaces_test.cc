// surfaces_test.cc: ccache, Gradle, Turborepo, Nx, Xcode/Tuist and Metro surfaces (test thread).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/unit/agent/test_node.h"

using meshcache::agent::test::Call;
using meshcache::agent::test::sha256_hex;
using meshcache::agent::test::TestNode;
using meshcache::storage::ArtifactRef;

TEST_CASE("ccache: deep paths, overwrite, DELETE", "[ccache]") {
  TestNode node;
  const std::string key = "/cache/45/524pn039i7l8o89flomdn6vrejl2uas";
  CHECK(node.get(key).status == 404);
  CHECK(node.put(key, "v1", {{"content-type", "application/octet-stream"}}).status == 200);
  CHECK(node.get(key).body == "v1");
  CHECK(node.put(key, "v2").status == 200);
  CHECK(node.get(key).body == "v2");
  CHECK(node.put("/cache/a/b/c/d/e/f", "deep").status == 200);
  CHECK(node.get("/cache/a/b/c/d/e/f").body == "deep");
  CHECK(node.store->head(ArtifactRef{"http", "acme", "", "a/b/c/d/e/f"}).ok());

  auto del = node.simple("DELETE", key);
  CHECK(del.status == 204);
  CHECK(node.get(key).status == 404);
  CHECK(node.simple("DELETE", key).status == 404);
}

TEST_CASE("gradle: 413 from the declared length, before the body", "[gradle]") {
  TestNode node([](meshcache::agent::Config& c) { c.max_artifact_bytes = 1000; });
  Call c;
  c.method = "PUT";
  c.target = "/api/cache/gradle/0123abcd";
  c.body = std::string(1001, 'g');
  c.expect_continue = true;
  c.headers = {{"expect", "100-continue"}};
  auto r = node.call(c);
  CHECK(r.status == 413);
  CHECK(r.answered_in_on_request);

  // A chunked body has no declared length: it is cut off once it passes the limit.
  c.chunked = true;
  c.expect_continue = false;
  c.headers.clear();
  c.piece_bytes = 100;
  r = node.call(c);
  CHECK(r.status == 413);
  CHECK_FALSE(r.answered_in_on_request);
  CHECK(node.get("/api/cache/gradle/0123abcd").status == 404);

  c.body = std::string(1000, 'g');
  r = node.call(c);
  CHECK(r.status == 200);
}

TEST_CASE("gradle: content type kept, namespace from the query", "[gradle]") {
  TestNode node;
  const std::string type = "application/vnd.gradle.build-cache-artifact.v2";
  CHECK(node.put("/api/cache/gradle/abc?project_handle=app", "entry", {{"content-type", type}})
            .status == 200);
  auto get = node.get("/api/cache/gradle/abc?namespace_id=app");
  CHECK(get.body == "entry");
  CHECK(*get.header("content-type") == type);
  CHECK(node.get("/api/cache/gradle/abc").status == 404);
  CHECK(node.store->head(ArtifactRef{"gradle", "acme", "app", "abc"}).ok());
}

TEST_CASE("turbo: slug/teamId namespace, artifact headers round-trip", "[turbo]") {
  TestNode node;
  auto put = node.put("/v8/artifacts/10ee8fe0b5fca966?slug=team_abc", "tar.zst",
                      {{"content-type", "application/octet-stream"},
                       {"x-artifact-duration", "212"},
                       {"x-artifact-tag", "c2lnbmF0dXJl"}});
  CHECK(put.status / 100 == 2);
  auto urls = nlohmann::json::parse(put.body)["urls"];
  REQUIRE(urls.is_array());
  CHECK(urls[0] == "/v8/artifacts/10ee8fe0b5fca966?slug=team_abc");

  auto get = node.get("/v8/artifacts/10ee8fe0b5fca966?teamId=team_abc");
  CHECK(get.status == 200);
  CHECK(get.body == "tar.zst");
  REQUIRE(get.header("x-artifact-tag") != nullptr);
  CHECK(*get.header("x-artifact-tag") == "c2lnbmF0dXJl");
  CHECK(*get.header("x-artifact-duration") == "212");
  CHECK(node.head("/v8/artifacts/10ee8fe0b5fca966?slug=team_abc").content_length == 7);
  CHECK(node.get("/v8/artifacts/10ee8fe0b5fca966?slug=other").status == 404);

  auto missing_team = node.get("/v8/artifacts/10ee8fe0b5fca966");
  CHECK(missing_team.status == 400);
}

TEST_CASE("turbo: status and events", "[turbo]") {
  TestNode node;
  auto status = node.get("/v8/artifacts/status?slug=team_abc");
  CHECK(status.status == 200);
  CHECK(nlohmann::json::parse(status.body)["status"] == "enabled");
  CHECK(node.post("/v8/artifacts/events?slug=t", R"([{"source":"LOCAL","event":"HIT"}])").status ==
        200);
  CHECK(node.post("/v8/artifacts/events?slug=t", "{\"not\":\"an array\"}").status == 400);
  CHECK(node.post("/v8/artifacts/events?slug=t", "[garbage").status == 400);
  CHECK(node.post("/v8/artifacts/events?slug=t", "[" + std::string(2 << 20, ' ') + "]").status ==
        413);
}

TEST_CASE("nx: PUT answers exactly 200, namespace nx", "[nx]") {
  TestNode node;
  CHECK(node.get("/v1/cache/16610690434023068793").status == 404);
  auto put = node.put("/v1/cache/16610690434023068793", "tar.gz");
  CHECK(put.status == 200);
  CHECK(node.get("/v1/cache/16610690434023068793").body == "tar.gz");
  CHECK(node.store->head(ArtifactRef{"nx", "acme", "nx", "16610690434023068793"}).ok());
}

TEST_CASE("xcode: CAS blobs under blob/{id}, optional checksum header", "[xcode]") {
  TestNode node;
  const std::string q = "?account_handle=acme&project_handle=ios";
  CHECK(node.post("/api/cache/cas/0~abc" + q, "blob").status == 204);
  auto get = node.get("/api/cache/cas/0~abc" + q);
  CHECK(get.body == "blob");
  CHECK(*get.header("tuist-checksum-sha256") == sha256_hex("blob"));
  CHECK(node.get("/api/cache/cas/0~abc?project_handle=other").status == 404);
  CHECK(node.store->head(ArtifactRef{"xcode", "acme", "ios", "blob/0~abc"}).ok());
  CHECK(node.put("/api/cache/cas/0~abc" + q, "blob").status == 405);

  CHECK(
      node.post("/api/cache/cas/good" + q, "data", {{"tuist-checksum-sha256", sha256_hex("data")}})
          .status == 204);
  CHECK(node.post("/api/cache/cas/bad" + q, "data", {{"tuist-checksum-sha256", sha256_hex("x")}})
            .status == 422);
  CHECK(node.get("/api/cache/cas/bad" + q).status == 404);
  CHECK(node.post("/api/cache/cas/bad" + q, "data", {{"tuist-checksum-sha256", "zz"}}).status ==
        400);
}

TEST_CASE("xcode: keyvalue stored in Kura's form under action_cache/{cas_id}", "[xcode]") {
  TestNode node;
  const std::string q = "?account_handle=acme&project_handle=ios";
  auto put = node.put("/api/cache/keyvalue" + q,
                      R"({"cas_id":"cas1","entries":[{"value":"v1"},{"value":"v2","x":1}]})");
  CHECK(put.status == 204);
  auto get = node.get("/api/cache/keyvalue/cas1" + q);
  CHECK(get.status == 200);
  CHECK(*get.header("content-type") == "application/json");
  CHECK(get.body == R"({"entries":[{"value":"v1"},{"value":"v2"}]})");
  CHECK(node.store->head(ArtifactRef{"xcode", "acme", "ios", "action_cache/cas1"}).ok());
  CHECK(node.get("/api/cache/keyvalue/cas2" + q).status == 404);

  for (const char* bad : {"not json", R"({"entries":[{"value":"v"}]})", R"({"cas_id":"c"})",
                          R"({"cas_id":"c","entries":[]})", R"({"cas_id":"c","entries":[{}]})",
                          R"({"cas_id":"c","entries":[{"value":1}]})",
                          R"({"cas_id":"../c","entries":[{"value":"v"}]})", "[]"}) {
    INFO(bad);
    auto r = node.put("/api/cache/keyvalue" + q, bad);
    CHECK(r.status == 400);
    CHECK(nlohmann::json::parse(r.body)["error"] == "bad_request");
  }
  CHECK(node.put("/api/cache/keyvalue" + q, std::string((1 << 20) + 1, ' ')).status == 413);
}

TEST_CASE("metro: namespace metro", "[metro]") {
  TestNode node;
  CHECK(node.put("/api/metro/cache/abcdef", "bundle").status == 200);
  CHECK(node.get("/api/metro/cache/abcdef").body == "bundle");
  CHECK(node.store->head(ArtifactRef{"metro", "acme", "metro", "abcdef"}).ok());
}
