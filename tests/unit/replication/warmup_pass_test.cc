// warmup_pass_test.cc: a warm-up pass against a fake Kura-like peer: paging, the budget and
// horizon, what is fetched and how, tombstones, LWW (test thread; the warm-up runs its own).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "warmup_support.h"

namespace meshcache::replication::test {
namespace {

using Json = nlohmann::json;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `n` artifacts newest first, one second apart, of `size` bytes each.
std::vector<Item> artifacts(size_t n, size_t size = 1000, int64_t newest = now_ms()) {
  std::vector<Item> items;
  for (size_t i = 0; i < n; ++i) {
    items.push_back(artifact("k" + std::to_string(i), bytes_of(size, static_cast<uint8_t>(i)),
                             newest - static_cast<int64_t>(i) * 1000));
  }
  return items;
}

std::vector<std::string> requested_ids(const PeerRequest& bodies) {
  std::vector<std::string> ids;
  Json doc = Json::parse(bodies.body);
  for (const auto& e : doc.at("entries")) ids.push_back(e.at("record_id"));
  return ids;
}

std::vector<std::string> all_requested_ids(const FakePeer& peer) {
  std::vector<std::string> ids;
  for (const PeerRequest& r : peer.requests(kBodies)) {
    for (auto& id : requested_ids(r)) ids.push_back(id);
  }
  return ids;
}

}  // namespace

TEST_CASE("warm-up pages the listing newest first, echoing cursors verbatim, and stores all") {
  FakePeer peer;
  std::vector<Item> items = artifacts(5);
  peer.serve(items, 2);
  Node node;
  node.start({peer.url()});
  WarmupStatus st = node.settle();

  auto pages = peer.requests(kListing);
  REQUIRE(pages.size() == 3);
  CHECK(pages[0].param("limit") == "2048");
  CHECK_FALSE(pages[0].param("after"));
  // The fake issues upper-case hex cursors and refuses any other spelling.
  CHECK(pages[1].param("after") == "6261636B66696C6C2F6964782F32");
  CHECK(pages[2].param("after") == "6261636B66696C6C2F6964782F34");

  // Bodies are asked for newest first, each with the fields Kura expects.
  std::vector<std::string> want;
  for (const Item& i : items) want.push_back(i.record_id());
  CHECK(all_requested_ids(peer) == want);
  Json first = Json::parse(peer.requests(kBodies)[0].body).at("entries")[0];
  CHECK(first.at("record_kind") == "segment_artifact");
  CHECK(first.at("version_ms") == items[0].version_ms);
  CHECK(peer.max_in_flight(kBodies) == 1);

  for (const Item& i : items) {
    auto m = node.local.manifest_of(i);
    REQUIRE(m);
    CHECK(m->version_ms == i.version_ms);
    CHECK(m->origin == storage::Origin::replica);
    CHECK(m->content_type == "application/octet-stream");
    CHECK(node.local.body_of(i) == i.body);
  }
  CHECK(st.state == "done");
  CHECK(st.records_known == 5);
  CHECK(st.records_done == 5);
  CHECK(st.bytes_known == 5000);
  CHECK(st.bytes_done == 5000);
  CHECK(st.started_ms);
  CHECK(st.finished_ms >= st.started_ms);
  CHECK(st.last_error.empty());
  CHECK(node.applies("applied") == 5);
  CHECK(node.settled.count() == 1);
}

TEST_CASE("warm-up stops listing at the byte budget") {
  FakePeer peer;
  std::vector<Item> items = artifacts(6, 100);
  peer.serve(items, 2);
  Node node;
  WarmupOptions options;
  options.budget_bytes = 250;
  node.start({peer.url()}, options);
  WarmupStatus st = node.settle();
  CHECK(st.state == "done");
  // Page 2 shows that a third artifact would pass the budget: no third page.
  CHECK(peer.requests(kListing).size() == 2);
  CHECK(node.local.body_of(items[0]) == items[0].body);
  CHECK(node.local.body_of(items[1]) == items[1].body);
  for (size_t i = 2; i < items.size(); ++i) CHECK_FALSE(node.local.manifest_of(items[i]));
  CHECK(st.bytes_known == 200);
}

TEST_CASE("warm-up stops listing at the horizon") {
  FakePeer peer;
  int64_t now = now_ms();
  std::vector<Item> items = {
      artifact("new", "n", now - 1000), artifact("hour", "h", now - 3'600'000),
      artifact("old", "o", now - 3 * 3'600'000), artifact("older", "o", now - 4 * 3'600'000)};
  peer.serve(items, 10);
  Node node;
  WarmupOptions options;
  options.horizon = std::chrono::hours(2);
  node.start({peer.url()}, options);
  CHECK(node.settle().state == "done");
  CHECK(node.local.manifest_of(items[0]));
  CHECK(node.local.manifest_of(items[1]));
  CHECK_FALSE(node.local.manifest_of(items[2]));
  CHECK(all_requested_ids(peer).size() == 2);
}

TEST_CASE("records already held at the listed version or newer are not fetched") {
  FakePeer peer;
  std::vector<Item> items = artifacts(3);
  peer.serve(items);
  Node node;
  node.local.put(items[0]);  // same version
  Item newer = items[1];
  newer.version_ms += 5000;
  newer.body = "local and newer";
  node.local.put(newer);
  Item older = items[2];
  older.version_ms -= 5000;
  older.body = "local but older";
  node.local.put(older);
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(all_requested_ids(peer) == std::vector<std::string>{items[2].record_id()});
  CHECK(node.local.body_of(items[1]) == "local and newer");
  CHECK(node.local.body_of(items[2]) == items[2].body);
  CHECK(st.records_known == 1);
}

TEST_CASE("Present, Absent and FetchIndividually frames") {
  FakePeer peer;
  std::vector<Item> items = artifacts(3);
  items[1].disposition = wire::Disposition::absent;
  items[2].disposition = wire::Disposition::fetch_individually;
  peer.serve(items);
  Node node;
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(st.state == "done");
  CHECK(node.local.body_of(items[0]) == items[0].body);
  CHECK_FALSE(node.local.manifest_of(items[1]));
  CHECK(node.local.body_of(items[2]) == items[2].body);
  auto singles = peer.requests(kArtifacts);
  REQUIRE(singles.size() == 1);
  CHECK(singles[0].raw_path == std::string(kArtifacts) + items[2].record_id());
  CHECK(singles[0].method == "GET");
  CHECK(st.records_done == 3);
  CHECK(node.applies("applied") == 2);
}

TEST_CASE("large entries are fetched one by one, the rest in batches of at most 32 MiB") {
  FakePeer peer;
  std::vector<Item> items = artifacts(5);
  // What the listing says decides the batching; the bodies themselves can stay small.
  items[0].listed_size = 20 << 20;
  items[1].listed_size = 20 << 20;
  items[2].listed_size = 40 << 20;  // over a batch: GET /artifacts/{id}
  items[3].listed_size = 6 << 20;
  items[4].listed_size = 6 << 20;
  peer.serve(items);
  Node node;
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(st.state == "done");
  auto batches = peer.requests(kBodies);
  REQUIRE(batches.size() == 2);
  CHECK(requested_ids(batches[0]) == std::vector<std::string>{items[0].record_id()});
  CHECK(requested_ids(batches[1]) ==
        std::vector<std::string>{items[1].record_id(), items[3].record_id(), items[4].record_id()});
  CHECK(peer.max_in_flight(kBodies) == 1);
  auto singles = peer.requests(kArtifacts);
  REQUIRE(singles.size() == 1);
  CHECK(singles[0].path == std::string(kArtifacts) + items[2].record_id());
  for (const Item& i : items) CHECK(node.local.body_of(i) == i.body);
  CHECK(st.bytes_done == st.bytes_known);
}

TEST_CASE("a tombstone in the listing is applied as a namespace delete") {
  FakePeer peer;
  int64_t now = now_ms();
  Item held = artifact("held", "held before", now - 10'000, "gone");
  Item late = artifact("late", "older than the delete", now - 5000, "gone");
  Item fresh = artifact("fresh", "newer than the delete", now - 1000, "gone");
  std::vector<Item> items = {fresh, tombstone("gone", now - 2000), late};
  peer.serve(items);
  Node node;
  node.local.put(held);
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(st.state == "done");
  auto stored = node.local.store->namespace_tombstone(kTenant, "gone");
  REQUIRE(stored.ok());
  CHECK(*stored == now - 2000);
  CHECK_FALSE(node.local.manifest_of(held));
  CHECK_FALSE(node.local.manifest_of(late));
  CHECK(node.local.body_of(fresh) == fresh.body);
  for (const std::string& id : all_requested_ids(peer)) CHECK(id != "gone");
  CHECK(node.applies("ignored_tombstone") == 1);
  CHECK(st.records_done == 3);
}

TEST_CASE("frames apply with their own version and meta through the LWW gate") {
  FakePeer peer;
  int64_t now = now_ms();
  Item local = artifact("k", "local copy", now - 1000);
  Item listed = local;
  listed.version_ms = now;  // the listing says newer...
  Item sent = local;
  sent.version_ms = now - 2000;  // ...the frame carries an older current version
  sent.body = "peer copy";
  peer.serve({listed});
  peer.on(kBodies, [sent](const PeerRequest&) {
    PeerAnswer a;
    a.body = present_frame(sent);
    return a;
  });
  Node node;
  node.local.put(local);
  node.start({peer.url()});
  CHECK(node.settle().state == "done");
  CHECK(node.local.body_of(local) == "local copy");
  CHECK(node.applies("ignored_stale") == 1);
}

TEST_CASE("an inline body over 4 MiB is discarded as absent") {
  FakePeer peer;
  Item big = artifact("big", bytes_of((4 << 20) + 1, 9), now_ms());
  big.kind = storage::BackfillKind::inline_body;
  Item small = artifact("small", "fine", now_ms() - 1000);
  small.kind = storage::BackfillKind::inline_body;
  peer.serve({big, small});
  Node node;
  node.start({peer.url()});
  WarmupStatus st = node.settle();
  CHECK(st.state == "done");
  CHECK_FALSE(node.local.manifest_of(big));
  CHECK(node.local.body_of(small) == "fine");
  CHECK(st.records_done == 2);
}

TEST_CASE("a frame built by hand, byte for byte, is applied") {
  FakePeer peer;
  Item item = artifact("hand", "hand-made body", 0x0000018BCFE56800);
  peer.serve({item});
  peer.on(kBodies, [item](const PeerRequest&) {
    std::string meta =
        R"({"producer":"gradle","namespace_id":"proj","key":"hand","content_type":"text/x"})";
    std::string id = item.record_id();
    std::string f;
    f += '\x01';                                              // kind: segment
    f += '\x00';                                              // Present
    f += std::string("\x00\x40", 2);                          // id_len 64
    f += std::string("\x00\x00\x01\x8B\xCF\xE5\x68\x00", 8);  // version_ms
    f += static_cast<char>(meta.size() >> 8);                 // meta_len
    f += static_cast<char>(meta.size() & 0xff);
    f += std::string("\x00\x00\x00\x00\x00\x00\x00\x0E", 8);  // body_len 14
    PeerAnswer a;
    a.body = f + id + meta + "hand-made body";
    return a;
  });
  Node node;
  node.start({peer.url()});
  CHECK(node.settle().state == "done");
  auto m = node.local.manifest_of(item);
  REQUIRE(m);
  CHECK(m->version_ms == 0x0000018BCFE56800);
  CHECK(m->content_type == "text/x");
  CHECK(node.local.body_of(item) == "hand-made body");
}

TEST_CASE("warm-up from two peers; one without the backfill API is skipped") {
  FakePeer capable, old;
  std::vector<Item> items = artifacts(3);
  capable.serve(items);
  Node node;
  node.start({old.url(), capable.url() + "/"});
  WarmupStatus st = node.settle();
  CHECK(st.state == "done");
  CHECK(old.requests(kListing).size() == 1);
  CHECK(old.requests(kBodies).empty());
  for (const Item& i : items) CHECK(node.local.body_of(i) == i.body);
}

TEST_CASE("warm-up over TLS with the node's identity (h2 by ALPN)") {
  FakePeer peer(true);
  std::vector<Item> items = artifacts(40, 20000);
  items[7].disposition = wire::Disposition::fetch_individually;
  items[9].listed_size = 33 << 20;
  peer.serve(items, 8);
  Node node;
  WarmupOptions options;
  options.identity = peer.client_identity();
  node.start({peer.url()}, options);
  WarmupStatus st = node.settle();
  CHECK(st.state == "done");
  auto pages = peer.requests(kListing);
  REQUIRE(pages.size() == 5);
  CHECK(pages[0].protocol == http::Protocol::h2);
  CHECK(peer.requests(kArtifacts).size() == 2);
  for (const Item& i : items) CHECK(node.local.body_of(i) == i.body);
}

TEST_CASE("an untrusted peer certificate fails every attempt") {
  FakePeer peer(true);
  peer.serve(artifacts(1));
  Node node;
  WarmupOptions options;
  options.give_up_after = 300ms;  // no identity: the peer's CA is not trusted
  node.start({peer.url()}, options);
  WarmupStatus st = node.settle();
  CHECK(st.state == "gave_up");
  CHECK(peer.requests(kListing).empty());
}

TEST_CASE("with no peers warm-up settles at once") {
  Node node;
  node.start({});
  WarmupStatus st = node.settle();
  CHECK(st.state == "done");
  CHECK(st.records_known == 0);
  CHECK(node.settled.count() == 1);
}

}  // namespace meshcache::replication::test
