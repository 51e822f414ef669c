"""test_protocols.py: every public cache surface end to end over HTTP/1.1 (miss, put, hit,
exact status codes, protocol extras), the probes and /metrics, x-request-id everywhere."""

import json
import random
import unittest

import harness
from harness import sha256

MAX_ARTIFACT = 8 * 1024 * 1024
EMPTY_SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class ProtocolsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = harness.Node("protocols", env={"MESHCACHE_MAX_ARTIFACT_BYTES": MAX_ARTIFACT}).start()
        cls.rng = random.Random(11)

    @classmethod
    def tearDownClass(cls):
        cls.node.kill()

    def req(self, method, path, body=None, headers=None):
        r = self.node.request(method, path, body, headers)
        self.assertTrue(r.headers.get("x-request-id"), f"{method} {path} → {r.status} without x-request-id")
        return r

    def assert_json_error(self, r):
        self.assertIn("json", r.headers.get("content-type", ""), r)
        doc = r.json()
        self.assertIsInstance(doc.get("error"), str, doc)
        self.assertIsInstance(doc.get("message"), str, doc)

    def blob(self, n=None):
        return self.rng.randbytes(n if n is not None else self.rng.randint(1, 200_000))

    def assert_2xx(self, r):
        self.assertTrue(200 <= r.status < 300, r)

    def test_concurrent_puts_of_one_key_all_succeed(self):
        # Gradle turns its cache off on any unexpected 4xx and Bazel counts a failed upload: a PUT
        # that loses the last-writer-wins race to a concurrent PUT of the same key still succeeds.
        import concurrent.futures
        bodies = [self.blob(600_000) for _ in range(8)]
        for round_ in range(3):
            path = f"/api/cache/gradle/race{round_}"
            with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
                statuses = list(pool.map(lambda b: self.node.put(path, b).status, bodies))
            self.assertEqual(statuses, [200] * len(bodies))
            got = self.req("GET", path)
            self.assertEqual(got.status, 200)
            self.assertIn(sha256(got.body), {sha256(b) for b in bodies})

    # -------------------------------------------------------------- Bazel

    def test_bazel_cas_and_ac(self):
        for prefix in ("", "/instance-a"):
            with self.subTest(prefix=prefix):
                body = self.blob()
                h = sha256(body)
                self.assertEqual(self.req("GET", f"{prefix}/cas/{h}").status, 404)
                self.assertEqual(self.req("HEAD", f"{prefix}/cas/{h}").status, 404)
                self.assertEqual(self.req("PUT", f"{prefix}/cas/{h}", body).status, 200)
                r = self.req("GET", f"{prefix}/cas/{h}")
                self.assertEqual((r.status, r.body), (200, body))
                r = self.req("HEAD", f"{prefix}/cas/{h}")
                self.assertEqual((r.status, r.headers.get("content-length"), r.body), (200, str(len(body)), b""))

                ac_key = sha256(b"action" + prefix.encode())
                action_result = self.blob(246)
                self.assertEqual(self.req("GET", f"{prefix}/ac/{ac_key}").status, 404)
                self.assertEqual(self.req("PUT", f"{prefix}/ac/{ac_key}", action_result).status, 200)
                r = self.req("GET", f"{prefix}/ac/{ac_key}")
                self.assertEqual((r.status, r.body), (200, action_result))

        # The instance name is a namespace: another instance does not see it.
        body = self.blob(1000)
        self.assertEqual(self.req("PUT", f"/instance-b/cas/{sha256(body)}", body).status, 200)
        self.assertEqual(self.req("GET", f"/instance-c/cas/{sha256(body)}").status, 404)

    def test_bazel_empty_blob_and_digest_check(self):
        for prefix in ("", "/instance-e"):
            r = self.req("GET", f"{prefix}/cas/{EMPTY_SHA}")
            self.assertEqual((r.status, r.body), (200, b""), "the empty blob is always present")
            self.assertEqual(self.req("PUT", f"{prefix}/cas/{EMPTY_SHA}", b"").status, 200)
        body = self.blob(5000)
        wrong = sha256(body + b"x")
        r = self.req("PUT", f"/cas/{wrong}", body)
        self.assertEqual(r.status, 400)
        self.assert_json_error(r)
        self.assertEqual(self.req("GET", f"/cas/{wrong}").status, 404)

    # -------------------------------------------------------------- generic /cache (ccache)

    def test_generic_cache(self):
        body = self.blob(70_000)
        path = "/cache/45/524pn039i7l8o89flomdn6vrejl2uas"
        self.assertEqual(self.req("GET", path).status, 404)
        self.assert_2xx(self.req("PUT", path, body, {"Content-Type": "application/octet-stream"}))
        r = self.req("GET", path)
        self.assertEqual((r.status, r.body), (200, body))
        r = self.req("HEAD", path)
        self.assertEqual((r.status, r.headers.get("content-length"), r.body), (200, str(len(body)), b""))
        r = self.req("GET", path, headers={"Range": "bytes=100-199"})
        self.assertEqual((r.status, r.body), (206, body[100:200]))
        self.assertEqual(r.headers.get("content-range"), f"bytes 100-199/{len(body)}")
        r = self.req("GET", path, headers={"Range": f"bytes=-10"})
        self.assertEqual((r.status, r.body), (206, body[-10:]))
        # Overwrite, deep paths, delete.
        body2 = self.blob(10)
        self.assert_2xx(self.req("PUT", path, body2))
        self.assertEqual(self.req("GET", path).body, body2)
        deep = "/cache/a/b/c/d/e/f/g/.sccache_check"
        self.assert_2xx(self.req("PUT", deep, b"Hello, World!"))
        self.assertEqual(self.req("GET", deep).body, b"Hello, World!")
        self.assertEqual(self.req("GET", "/cache/a/b/c/d/e/f/g").status, 404)
        self.assert_2xx(self.req("DELETE", path))
        self.assertEqual(self.req("GET", path).status, 404)
        self.assertEqual(self.req("DELETE", path).status, 404)

    # -------------------------------------------------------------- Gradle

    def test_gradle(self):
        key = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
        body = self.blob(40_000)
        ct = {"Content-Type": "application/vnd.gradle.build-cache-artifact.v2", "X-Gradle-Version": "8.5"}
        self.assertEqual(self.req("GET", f"/api/cache/gradle/{key}").status, 404)
        self.assert_2xx(self.req("PUT", f"/api/cache/gradle/{key}", body, ct))
        r = self.req("GET", f"/api/cache/gradle/{key}",
                     headers={"Accept": "application/vnd.gradle.build-cache-artifact.v2, */*"})
        self.assertEqual((r.status, r.body), (200, body))

    def test_gradle_413_before_body_with_expect(self):
        key = "ffeeddccbbaa00998877665544332211"
        head = (f"PUT /api/cache/gradle/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/vnd.gradle.build-cache-artifact.v2\r\n"
                f"Content-Length: {MAX_ARTIFACT + 1}\r\nExpect: 100-continue\r\n\r\n").encode()
        with self.node.raw() as c:
            c.send(head)
            r = c.read_response(timeout=10)
            self.assertNotEqual(r.status, 100, "sent 100 Continue for a body over the limit")
            self.assertEqual(r.status, 413)
            self.assertTrue(r.headers.get("x-request-id"))
            self.assert_json_error(r)
        self.assertEqual(self.req("GET", f"/api/cache/gradle/{key}").status, 404)
        # And a body that fits, with Expect, gets 100 then 2xx.
        body = self.blob(2000)
        with self.node.raw() as c:
            c.send((f"PUT /api/cache/gradle/{key} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode())
            r = c.read_response(timeout=10)
            self.assertEqual(r.status, 100)
            c.send(body)
            r = c.read_response(timeout=10)
            self.assertTrue(200 <= r.status < 300, r)
        self.assertEqual(self.req("GET", f"/api/cache/gradle/{key}").body, body)

    def test_413_without_expect(self):
        # A client that does not wait: the head and the start of the body go out together; the
        # node answers 413 from the declared length without reading the rest.
        with self.node.raw() as c:
            c.send((f"PUT /api/cache/gradle/toolarge HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Content-Length: {MAX_ARTIFACT + 1}\r\n\r\n").encode() + b"\0" * 65536)
            r = c.read_response(timeout=10)
            self.assertEqual(r.status, 413)
            self.assert_json_error(r)
        self.assertEqual(self.req("GET", "/api/cache/gradle/toolarge").status, 404)

    # -------------------------------------------------------------- Turborepo

    def test_turbo(self):
        r = self.req("GET", "/v8/artifacts/status?slug=team_abc", headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json().get("status"), "enabled")

        h = "10ee8fe0b5fca966"
        body = self.blob(330)
        tag = "sig-" + sha256(body)[:24]
        self.assertEqual(self.req("GET", f"/v8/artifacts/{h}?slug=team_abc").status, 404)
        r = self.req("PUT", f"/v8/artifacts/{h}?slug=team_abc", body, {
            "Content-Type": "application/octet-stream", "x-artifact-duration": "212", "x-artifact-tag": tag,
            "x-artifact-dirty-hash": sha256(b"dirty")})
        self.assert_2xx(r)
        r = self.req("GET", f"/v8/artifacts/{h}?slug=team_abc")
        self.assertEqual((r.status, r.body), (200, body))
        self.assertEqual(r.headers.get("x-artifact-tag"), tag)
        self.assertEqual(r.headers.get("x-artifact-duration"), "212")
        r = self.req("HEAD", f"/v8/artifacts/{h}?slug=team_abc")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("x-artifact-tag"), tag)
        # teamId is an alias of slug; another team does not see it.
        self.assertEqual(self.req("GET", f"/v8/artifacts/{h}?teamId=team_abc").body, body)
        self.assertEqual(self.req("GET", f"/v8/artifacts/{h}?slug=team_other").status, 404)

        events = json.dumps([{"sessionId": "s1", "source": "REMOTE", "event": "HIT", "hash": h,
                              "duration": 212}]).encode()
        self.assert_2xx(self.req("POST", "/v8/artifacts/events?slug=team_abc", events,
                                 {"Content-Type": "application/json"}))

    # -------------------------------------------------------------- Nx

    def test_nx(self):
        h = "16610690434023068793"
        body = b"\x1f\x8b" + self.blob(5000)
        hdr = {"Content-Type": "application/octet-stream", "Authorization": "Bearer ignored-without-auth"}
        self.assertEqual(self.req("GET", f"/v1/cache/{h}", headers=hdr).status, 404)
        self.assertEqual(self.req("PUT", f"/v1/cache/{h}", body, hdr).status, 200, "Nx needs exactly 200")
        r = self.req("GET", f"/v1/cache/{h}", headers=hdr)
        self.assertEqual((r.status, r.body), (200, body))

    # -------------------------------------------------------------- Xcode / Tuist

    def test_xcode_cas_and_keyvalue(self):
        q = "account_handle=acme&project_handle=ios"
        body = self.blob(100_000)
        cas_id = "0~" + sha256(body)
        self.assertEqual(self.req("GET", f"/api/cache/cas/{cas_id}?{q}").status, 404)
        self.assert_2xx(self.req("POST", f"/api/cache/cas/{cas_id}?{q}", body,
                                 {"Content-Type": "application/octet-stream"}))
        r = self.req("GET", f"/api/cache/cas/{cas_id}?{q}")
        self.assertEqual((r.status, r.body), (200, body))
        self.assertEqual(self.req("GET", f"/api/cache/cas/{cas_id}?account_handle=acme&project_handle=mac").status,
                         404, "another project sees the artifact")
        # namespace_id is the same namespace as project_handle.
        self.assertEqual(self.req("GET", f"/api/cache/cas/{cas_id}?tenant_id=acme&namespace_id=ios").status, 200)

        kv = {"cas_id": "kv-1", "entries": [{"value": "value-one"}, {"value": "value-two"}]}
        self.assertEqual(self.req("GET", f"/api/cache/keyvalue/kv-1?{q}").status, 404)
        self.assert_2xx(self.req("PUT", f"/api/cache/keyvalue?{q}", json.dumps(kv).encode(),
                                 {"Content-Type": "application/json"}))
        r = self.req("GET", f"/api/cache/keyvalue/kv-1?{q}")
        self.assertEqual(r.status, 200)
        values = [e.get("value") for e in r.json().get("entries", [])]
        self.assertEqual(values, ["value-one", "value-two"])
        r = self.req("PUT", f"/api/cache/keyvalue?{q}", b"{not json", {"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        self.assert_json_error(r)

    # -------------------------------------------------------------- Tuist module cache

    def upload_module(self, q, parts, checksum=None):
        r = self.req("POST", f"/api/cache/module/start?{q}")
        self.assertEqual(r.status, 200, r)
        upload_id = r.json().get("upload_id")
        self.assertTrue(upload_id, r)
        for i, part in enumerate(parts, 1):
            self.assert_2xx(self.req("POST", f"/api/cache/module/part?upload_id={upload_id}&part_number={i}",
                                     part, {"Content-Type": "application/octet-stream"}))
        doc = {"parts": list(range(1, len(parts) + 1))}
        if checksum:
            doc["checksum_sha256"] = checksum
        return self.req("POST", f"/api/cache/module/complete?upload_id={upload_id}", json.dumps(doc).encode(),
                        {"Content-Type": "application/json"})

    def test_module_multipart(self):
        q = "account_handle=acme&project_handle=ios&hash=hash-1&name=Module.framework&cache_category=builds"
        url = f"/api/cache/module/module-1?{q}"
        self.assertEqual(self.req("HEAD", url).status, 404)
        self.assertEqual(self.req("GET", url).status, 404)
        parts = [b"part-one-", self.blob(300_000), b"part-three"]
        whole = b"".join(parts)
        self.assert_2xx(self.upload_module(q, parts, sha256(whole)))
        self.assert_2xx(self.req("HEAD", url))
        r = self.req("GET", url)
        self.assertEqual((r.status, r.body), (200, whole))
        # Starting an upload of what exists answers upload_id null.
        r = self.req("POST", f"/api/cache/module/start?{q}")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.json().get("upload_id"), r)

    def test_module_checksum_mismatch_422(self):
        q = "account_handle=acme&project_handle=ios&hash=hash-2&name=Bad.framework&cache_category=builds"
        r = self.upload_module(q, [b"aaa", b"bbb"], sha256(b"something else"))
        self.assertEqual(r.status, 422)
        self.assert_json_error(r)
        self.assertEqual(self.req("GET", f"/api/cache/module/m?{q}").status, 404)
        self.assertIn(self.req("POST", "/api/cache/module/part?upload_id=does-not-exist&part_number=1",
                               b"x").status, (400, 404))

    # -------------------------------------------------------------- Metro

    def test_metro(self):
        body = self.blob(9000)
        self.assertEqual(self.req("GET", "/api/metro/cache/metro-key-1").status, 404)
        self.assert_2xx(self.req("PUT", "/api/metro/cache/metro-key-1", body))
        r = self.req("GET", "/api/metro/cache/metro-key-1")
        self.assertEqual((r.status, r.body), (200, body))

    # -------------------------------------------------------------- probes, metrics, status

    def test_probes(self):
        self.assertEqual(self.req("GET", "/up").status, 200)
        self.assertEqual(self.req("GET", "/ready").status, 200)
        self.assertEqual(self.req("GET", "/no/such/route").status, 404)
        self.assertEqual(self.req("GET", "/").status, 404)

    def test_metrics_count_traffic(self):
        before = self.node.metrics()
        for i in range(5):
            self.req("PUT", f"/cache/metrics/{i}", b"m" * 100)
            self.req("GET", f"/cache/metrics/{i}")
            self.req("GET", f"/cache/metrics/missing-{i}")
        r = self.req("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertIn("text/plain", r.headers.get("content-type", ""))
        after = harness.parse_prometheus(r.body.decode())
        self.assertTrue(after, "no samples in /metrics")

        def grew(word):
            pred = lambda name: word in name and not name.endswith(("_bucket", "_sum"))
            return harness.metric_total(after, pred) - harness.metric_total(before, pred)

        self.assertGreaterEqual(grew("request"), 15, "request counters did not count the traffic")
        self.assertGreaterEqual(grew("hit"), 5)
        self.assertGreaterEqual(grew("miss"), 5)
        doc = self.node.status_json()
        self.assertGreaterEqual(doc["hits"], 5)
        self.assertGreaterEqual(doc["misses"], 5)
        self.assertGreaterEqual(doc["requests"], 15)


if __name__ == "__main__":
    harness.main()
