"""test_mesh_security.py: the internal plane's trust boundary and its bad input. A certificate from
another CA is refused at the handshake (curl and a node with a foreign CA: it never gets data);
plain HTTP to an mTLS internal port fails; a node of another tenant is rejected as a target and
receives nothing; oversized and malformed batches and pushes get 400/413 and the node keeps
serving."""

import json
import ssl
import struct
import subprocess
import unittest

import harness
import kura_peer
import mesh


def item(key, body=b"x", **overrides):
    return ({"producer": "gradle", "namespace_id": "", "key": key, "content_type": "application/octet-stream",
             "version_ms": mesh.now_ms(), **overrides}, body)


class SecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ca = mesh.MeshCA("mesh-ca")
        cls.foreign_ca = mesh.MeshCA("foreign-ca")
        pa, pb, pf, pt, pk = mesh.free_ports(5)
        cls.urls = {n: f"https://127.0.0.1:{p}" for n, p in zip("abftk", (pa, pb, pf, pt, pk))}
        u = cls.urls
        cls.kura = kura_peer.KuraPeer(tls=cls.ca.issue(u["k"]).files, port=pk)
        cls.a = mesh.MeshNode("a", pa, peers=[u["b"], u["f"], u["t"]], ca=cls.ca)
        cls.b = mesh.MeshNode("b", pb, peers=[u["a"]], ca=cls.ca)
        # f: same tenant, but its certificate and trust come from another CA; it tries the Kura
        # peer of the mesh.
        cls.f = mesh.MeshNode("f", pf, ca=cls.foreign_ca, peers=[u["k"]])
        # t: same CA, another tenant.
        cls.t = mesh.MeshNode("t", pt, ca=cls.ca, tenant="other-tenant")
        cls.nodes = [cls.a, cls.b, cls.f, cls.t]
        mesh.start_all(cls.nodes)
        cls.a.wait_admitted([u["b"]])
        cls.tester = cls.ca.issue("https://127.0.0.1:1")
        cls.stranger = cls.foreign_ca.issue("https://127.0.0.1:1")

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.stop()
        cls.kura.close()

    def curl_status(self, ident, scheme="https", extra=()):
        args = ["--cacert", self.ca.ca_path, "-o", "/dev/null", "-w", "%{http_code}", *extra]
        if ident:
            args += ["--cert", ident.cert, "--key", ident.key]
        p = harness.curl(*args, f"{scheme}://127.0.0.1:{self.a.internal_port}/_internal/status", timeout=20)
        return p.returncode, p.stdout.decode()

    def test_foreign_certificate_is_refused_at_the_handshake(self):
        self.assertEqual(self.curl_status(self.tester), (0, "200"))
        self.assertEqual(self.curl_status(self.tester, extra=["--http2"]), (0, "200"))
        for ident in (self.stranger, None):
            rc, code = self.curl_status(ident)
            self.assertNotEqual(rc, 0, "the handshake succeeded")
            self.assertIn(code, ("000", ""))
        # openssl sees the handshake itself fail (no application data ever flows).
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.a.internal_port}", "-CAfile",
                            self.ca.ca_path, "-cert", self.stranger.cert, "-key", self.stranger.key, "-quiet"],
                           input=b"GET /_internal/status HTTP/1.1\r\nHost: x\r\n\r\n", capture_output=True, timeout=20)
        self.assertNotIn(b"HTTP/1.1 200", p.stdout)
        client = self.a.client(self.stranger)
        with self.assertRaises((OSError, ssl.SSLError)):
            client.request("GET", "/_internal/status")
        self.a.assert_healthy()

    def test_node_with_a_foreign_ca_never_gets_data(self):
        body = mesh.body_of(3000, "secret-ish")
        mesh.put_gradle(self.a, "sec/foreign", body)
        mesh.wait_served(self.b, mesh.gradle_path("sec/foreign"), body)
        peer = self.a.peer(self.urls["f"])
        self.assertNotEqual(peer["admission"], "admitted", peer)
        self.assertTrue(peer["reason"] or peer["last_error"], peer)
        self.assertEqual(self.f.get(mesh.gradle_path("sec/foreign")).status, 404)
        self.assertEqual(self.f.applies(), 0)
        self.assertEqual(peer["delivered"], 0)
        # The other way round: what f writes never gets past a handshake with the mesh's peer.
        mesh.put_gradle(self.f, "sec/from-foreign", b"f")
        harness.wait_until(lambda: self.kura.handshake_failures, 30, message="f's attempt to reach the Kura peer")
        harness.wait_until(lambda: "unreachable" in (self.f.peer(self.urls["k"])["reason"] or ""), 30,
                           message="f's reason for not admitting the Kura peer")
        self.assertEqual(self.f.peer(self.urls["k"])["admission"], "pending")
        self.assertEqual([r for r in self.kura.requests() if r.path != "/_internal/status"], [])
        self.assertEqual(self.kura.requests("/_internal/status"), [])
        self.assertIsNone(self.kura.artifact("gradle", "", "sec/from-foreign"))

    def test_plain_http_to_the_mtls_port_fails(self):
        # The bytes are no TLS record: the node drops the connection at once, without a byte of
        # HTTP (not after the 10 s header timeout, and not with an HTTP error page).
        with harness.RawConn(f"127.0.0.1:{self.a.internal_port}") as c:
            c.send(b"GET /_internal/status HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(c.wait_closed(5), "the connection stayed open")
            self.assertEqual(c.buf, b"")
        # curl sees no response, over h1 and h2c: the connection reset (55 on send, 56 on
        # receive) or closed empty (52).
        for extra in ((), ("--http2-prior-knowledge",)):
            rc, code = self.curl_status(None, scheme="http", extra=extra)
            self.assertEqual(code, "000", extra)
            self.assertIn(rc, (52, 55, 56), extra)
        self.a.assert_healthy()
        self.assertEqual(self.curl_status(self.tester), (0, "200"))

    def test_another_tenant_is_not_admitted(self):
        url_t = self.urls["t"]
        peer = self.a.wait_rejected(url_t)
        self.assertEqual(peer["tenant_id"], "other-tenant")
        self.assertIn("other-tenant", peer["reason"])
        body = mesh.body_of(2500, "tenant-bound")
        mesh.put_gradle(self.a, "sec/tenant", body)
        mesh.wait_served(self.b, mesh.gradle_path("sec/tenant"), body)
        self.a.wait_drained(30, urls=[self.urls["b"]])
        peer = self.a.peer(url_t)
        self.assertEqual((peer["outbox_depth"], peer["delivered"], peer["in_flight"]), (0, 0, 0), peer)
        self.assertEqual(self.t.get(mesh.gradle_path("sec/tenant")).status, 404)
        self.assertEqual(self.t.applies(), 0)

    def test_oversized_and_malformed_batches(self):
        c = self.a.client(self.tester)
        put = lambda body: c.request("PUT", "/_internal/replicate/artifacts", body,
                                     {"Content-Type": "application/octet-stream"})
        cases = [
            ("over 8 MiB", kura_peer.encode_batch([item("big", b"z" * (3 << 20)) for _ in range(3)]), 413),
            ("513 items", kura_peer.encode_batch([item(f"i{i}") for i in range(513)]), 413),
            ("truncated header", b"\0\0\0\5\0\0", 400),
            ("truncated meta", struct.pack(">II", 50, 0) + b"{}", 400),
            ("lengths overflow", struct.pack(">II", 0xFFFFFFFF, 0xFFFFFFFF) + b"{}", 400),
            ("meta not JSON", struct.pack(">II", 3, 0) + b"{x}" + kura_peer.encode_batch([item("ok")]), 400),
            ("meta without producer", kura_peer.encode_batch([({"namespace_id": "", "key": "k",
                                                                 "content_type": "a/b", "version_ms": 5}, b"")]), 400),
            ("meta with a wrong type", kura_peer.encode_batch([item("k", content_type=5)]), 400),
        ]
        for name, body, status in cases:
            r = put(body)
            self.assertEqual(r.status, status, (name, r))
            self.assertIn("message", r.json(), name)
        for k in ("big", "i0", "ok", "k"):
            self.assertEqual(self.a.get(mesh.gradle_path(k)).status, 404, k)  # nothing half-applied

        base = {"producer": "gradle", "namespace_id": "", "key": "single", "content_type": "a/b", "version_ms": "5"}
        singles = [
            ({k: v for k, v in base.items() if k != "producer"}, 400, "Missing producer"),
            ({**base, "key": ""}, 400, "Missing key"),
            ({k: v for k, v in base.items() if k != "namespace_id"}, 400, "Missing namespace_id"),
            ({k: v for k, v in base.items() if k != "content_type"}, 400, "Missing content_type"),
            ({**base, "version_ms": "-3"}, 400, "Invalid version_ms"),
            ({**base, "version_ms": "18446744073709551616"}, 400, "Invalid version_ms"),
            ({**base, "inline": "yes"}, 400, "inline"),
        ]
        for params, status, message in singles:
            q = "&".join(f"{k}={kura_peer.url_encode(v)}" for k, v in params.items())
            r = c.request("PUT", "/_internal/replicate/artifact?" + q, b"body",
                          {"Content-Type": "application/octet-stream"})
            self.assertEqual(r.status, status, (params, r))
            self.assertIn(message, r.json()["message"])
        r = c.push("gradle", "", "inline-too-big", b"i" * ((4 << 20) + 1), mesh.now_ms(), inline=True)
        self.assertEqual(r.status, 413, r)
        r = c.request("DELETE", "/_internal/replicate/namespace?version_ms=5")
        self.assertEqual((r.status, r.json()["message"]), (400, "Missing namespace_id"))

        # Still serving, on both planes.
        self.a.assert_healthy()
        self.assertEqual(self.a.status_json()["state"], "serving")
        self.assertEqual(c.request("GET", "/_internal/status").status, 200)
        r, outcomes = c.push_batch([item("after-1", b"1"), item("after-2", b"2")])
        self.assertEqual(outcomes, ["applied", "applied"], r)
        self.assertTrue(mesh.served(self.a, mesh.gradle_path("after-2"), b"2"))
        self.assertEqual(json.loads(c.request("GET", "/_internal/status").body)["tenant_id"], "default")


if __name__ == "__main__":
    harness.main()
