// push_delivery_test.cc: what the push worker sends to an admitted peer (single PUTs, batches,
// namespace deletes) and what it does with each answer (test thread; the fake peer answers on
// its own I/O thread).
#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "push_support.h"
#include "replication/wire.h"

namespace meshcache::replication::test {
namespace {

constexpr const char* kSingle = "/_internal/replicate/artifact";
constexpr const char* kBatch = "/_internal/replicate/artifacts";
constexpr const char* kNamespace = "/_internal/replicate/namespace";

PushOptions options_for(const FakePeer& peer) {
  PushOptions o;
  o.node_url = "http://127.0.0.1:1";  // this node: never a target
  o.static_peers = {peer.url()};
  // One membership round, at start: a later row can only be sent because wake() was called.
  o.membership_interval = std::chrono::hours(1);
  return o;
}

uint32_t be32(std::string_view b, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<uint8_t>(b[at + i]);
  return v;
}

}  // namespace

TEST_CASE("a large artifact goes as one PUT with Kura's query and its exact bytes", "[push]") {
  FakePeer peer;
  PushNode node(options_for(peer));
  REQUIRE(node.targets() == std::vector<std::string>{peer.url()});
  std::string body = bytes_of(100'000, 3);  // > the inline limit: streamed chunk by chunk
  auto m = node.s.put(node.s.ref("dir/a b+c%.bin", "my proj"), body, node.targets(),
                      "application/x-thing");
  node.start();

  REQUIRE(peer.wait([&] { return peer.count(kSingle) == 1; }));
  PeerRequest r = peer.requests(kSingle)[0];
  CHECK(r.method == "PUT");
  CHECK(r.query == fmt::format("producer=gradle&namespace_id=my%20proj&key=dir%2Fa%20b%2Bc%25.bin"
                               "&content_type=application%2Fx-thing&inline=false&version_ms={}",
                               m.version_ms));
  CHECK(r.param("key") == "dir/a b+c%.bin");
  CHECK(r.content_type == "application/octet-stream");
  CHECK(r.content_length == body.size());
  CHECK(r.body == body);
  REQUIRE(eventually([&] { return node.s.depth(peer.url()) == 0; }));
  PeerStatus p = node.peer(peer.url());
  CHECK(p.admission == "admitted");
  CHECK(p.delivered == 1);
  CHECK(p.last_success_ms.has_value());
  CHECK(p.consecutive_failures == 0);
  CHECK(node.metric(peer.url(), "delivered") == 1);

  SECTION("a later write is sent when the worker is woken") {
    std::string second = bytes_of(50'000, 4);
    node.s.put(node.s.ref("second"), second, node.targets());
    node.worker->wake();
    REQUIRE(peer.wait([&] { return peer.count(kSingle) == 2; }));
    CHECK(peer.requests(kSingle)[1].body == second);
  }
}

TEST_CASE("small artifacts ready together go as one batch, in commit order", "[push]") {
  FakePeer peer;
  PushNode node(options_for(peer));
  std::vector<std::string> bodies = {bytes_of(1000, 1), bytes_of(2000, 2), bytes_of(3000, 3)};
  std::vector<storage::Manifest> ms;
  for (size_t i = 0; i < bodies.size(); ++i) {
    ms.push_back(node.s.put(node.s.ref(fmt::format("small/{}", i)), bodies[i], node.targets(),
                            i == 1 ? "application/json" : "application/octet-stream"));
  }
  node.s.put(node.s.ref("large"), bytes_of(20'000, 9), node.targets());
  node.start();

  REQUIRE(peer.wait([&] { return peer.count(kBatch) == 1 && peer.count(kSingle) == 1; }));
  REQUIRE(eventually([&] { return node.s.depth(peer.url()) == 0; }));
  PeerRequest b = peer.requests(kBatch)[0];
  CHECK(b.method == "PUT");
  CHECK(b.content_type == "application/octet-stream");
  CHECK(b.content_length == b.body.size());
  // The first frame by hand: u32 BE meta_len, u32 BE body_len, meta JSON, body.
  uint32_t meta_len = be32(b.body, 0);
  CHECK(be32(b.body, 4) == 1000);
  auto meta = nlohmann::json::parse(b.body.substr(8, meta_len));
  CHECK(meta == nlohmann::json{{"producer", "gradle"},
                               {"namespace_id", "proj"},
                               {"key", "small/0"},
                               {"content_type", "application/octet-stream"},
                               {"version_ms", ms[0].version_ms}});
  CHECK(b.body.substr(8 + meta_len, 1000) == bodies[0]);
  auto items = wire::parse_batch(b.body);
  REQUIRE(items.ok());
  REQUIRE(items->size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK((*items)[i].meta.key == fmt::format("small/{}", i));
    CHECK((*items)[i].meta.version_ms == ms[i].version_ms);
    CHECK((*items)[i].body == bodies[i]);
  }
  CHECK((*items)[1].meta.content_type == "application/json");
  CHECK(peer.requests(kSingle)[0].param("inline") == "false");
  CHECK(node.peer(peer.url()).delivered == 4);
  CHECK(node.metric(peer.url(), "delivered") == 4);
}

TEST_CASE("a peer without the batch route gets single PUTs from then on", "[push]") {
  FakePeer peer;
  peer.on("PUT /_internal/replicate/artifacts", [](const PeerRequest&) {
    return PeerAnswer{404, R"({"message":"not found"})"};
  });
  PushNode node(options_for(peer));
  std::map<std::string, std::string> sent;
  for (int i = 0; i < 3; ++i) {
    std::string key = fmt::format("k{}", i);
    sent[key] = bytes_of(500 + i, static_cast<uint8_t>(i));
    node.s.put(node.s.ref(key), sent[key], node.targets());
  }
  node.start();

  REQUIRE(peer.wait([&] { return peer.count(kSingle) == 3; }));
  REQUIRE(eventually([&] { return node.s.depth(peer.url()) == 0; }));
  for (const auto& r : peer.requests(kSingle)) {
    CHECK(r.param("inline") == "true");
    CHECK(r.body == sent[r.param("key")]);
  }
  PeerStatus p = node.peer(peer.url());
  CHECK_FALSE(p.batch_supported);
  CHECK(p.consecutive_failures == 0);  // a missing route is not a failure
  CHECK(p.delivered == 3);

  node.s.put(node.s.ref("k3"), "three", node.targets());
  node.s.put(node.s.ref("k4"), "four", node.targets());
  node.worker->wake();
  REQUIRE(peer.wait([&] { return peer.count(kSingle) == 5; }));
  CHECK(peer.count(kBatch) == 1);
}

TEST_CASE("an unknown producer is dropped for that peer and counted, the rest delivered",
          "[push]") {
  FakePeer peer;
  // A Kura peer: the batch route answers "error" for a producer it does not know, the single
  // route 400 "Invalid artifact producer".
  peer.on("PUT /_internal/replicate/artifacts", [](const PeerRequest& r) {
    auto items = wire::parse_batch(r.body);
    std::vector<std::string_view> outcomes;
    for (const auto& item : *items) {
      outcomes.push_back(item.meta.producer == "bazel" ? "error" : "applied");
    }
    return PeerAnswer{200, wire::encode_outcomes(outcomes)};
  });
  peer.on("PUT /_internal/replicate/artifact", [](const PeerRequest& r) {
    if (r.param("producer") == "bazel") {
      return PeerAnswer{400, R"({"message":"Invalid artifact producer"})"};
    }
    return PeerAnswer{204, {}};
  });
  PushNode node(options_for(peer));
  node.s.put(node.s.ref("ac/1", "", "bazel"), "bazel bytes", node.targets());
  node.s.put(node.s.ref("g1"), "gradle one", node.targets());
  node.s.put(node.s.ref("g2"), "gradle two", node.targets());
  node.start();

  REQUIRE(eventually([&] { return node.s.depth(peer.url()) == 0; }));
  CHECK(peer.count(kBatch) == 1);
  auto singles = peer.requests(kSingle);
  REQUIRE(singles.size() == 1);  // tried alone once, then dropped: never retried
  CHECK(singles[0].param("producer") == "bazel");
  CHECK(singles[0].param("namespace_id") == "");
  PeerStatus p = node.peer(peer.url());
  CHECK(p.dropped == 1);
  CHECK(p.delivered == 2);
  CHECK(p.consecutive_failures == 0);
  CHECK(node.metric(peer.url(), "dropped") == 1);
  CHECK(node.metric(peer.url(), "delivered") == 2);
}

TEST_CASE("a 400 to a single PUT drops the row instead of retrying it forever", "[push]") {
  FakePeer peer;
  peer.on("PUT /_internal/replicate/artifact", [](const PeerRequest&) {
    return PeerAnswer{400, R"({"message":"Missing key"})"};
  });
  PushNode node(options_for(peer));
  node.s.put(node.s.ref("big"), bytes_of(30'000, 5), node.targets());
  node.start();
  REQUIRE(eventually([&] { return node.s.depth(peer.url()) == 0; }));
  CHECK(peer.count(kSingle) == 1);
  CHECK(node.peer(peer.url()).dropped == 1);
  CHECK(node.metric(peer.url(), "dropped") == 1);
}

TEST_CASE("a namespace delete goes as DELETE with its version", "[push]") {
  FakePeer peer;
  PushNode node(options_for(peer));
  node.start();
  REQUIRE(eventually([&] { return node.peer(peer.url()).admission == "admitted"; }));
  int64_t version = 1'700'000'123'456;
  auto applied = node.s.store->delete_namespace("acme", "my proj", version, node.targets());
  REQUIRE(applied.ok());
  node.worker->wake();
  REQUIRE(peer.wait([&] { return peer.count(kNamespace) == 1; }));
  PeerRequest r = peer.requests(kNamespace)[0];
  CHECK(r.method == "DELETE");
  CHECK(r.query == fmt::format("namespace_id=my%20proj&version_ms={}", version));
  CHECK(r.body.empty());
  REQUIRE(eventually([&] { return node.s.depth(peer.url()) == 0; }));
  CHECK(node.peer(peer.url()).delivered == 1);
}

TEST_CASE("superseded rows and received copies are never sent", "[push]") {
  FakePeer peer;
  PushNode node(options_for(peer));
  auto ref = node.s.ref("key");
  node.s.put(ref, bytes_of(10'000, 1), node.targets());
  auto newer = node.s.put(ref, bytes_of(10'000, 2), node.targets());
  // A local write, then a newer copy received from another peer: nothing of it is forwarded.
  auto other = node.s.ref("other");
  auto local = node.s.put(other, bytes_of(10'000, 3), node.targets());
  node.s.apply(other, bytes_of(10'000, 4), local.version_ms + 1000);
  REQUIRE(node.s.depth(peer.url()) == 3);
  node.start();

  REQUIRE(eventually([&] { return node.s.depth(peer.url()) == 0; }));
  auto singles = peer.requests(kSingle);
  REQUIRE(singles.size() == 1);
  CHECK(singles[0].param("key") == "key");
  CHECK(singles[0].param("version_ms") == std::to_string(newer.version_ms));
  CHECK(singles[0].body == bytes_of(10'000, 2));
  CHECK(peer.count(kBatch) == 0);
}

TEST_CASE("a 5xx backs the target off, then the row is sent again", "[push]") {
  FakePeer peer;
  auto calls = std::make_shared<std::atomic<int>>(0);
  peer.on("PUT /_internal/replicate/artifact", [calls](const PeerRequest&) {
    if (calls->fetch_add(1) == 0) return PeerAnswer{503, R"({"message":"busy"})"};
    return PeerAnswer{204, {}};
  });
  PushNode node(options_for(peer));
  std::string body = bytes_of(20'000, 7);
  node.s.put(node.s.ref("k"), body, node.targets());
  node.start();

  REQUIRE(eventually([&] { return node.peer(peer.url()).consecutive_failures == 1; }));
  PeerStatus failing = node.peer(peer.url());
  CHECK(failing.last_error.find("503") != std::string::npos);
  CHECK(failing.last_error.find("busy") != std::string::npos);
  REQUIRE(failing.next_retry_ms.has_value());
  CHECK(node.metric(peer.url(), "failed") == 1);

  REQUIRE(eventually([&] { return node.s.depth(peer.url()) == 0; }));
  auto singles = peer.requests(kSingle);
  REQUIRE(singles.size() == 2);
  CHECK(singles[1].body == body);
  PeerStatus p = node.peer(peer.url());
  CHECK(p.consecutive_failures == 0);
  CHECK_FALSE(p.next_retry_ms.has_value());
}

}  // namespace meshcache::replication::test
