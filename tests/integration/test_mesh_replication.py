"""test_mesh_replication.py: the mock control plane, three enrolled nodes A, B, C, a node G acting as
the gateway (MESHCACHE_PEER_GATEWAY_URL, its certificate for both its node URL host and its
gateway URL host, from the tenant CA) and a counting Kura peer, all over mTLS on 127.0.0.1.
A write on A is readable on B, C and G, and each of them (and the Kura peer) got exactly one
copy, from A: what B received is never pushed on. G's own node and gateway URLs are in its peer
list and it never pushes to itself."""

import json
import unittest

import harness
import kura_peer
import mesh
from mock_cp import MockCp

TENANT = "acme"


class ReplicationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = MockCp(state_dir=harness.tmpdir("mock"), heartbeat_interval_seconds=1)
        pa, pb, pc, pg, pk = mesh.free_ports(5)
        cls.gw_url = f"https://localhost:{pg}"
        cls.kura_url = f"https://127.0.0.1:{pk}"
        cls.mock.create_tenant(TENANT, managed_peers=[cls.gw_url, cls.kura_url])

        kura_dir = harness.tmpdir("kura-ident")
        leaf = cls.mock.issue_leaf(TENANT, ["127.0.0.1"])
        kura_ident = mesh.Identity.from_pems(kura_dir, leaf["ca_certificate"], leaf["certificate"], leaf["key"])
        cls.kura = kura_peer.KuraPeer(tenant_id=TENANT, tls=kura_ident.files, port=pk)

        # G is the managed gateway: not enrolled, reached both as its node URL and as the gateway.
        leaf = cls.mock.issue_leaf(TENANT, ["127.0.0.1", "localhost"])
        g_ident = mesh.Identity.from_pems(harness.tmpdir("g-ident"), leaf["ca_certificate"], leaf["certificate"],
                                          leaf["key"])
        urls = {name: f"https://127.0.0.1:{p}" for name, p in zip("abc", (pa, pb, pc))}
        g_node_url = f"https://127.0.0.1:{pg}"
        cls.g = mesh.MeshNode("g", pg, tenant=TENANT, identity=g_ident, gateway_url=cls.gw_url,
                              peers=[*urls.values(), cls.gw_url, g_node_url, cls.kura_url])
        cls.abc = []
        for name, port in zip("abc", (pa, pb, pc)):
            env = cls.mock.enrollment_env(cls.mock.create_credential(TENANT), urls[name])
            cls.abc.append(mesh.MeshNode(name, port, mode="enrolled", tenant=TENANT, env=env))
        cls.a, cls.b, cls.c = cls.abc
        mesh.start_all([cls.g, *cls.abc])

        for n in cls.abc:
            n.wait_admitted([u for u in urls.values() if u != n.node_url] + [cls.gw_url, cls.kura_url])
        cls.g.wait_admitted([*urls.values(), cls.kura_url])
        cls.fingerprints = {n.name: n.identity.fingerprint() for n in (cls.g, *cls.abc)}

    @classmethod
    def tearDownClass(cls):
        for n in (cls.g, *cls.abc):
            n.stop()
        cls.kura.close()
        cls.mock.stop()

    def assert_one_copy_each(self, sender, written):
        """The Kura peer got exactly one copy of each artifact, from sender, applied."""
        for (producer, ns, key), body in written.items():
            copies = self.kura.copies(producer, ns, key)
            self.assertEqual([o for _, _, o in copies], ["applied"], key)
            self.assertEqual(copies[0][0].identity, self.fingerprints[sender.name], key)
            self.assertEqual(self.kura.artifact(producer, ns, key).body, body, key)

    @staticmethod
    def delivered(node):
        return {p["url"]: p["delivered"] for p in node.mesh()["peers"]}

    @staticmethod
    def applies(node):
        """(applied, any other outcome) received so far."""
        applied = node.applies("applied")
        return applied, node.applies() - applied

    def test_a_write_reaches_every_peer_once(self):
        receivers = (self.b, self.c, self.g)
        applies0 = {n.name: self.applies(n) for n in receivers}
        delivered0 = {n.name: self.delivered(n) for n in receivers}
        written = {("gradle", "", f"rep/small-{i}"): mesh.body_of(300 + 100 * i, f"rs{i}") for i in range(5)}
        written[("gradle", "proj", "rep/large")] = mesh.body_of(600 * 1024, "rl")
        for (_, ns, key), body in written.items():
            mesh.put_gradle(self.a, key, body, ns)
        generic = mesh.body_of(5000, "generic")
        mesh.put_generic(self.a, "rep/generic", generic)

        for n in (self.b, self.c, self.g):
            for (_, ns, key), body in written.items():
                mesh.wait_served(n, mesh.gradle_path(key, ns), body)
            mesh.wait_served(n, "/cache/rep/generic", generic)
        self.a.wait_drained(30, urls=[self.b.node_url, self.c.node_url, self.gw_url, self.kura_url])
        # Whatever a receiver would push on was queued when it applied A's copy: after a later
        # write of its own has reached the Kura peer and its outbox is empty, it all went out.
        for n in receivers:
            mesh.put_gradle(n, f"rep/marker-{n.name}", n.name.encode())
        for n in receivers:
            harness.wait_until(lambda: self.kura.copies("gradle", "", f"rep/marker-{n.name}"), 30, 0.05,
                               f"{n.name}'s marker at the Kura peer")
            n.wait_drained(30)
        self.assert_one_copy_each(self.a, written)
        for n in receivers:
            # It pushed its marker, once to each target, and nothing it received.
            self.assertEqual({u: d - delivered0[n.name].get(u, 0) for u, d in self.delivered(n).items() if d},
                             {u: 1 for u in self.delivered(n) if u not in (n.node_url, n.gateway_url)}, n.name)
            # It applied A's copies and the other two markers, each once: nobody pushed on.
            applied, other = self.applies(n)
            self.assertEqual((applied - applies0[n.name][0], other - applies0[n.name][1]), (len(written) + 3, 0),
                             n.name)
        # A delivered to its four targets, and to nothing else.
        delivered = {p["url"] for p in self.a.mesh()["peers"] if p["delivered"]}
        self.assertEqual(delivered, {self.b.node_url, self.c.node_url, self.gw_url, self.kura_url})
        self.assertEqual(self.kura.violations(), [])

    def test_the_gateway_never_pushes_to_itself(self):
        g_peers = self.g.peers()
        for own in (self.gw_url, self.g.node_url):
            self.assertNotEqual(g_peers.get(own, {}).get("admission"), "admitted", own)
        applied_before = self.g.applies()
        written = {("gradle", "", f"from-g/{i}"): mesh.body_of(700 + i, f"g{i}") for i in range(4)}
        written[("gradle", "", "from-g/large")] = mesh.body_of(200 * 1024, "g-large")
        for (_, ns, key), body in written.items():
            mesh.put_gradle(self.g, key, body, ns)
        for n in self.abc:
            for (_, ns, key), body in written.items():
                mesh.wait_served(n, mesh.gradle_path(key, ns), body)
        self.g.wait_drained(30)
        self.assert_one_copy_each(self.g, written)
        # Nothing reached G's internal port: it did not push to its own node or gateway URL.
        self.assertEqual(self.g.applies(), applied_before)
        samples = self.g.metrics()
        for own in (self.gw_url, self.g.node_url):
            self.assertEqual(mesh.metric(samples, "meshcache_replication_pushes_total", target=own), 0, own)
            peer = self.g.peers().get(own)
            if peer:
                self.assertEqual((peer["delivered"], peer["outbox_depth"], peer["in_flight"]), (0, 0, 0), peer)
        for n in self.abc:
            self.assertEqual(self.g.peer(n.node_url)["outbox_depth"], 0)
            self.assertGreaterEqual(self.g.peer(n.node_url)["delivered"], len(written))

    def test_gateway_status_advertises_by_host(self):
        c = self.g.client()
        port = self.g.internal_port
        self.assertEqual(c.request("GET", "/_internal/status").json()["node_url"], self.g.node_url)
        by_host = c.request("GET", "/_internal/status", headers={"Host": f"localhost:{port}"}).json()
        self.assertEqual(by_host, {**by_host, "tenant_id": TENANT, "node_url": self.gw_url})
        self.assertEqual(c.request("GET", "/_internal/status?scope=global").json()["node_url"], self.gw_url)
        # Over h2 with the certificate's other name, as a peer that dials the gateway URL.
        p = harness.curl("--http2", "--cacert", self.g.identity.ca, "--cert", self.a.identity.cert, "--key",
                         self.a.identity.key, "-w", "\\n%{http_version}", self.gw_url + "/_internal/status")
        self.assertEqual(p.returncode, 0, p.stderr)
        body, version = p.stdout.decode().rsplit("\n", 1)
        self.assertEqual(version, "2")
        self.assertEqual(json.loads(body)["node_url"], self.gw_url)


if __name__ == "__main__":
    harness.main()
