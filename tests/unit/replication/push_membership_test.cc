// push_membership_test.cc: who the push worker sends to (membership by /_internal/status,
// tenant and self checks, control-plane peers) and how a target that was down catches up (test
// thread; the fake peers answer on their own I/O threads).
#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "push_support.h"
#include "replication/wire.h"

namespace meshcache::replication::test {
namespace {

constexpr const char* kStatus = "/_internal/status";

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Every artifact a peer received, by key, from single PUTs and batches alike.
std::map<std::string, std::string> received(const FakePeer& peer) {
  std::map<std::string, std::string> out;
  for (const auto& r : peer.requests("/_internal/replicate/artifact")) out[r.param("key")] = r.body;
  for (const auto& r : peer.requests("/_internal/replicate/artifacts")) {
    auto items = wire::parse_batch(r.body);
    REQUIRE(items.ok());
    for (const auto& item : *items) out[item.meta.key] = std::string(item.body);
  }
  return out;
}

}  // namespace

TEST_CASE("membership admits this tenant's peers only, and never calls this node", "[push]") {
  FakePeer ok;
  FakePeer other("globex");
  FakePeer self;     // this node's own URL, listed among the peers by mistake
  FakePeer fronted;  // advertises this node's own gateway URL
  fronted.advertise("https://gateway.example");
  PushOptions o;
  o.node_url = self.url();
  o.gateway_url = "https://gateway.example";
  o.static_peers = {ok.url(), other.url(), self.url(), fronted.url(), "https://gateway.example"};
  PushNode node(o);

  auto before = node.targets();
  std::sort(before.begin(), before.end());
  std::vector<std::string> expected = {ok.url(), other.url(), fronted.url()};
  std::sort(expected.begin(), expected.end());
  CHECK(before == expected);  // the unpolled are targets already: nothing is lost meanwhile
  node.s.put(node.s.ref("a"), bytes_of(10'000, 1), node.targets());
  REQUIRE(node.s.depth(other.url()) == 1);
  node.start();

  REQUIRE(eventually([&] { return node.first_round().has_value(); }));
  CHECK(*node.first_round() == std::vector<std::string>{ok.url()});
  CHECK(node.first_round_calls() == 1);
  CHECK(node.targets() == std::vector<std::string>{ok.url()});

  PeerStatus rejected = node.peer(other.url());
  CHECK(rejected.admission == "rejected");
  CHECK(rejected.tenant_id == "globex");
  CHECK(rejected.reason.find("globex") != std::string::npos);
  PeerStatus gw = node.peer(fronted.url());
  CHECK(gw.admission == "rejected");
  CHECK(gw.node_url == "https://gateway.example");
  // Their queued rows are dropped and counted; the admitted peer gets its copy.
  REQUIRE(eventually([&] {
    return node.s.depth(other.url()) == 0 && node.s.depth(fronted.url()) == 0 &&
           node.s.depth(ok.url()) == 0;
  }));
  CHECK(node.peer(other.url()).dropped == 1);
  CHECK(node.metric(other.url(), "dropped") == 1);
  CHECK(received(ok).count("a") == 1);
  CHECK(received(other).empty());
  CHECK(received(fronted).empty());

  PeerStatus admitted = node.peer(ok.url());
  CHECK(admitted.admission == "admitted");
  CHECK(admitted.source == "static");
  CHECK(admitted.tenant_id == "acme");
  CHECK(admitted.node_url == ok.url());
  auto all = node.worker->peers();
  CHECK(all.size() == 3);
  CHECK(std::none_of(all.begin(), all.end(),
                     [&](const PeerStatus& p) { return p.url == self.url(); }));
  // Another round has come and gone: still not a single request to this node itself.
  size_t polls = ok.count(kStatus);
  REQUIRE(ok.wait([&] { return ok.count(kStatus) > polls; }, std::chrono::seconds(5)));
  CHECK(self.requests().empty());
}

TEST_CASE("rows go to the node_url a peer advertises, keyed by the configured URL", "[push]") {
  FakePeer listed;      // the URL in the configuration (a gateway's direct address, say)
  FakePeer advertised;  // where it says it is reached
  listed.advertise(advertised.url());
  PushOptions o;
  o.static_peers = {listed.url()};
  PushNode node(o);
  node.s.put(node.s.ref("k"), bytes_of(6000, 1), node.targets());
  node.start();
  REQUIRE(advertised.wait([&] { return received(advertised).count("k") == 1; }));
  REQUIRE(eventually([&] { return node.s.depth(listed.url()) == 0; }));
  CHECK(*node.first_round() == std::vector<std::string>{advertised.url()});
  CHECK(node.peer(listed.url()).node_url == advertised.url());
  CHECK(received(listed).empty());
  CHECK(advertised.count(kStatus) == 0);  // membership asks the configured URL only
}

TEST_CASE("the self check is exact string equality", "[push]") {
  FakePeer self;
  PushOptions o;
  o.node_url = self.url();
  o.static_peers = {self.url() + "/"};  // not equal: polled, then rejected for what it says
  PushNode node(o);
  node.start();
  REQUIRE(eventually([&] { return node.peer(self.url() + "/").admission == "rejected"; }));
  CHECK(node.peer(self.url() + "/").reason.find("own URL") != std::string::npos);
  CHECK(self.count(kStatus) >= 1);
  CHECK(self.count("/_internal/replicate/artifact") == 0);
  CHECK(node.targets().empty());
}

TEST_CASE("an unreachable peer stays pending and keeps its rows until it answers", "[push]") {
  FakePeer ok;
  FakePeer down;
  down.stop();
  PushOptions o;
  o.static_peers = {ok.url(), down.url()};
  o.membership_interval = std::chrono::milliseconds(200);
  PushNode node(o);
  node.start();

  REQUIRE(eventually([&] { return node.first_round().has_value(); }));
  CHECK(*node.first_round() == std::vector<std::string>{ok.url()});
  PeerStatus p = node.peer(down.url());
  CHECK(p.admission == "pending");
  CHECK(p.reason.find("unreachable") != std::string::npos);
  CHECK(node.targets().size() == 2);

  std::string body = bytes_of(9000, 2);
  node.s.put(node.s.ref("queued"), body, node.targets());
  node.worker->wake();
  REQUIRE(eventually([&] { return node.s.depth(ok.url()) == 0; }));
  CHECK(node.s.depth(down.url()) == 1);

  down.restart();
  REQUIRE(down.wait([&] { return received(down).count("queued") == 1; }));
  CHECK(received(down)["queued"] == body);
  REQUIRE(eventually([&] { return node.s.depth(down.url()) == 0; }));
  CHECK(node.peer(down.url()).admission == "admitted");
}

TEST_CASE("control-plane peers join and leave the candidates", "[push]") {
  FakePeer cp_peer;
  FakePeer gone;
  gone.stop();
  PushOptions o;
  PushNode node(o);
  node.start();
  REQUIRE(eventually([&] { return node.first_round().has_value(); }));
  CHECK(node.first_round()->empty());

  node.worker->set_control_plane_peers({cp_peer.url(), gone.url()});
  REQUIRE(eventually([&] { return node.peer(cp_peer.url()).admission == "admitted"; }));
  CHECK(node.peer(cp_peer.url()).source == "control-plane");
  node.s.put(node.s.ref("k"), "bytes", node.targets());
  node.worker->wake();
  REQUIRE(cp_peer.wait([&] { return received(cp_peer).count("k") == 1; }));
  CHECK(node.s.depth(gone.url()) == 1);

  // A peer that leaves the control plane's list leaves the mesh: its rows go too.
  node.worker->set_control_plane_peers({cp_peer.url()});
  REQUIRE(eventually([&] { return node.s.depth(gone.url()) == 0; }));
  CHECK(node.targets() == std::vector<std::string>{cp_peer.url()});
  CHECK(node.worker->peers().size() == 1);
}

TEST_CASE("a target that comes back drains its backlog at once, not after its backoff", "[push]") {
  FakePeer peer;
  PushOptions o;
  o.static_peers = {peer.url()};
  PushNode node(o);
  node.start();
  REQUIRE(eventually([&] { return node.peer(peer.url()).admission == "admitted"; }));

  peer.stop();
  std::map<std::string, std::string> sent;
  for (int i = 0; i < 200; ++i) {
    std::string key = fmt::format("backlog/{}", i);
    sent[key] = bytes_of(i % 10 == 0 ? 20'000 : 1000 + i, static_cast<uint8_t>(i));
    node.s.put(node.s.ref(key), sent[key], node.targets());
  }
  node.worker->wake();
  // Three failed attempts: the next step is 4-8 s away.
  REQUIRE(eventually([&] { return node.peer(peer.url()).consecutive_failures >= 3; },
                     std::chrono::seconds(20)));
  PeerStatus backing_off = node.peer(peer.url());
  REQUIRE(backing_off.next_retry_ms.has_value());
  CHECK(node.s.depth(peer.url()) == 200);

  int64_t back = unix_ms();
  peer.restart();
  REQUIRE(eventually([&] { return node.s.depth(peer.url()) == 0; }));
  int64_t drained = unix_ms();
  INFO("drained " << drained - back << " ms after the peer came back; the backoff step ended "
                  << *backing_off.next_retry_ms - back << " ms after");
  CHECK(drained < *backing_off.next_retry_ms);
  CHECK(drained - back < 2500);
  CHECK(received(peer) == sent);
  PeerStatus p = node.peer(peer.url());
  CHECK(p.consecutive_failures == 0);
  CHECK(p.delivered == 200);
}

}  // namespace meshcache::replication::test
