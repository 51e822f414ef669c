// warmup_errors_test.cc: warm-up against peers that are busy, incapable, unreachable, hanging or
// sending broken frames (test thread; the warm-up runs its own).
#include <catch2/catch.hpp>

#include "warmup_support.h"

namespace meshcache::replication::test {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Script answer(int status, std::string body, std::vector<http::Header> headers = {}) {
  return [=](const PeerRequest&) {
    PeerAnswer a;
    a.status = status;
    a.body = body;
    a.headers = headers;
    return a;
  };
}

Script frames(std::string bytes) {
  return [bytes](const PeerRequest&) {
    PeerAnswer a;
    a.content_type = "application/octet-stream";
    a.body = bytes;
    return a;
  };
}

std::chrono::milliseconds gap(const PeerRequest& a, const PeerRequest& b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b.at - a.at);
}

}  // namespace

TEST_CASE("503 index_building is retried after a backoff, then the pass completes") {
  FakePeer peer;
  std::vector<Item> items = {artifact("a", "body a", now_ms())};
  peer.serve(items);
  auto shared = std::make_shared<const std::vector<Item>>(items);
  peer.sequence(
      kListing,
      {answer(503, R"({"error":"index_building","message":"backfill index is building"})"),
       listing_script(shared, 2048)});
  Node node;
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(st.state == "done");
  auto pages = peer.requests(kListing);
  REQUIRE(pages.size() == 2);
  CHECK(gap(pages[0], pages[1]) >= 240ms);
  CHECK(st.last_error.find("index_building") != std::string::npos);
  CHECK(node.local.body_of(items[0]) == "body a");
}

TEST_CASE("peer_busy waits at least Retry-After; 429 is backpressure") {
  FakePeer peer;
  std::vector<Item> items = {artifact("a", "body a", now_ms())};
  peer.serve(items);
  auto shared = std::make_shared<const std::vector<Item>>(items);
  peer.sequence(kBodies, {answer(503, R"({"error":"peer_busy","message":"one at a time"})",
                                 {{"retry-after", "1"}}),
                          answer(429, R"({"message":"slow down"})"), bodies_script(shared)});
  Node node;
  node.start({peer.url()});
  CHECK(node.settle().state == "done");
  auto batches = peer.requests(kBodies);
  REQUIRE(batches.size() == 3);
  CHECK(gap(batches[0], batches[1]) >= 990ms);
  CHECK(gap(batches[1], batches[2]) >= 490ms);  // the second failure in a row: 500 ms
  CHECK(batches[2].body == batches[0].body);
  CHECK(node.local.body_of(items[0]) == "body a");
}

TEST_CASE("a peer without the backfill API is not capable, which is not an error") {
  FakePeer peer;  // answers 404 everywhere
  Node node;
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(st.state == "done");
  CHECK(peer.requests(kListing).size() == 1);
  CHECK(node.settled.count() == 1);
}

TEST_CASE("an unreachable peer is given up on") {
  Node node;
  WarmupOptions options;
  options.give_up_after = 600ms;
  node.start({"http://127.0.0.1:1"}, options);
  WarmupStatus st = node.settle();
  CHECK(st.state == "gave_up");
  CHECK(st.last_error.find("127.0.0.1:1") != std::string::npos);
  CHECK(node.settled.count() == 1);
}

TEST_CASE("an unexpected status fails the pass") {
  FakePeer peer;
  peer.on(kListing, answer(500, R"({"message":"evaluation failed"})"));
  Node node;
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(st.state == "gave_up");
  CHECK(st.last_error.find("HTTP 500: evaluation failed") != std::string::npos);
  CHECK(peer.requests(kListing).size() == 1);
}

TEST_CASE("garbage listings fail the pass") {
  FakePeer peer;
  SECTION("not JSON") { peer.on(kListing, answer(200, "<html>")); }
  SECTION("a cursor that does not advance") {
    peer.on(kListing, answer(200, R"({"entries":[],"next_after":"6261"})"));
  }
  Node node;
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(st.state == "gave_up");
  CHECK_FALSE(st.last_error.empty());
}

