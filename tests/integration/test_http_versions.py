"""test_http_versions.py: the same cache routes over HTTP/1.1, h2c (prior knowledge) and h2 over
TLS (ALPN), with curl and nghttp as real clients: bodies, HEAD, Range, keep-alive, Expect,
chunked uploads."""

import os
import random
import subprocess
import unittest

import harness
from harness import curl, file_sha256, read_file, sha256, write_file

BIG = 5 * 1024 * 1024


class HttpVersionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = harness.Node("versions", tls=True).start()
        if not cls.node.tls_addr:
            cls.node.kill()
            raise AssertionError(f"status shows no TLS listener: {cls.node.last_status}")
        cls.dir = harness.tmpdir("bodies")
        rng = random.Random(7)
        cls.big_path = write_file(os.path.join(cls.dir, "big.bin"), rng.randbytes(BIG))
        cls.small = b"hello meshcache\n" * 100

    @classmethod
    def tearDownClass(cls):
        cls.node.kill()

    # The three ways in: (name, curl flags, base URL, expected %{http_version}).
    def modes(self):
        n = self.node
        return [
            ("h1", ["--http1.1"], n.url, "1.1"),
            ("h2c", ["--http2-prior-knowledge"], n.url, "2"),
            ("h2tls", ["--http2", "--cacert", n.cert], n.tls_url, "2"),
            ("h1tls", ["--http1.1", "--cacert", n.cert], n.tls_url, "1.1"),
        ]

    def put_file(self, flags, url, path, extra=()):
        p = curl(*flags, "-X", "PUT", "--data-binary", "@" + path, *extra,
                 "-o", "/dev/null", "-w", "%{http_code} %{http_version}", url)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode().split()

    def get_file(self, flags, url, out, extra=()):
        p = curl(*flags, *extra, "-o", out, "-D", out + ".headers", "-w", "%{http_code} %{http_version}", url)
        self.assertEqual(p.returncode, 0, p.stderr)
        code, version = p.stdout.decode().split()
        headers = {}
        for line in read_file(out + ".headers").decode("latin-1").splitlines()[1:]:
            name, _, value = line.partition(":")
            if value:
                headers[name.strip().lower()] = value.strip()
        return code, version, headers

    def test_put_get_head_range_each_protocol(self):
        small_path = write_file(os.path.join(self.dir, "small.bin"), self.small)
        for name, flags, base, version in self.modes():
            with self.subTest(mode=name):
                for label, path in (("small", small_path), ("big", self.big_path)):
                    url = f"{base}/cache/versions/{name}/{label}"
                    self.assertEqual(self.put_file(flags, url, path), ["200", version])
                    out = os.path.join(self.dir, f"{name}-{label}.out")
                    code, got_version, headers = self.get_file(flags, url, out)
                    self.assertEqual((code, got_version), ("200", version))
                    self.assertEqual(file_sha256(out), file_sha256(path), f"{name} {label} body differs")
                    self.assertIn("x-request-id", headers)

                url = f"{base}/cache/versions/{name}/big"
                # HEAD: size, no body.
                p = curl(*flags, "-I", "-w", "%{http_code}", "-o", os.path.join(self.dir, "head"), url)
                self.assertEqual(p.stdout, b"200", p.stderr)
                head = read_file(os.path.join(self.dir, "head")).decode("latin-1").lower()
                self.assertIn(f"content-length: {BIG}", head)

                # Range → 206 with exactly those bytes.
                out = os.path.join(self.dir, f"{name}-range.out")
                code, _, headers = self.get_file(flags, url, out, ["-r", "1000-300999"])
                self.assertEqual(code, "206")
                self.assertEqual(read_file(out), read_file(self.big_path)[1000:301000])
                self.assertEqual(headers.get("content-range"), f"bytes 1000-300999/{BIG}")

                # Miss.
                p = curl(*flags, "-o", "/dev/null", "-w", "%{http_code}", f"{base}/cache/versions/{name}/absent")
                self.assertEqual(p.stdout, b"404")

    def test_cache_surfaces_over_h2(self):
        # The same routes and exact status codes over h2 (TLS) and h2c as over HTTP/1.1.
        blob = b"bazel over h2"
        cas = f"/cas/{sha256(blob)}"
        blob_path = write_file(os.path.join(self.dir, "cas.bin"), blob)
        for name, flags, base, version in self.modes():
            with self.subTest(mode=name):
                def call(*args):
                    p = curl(*flags, "-o", os.path.join(self.dir, "surface.out"), "-D",
                             os.path.join(self.dir, "surface.hdr"), "-w", "%{http_code}", *args)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    return int(p.stdout), read_file(os.path.join(self.dir, "surface.out")), \
                        read_file(os.path.join(self.dir, "surface.hdr")).decode("latin-1").lower()

                self.assertEqual(call("-X", "PUT", "--data-binary", "@" + blob_path, base + cas)[0], 200)
                self.assertEqual(call("-X", "PUT", "--data-binary", "@" + blob_path,
                                      f"{base}/cas/{sha256(b'other')}")[0], 400)
                self.assertEqual(call(f"{base}/v1/cache/{name}42")[0], 404)
                self.assertEqual(call("-X", "PUT", "--data-binary", "@" + blob_path, f"{base}/v1/cache/{name}42")[0],
                                 200)
                status, body, _ = call(f"{base}/v1/cache/{name}42")
                self.assertEqual((status, body), (200, blob))
                status, _, _ = call("-X", "PUT", "--data-binary", "@" + blob_path, "-H", "x-artifact-tag: tag-" + name,
                                    f"{base}/v8/artifacts/{name}00000000000?slug=team")
                self.assertTrue(200 <= status < 300)
                status, body, headers = call(f"{base}/v8/artifacts/{name}00000000000?slug=team")
                self.assertEqual((status, body), (200, blob))
                self.assertIn(f"x-artifact-tag: tag-{name}", headers)
                self.assertEqual(call("--path-as-is", f"{base}/cache/a/../b")[0], 400)
                self.assertEqual(call(f"{base}/ready")[0], 200)

    def test_keep_alive_reuses_the_connection(self):
        self.node.put("/cache/versions/ka", b"keep-alive body")
        for name, flags, base, _ in self.modes():
            if name == "h2c":
                continue  # curl 7.88.1 cannot reuse an h2c prior-knowledge connection (its own bug)
            with self.subTest(mode=name):
                urls = [f"{base}/cache/versions/ka", f"{base}/cache/versions/ka-miss", f"{base}/up",
                        f"{base}/cache/versions/ka"]
                args = [a for u in urls for a in ("-o", "/dev/null", u)]
                p = curl(*flags, "-w", "%{http_code} %{num_connects}\\n", *args)
                self.assertEqual(p.returncode, 0, p.stderr)
                rows = [line.split() for line in p.stdout.decode().splitlines()]
                self.assertEqual([r[0] for r in rows], ["200", "404", "200", "200"])
                self.assertEqual([r[1] for r in rows], ["1", "0", "0", "0"], "curl opened new connections")

    def test_h2c_sequential_streams_on_one_connection(self):
        self.node.put("/cache/versions/streams", b"stream body")
        with self.node.h2() as h2:
            h2.handshake()
            for sid in (1, 3, 5, 7):
                path = "/cache/versions/streams" if sid != 5 else "/cache/versions/streams-miss"
                h2.send(harness.h2_frame(harness.H2_HEADERS, harness.H2_END_HEADERS | harness.H2_END_STREAM, sid,
                                         harness.hpack_request(path=path)))
                data = b""
                while True:
                    f = h2.read_frame()
                    self.assertIsNotNone(f, f"connection closed at stream {sid}")
                    self.assertNotEqual(f[0], harness.H2_GOAWAY, f)
                    if f[2] != sid:
                        continue
                    if f[0] == harness.H2_HEADERS:
                        # :status 200 and 404 are static-table entries 8 and 13.
                        self.assertEqual(f[3][0], 0x8D if sid == 5 else 0x88, f)
                    if f[0] == harness.H2_DATA:
                        data += f[3]
                    if f[1] & harness.H2_END_STREAM:
                        break
                if sid != 5:
                    self.assertEqual(data, b"stream body")

    def test_expect_100_continue_big_body(self):
        url = f"{self.node.url}/cache/versions/expect"
        p = curl("--http1.1", "-v", "-X", "PUT", "-H", "Expect: 100-continue", "--expect100-timeout", "30",
                 "--data-binary", "@" + self.big_path, "-o", "/dev/null", "-w", "%{http_code}", url)
        self.assertEqual(p.stdout, b"200", p.stderr)
        self.assertIn(b"< HTTP/1.1 100 Continue", p.stderr, "no 100 Continue before the body")
        out = os.path.join(self.dir, "expect.out")
        self.assertEqual(self.get_file(["--http1.1"], url, out)[0], "200")
        self.assertEqual(file_sha256(out), file_sha256(self.big_path))

    def test_chunked_upload(self):
        body = read_file(self.big_path)[:3 * 1024 * 1024 + 17]
        url = f"{self.node.url}/cache/versions/chunked"
        p = curl("--http1.1", "-v", "-T", "-", "-H", "Transfer-Encoding: chunked", "-o", "/dev/null",
                 "-w", "%{http_code}", url, input=body)
        self.assertIn(b"> Transfer-Encoding: chunked", p.stderr)
        self.assertEqual(p.stdout, b"200", p.stderr)
        r = self.node.get("/cache/versions/chunked")
        self.assertEqual(r.status, 200)
        self.assertEqual(sha256(r.body), sha256(body))

    def test_nghttp_h2c(self):
        if not harness.tool("nghttp"):
            self.skipTest("nghttp (nghttp2-client) is not installed")
        body = b"served to nghttp\n" * 1000
        self.node.put("/cache/versions/nghttp", body)
        url = f"{self.node.url}/cache/versions/nghttp"
        v = subprocess.run(["nghttp", "-v", "-n", url], capture_output=True, timeout=60)
        self.assertEqual(v.returncode, 0, v.stderr)
        self.assertIn(b":status: 200", v.stdout)
        self.assertIn(b"x-request-id:", v.stdout)
        got = subprocess.run(["nghttp", url], capture_output=True, timeout=60)
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(got.stdout, body)

        # Uploads: POST to the Xcode CAS, PUT (method overridden) to the generic cache.
        upload = write_file(os.path.join(self.dir, "nghttp-upload.bin"), random.Random(3).randbytes(300_000))
        cas = f"{self.node.url}/api/cache/cas/nghttp1?account_handle=acme&project_handle=app"
        p = subprocess.run(["nghttp", "-v", "-n", "-d", upload, cas], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, rb":status: 20[0-4]")
        r = self.node.get("/api/cache/cas/nghttp1?account_handle=acme&project_handle=app")
        self.assertEqual((r.status, sha256(r.body)), (200, file_sha256(upload)))

        put = f"{self.node.url}/cache/versions/nghttp-put"
        p = subprocess.run(["nghttp", "-v", "-n", "-H", ":method: PUT", "-d", upload, put],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b":status: 200", p.stdout)
        r = self.node.get("/cache/versions/nghttp-put")
        self.assertEqual((r.status, sha256(r.body)), (200, file_sha256(upload)))


if __name__ == "__main__":
    harness.main()
