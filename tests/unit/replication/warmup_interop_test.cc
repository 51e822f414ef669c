// warmup_interop_test.cc: a node warms from another meshcache node's own backfill routes (the
// internal router over a real store), so both sides of the contract meet (test thread; the
// servers and the warm-up run their own).
#include <catch2/catch.hpp>

#include "warmup_support.h"

namespace meshcache::replication::test {
TEST_CASE("a node warms from a meshcache peer's backfill routes") {
  RouterPeer peer;
  std::vector<Item> items;
  int64_t version = 1'700'000'000'000;
  for (int i = 0; i < 300; ++i) {
    // 1 byte to ~600 KiB: inline and chunked bodies, several bodies batches' worth.
    size_t size = static_cast<size_t>(1 + (i * 7919) % (600 << 10));
    items.push_back(artifact("k" + std::to_string(i), bytes_of(size, static_cast<uint8_t>(i)),
                             version + i, i % 3 == 0 ? "gone" : "kept"));
    peer.source.put(items.back());
  }
  // Deletes the first 100 of namespace "gone" (versions at or below the tombstone).
  REQUIRE(peer.source.store->delete_namespace(kTenant, "gone", version + 150, {}).ok());

  Node node;
  Item older_local = artifact("k1", "an older local copy", version, "kept");
  node.local.put(older_local);
  node.start({peer.url()});
  WarmupStatus st = node.settle(60s);
  CHECK(st.state == "done");
  CHECK(st.last_error.empty());
  for (int i = 0; i < 300; ++i) {
    const Item& it = items[static_cast<size_t>(i)];
    bool deleted = i % 3 == 0 && it.version_ms <= version + 150;
    INFO("item " << i);
    if (deleted) {
      CHECK_FALSE(node.local.manifest_of(it));
    } else {
      CHECK(node.local.body_of(it) == it.body);
      CHECK(node.local.manifest_of(it)->version_ms == it.version_ms);
    }
  }
  auto tomb = node.local.store->namespace_tombstone(kTenant, "gone");
  REQUIRE(tomb.ok());
  CHECK(*tomb == version + 150);
  CHECK(st.records_done == st.records_known);
}

}  // namespace meshcache::replication::test
