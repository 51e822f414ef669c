"""test_mesh_compat.py: a meshcache node against kura_peer.py, an independent implementation of
Kura's internal-plane contract: its pushes (single and batched) parse and validate byte for
byte, a 404 on the batch route makes it fall back to single PUTs, an unknown producer's 400
drops the row and counts it, its backfill listing, bodies and single-artifact frames validate
byte for byte on the requester side, Kura-style pushes to it get the contract's LWW outcomes,
and /_internal/status advertises the gateway URL by host."""

import json
import unittest

import harness
import kura_peer
import mesh
from kura_peer import KIND_BYTES, PRESENT, ABSENT

# (producer, namespace, key, public path, size): keys with characters that Kura's encoder escapes.
SMALL = [("gradle", "", "plain-key", 100), ("gradle", "", "with space", 2000), ("gradle", "", "plus+sign", 3000),
         ("gradle", "", "tilde~dot.under_dash-", 10), ("gradle", "", "slash/inner/key", 4096),
         ("gradle", "proj-1", "ünïcode", 777), ("gradle", "proj-1", "q?a=b&c", 55)]
LARGE = [("gradle", "", "large-segment", 300 * 1024), ("gradle", "proj-1", "large/2", 1 << 20)]


def public_path(producer, namespace, key):
    if producer == "gradle":
        return mesh.gradle_path(key, namespace)
    if producer == "nx":
        return "/v1/cache/" + key
    if producer == "metro":
        return "/api/metro/cache/" + key
    raise ValueError(producer)


class CompatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ca = mesh.MeshCA()
        pn, pk1, pk2 = mesh.free_ports(3)
        url_k1, url_k2 = f"https://127.0.0.1:{pk1}", f"https://127.0.0.1:{pk2}"
        cls.k1 = kura_peer.KuraPeer(tls=cls.ca.issue(url_k1).files, port=pk1)
        cls.k2 = kura_peer.KuraPeer(tls=cls.ca.issue(url_k2).files, port=pk2)
        # k2 is a Kura build without the batch route.
        cls.k2.set_fault("artifacts", 404, {"message": "Not Found"})
        cls.gateway_url = f"https://LocalHost:{pn}"
        # Its certificate also names localhost (`meshcache tls issue --san`), as a gateway's does.
        cls.node = mesh.MeshNode("compat", pn, peers=[url_k1, url_k2], ca=cls.ca, gateway_url=cls.gateway_url,
                                 sans=["localhost"])
        cls.node.start()
        cls.node.wait_admitted([url_k1, url_k2])
        cls.tester = cls.ca.issue("https://127.0.0.1:1")  # a Kura requester's identity
        cls.client = cls.node.client(cls.tester)

        # Both peers refuse pushes while the writes land, so the rows pile up and the drain
        # that follows sends batches (k1) or tries to (k2).
        busy = {"message": "busy"}
        for peer in (cls.k1, cls.k2):
            peer.set_fault("artifact", 503, busy, headers={"Retry-After": "1"})
        cls.k1.set_fault("artifacts", 503, busy, headers={"Retry-After": "1"})
        cls.written = {}  # (producer, ns, key) → body
        for i, (producer, ns, key, size) in enumerate(SMALL + LARGE):
            cls.written[(producer, ns, key)] = body = mesh.body_of(size, f"compat-{i}")
            mesh.put_gradle(cls.node, key, body, ns)
        for producer, key in (("nx", "0123abcd" * 8), ("metro", "metro-key-1")):
            body = mesh.body_of(1500, key)
            r = cls.node.put(public_path(producer, producer, key), body)
            assert r.status == 200, r
            cls.written[(producer, producer, key)] = body
        for url in (url_k1, url_k2):
            harness.wait_until(lambda: cls.node.outbox_depth(url) == len(cls.written), 30,
                               message=f"the rows owed to {url}")
        cls.k1.clear_faults()
        cls.k2.clear_faults("artifact")
        cls.node.wait_drained(60, urls=[url_k1, url_k2])
        cls.url_k1, cls.url_k2 = url_k1, url_k2

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.k1.close()
        cls.k2.close()

    def listed_versions(self):
        return {e["record_id"]: e for e in self.client.list_all()}

    def test_pushes_parse_and_validate_byte_for_byte(self):
        listed = self.listed_versions()
        for peer in (self.k1, self.k2):
            self.assertEqual(peer.violations(), [], f"contract violations seen by {peer.url}")
            for (producer, ns, key), body in self.written.items():
                got = peer.artifact(producer, ns, key)
                self.assertIsNotNone(got, f"{peer.url} never got {producer}/{ns}/{key}")
                self.assertEqual(kura_peer.sha(got.body), kura_peer.sha(body), key)
                aid = kura_peer.artifact_id(producer, "default", ns, key)
                # The version on the wire is the one the node committed (and lists).
                self.assertEqual(got.version_ms, listed[aid]["version_ms"], key)
                applied = [o for _, item, o in peer.copies(producer, ns, key) if o == "applied"]
                self.assertEqual(applied, ["applied"], f"{key} applied once on {peer.url}")
            # Every request carried the node's own certificate.
            self.assertEqual({r.identity for r in peer.requests()} - {None}, {self.node.identity.fingerprint()})

        # k1 took small artifacts in batches of at least two; large ones as single segment PUTs.
        batches = [r for r in self.k1.requests("/_internal/replicate/artifacts") if r.status == 200]
        self.assertTrue(batches, "no batch reached k1")
        self.assertTrue(all(len(r.outcomes) >= 2 for r in batches))
        for producer, ns, key, _ in LARGE:
            singles = [r for r, item, _ in self.k1.copies(producer, ns, key)
                       if r.path == "/_internal/replicate/artifact"]
            self.assertEqual(len(singles), 1, key)
            self.assertEqual(singles[0].params.get("inline", "false"), "false")
            self.assertFalse(self.k1.artifact(producer, ns, key).inline)
        for r in self.k1.requests("/_internal/replicate/artifact"):
            self.assertEqual(r.header("content-type"), "application/octet-stream")

    def test_batch_404_falls_back_to_single_puts(self):
        self.assertFalse(self.node.peer(self.url_k2)["batch_supported"])
        self.assertTrue(self.node.peer(self.url_k1)["batch_supported"])
        refused = len(self.k2.requests("/_internal/replicate/artifacts"))
        self.assertGreaterEqual(refused, 1)
        for key in SMALL:
            self.assertTrue(all(r.path == "/_internal/replicate/artifact" for r, _, o in self.k2.copies(*key[:3])
                                if o != "error"))
        # Marked for the process lifetime: more small writes never try the batch route again.
        more = {f"after-404-{i}": mesh.body_of(500 + i, f"a404-{i}") for i in range(6)}
        for key, body in more.items():
            mesh.put_gradle(self.node, key, body)
        self.node.wait_drained(30, urls=[self.url_k2])
        for key, body in more.items():
            self.assertEqual(self.k2.artifact("gradle", "", key).body, body)
        self.assertEqual(len(self.k2.requests("/_internal/replicate/artifacts")), refused)

    def test_unknown_producer_is_dropped_and_counted(self):
        before = self.node.peer(self.url_k1)["dropped"]
        bodies = {f"ccache/{i}": mesh.body_of(size, f"http-{i}") for i, size in enumerate((200, 300, 400, 70000))}
        for key, body in bodies.items():
            mesh.put_generic(self.node, key, body)
        self.node.wait_drained(30, urls=[self.url_k1])
        peer = self.node.peer(self.url_k1)
        self.assertEqual(peer["dropped"] - before, len(bodies), peer)
        self.assertIsNone(self.k1.artifact("http", "", "ccache/0"))
        attempts = {k: len(self.k1.copies("http", "", k)) for k in bodies}
        self.assertTrue(all(1 <= n <= 2 for n in attempts.values()), attempts)
        # Not retried: a later write travels, and the dropped rows were never tried again.
        marker = mesh.body_of(900, "marker")
        mesh.put_gradle(self.node, "marker-after-drop", marker)
        harness.wait_until(lambda: self.k1.artifact("gradle", "", "marker-after-drop"), 30, message="the marker")
        self.node.wait_drained(30, urls=[self.url_k1])
        self.assertEqual({k: len(self.k1.copies("http", "", k)) for k in bodies}, attempts)
        samples = self.node.metrics()
        self.assertGreaterEqual(mesh.metric(samples, "meshcache_replication_pushes_total", target=self.url_k1),
                                len(bodies))
        self.assertEqual(mesh.metric(samples, "meshcache_replication_outbox_rows", target=self.url_k1), 0)

    def test_backfill_listing_and_frames_validate(self):
        # A tombstone for the listing, in a namespace nothing else uses.
        r = self.node.request("DELETE", "/api/cache/namespace?namespace_id=gone-ns")
        self.assertEqual(r.status, 204, r)
        listed = self.client.list_all(limit=3)  # small pages: the cursor is exercised
        self.assertEqual(self.client.list_all(), listed)  # the default page size gives the same
        by_id = {e["record_id"]: e for e in listed}
        tomb = [e for e in listed if e["record_kind"] == "namespace_tombstone"]
        self.assertIn("gone-ns", [e["record_id"] for e in tomb])
        self.assertTrue(all("size" not in e for e in tomb))

        wanted, expected = [], {}
        for (producer, ns, key), body in self.written.items():
            aid = kura_peer.artifact_id(producer, "default", ns, key)
            self.assertIn(aid, by_id, key)
            e = by_id[aid]
            self.assertEqual(e["size"], len(body), key)
            if len(body) >= 64 * 1024:
                self.assertEqual(e["record_kind"], "segment_artifact", key)
            wanted.append((e["record_kind"], aid, e["version_ms"]))
            expected[aid] = (producer, ns, key, body)
        unknown = ("segment_artifact", "ab" * 32, 12345)
        wanted.append(unknown)
        resp, frames = self.client.bodies(wanted)
        self.assertIsNotNone(frames, resp)
        for f, (kind, aid, version) in zip(frames, wanted):
            if aid == unknown[1]:
                self.assertEqual((f.disposition, f.kind, f.version_ms), (ABSENT, KIND_BYTES["segment_artifact"], 12345))
                continue
            self.assertEqual(f.disposition, PRESENT, f)
            producer, ns, key, body = expected[aid]
            self.assertEqual((f.kind, f.version_ms), (KIND_BYTES[kind], version))
            self.assertEqual((f.meta["producer"], f.meta["namespace_id"], f.meta["key"]), (producer, ns, key))
            self.assertEqual(kura_peer.sha(f.body), kura_peer.sha(body), key)
            # What k1 stored came with the same content type as the node serves in backfill.
            self.assertEqual(self.k1.artifact(producer, ns, key).content_type, f.meta["content_type"], key)

        aid = kura_peer.artifact_id("gradle", "default", "proj-1", "large/2")
        resp, frame = self.client.backfill_artifact(aid)
        self.assertIsNotNone(frame, resp)
        self.assertEqual(frame.body, self.written[("gradle", "proj-1", "large/2")])
        self.assertEqual(frame.version_ms, by_id[aid]["version_ms"])
        self.assertEqual(self.client.backfill_artifact("cd" * 32)[0].status, 404)

    def test_backfill_errors_are_precise(self):
        c = self.client
        for query in ("limit=0", "limit=x", "after=zz", "after=" + b"other/prefix".hex()):
            r = c.request("GET", "/_internal/backfill/entries?" + query)
            self.assertEqual(r.status, 400, (query, r))
            self.assertIn("message", r.json())
        r = c.request("GET", "/_internal/backfill/entries?after=zz")
        self.assertIn("Invalid after", r.json()["message"])
        for doc in ({"entries": [{"record_kind": "namespace_tombstone", "record_id": "x", "version_ms": 1}]},
                    {"entries": [{"record_kind": "segment_artifact", "record_id": "", "version_ms": 1}]},
                    {"entries": [{"record_kind": "bogus", "record_id": "x", "version_ms": 1}]},
                    {"entries": [{"record_kind": "segment_artifact", "record_id": "x", "version_ms": 1}] * 65537},
                    {"nothing": []}):
            r = c.request("POST", "/_internal/backfill/bodies", json.dumps(doc).encode(),
                          {"Content-Type": "application/json"})
            self.assertEqual(r.status, 400, (str(doc)[:100], r))
        r = c.request("POST", "/_internal/backfill/bodies", b"{" + b" " * (16 << 20) + b"}",
                      {"Content-Type": "application/json"})
        self.assertEqual(r.status, 413, r)
        self.assertEqual(c.request("GET", "/_internal/status").status, 200)

    def test_kura_style_pushes_get_the_contract_outcomes(self):
        c = self.client
        v = mesh.now_ms() - 10000
        item = lambda key, version, body: ({"producer": "gradle", "namespace_id": "in", "key": key,
                                           "content_type": "application/octet-stream", "version_ms": version}, body)
        r, outcomes = c.push_batch([item("b1", v, b"one"), item("b2", v, b"two")])
        self.assertEqual((r.status, outcomes), (200, ["applied", "applied"]), r)
        r, outcomes = c.push_batch([item("b1", v, b"one-again"), item("b2", v - 1, b"older"),
                                    item("b3", v, b"three")])
        self.assertEqual(outcomes, ["ignored_equal", "ignored_stale", "applied"])
        self.assertTrue(mesh.served(self.node, mesh.gradle_path("b1", "in"), b"one"))  # a tie keeps the local copy
        self.assertTrue(mesh.served(self.node, mesh.gradle_path("b2", "in"), b"two"))
        self.assertEqual(c.push("gradle", "in", "s1", b"single", v).status, 204)
        self.assertEqual(c.push("gradle", "in", "s1", b"single-newer", v + 1, inline=True).status, 204)
        self.assertTrue(mesh.served(self.node, mesh.gradle_path("s1", "in"), b"single-newer"))
        # What the node received is never pushed on: once a client write after them has reached
        # k1 and k2 and the outbox is empty, they still never saw the received ones.
        mesh.put_gradle(self.node, "marker-after-receive", b"m")
        harness.wait_until(lambda: self.k1.artifact("gradle", "", "marker-after-receive")
                           and self.k2.artifact("gradle", "", "marker-after-receive"), 30, message="the marker")
        self.node.wait_drained(30, urls=[self.url_k1, self.url_k2])
        for peer in (self.k1, self.k2):
            for key in ("b1", "b2", "b3", "s1"):
                self.assertEqual(peer.copies("gradle", "in", key), [], key)

    def test_status_advertises_the_gateway_by_host(self):
        c, port = self.client, self.node.internal_port
        doc = c.request("GET", "/_internal/status").json()
        self.assertEqual(doc, {**doc, "tenant_id": "default", "node_url": self.node.node_url})
        self.assertIn("region", doc)
        for host in (f"localhost:{port}", "LOCALHOST", "localhost"):
            doc = c.request("GET", "/_internal/status", headers={"Host": host}).json()
            self.assertEqual(doc["node_url"], self.gateway_url, host)
        doc = c.request("GET", "/_internal/status?scope=global").json()
        self.assertEqual(doc["node_url"], self.gateway_url)
        doc = c.request("GET", "/_internal/status?scope=other", headers={"Host": f"127.0.0.1:{port}"}).json()
        self.assertEqual(doc["node_url"], self.node.node_url)
        r = c.request("GET", "/_internal/status")
        self.assertTrue(r.headers.get("x-request-id"))
        # Over h2, dialled by the gateway name (curl checks it against the certificate): the
        # :authority decides.
        p = harness.curl("--http2", "--cacert", self.ca.ca_path, "--cert", self.tester.cert, "--key",
                         self.tester.key, "-w", "\n%{http_version}", f"https://localhost:{port}/_internal/status")
        self.assertEqual(p.returncode, 0, p.stderr)
        body, version = p.stdout.decode().rsplit("\n", 1)
        self.assertEqual((version, json.loads(body)["node_url"]), ("2", self.gateway_url))


class PlainTest(unittest.TestCase):
    """No TLS material anywhere: the internal plane is plain HTTP, both ways."""

    def test_plain_internal_plane(self):
        pn, pk = mesh.free_ports(2)
        kura = kura_peer.KuraPeer(port=pk)
        self.addCleanup(kura.close)
        node = mesh.MeshNode("plain", pn, peers=[kura.url], mode="plain")
        self.addCleanup(node.kill)
        node.start()
        node.wait_admitted([kura.url])
        self.assertFalse(node.mesh()["mtls"])
        body = mesh.body_of(5000, "plain")
        mesh.put_gradle(node, "plain-key", body)
        harness.wait_until(lambda: kura.artifact("gradle", "", "plain-key"), 30, message="the plain push")
        self.assertEqual(kura.artifact("gradle", "", "plain-key").body, body)
        self.assertEqual(kura.violations(), [])
        c = node.client()
        self.assertEqual(c.push("gradle", "", "from-kura", b"plain push", mesh.now_ms()).status, 204)
        self.assertTrue(mesh.served(node, mesh.gradle_path("from-kura"), b"plain push"))
        self.assertEqual(c.request("GET", "/_internal/status").json()["node_url"], node.node_url)


if __name__ == "__main__":
    harness.main()