TEST_CASE("broken bodies responses are errors and store no partial artifact") {
  FakePeer peer;
  int64_t now = now_ms();
  Item a = artifact("a", bytes_of(1000, 1), now);
  Item b = artifact("b", bytes_of(1000, 2), now - 1000);
  peer.serve({a, b});
  std::string fa = present_frame(a), fb = present_frame(b);
  // Whether a's or b's whole frame came before the fault (then it is applied).
  bool a_complete = false, b_complete = false;

  SECTION("the stream ends inside a body") {
    a_complete = true;
    peer.on(kBodies, frames(fa + fb.substr(0, fb.size() - 10)));
  }
  SECTION("frames out of order") { peer.on(kBodies, frames(fb + fa)); }
  SECTION("a frame missing") {
    a_complete = true;
    peer.on(kBodies, frames(fa));
  }
  SECTION("a frame too many") {
    a_complete = b_complete = true;
    peer.on(kBodies, frames(fa + fb + fb));
  }
  SECTION("bad meta JSON") {
    wire::FrameHeader h;
    h.kind = 1;
    h.version_ms = static_cast<uint64_t>(now);
    h.body_len = 3;
    peer.on(kBodies, frames(wire::frame_prefix(h, a.record_id(), "{not json") + "abc" + fb));
  }
  SECTION("a header of all ones") { peer.on(kBodies, frames(std::string(4096, '\xff'))); }
  SECTION("a body length past any limit") {
    wire::FrameHeader h;
    h.kind = 1;
    h.version_ms = static_cast<uint64_t>(now);
    h.body_len = ~uint64_t{0};
    std::string f = wire::frame_prefix(h, a.record_id(), wire::encode_frame_meta(a.meta));
    peer.on(kBodies, frames(f + std::string(100000, 'x')));
  }
  SECTION("a tombstone kind presented as a body") {
    Item t = a;
    t.kind = storage::BackfillKind::tombstone;
    wire::FrameHeader h;
    h.kind = 3;
    h.version_ms = static_cast<uint64_t>(now);
    h.body_len = a.body.size();
    peer.on(kBodies, frames(wire::frame_prefix(h, a.record_id(), wire::encode_frame_meta(a.meta)) +
                            a.body + fb));
  }

  Node node;
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(st.state == "gave_up");
  CHECK_FALSE(st.last_error.empty());
  CHECK(node.settled.count() == 1);
  CHECK(static_cast<bool>(node.local.manifest_of(a)) == a_complete);
  if (a_complete) CHECK(node.local.body_of(a) == a.body);
  CHECK(static_cast<bool>(node.local.manifest_of(b)) == b_complete);
}

TEST_CASE("FetchIndividually again from /artifacts is an error") {
  FakePeer peer;
  Item a = artifact("a", "body a", now_ms());
  a.disposition = wire::Disposition::fetch_individually;
  peer.serve({a});
  peer.on(kArtifacts, frames(empty_frame(wire::Disposition::fetch_individually, a.record_id(), 1,
                                         a.version_ms)));
  Node node;
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(st.state == "gave_up");
  CHECK(st.last_error.find("FetchIndividually") != std::string::npos);
  CHECK(peer.requests(kArtifacts).size() == 1);
  CHECK_FALSE(node.local.manifest_of(a));
}

TEST_CASE("an artifact gone since it was listed is resolved") {
  FakePeer peer;
  Item a = artifact("a", "body a", now_ms());
  a.disposition = wire::Disposition::fetch_individually;
  peer.serve({a});
  peer.on(kArtifacts, answer(404, R"({"message":"Not found"})"));
  Node node;
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(st.state == "done");
  CHECK(st.records_done == 1);
}

TEST_CASE("stop() aborts a hanging transfer promptly and never settles") {
  FakePeer peer;
  peer.on(kListing, [](const PeerRequest&) {
    PeerAnswer a;
    a.never = true;
    return a;
  });
  Node node;
  node.start({peer.url()});
  REQUIRE(peer.wait_requests(kListing, 1));
  auto before = std::chrono::steady_clock::now();
  node.warmup->stop();
  CHECK(std::chrono::steady_clock::now() - before < 2s);
  CHECK(node.warmup->status().state == "running");
  CHECK(node.settled.count() == 0);
}

}  // namespace meshcache::replication::test
