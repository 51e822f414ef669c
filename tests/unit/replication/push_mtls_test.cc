// push_mtls_test.cc: the push worker over the mTLS internal plane: HTTP/2, its certificate
// presented, the peer's checked against the account CA (test thread; the fake peer answers on
// its own I/O thread).
#include <catch2/catch.hpp>

#include "push_support.h"
#include "replication/wire.h"

namespace meshcache::replication::test {

TEST_CASE("over mTLS the worker speaks h2 with its certificate, batches and streams", "[push]") {
  TestMesh mesh;
  FakePeer peer("acme", mesh.pem(mesh.identity("peer")));
  PushOptions o;
  o.static_peers = {peer.url()};
  o.identity = mesh.identity("node");
  PushNode node(o);
  std::string large = bytes_of(300'000, 1);
  node.s.put(node.s.ref("large"), large, node.targets());
  node.s.put(node.s.ref("s1"), "one", node.targets());
  node.s.put(node.s.ref("s2"), "two", node.targets());
  node.start();

  REQUIRE(eventually([&] { return node.s.depth(peer.url()) == 0; }));
  auto singles = peer.requests("/_internal/replicate/artifact");
  auto batches = peer.requests("/_internal/replicate/artifacts");
  REQUIRE(singles.size() == 1);
  REQUIRE(batches.size() == 1);
  CHECK(singles[0].body == large);
  CHECK(singles[0].protocol == http::Protocol::h2);
  CHECK(batches[0].protocol == http::Protocol::h2);
  auto items = wire::parse_batch(batches[0].body);
  REQUIRE(items.ok());
  REQUIRE(items->size() == 2);
  CHECK((*items)[1].body == "two");
  CHECK(node.peer(peer.url()).delivered == 3);
}

TEST_CASE("a peer whose certificate is from another CA is never admitted", "[push]") {
  TestMesh mesh;
  TestMesh stranger;
  FakePeer peer("acme", stranger.pem(stranger.identity("peer")));
  PushOptions o;
  o.static_peers = {peer.url()};
  o.identity = mesh.identity("node");
  PushNode node(o);
  node.s.put(node.s.ref("k"), "bytes", node.targets());
  node.start();

  REQUIRE(eventually([&] { return node.first_round().has_value(); }));
  CHECK(node.first_round()->empty());
  PeerStatus p = node.peer(peer.url());
  CHECK(p.admission == "pending");
  CHECK(p.reason.find("unreachable") != std::string::npos);
  CHECK(peer.requests().empty());  // refused at the handshake, both ways
  CHECK(node.s.depth(peer.url()) == 1);
}

}  // namespace meshcache::replication::test
