"""test_mesh_crash.py: kill -9 of A with a non-empty outbox. After the restart the rows are still
there and drain; nothing is lost; an upload cut by the kill is never served, on A or on B; and a
burst killed mid-delivery arrives whole. Every read is either a miss or the exact bytes. On the
receiving side, a retry of an upload that stalled (its sender died) is stored, not swallowed."""

import socket
import unittest

import harness
import mesh


class CrashTest(unittest.TestCase):
    def setUp(self):
        ca = mesh.MeshCA()
        pa, pb = mesh.free_ports(2)
        self.url_a, self.url_b = f"https://127.0.0.1:{pa}", f"https://127.0.0.1:{pb}"
        self.a = mesh.MeshNode("a", pa, peers=[self.url_b], ca=ca)
        self.b = mesh.MeshNode("b", pb, peers=[self.url_a], ca=ca)
        for n in (self.a, self.b):
            self.addCleanup(n.kill)
        mesh.start_all([self.a, self.b])
        self.a.wait_admitted([self.url_b])

    def assert_whole_or_missing(self, node, written, absent=()):
        """Polls every path of written until all are served (a 200 with other bytes is a
        failure); then every path of absent must be a miss."""
        wrong, missing = [], []

        def settled():
            missing[:] = []
            for path, body in written.items():
                r = node.get(path)
                if r.status == 200 and harness.sha256(r.body) != harness.sha256(body):
                    wrong.append((path, len(r.body)))
                if r.status != 200:
                    missing.append(path)
            return wrong or not missing

        try:
            harness.wait_until(settled, 45, 0.1, f"{node.name} to serve {len(written)} artifacts")
        except AssertionError as e:
            applies = {l: v for (n, l), v in node.metrics().items() if n == "meshcache_replication_applies_total"}
            raise AssertionError(f"{e}; {len(missing)} missing: {missing[:10]}; {node.name}'s applies: {applies}; "
                                 f"a's peers: {self.a._peers_text()}")
        self.assertEqual(wrong, [], f"{node.name} served partial or wrong bodies")
        for path in absent:
            self.assertEqual(node.get(path).status, 404, path)

    def test_kill_with_a_queued_outbox(self):
        a, b = self.a, self.b
        self.assertEqual(b.stop(), 0)
        written = {f"/cache/crash/small-{i}": mesh.body_of(100 + 211 * i, f"cs{i}") for i in range(20)}
        for i in range(5):
            written[mesh.gradle_path(f"crash/large-{i}")] = mesh.body_of((512 << 10) * (i + 1), f"cl{i}")
        for path, body in written.items():
            self.assertEqual(a.put(path, body).status // 100, 2)
        harness.wait_until(lambda: a.outbox_depth(self.url_b) == len(written), 10, message="the queued rows")

        # An upload in progress when the process dies: 1 MiB of a declared 4 MiB (sendall
        # returns once most of it left the socket buffers, so the node is reading the body).
        partial = "/cache/crash/partial"
        conn = a.raw()
        self.assertTrue(conn.send(f"PUT {partial} HTTP/1.1\r\nHost: x\r\nContent-Length: {4 << 20}\r\n\r\n"
                                  .encode() + b"p" * (1 << 20)))
        a.kill()
        conn.close()

        a.restart()
        self.assertEqual(a.outbox_depth(self.url_b), len(written), "outbox rows lost in the crash")
        self.assert_whole_or_missing(a, written, [partial])
        b.restart()
        a.wait_drained(45, urls=[self.url_b])
        self.assert_whole_or_missing(b, written, [partial])

    def test_kill_during_delivery(self):
        a, b = self.a, self.b
        written = {f"/cache/burst/{i}": mesh.body_of(200 + 13 * i, f"b{i}") for i in range(150)}
        for i in range(5):
            written[mesh.gradle_path(f"burst/large-{i}")] = mesh.body_of(1 << 20, f"bl{i}")
        for path, body in written.items():
            self.assertEqual(a.put(path, body).status // 100, 2)
        a.kill()  # while rows are in flight or still queued
        a.restart()
        a.wait_drained(45, urls=[self.url_b])
        self.assert_whole_or_missing(b, written)
        self.assert_whole_or_missing(a, written)

    def test_a_stalled_upload_does_not_swallow_its_retry(self):
        """A sender's first attempt stalls (or its process died and the connection is not closed
        yet), and it retries the same version. A 2xx means delivered, so the retry must not be
        acknowledged as "ignored_equal" while the stalled one is still streaming: it gets a
        retryable 503 until the first attempt is gone, and then stores the artifact."""
        b = self.b
        client = b.client()
        body = mesh.body_of(1 << 20, "stalled")
        version = mesh.now_ms() - 1000
        query = (f"producer=gradle&namespace_id=&key=stalled&content_type=application%2Foctet-stream"
                 f"&inline=false&version_ms={version}")
        raw = socket.create_connection(("127.0.0.1", b.internal_port), timeout=10)
        stalled = client.ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.addCleanup(stalled.close)
        stalled.sendall(f"PUT /_internal/replicate/artifact?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                        + body[:100 << 10])
        harness.wait_until(lambda: mesh.server_read_everything(stalled), 10, 0.01,
                           message="b to read the stalled upload's first bytes")
        r = client.push("gradle", "", "stalled", body, version)
        self.assertEqual(r.status, 503, r)
        self.assertTrue(any(k.lower() == "retry-after" for k, _ in dict(r.headers).items()), r.headers)
        self.assertFalse(mesh.served(b, mesh.gradle_path("stalled"), body))
        stalled.close()  # the first attempt is gone: its partial body is discarded
        harness.wait_until(lambda: client.push("gradle", "", "stalled", body, version).status == 204,
                           10, 0.05, message="the retry to be applied once the stalled upload ended")
        self.assertTrue(mesh.served(b, mesh.gradle_path("stalled"), body),
                        f"the retry was acknowledged but nothing was stored (applies: "
                        f"{ {l: v for (n, l), v in b.metrics().items() if n.endswith('applies_total')} })")


if __name__ == "__main__":
    harness.main()
