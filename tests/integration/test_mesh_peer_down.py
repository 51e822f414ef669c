"""test_mesh_peer_down.py: a peer that is down: writes on A queue in its outbox (depth, failures
and backoff visible in status and metrics); when the peer comes back, a probe notices it within
seconds, not after the backoff step, and every write arrives with the right bytes. A full outbox
(MESHCACHE_MAX_OUTBOX_ROWS) refuses new writes with 503 and Retry-After, never drops them."""

import sys
import time
import unittest

import harness
import mesh


class PeerDownTest(unittest.TestCase):
    def test_writes_queue_then_all_arrive(self):
        ca = mesh.MeshCA()
        pa, pb = mesh.free_ports(2)
        url_a, url_b = f"https://127.0.0.1:{pa}", f"https://127.0.0.1:{pb}"
        a = mesh.MeshNode("a", pa, peers=[url_b], ca=ca)
        b = mesh.MeshNode("b", pb, peers=[url_a], ca=ca)
        for n in (a, b):
            self.addCleanup(n.kill)
        mesh.start_all([a, b])
        a.wait_admitted([url_b])
        self.assertEqual(b.stop(), 0)

        written = {f"/cache/down/small-{i}": mesh.body_of(64 + 150 * i, f"ds{i}") for i in range(30)}
        for i in range(6):
            written[mesh.gradle_path(f"down/medium-{i}")] = mesh.body_of((100 << 10) + (150 << 10) * i, f"dm{i}")
        for i in range(2):
            written[mesh.gradle_path(f"down/large-{i}")] = mesh.body_of(3 << 20, f"dl{i}")
        for path, body in written.items():
            r = a.put(path, body)
            self.assertEqual(r.status // 100, 2, r)

        harness.wait_until(lambda: a.outbox_depth(url_b) == len(written), 10,
                           message=f"{len(written)} rows owed to b")
        self.assertEqual(mesh.metric(a.metrics(), "meshcache_replication_outbox_rows", target=url_b), len(written))
        # Let the backoff grow past a few steps, so recovery cannot come from waiting one out.
        peer = harness.wait_until(lambda: (p := a.peer(url_b))["consecutive_failures"] >= 4 and p, 45, 0.2,
                                  "four failed attempts to reach b")
        self.assertTrue(peer["last_error"], peer)
        self.assertIsNotNone(peer["next_retry"], peer)
        self.assertEqual(peer["outbox_depth"], len(written))
        self.assertGreater(mesh.metric(a.metrics(), "meshcache_replication_pushes_total", target=url_b,
                                       outcome="failed"), 0)
        self.assertEqual(a.outbox_depth(url_b), len(written))  # nothing dropped while it failed

        b.restart()
        back = time.monotonic()
        a.wait_drained(30, urls=[url_b])
        took = time.monotonic() - back
        self.assertLess(took, 8.0, "the backlog waited for the backoff instead of a probe")
        for path, body in written.items():
            r = b.get(path)
            self.assertEqual((r.status, harness.sha256(r.body)), (200, harness.sha256(body)), path)
        peer = a.peer(url_b)
        self.assertEqual(peer["consecutive_failures"], 0, peer)
        self.assertIsNotNone(peer["last_success"])
        self.assertGreaterEqual(peer["delivered"], len(written))
        samples = a.metrics()
        self.assertEqual(mesh.metric(samples, "meshcache_replication_outbox_rows", target=url_b), 0)
        self.assertGreaterEqual(mesh.metric(samples, "meshcache_replication_pushes_total", target=url_b,
                                            outcome="delivered"), len(written))
        # Each delivery's lag (commit on a → delivered to b) is in the histogram.
        self.assertGreaterEqual(mesh.metric(samples, "meshcache_replication_lag_seconds_count"), len(written))
        print(f"drained {len(written)} rows in {took:.2f}s after b came back", file=sys.stderr)

    def test_a_full_outbox_refuses_writes_with_503(self):
        ca = mesh.MeshCA()
        pa, pb = mesh.free_ports(2)
        url_a, url_b = f"https://127.0.0.1:{pa}", f"https://127.0.0.1:{pb}"
        a = mesh.MeshNode("full-a", pa, peers=[url_b], ca=ca, env={"MESHCACHE_MAX_OUTBOX_ROWS": "5"})
        b = mesh.MeshNode("full-b", pb, ca=ca)
        for n in (a, b):
            self.addCleanup(n.kill)
        mesh.start_all([a, b])
        a.wait_admitted([url_b])
        self.assertEqual(b.stop(), 0)
        written = {f"/cache/full/{i}": mesh.body_of(100 + i, f"f{i}") for i in range(5)}
        for path, body in written.items():
            self.assertEqual(a.put(path, body).status // 100, 2)
        refused = a.put("/cache/full/over", b"one too many")
        self.assertEqual(refused.status, 503, refused)
        self.assertIn("retry-after", refused.headers, refused)
        self.assertEqual(a.get("/cache/full/over").status, 404)  # refused, not stored and dropped
        self.assertEqual(a.outbox_depth(url_b), 5)
        b.restart()
        a.wait_drained(30, urls=[url_b])
        self.assertEqual(a.put("/cache/full/over", b"now it fits").status // 100, 2)
        mesh.wait_served(b, "/cache/full/over", b"now it fits")
        for path, body in written.items():
            self.assertTrue(mesh.served(b, path, body), path)


if __name__ == "__main__":
    harness.main()
