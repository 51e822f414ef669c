// bazel_test.cc: Bazel's HTTP cache surface over a real store (test thread).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/unit/agent/test_node.h"

using meshcache::agent::test::sha256_hex;
using meshcache::agent::test::TestNode;

namespace {
const std::string kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
}

TEST_CASE("bazel CAS put, get and head", "[bazel]") {
  TestNode node;
  std::string blob(5000, 'x');
  for (size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>('a' + i % 26);
  std::string hash = sha256_hex(blob);

  CHECK(node.get("/cas/" + hash).status == 404);
  auto put = node.put("/cas/" + hash, blob);
  CHECK(put.status == 200);
  CHECK_FALSE(put.has_body_source);

  auto get = node.get("/cas/" + hash);
  CHECK(get.status == 200);
  CHECK(get.body == blob);
  CHECK(get.content_length == blob.size());
  CHECK_FALSE(get.body_error);
  CHECK(*get.header("content-type") == "application/octet-stream");
  CHECK(*get.header("etag") == "\"" + hash + "\"");
  CHECK(*get.header("accept-ranges") == "bytes");

  auto head = node.head("/cas/" + hash);
  CHECK(head.status == 200);
  CHECK(head.content_length == blob.size());
  CHECK_FALSE(head.has_body_source);
}

TEST_CASE("bazel CAS body that does not hash to its key is refused", "[bazel]") {
  TestNode node;
  std::string hash = sha256_hex("expected");
  auto put = node.put("/cas/" + hash, "something else");
  CHECK(put.status == 400);
  CHECK(nlohmann::json::parse(put.body)["error"] == "digest_mismatch");
  CHECK(node.get("/cas/" + hash).status == 404);
  // AC entries are not content-addressed
  CHECK(node.put("/ac/" + hash, "action result").status == 200);
  CHECK(node.get("/ac/" + hash).body == "action result");
}

TEST_CASE("bazel empty blob is always present", "[bazel]") {
  TestNode node;
  auto get = node.get("/cas/" + kEmpty);
  CHECK(get.status == 200);
  CHECK(get.body.empty());
  CHECK(node.head("/cas/" + kEmpty).status == 200);
  CHECK(node.get("/myinstance/cas/" + kEmpty).status == 200);
  CHECK(node.put("/cas/" + kEmpty, "").status == 200);
  CHECK(node.get("/cas/" + kEmpty).status == 200);
  CHECK(node.get("/ac/" + kEmpty).status == 404);  // only CAS
}

TEST_CASE("bazel instance names are namespaces", "[bazel]") {
  TestNode node;
  std::string hash = sha256_hex("ac");
  CHECK(node.put("/ci/ac/" + hash, "result").status == 200);
  CHECK(node.get("/ci/ac/" + hash).body == "result");
  CHECK(node.get("/ac/" + hash).status == 404);
  CHECK(node.get("/other/ac/" + hash).status == 404);
  CHECK(node.put("/team/project/cas/" + sha256_hex("b"), "b").status == 200);
  CHECK(node.get("/team/project/cas/" + sha256_hex("b")).body == "b");

  meshcache::storage::ArtifactRef ref{"bazel", "acme", "ci", "ac/" + hash};
  CHECK(node.store->head(ref).ok());
}

TEST_CASE("bazel keys must be 64 lowercase hex", "[bazel]") {
  TestNode node;
  std::string upper = sha256_hex("x");
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  for (std::string target :
       {std::string("/ac/abc"), "/cas/" + upper, "/cas/" + std::string(65, 'a'),
        std::string("/ci/cas/zz"), "/ac/" + std::string(64, 'a') + "/x"}) {
    INFO(target);
    auto r = node.get(target);
    CHECK(r.status == 400);
    CHECK(nlohmann::json::parse(r.body)["error"] == "bad_key");
  }
}

TEST_CASE("ccache's bazel layout under /cache stays a generic key", "[bazel][ccache]") {
  TestNode node;
  std::string key = "ac/" + std::string(64, 'b');
  CHECK(node.put("/cache/" + key, "not hashed").status == 200);
  CHECK(node.get("/cache/" + key).body == "not hashed");
  CHECK(node.get("/" + key).status == 404);
}
