// module_test.cc: Tuist's module cache, multipart uploads surviving a store reopen (test thread).
#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "tests/unit/agent/test_node.h"

using meshcache::agent::test::Call;
using meshcache::agent::test::sha256_hex;
using meshcache::agent::test::TestNode;

namespace {

const std::string kQuery = "account_handle=acme&project_handle=ios";

std::string start(TestNode& node, const std::string& hash) {
  auto r = node.post("/api/cache/module/start?" + kQuery + "&hash=" + hash + "&name=Core.zip", "");
  REQUIRE(r.status == 200);
  auto body = nlohmann::json::parse(r.body);
  REQUIRE(body.contains("upload_id"));
  return body["upload_id"].is_null() ? "" : body["upload_id"].get<std::string>();
}

int part(TestNode& node, const std::string& id, int n, const std::string& data) {
  return node
      .post("/api/cache/module/part?" + kQuery + "&upload_id=" + id +
                "&part_number=" + std::to_string(n),
            data)
      .status;
}

int complete(TestNode& node, const std::string& id, const nlohmann::json& request) {
  return node.post("/api/cache/module/complete?" + kQuery + "&upload_id=" + id, request.dump())
      .status;
}

}  // namespace

TEST_CASE("module: start, parts, complete across restarts, then read", "[module]") {
  TestNode node;
  std::string id = start(node, "h1");
  REQUIRE(id.size() == 32);
  std::string p1(3000, '1'), p2(2500, '2');

  CHECK(part(node, id, 2, p2) == 204);
  node.reopen();  // upload state and parts are in the store, not in memory
  CHECK(part(node, id, 1, p1) == 204);
  node.reopen();
  CHECK(complete(node, id, {{"parts", {2, "1"}}, {"checksum_sha256", sha256_hex(p1 + p2)}}) == 204);

  const std::string read = "/api/cache/module/ignored?" + kQuery + "&hash=h1&name=Core.zip";
  auto get = node.get(read);
  CHECK(get.status == 200);
  CHECK(get.body == p1 + p2);
  CHECK(node.head(read).status == 204);
  CHECK(node.get(read + "&cache_category=builds").status == 200);
  CHECK(node.get("/api/cache/module/x?" + kQuery + "&hash=h1&name=Core.zip&cache_category=tests")
            .status == 404);
  CHECK(node.store
            ->head(meshcache::storage::ArtifactRef{"module", "acme", "ios", "builds/h1/Core.zip"})
            .ok());

  // It exists now: no upload, and the finished upload is gone.
  CHECK(start(node, "h1").empty());
  CHECK(part(node, id, 3, "late") == 404);
}

TEST_CASE("module: checksum mismatch is 422 and stores nothing", "[module]") {
  TestNode node;
  std::string id = start(node, "h2");
  CHECK(part(node, id, 1, "abc") == 204);
  CHECK(complete(node, id, {{"parts", {1}}, {"checksum_sha256", sha256_hex("other")}}) == 422);
  CHECK(node.get("/api/cache/module/x?" + kQuery + "&hash=h2&name=Core.zip").status == 404);
}

TEST_CASE("module: bad requests", "[module]") {
  TestNode node;
  CHECK(node.post("/api/cache/module/start?" + kQuery + "&name=n", "").status == 400);
  CHECK(node.post("/api/cache/module/start?" + kQuery + "&hash=h", "").status == 400);
  CHECK(node.post("/api/cache/module/start?" + kQuery + "&hash=a/b&name=n", "").status == 400);
  CHECK(node.post("/api/cache/module/start?" + kQuery + "&hash=..&name=n", "").status == 400);
  CHECK(node.get("/api/cache/module/x?" + kQuery + "&hash=h").status == 400);
  CHECK(part(node, std::string(32, 'a'), 1, "x") == 404);
  CHECK(part(node, "../state", 1, "x") == 400);

  std::string id = start(node, "h3");
  CHECK(part(node, id, 0, "x") == 400);
  CHECK(part(node, id, 10001, "x") == 400);
  CHECK(part(node, id, 1, "x") == 204);
  CHECK(complete(node, id, {{"parts", {1, 2}}}) == 400);  // part 2 never arrived
  CHECK(complete(node, id, {{"parts", nlohmann::json::array()}}) == 400);
  CHECK(complete(node, id, {{"parts", {"one"}}}) == 400);
  CHECK(node.post("/api/cache/module/complete?upload_id=" + id, "not json").status == 400);

  Call big;
  big.method = "POST";
  big.target = "/api/cache/module/part?upload_id=" + id + "&part_number=2";
  big.declared_length = (10u << 20) + 1;
  auto r = node.call(big);
  CHECK(r.status == 413);
  CHECK(r.answered_in_on_request);

  CHECK(complete(node, id, {{"parts", {1}}}) == 204);
  CHECK(node.get("/api/cache/module/x?" + kQuery + "&hash=h3&name=Core.zip").body == "x");
}

TEST_CASE("module: the assembled size is bounded by max_artifact_bytes", "[module]") {
  TestNode node([](meshcache::agent::Config& c) { c.max_artifact_bytes = 4000; });
  std::string id = start(node, "h4");
  CHECK(part(node, id, 1, std::string(3000, 'a')) == 204);
  CHECK(part(node, id, 2, std::string(3000, 'b')) == 204);
  CHECK(complete(node, id, {{"parts", {1, 2}}}) == 413);
}

TEST_CASE("module: uploads expire after 24 hours", "[module]") {
  TestNode node;
  std::string id(32, 'c');
  int64_t old = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count() -
                25 * 3600 * 1000;
  std::string state = nlohmann::json{
      {"namespace", "ios"},
      {"key", "builds/h5/Core.zip"},
      {"created_ms", old}}.dump();
  auto writer = node.store->begin_write({"upload", "acme", "", id + "/state"}, {});
  REQUIRE(writer.ok());
  REQUIRE(
      writer.value()->append({reinterpret_cast<const uint8_t*>(state.data()), state.size()}).ok());
  REQUIRE(writer.value()->commit().ok());

  CHECK(part(node, id, 1, "x") == 404);
  CHECK_FALSE(node.store->head({"upload", "acme", "", id + "/state"}).ok());
}
