"""test_lifecycle.py: the process around the cache: data-dir lock, config errors naming their
variable, SIGTERM drain with an in-flight download, `meshcache status` exit codes and fields,
restart persistence, capacity eviction."""

import os
import random
import signal
import subprocess
import time

import harness
from harness import file_sha256, sha256, wait_until


class LifecycleTest(harness.NodeTestCase):
    def test_second_node_on_same_data_dir_is_refused(self):
        first = self.start_node("first")
        rc, log = harness.run_node_expecting_failure({}, data_dir=first.data_dir)
        self.assertNotEqual(rc, 0)
        self.assertRegex(log.lower(), r"lock|in use", "no clear message about the data dir being taken")
        self.assertIn(first.data_dir, log)
        first.assert_healthy()
        self.assertEqual(first.status()[0], 0)

    def test_second_node_on_same_port_is_refused(self):
        first = self.start_node("first")
        rc, log = harness.run_node_expecting_failure({"MESHCACHE_LISTEN": first.http_addr})
        self.assertNotEqual(rc, 0)
        self.assertIn("already in use", log)
        self.assertIn(first.http_addr, log)
        first.assert_healthy()

    def test_bad_mesh_settings_are_refused(self):
        rc, log = harness.run_node_expecting_failure({"MESHCACHE_PEERS": "peer.example:7443"})
        self.assertEqual(rc, 2)
        self.assertIn("MESHCACHE_PEERS", log)
        # Half of the mesh TLS material is an error, not a silent fall-back to plain HTTP.
        d = harness.tmpdir("halftls")
        os.makedirs(os.path.join(d, "tls"))
        harness.write_file(os.path.join(d, "tls", "ca.pem"), b"x")
        rc, log = harness.run_node_expecting_failure({"MESHCACHE_INTERNAL_LISTEN": "127.0.0.1:0"},
                                                     data_dir=d)
        self.assertEqual(rc, 2)
        self.assertIn("incomplete", log)

    def test_bad_config_values_name_the_variable(self):
        cases = {
            "MESHCACHE_LISTEN": "foo",
            "MESHCACHE_CAPACITY_BYTES": "12x",
            "MESHCACHE_MAX_ARTIFACT_BYTES": "-5",
            "MESHCACHE_IO_THREADS": "many",
            "MESHCACHE_AUTH": "maybe",
            "MESHCACHE_DRAIN_TIMEOUT_MS": "soon",
        }
        for var, value in cases.items():
            with self.subTest(var=var):
                rc, log = harness.run_node_expecting_failure({var: value})
                self.assertNotEqual(rc, 0)
                self.assertIn(var, log, f"{var}={value}: the error does not name the variable:\n{log}")

    def test_tls_listener_without_cert_refused(self):
        rc, log = harness.run_node_expecting_failure({"MESHCACHE_TLS_LISTEN": "127.0.0.1:0",
                                                      "MESHCACHE_TLS_CERT_PATH": "/nonexistent/cert.pem",
                                                      "MESHCACHE_TLS_KEY_PATH": "/nonexistent/key.pem"})
        self.assertNotEqual(rc, 0)
        self.assertIn("/nonexistent/", log)

    def test_status_exit_codes_and_fields(self):
        never = harness.Node("never-started")
        rc, _, _ = never.status()
        self.assertEqual(rc, 2, "status of a node that never ran must be 'unreachable'")

        node = self.start_node("status", tls=True)
        rc, doc, raw = node.status()
        self.assertEqual(rc, 0, raw)
        self.assertEqual(doc["state"], "serving")
        self.assertRegex(doc["listeners"]["http"], r"^127\.0\.0\.1:\d+$")
        self.assertRegex(doc["listeners"]["tls"], r"^127\.0\.0\.1:\d+$")
        for field in ("bytes", "artifacts", "evictions"):
            self.assertIsInstance(doc["store"][field], int, field)
        for field in ("hits", "misses", "requests"):
            self.assertIsInstance(doc[field], int, field)
        node.put("/cache/s/1", b"x" * 1000)
        node.get("/cache/s/1")
        node.get("/cache/s/2")
        doc = node.status_json()
        self.assertEqual(doc["store"]["artifacts"], 1)
        self.assertEqual(doc["store"]["bytes"], 1000)
        self.assertEqual((doc["hits"], doc["misses"]), (1, 1))
        self.assertGreaterEqual(doc["requests"], 3)

        plain = self.start_node("status-plain")
        self.assertIsNone(plain.status_json()["listeners"]["tls"])

        self.assertEqual(node.stop(), 0)
        rc, _, raw = node.status()
        self.assertEqual(rc, 2, raw)

    def test_restart_keeps_artifacts(self):
        node = self.start_node("persist")
        body = random.Random(1).randbytes(700_000)
        self.assertEqual(node.put("/cache/persist/a", body).status, 200)
        self.assertEqual(node.put(f"/cas/{sha256(body)}", body).status, 200)
        self.assertEqual(node.stop(), 0)
        node.restart()
        self.assertEqual(sha256(node.get("/cache/persist/a").body), sha256(body))
        self.assertEqual(sha256(node.get(f"/cas/{sha256(body)}").body), sha256(body))
        self.assertEqual(node.status_json()["store"]["artifacts"], 2)

    def test_sigterm_drains_in_flight_download(self):
        node = self.start_node("drain", env={"MESHCACHE_DRAIN_TIMEOUT_MS": "30000"})
        # Big enough that curl's first burst (socket buffers, several MiB) cannot hold all of it.
        size = 32 * 1024 * 1024
        body = random.Random(2).randbytes(size)
        self.assertEqual(node.put("/cache/drain/big", body).status, 200)
        out = os.path.join(harness.tmpdir("drain"), "download")
        # ~8 MB/s: the download lasts ~4 s, well inside the drain timeout.
        curl = subprocess.Popen(["curl", "-sS", "--http1.1", "--limit-rate", "8M", "-o", out,
                                 "-w", "%{http_code}", f"{node.url}/cache/drain/big"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 256 * 1024, timeout=20,
                       message="the download to start")
            self.assertIsNone(curl.poll(), "the download finished before SIGTERM: nothing was in flight")
            started = time.monotonic()
            node.signal(signal.SIGTERM)

            # The drain shows on status (draining, exit 1) or on /ready (503) if a connection is still
            # accepted; once it shows, neither goes back to serving while the download runs.
            def probe():
                rc, doc, _ = node.status()
                try:
                    ready = node.request("GET", "/ready", timeout=2).status
                except OSError:
                    ready = "refused"
                return rc, doc.get("state") if doc else None, ready

            first = wait_until(lambda: (lambda p: p if p[1] == "draining" or p[2] == 503 else None)(probe()),
                               timeout=10, message="the drain to show on status or /ready")
            observed = [first]
            while node.alive() and curl.poll() is None:
                observed.append(probe())
            for rc, state, ready in observed:
                self.assertNotEqual(ready, 200, observed)
                if state is not None:
                    self.assertEqual((rc, state), (1, "draining"), observed)

            stdout, stderr = curl.communicate(timeout=60)
            self.assertEqual(curl.returncode, 0, stderr)
            self.assertEqual(stdout, b"200")
            self.assertEqual(file_sha256(out), sha256(body), "the in-flight download was cut")
            self.assertEqual(node.wait_exit(40), 0, node.log_tail())
            self.assertLess(time.monotonic() - started, 30)
        finally:
            if curl.poll() is None:
                curl.kill()
            if not curl.stdout.closed:
                curl.communicate()

    def test_sigterm_idle_node_exits_promptly(self):
        node = self.start_node("idle", env={"MESHCACHE_DRAIN_TIMEOUT_MS": "30000"})
        # An idle keep-alive connection must not hold the drain for the whole timeout.
        with node.raw() as c:
            c.send(b"GET /up HTTP/1.1\r\nHost: a\r\n\r\n")
            self.assertEqual(c.read_response().status, 200)
            started = time.monotonic()
            node.signal(signal.SIGTERM)
            self.assertEqual(node.wait_exit(20), 0)
            self.assertLess(time.monotonic() - started, 10)

    def test_capacity_eviction(self):
        capacity = 4 * 1024 * 1024
        node = self.start_node("evict", env={"MESHCACHE_CAPACITY_BYTES": capacity})
        rng = random.Random(3)
        bodies = []
        for i in range(20):  # 10 MiB into 4 MiB
            body = rng.randbytes(512 * 1024)
            bodies.append(body)
            self.assertEqual(node.put(f"/cache/evict/{i}", body).status, 200)

        def bounded():
            doc = node.status_json()
            return doc if doc["store"]["bytes"] <= capacity else None

        doc = wait_until(bounded, timeout=30, message="store bytes within the capacity")
        self.assertGreater(doc["store"]["evictions"], 0, doc)
        self.assertLess(doc["store"]["artifacts"], 20)
        self.assertEqual(node.get("/cache/evict/0").status, 404, "the oldest artifact was not evicted")
        r = node.get("/cache/evict/19")
        self.assertEqual((r.status, sha256(r.body)), (200, sha256(bodies[19])), "the newest artifact was evicted")
        # Whatever is still served is intact.
        for i in range(20):
            r = node.get(f"/cache/evict/{i}")
            self.assertIn(r.status, (200, 404))
            if r.status == 200:
                self.assertEqual(r.body, bodies[i])


if __name__ == "__main__":
    harness.main()
