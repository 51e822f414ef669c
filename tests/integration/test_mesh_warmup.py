"""test_mesh_warmup.py: join-time warm-up over mTLS. A new node joining a meshcache peer that holds
N artifacts (and a tombstone) reports joining while a second peer holds its listing back, then
serving, and then serves all of them at once, with progress in status and metrics. Against a
scripted Kura peer it reports joining (503 on /ready) while the bodies are held back, then
serving; it retries index_building and peer_busy, fetches FetchIndividually entries one by one,
takes an Absent entry from another peer, and skips what lies beyond MESHCACHE_WARMUP_HORIZON_MS."""

import unittest

import harness
import kura_peer
import mesh

DAY_MS = 86400 * 1000


class WarmupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ca = mesh.MeshCA()

    def start_source(self, name, port, artifacts):
        """A standalone node without peers holding `artifacts` {gradle key: body}."""
        node = mesh.MeshNode(name, port, ca=self.ca)
        self.addCleanup(node.kill)
        node.start()
        for key, body in artifacts.items():
            mesh.put_gradle(node, key, body)
        return node

    def test_joins_a_meshcache_peer_and_serves_everything(self):
        ps, pj, pk = mesh.free_ports(3)
        artifacts = {f"small/{i}": mesh.body_of(100 + 37 * i, f"s{i}") for i in range(150)}
        artifacts.update({f"large/{i}": mesh.body_of((64 << 10) * (i + 1), f"l{i}") for i in range(16)})
        source = self.start_source("source", ps, artifacts)
        self.assertEqual(source.request("DELETE", "/api/cache/namespace?namespace_id=dropped").status, 204)
        total = sum(len(b) for b in artifacts.values())
        # A second peer, empty, holds its listing back: warm-up has not settled while it does.
        slow_url = f"https://127.0.0.1:{pk}"
        slow = kura_peer.KuraPeer(tls=self.ca.issue(slow_url).files, port=pk)
        self.addCleanup(slow.close)
        slow.hold("entries")

        joiner = mesh.MeshNode("joiner", pj, peers=[source.node_url, slow_url], ca=self.ca)
        self.addCleanup(joiner.kill)
        joiner.spawn()
        joiner.wait_listening()
        harness.wait_until(lambda: slow.requests("/_internal/backfill/entries"), 30, message="the held listing")
        doc = joiner.wait_state("joining")
        self.assertEqual(doc["mesh"]["warmup"]["state"], "running", doc["mesh"]["warmup"])
        ready = joiner.ready()
        self.assertEqual(ready.status, 503, ready)
        self.assertIn(b"joining", ready.body)
        slow.release("entries")
        joiner.wait_serving(60)
        # Serving means warmed: everything is there at once, no waiting.
        for key, body in artifacts.items():
            self.assertTrue(mesh.served(joiner, mesh.gradle_path(key), body), key)
        w = joiner.warmup()
        self.assertEqual(w["state"], "done", w)
        self.assertGreaterEqual(w["records_done"], len(artifacts))
        self.assertGreaterEqual(w["bytes_done"], total)
        self.assertEqual(w["bytes_done"], w["bytes_known"])
        self.assertTrue(w["started"] and w["finished"], w)
        self.assertGreaterEqual(mesh.metric(joiner.metrics(), "meshcache_warmup_bytes_total"), total)
        self.assertEqual(joiner.ready().status, 200)
        # The tombstone came along, with the source's version.
        tester = self.ca.issue("https://127.0.0.1:1")
        tombs = lambda n: [(e["record_id"], e["version_ms"]) for e in n.client(tester).list_all()
                           if e["record_kind"] == "namespace_tombstone"]
        self.assertEqual(tombs(joiner), tombs(source))
        # What it warmed with is a replica: it pushes none of it back.
        self.assertEqual(joiner.outbox_depth(), 0)
        self.assertEqual(joiner.peer(source.node_url)["delivered"], 0)

    def test_joining_until_the_kura_peer_answers_then_serving(self):
        ps, pj, pk = mesh.free_ports(3)
        kura_url = f"https://127.0.0.1:{pk}"
        kura = kura_peer.KuraPeer(tls=self.ca.issue(kura_url).files, port=pk)
        self.addCleanup(kura.close)
        now = mesh.now_ms()
        expected = {}
        for i in range(40):
            key = f"kura/{i}"
            expected[key] = mesh.body_of(500 + 97 * i, key)
            kura.put("gradle", "", key, expected[key], version_ms=now - 1000 - i)
        for i in range(2):
            key = f"kura-large/{i}"
            expected[key] = mesh.body_of(3 << 20, key)
            kura.put("gradle", "", key, expected[key], version_ms=now - 500 - i)
        individually = mesh.body_of(70000, "fi")
        fi_id = kura.put("gradle", "", "fetch-me-alone", individually, version_ms=now - 700)
        kura.dispositions[fi_id] = "fetch_individually"
        expected["fetch-me-alone"] = individually
        only_absent = kura.put("gradle", "", "absent-everywhere", b"never", version_ms=now - 800)
        kura.dispositions[only_absent] = "absent"
        elsewhere = mesh.body_of(2222, "elsewhere")
        absent_here = kura.put("gradle", "", "absent-here", elsewhere, version_ms=now - 900)
        kura.dispositions[absent_here] = "absent"
        ancient = kura.put("gradle", "", "beyond-horizon", b"too old", version_ms=now - 3 * DAY_MS)
        kura.tombstones["kura-gone"] = now - 5000

        # A second peer, a meshcache node, has the artifact the Kura peer calls Absent.
        source = self.start_source("source", ps, {"absent-here": elsewhere})
        expected["absent-here"] = elsewhere

        kura.set_fault("entries", 503, {"error": "index_building",
                                        "message": "backfill index is building; retry later"}, count=2)
        # The first bodies request waits for the test, then gets peer_busy; the retry is served.
        kura.hold("bodies")
        kura.set_fault("bodies", 503, {"error": "peer_busy", "message": "one request per peer"},
                       headers={"Retry-After": "1"}, count=1)
        joiner = mesh.MeshNode("joiner", pj, peers=[kura_url, source.node_url], ca=self.ca,
                               env={"MESHCACHE_WARMUP_HORIZON_MS": str(DAY_MS)})
        self.addCleanup(joiner.kill)
        joiner.spawn()
        joiner.wait_listening()
        harness.wait_until(lambda: kura.requests("/_internal/backfill/bodies"), 30, message="a bodies request")
        doc = joiner.wait_state("joining")
        ready = joiner.ready()
        self.assertEqual(ready.status, 503)
        self.assertIn(b"joining", ready.body)
        w = doc["mesh"]["warmup"]
        self.assertEqual(w["state"], "running", w)
        self.assertGreater(w["records_known"], 0)
        self.assertLess(w["records_done"], w["records_known"] + 1)
        self.assertGreaterEqual(len(kura.requests("/_internal/backfill/entries")), 3)  # two 503s, then a listing

        kura.release("bodies")
        joiner.wait_serving(60)
        self.assertNotIn("bodies", kura.faults, "the peer_busy answer was never asked for")
        for key, body in expected.items():
            self.assertTrue(mesh.served(joiner, mesh.gradle_path(key), body), key)
        self.assertEqual(joiner.get(mesh.gradle_path("absent-everywhere")).status, 404)
        self.assertEqual(joiner.get(mesh.gradle_path("beyond-horizon")).status, 404)
        asked = {item[1] for r in kura.requests("/_internal/backfill/bodies") for item, _ in r.outcomes}
        self.assertNotIn(ancient, asked)
        singles = [r.path for r in kura.requests() if r.path.startswith("/_internal/backfill/artifacts/")]
        self.assertEqual(singles, ["/_internal/backfill/artifacts/" + fi_id])
        tester = self.ca.issue("https://127.0.0.1:1")
        self.assertIn(("kura-gone", now - 5000), [(e["record_id"], e["version_ms"])
                                                  for e in joiner.client(tester).list_all()
                                                  if e["record_kind"] == "namespace_tombstone"])
        w = joiner.warmup()
        self.assertEqual(w["state"], "done", w)
        self.assertEqual(kura.violations(), [])


if __name__ == "__main__":
    harness.main()
