// internal_replicate_test.cc: receiving pushes: PUT /replicate/artifact through the LWW gate,
// the batch route, and namespace deletes (test thread plus the server's loops).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>

#include "internal_support.h"
#include "replication/wire.h"

namespace meshcache::replication::test {
namespace {

std::string message_of(const Reply& r) {
  return nlohmann::json::parse(r.body).value("message", std::string("<none>"));
}

std::string artifact_path(const std::string& producer, const std::string& ns,
                          const std::string& key, int64_t version, const std::string& extra = "") {
  return "/_internal/replicate/artifact?producer=" + wire::url_encode(producer) +
         "&namespace_id=" + wire::url_encode(ns) + "&key=" + wire::url_encode(key) +
         "&content_type=application%2Foctet-stream&version_ms=" + std::to_string(version) + extra;
}

Reply put_artifact(InternalNode& node, const std::string& query, const std::string& body,
                   bool chunked = false, bool h2 = false) {
  Call c;
  c.method = "PUT";
  c.url = node.url(query);
  c.body = body;
  c.chunked = chunked;
  c.h2 = h2;
  return call(c);
}

std::string batch_item(const std::string& producer, const std::string& key, int64_t version,
                       const std::string& body) {
  std::string out;
  wire::append_batch_item(out, {producer, "ns", key, "application/json", version, {}, {}, {}},
                          body);
  return out;
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE("replicate artifact: bad parameters get Kura's 400 messages") {
  InternalNode node;
  const std::string base = "/_internal/replicate/artifact?";
  const std::string all = "producer=nx&namespace_id=&key=k&content_type=c";
  auto message = [&](const std::string& query) {
    Reply r = put_artifact(node, base + query, "x");
    CHECK(r.status == 400);
    return message_of(r);
  };
  CHECK(message("namespace_id=&key=k&content_type=c") == "Missing producer");
  CHECK(message("producer=&namespace_id=&key=k&content_type=c") == "Missing producer");
  CHECK(message("producer=nx&key=k&content_type=c") == "Missing namespace_id");
  CHECK(message("producer=nx&namespace_id=&key=&content_type=c") == "Missing key");
  CHECK(message("producer=nx&namespace_id=&key=k") == "Missing content_type");
  CHECK(message(all + "&inline=yes").rfind("Invalid inline: ", 0) == 0);
  CHECK(message(all + "&version_ms=abc").rfind("Invalid version_ms: ", 0) == 0);
  CHECK(message(all + "&version_ms=-1").rfind("Invalid version_ms: ", 0) == 0);
  CHECK(message(all + "&version_ms=18446744073709551616").rfind("Invalid version_ms: ", 0) == 0);
  CHECK(message("producer=cargo&namespace_id=&key=k&content_type=c") ==
        "Invalid artifact producer");
  CHECK(node.applies("applied") == 0);
  CHECK(node.applies("error") == 0);
}

TEST_CASE("replicate artifact: LWW outcomes, stored as a replica under the node's tenant") {
  InternalNode node;
  auto ref = node.ref("gradle", "proj", "cache/key 1");
  // Optional branch, trunk and origin_region are accepted.
  REQUIRE(put_artifact(node,
                       artifact_path("gradle", "proj", "cache/key 1", 2000,
                                     "&inline=false&branch=main&trunk=t&origin_region=us"),
                       "version 2000")
              .status == 204);
  auto m = node.head(ref);
  REQUIRE(m);
  CHECK(m->origin == storage::Origin::replica);
  CHECK(m->version_ms == 2000);
  CHECK(m->content_type == "application/octet-stream");
  CHECK(node.read(*m) == "version 2000");
  CHECK(node.applies("applied") == 1);

  SECTION("equal: the local copy wins, even with other bytes") {
    CHECK(
        put_artifact(node, artifact_path("gradle", "proj", "cache/key 1", 2000), "other").status ==
        204);
    CHECK(node.read(*node.head(ref)) == "version 2000");
    CHECK(node.applies("ignored_equal") == 1);
  }
  SECTION("older is stale, newer applies") {
    CHECK(put_artifact(node, artifact_path("gradle", "proj", "cache/key 1", 1999), "old").status ==
          204);
    CHECK(node.applies("ignored_stale") == 1);
    CHECK(put_artifact(node, artifact_path("gradle", "proj", "cache/key 1", 2001), "newer", true,
                       true)
              .status == 204);
    CHECK(node.read(*node.head(ref)) == "newer");
    CHECK(node.head(ref)->version_ms == 2001);
    CHECK(node.applies("applied") == 2);
  }
  SECTION("no version and a local copy: stale; no copy: stamped now") {
    CHECK(put_artifact(node, artifact_path("gradle", "proj", "cache/key 1", 0), "zero").status ==
          204);
    CHECK(node.applies("ignored_stale") == 1);
    int64_t before = now_ms();
    std::string path =
        "/_internal/replicate/artifact?producer=nx&namespace_id=nx&key=h1"
        "&content_type=application%2Foctet-stream";
    CHECK(put_artifact(node, path, "unversioned").status == 204);
    auto fresh = node.head(node.ref("nx", "nx", "h1"));
    REQUIRE(fresh);
    CHECK(fresh->version_ms >= before);
  }
}

TEST_CASE("replicate artifact: an ignored write is answered before its body is sent") {
  InternalNode node;
  node.put(node.ref("nx", "nx", "hash"), "local", 5000);
  int fd = connect_to(node.address());
  // A head announcing 5 MB, then nothing: the answer must not wait for the body.
  send_all(fd, "PUT " + artifact_path("nx", "nx", "hash", 4000) +
                   " HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n");
  Reply r = read_response(fd);
  close(fd);
  CHECK(r.status == 204);
  CHECK(node.applies("ignored_stale") == 1);
  CHECK(node.read(*node.head(node.ref("nx", "nx", "hash"))) == "local");
  // libcurl, as the push worker uses it: a large ignored push still reads as 204 over h1 and h2.
  std::string big(3 << 20, 'x');
  for (bool h2 : {false, true}) {
    for (bool chunked : {false, true}) {
      INFO("h2 " << h2 << ", chunked " << chunked);
      Reply curl = put_artifact(node, artifact_path("nx", "nx", "hash", 4000), big, chunked, h2);
      CHECK(curl.error.empty());
      CHECK(curl.status == 204);
    }
  }
  CHECK(node.applies("ignored_stale") == 5);
  CHECK(node.read(*node.head(node.ref("nx", "nx", "hash"))) == "local");
}

TEST_CASE("replicate artifact: size limits by Content-Length and while streaming") {
  NodeOptions options;
  options.max_artifact_bytes = 1 << 20;
  InternalNode node(options);
  const std::string inline_q = "&inline=true";
  std::string over_inline(wire::kMaxInlineBytes + 1, 'i');
  SECTION("inline over 4 MiB") {
    CHECK(put_artifact(node, artifact_path("nx", "nx", "a", 10, inline_q), over_inline).status ==
          413);
    CHECK(put_artifact(node, artifact_path("nx", "nx", "b", 10, inline_q), over_inline, true)
              .status == 413);
    CHECK(!node.head(node.ref("nx", "nx", "a")));
    CHECK(!node.head(node.ref("nx", "nx", "b")));
    CHECK(node.applies("error") == 2);
  }
  SECTION("segment over the node's artifact bound") {
    std::string over((1 << 20) + 1, 's');
    CHECK(put_artifact(node, artifact_path("nx", "nx", "c", 10), over).status == 413);
    CHECK(put_artifact(node, artifact_path("nx", "nx", "d", 10), over, true).status == 413);
    // h2: 413 and RST_STREAM(NO_ERROR), which curl 7.88 reports as a failed transfer.
    Reply h2 = put_artifact(node, artifact_path("nx", "nx", "e", 10), over, true, true);
    CHECK((h2.status == 413 || !h2.error.empty()));
    CHECK(!node.head(node.ref("nx", "nx", "e")));
    CHECK(node.applies("error") == 3);
    CHECK(!node.head(node.ref("nx", "nx", "d")));
    // Exactly at the bound is fine, and the node keeps serving.
    std::string at(1 << 20, 's');
    CHECK(put_artifact(node, artifact_path("nx", "nx", "f", 10), at, true).status == 204);
    CHECK(node.read(*node.head(node.ref("nx", "nx", "f"))) == at);
  }
}

TEST_CASE("replicate artifacts (batch): one outcome per item, in request order") {
  InternalNode node;
  node.put(node.ref("xcode", "ns", "equal"), "local", 700, "application/json");
  node.put(node.ref("xcode", "ns", "newer-here"), "local", 900, "application/json");
  std::string body = batch_item("xcode", "fresh", 800, R"({"entries":[]})") +
                     batch_item("xcode", "equal", 700, "remote") +
                     batch_item("cargo", "unknown", 800, "x") +
                     batch_item("xcode", "newer-here", 800, "remote") +
                     batch_item("reapi", "big", 800, std::string(wire::kMaxInlineBytes + 1, 'b'));
  Reply r = call(request("PUT", node.url("/_internal/replicate/artifacts"), body));
  REQUIRE(r.status == 200);
  CHECK(r.headers["content-type"] == "application/json");
  CHECK(nlohmann::json::parse(r.body) ==
        nlohmann::json::parse(R"({"outcomes":["applied","ignored_equal","error","ignored_stale",)"
                              R"("error"]})"));
  auto fresh = node.head(node.ref("xcode", "ns", "fresh"));
  REQUIRE(fresh);
  CHECK(fresh->origin == storage::Origin::replica);
  CHECK(fresh->version_ms == 800);
  CHECK(fresh->content_type == "application/json");
  CHECK(node.read(*fresh) == R"({"entries":[]})");
  CHECK(node.read(*node.head(node.ref("xcode", "ns", "equal"))) == "local");
  CHECK(!node.head(node.ref("reapi", "ns", "big")));
  CHECK(node.applies("applied") == 1);
  CHECK(node.applies("error") == 2);
  // An empty batch is a valid, empty answer.
  Reply empty = call(request("PUT", node.url("/_internal/replicate/artifacts"), ""));
  CHECK(empty.status == 200);
  CHECK(empty.body == R"({"outcomes":[]})");
}

TEST_CASE("replicate artifacts (batch): malformed or oversized batches get 400 or 413") {
  InternalNode node;
  auto put_batch = [&](const std::string& body, bool chunked = false) {
    Call c = request("PUT", node.url("/_internal/replicate/artifacts"), body);
    c.chunked = chunked;
    return call(c);
  };
  std::string good = batch_item("nx", "k", 1, "b");
  CHECK(put_batch(good.substr(0, good.size() - 1)).status == 400);             // truncated
  CHECK(put_batch(std::string("\xff\xff\xff\xff\0\0\0\0", 8)).status == 400);  // overflow
  CHECK(put_batch(std::string("\0\0\0\2\0\0\0\0[]", 10)).status == 400);       // not an object
  std::string many;
  for (size_t i = 0; i <= wire::kMaxBatchItems; ++i) many += good;
  Reply too_many = put_batch(many);
  CHECK(too_many.status == 413);
  CHECK(message_of(too_many).find("512") != std::string::npos);
  std::string huge(wire::kMaxBatchBytes + 1, '\0');
  CHECK(put_batch(huge).status == 413);
  CHECK(put_batch(huge, true).status == 413);  // no Content-Length: caught while reading
  // Refused by Content-Length before any body byte is sent.
  int fd = connect_to(node.address());
  send_all(fd, "PUT /_internal/replicate/artifacts HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                   std::to_string(wire::kMaxBatchBytes + 1) + "\r\n\r\n");
  CHECK(read_response(fd).status == 413);
  close(fd);
  // Nothing was applied, and the node keeps serving.
  CHECK(node.applies("applied") == 0);
  CHECK(put_batch(good + good).status == 200);
}

TEST_CASE("replicate namespace: tombstones, purges and older deletes") {
  InternalNode node;
  node.put(node.ref("nx", "proj", "old"), "old", 1000);
  node.put(node.ref("nx", "proj", "new"), "new", 3000);
  node.put(node.ref("nx", "other", "keep"), "keep", 1000);
  auto del = [&](const std::string& query) {
    return call(request("DELETE", node.url("/_internal/replicate/namespace" + query)));
  };
  CHECK(message_of(del("?version_ms=5")) == "Missing namespace_id");
  CHECK(del("?namespace_id=proj&version_ms=x").status == 400);

  REQUIRE(del("?namespace_id=proj&version_ms=2000").status == 204);
  CHECK(!node.head(node.ref("nx", "proj", "old")));
  CHECK(node.head(node.ref("nx", "proj", "new")));  // newer than the tombstone
  CHECK(node.head(node.ref("nx", "other", "keep")));
  CHECK(node.applies("applied") == 1);  // the tombstone (direct puts are not counted)
  // An older delete is ignored (still 204); late arrivals at or below the tombstone too.
  CHECK(del("?namespace_id=proj&version_ms=1500").status == 204);
  CHECK(node.applies("ignored_older") == 1);
  CHECK(put_artifact(node, artifact_path("nx", "proj", "late", 2000), "late").status == 204);
  CHECK(!node.head(node.ref("nx", "proj", "late")));
  CHECK(node.applies("ignored_tombstone") == 1);
  CHECK(put_artifact(node, artifact_path("nx", "proj", "later", 2001), "later").status == 204);
  CHECK(node.head(node.ref("nx", "proj", "later")));

  // No version: purge everything of the namespace, no tombstone left behind.
  REQUIRE(del("?namespace_id=other").status == 204);
  CHECK(!node.head(node.ref("nx", "other", "keep")));
  CHECK(node.store().namespace_tombstone("acme", "other").value() == 0);
  CHECK(put_artifact(node, artifact_path("nx", "other", "again", 10), "x").status == 204);
  CHECK(node.head(node.ref("nx", "other", "again")));
  // The tenant scope ("" namespace) is a namespace like any other.
  CHECK(del("?namespace_id=&version_ms=10").status == 204);
}

}  // namespace meshcache::replication::test
