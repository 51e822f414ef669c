"""test_mesh_lww.py: last-writer-wins across three meshcache nodes and a scripted Kura peer over
mTLS: concurrent writes of one key on two nodes converge to the newer version everywhere; a
namespace delete tombstones the namespace on every node (Kura gets version_ms), blocks older and
equal late arrivals on the single and batch routes, and lets newer ones through."""

import unittest

import harness
import kura_peer
import mesh

NS = "proj-lww"


def wait_clock_past(ms):
    """Busy-waits (a few ms at most) until the wall clock is past ms, so two writes cannot share
    a version_ms (a tie keeps each node's own copy, by design)."""
    harness.wait_until(lambda: mesh.now_ms() > ms, 1, 0.001, "the clock to move")


class LwwTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ca = mesh.MeshCA()
        pa, pb, pc, pk = mesh.free_ports(4)
        urls = [f"https://127.0.0.1:{p}" for p in (pa, pb, pc)]
        cls.kura_url = f"https://127.0.0.1:{pk}"
        cls.kura = kura_peer.KuraPeer(tls=cls.ca.issue(cls.kura_url).files, port=pk)
        cls.nodes = [mesh.MeshNode(name, port, peers=[u for u in urls if u != own] + [cls.kura_url], ca=cls.ca)
                     for name, port, own in zip("abc", (pa, pb, pc), urls)]
        mesh.start_all(cls.nodes)
        for n in cls.nodes:
            n.wait_admitted([u for u in urls if u != n.node_url] + [cls.kura_url])
        cls.a, cls.b, cls.c = cls.nodes
        cls.tester = cls.ca.issue("https://127.0.0.1:1")

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.stop()
        cls.kura.close()

    def drain_all(self):
        for n in self.nodes:
            n.wait_drained(30)

    def listed(self, node, aid):
        return {e["record_id"]: e for e in node.client(self.tester).list_all()}.get(aid)

    def test_concurrent_writes_converge_to_the_newer(self):
        for i, (first, second) in enumerate(((self.a, self.b), (self.b, self.a), (self.c, self.a))):
            key = f"contended-{i}"
            older, newer = mesh.body_of(3000 + i, f"old-{i}"), mesh.body_of(50000 + i, f"new-{i}")
            mesh.put_gradle(first, key, older)
            wait_clock_past(mesh.now_ms())
            mesh.put_gradle(second, key, newer)  # before or after the first copy arrives: it is newer
            path = mesh.gradle_path(key)
            for n in self.nodes:
                mesh.wait_served(n, path, newer)
            harness.wait_until(lambda: (a := self.kura.artifact("gradle", "", key)) and a.body == newer, 30,
                               message=f"kura to hold the newer {key}")
            self.drain_all()
            aid = kura_peer.artifact_id("gradle", "default", "", key)
            versions = {n.name: self.listed(n, aid)["version_ms"] for n in self.nodes}
            self.assertEqual(len(set(versions.values())), 1, versions)
            self.assertEqual(self.kura.artifact("gradle", "", key).version_ms, versions["a"])
            for n in self.nodes:  # still the newer one once everything settled
                self.assertTrue(mesh.served(n, path, newer), n.name)

    def test_namespace_delete_tombstones_and_blocks_late_arrivals(self):
        keys = {f"k{i}": mesh.body_of(1000 * (i + 1), f"ns-{i}") for i in range(3)}
        keys["big"] = mesh.body_of(200 * 1024, "ns-big")
        for key, body in keys.items():
            mesh.put_gradle(self.a, key, body, NS)
        kept = mesh.body_of(1234, "kept")
        mesh.put_gradle(self.a, "kept", kept, "other-ns")
        for n in (self.b, self.c):
            for key, body in keys.items():
                mesh.wait_served(n, mesh.gradle_path(key, NS), body)
        self.drain_all()

        before = mesh.now_ms()
        r = self.a.request("DELETE", "/api/cache/namespace?namespace_id=" + NS)
        self.assertEqual(r.status, 204, r)
        for n in self.nodes:
            for key in keys:
                mesh.wait_missing(n, mesh.gradle_path(key, NS))
            self.assertTrue(mesh.served(n, mesh.gradle_path("kept", "other-ns"), kept))
        self.drain_all()
        tomb = self.listed(self.b, NS)
        self.assertIsNotNone(tomb, "no tombstone in b's listing")
        self.assertEqual(tomb["record_kind"], "namespace_tombstone")
        t = tomb["version_ms"]
        self.assertGreaterEqual(t, before)
        for n in (self.a, self.c):
            self.assertEqual(self.listed(n, NS)["version_ms"], t)
        deletes = self.kura.requests("/_internal/replicate/namespace")
        self.assertEqual([(r.params["namespace_id"], int(r.params["version_ms"])) for r in deletes], [(NS, t)])
        self.assertEqual(self.kura.violations(), [])

        # Late arrivals on b (say from a peer whose outbox was stuck): older and equal versions
        # are ignored on both routes, newer ones applied.
        c = self.b.client(self.tester)
        ignored_before = self.b.applies("ignored_tombstone")
        self.assertEqual(c.push("gradle", NS, "k0", b"late-older", t - 1).status, 204)
        self.assertEqual(c.push("gradle", NS, "k1", b"late-equal", t).status, 204)
        item = lambda key, v, body: ({"producer": "gradle", "namespace_id": NS, "key": key,
                                     "content_type": "application/octet-stream", "version_ms": v}, body)
        r, outcomes = c.push_batch([item("k2", t - 5, b"late-batch"), item("k0", t, b"late-batch-equal"),
                                    item("fresh-batch", t + 1, b"newer-batch")])
        self.assertEqual(outcomes, ["ignored_tombstone", "ignored_tombstone", "applied"], r)
        for key in ("k0", "k1", "k2"):
            self.assertEqual(self.b.get(mesh.gradle_path(key, NS)).status, 404, key)
        self.assertEqual(self.b.applies("ignored_tombstone") - ignored_before, 4)
        self.assertEqual(c.push("gradle", NS, "fresh", b"newer-single", t + 1).status, 204)
        self.assertTrue(mesh.served(self.b, mesh.gradle_path("fresh", NS), b"newer-single"))
        self.assertTrue(mesh.served(self.b, mesh.gradle_path("fresh-batch", NS), b"newer-batch"))

        # An older delete changes nothing; the tombstone stays.
        self.assertEqual(c.delete_namespace(NS, t - 100).status, 204)
        self.assertTrue(mesh.served(self.b, mesh.gradle_path("fresh", NS), b"newer-single"))
        self.assertEqual(self.listed(self.b, NS)["version_ms"], t)

        # A client write after the delete is newer than the tombstone: it travels everywhere.
        again = mesh.body_of(4321, "after-delete")
        mesh.put_gradle(self.c, "k0", again, NS)
        for n in self.nodes:
            mesh.wait_served(n, mesh.gradle_path("k0", NS), again)


if __name__ == "__main__":
    harness.main()
