"""test_auth_tokens.py: MESHCACHE_AUTH=tokens: 401/403 decisions per namespace (Turborepo slug,
Bazel instance, Xcode project), Bearer and Basic (both base64 alphabets), write implies read,
secrets never logged; auth none refuses a non-loopback listener."""

import base64
import json
import os
import unittest

import harness
from harness import sha256, write_file

SENTINEL = "tok3n-SENTINEL-"


def basic(token, user="user", urlsafe=False):
    raw = f"{user}:{token}".encode()
    enc = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
    return "Basic " + enc.decode()


def token_with_special_base64():
    """A token whose Basic credentials contain '+' or '/' in standard base64 (so '-'/'_' in base64url)."""
    for i in range(10000):
        token = f"{SENTINEL}basic-{i}~~?>"
        std = base64.b64encode(f"user:{token}".encode()).decode()
        if "+" in std or "/" in std:
            assert std != base64.urlsafe_b64encode(f"user:{token}".encode()).decode()
            return token
    raise AssertionError("no token with +/ in its base64")


TOKENS = {
    "ci": (SENTINEL + "ci-7f3a", ["*"], ["team-a"]),
    "reader": (SENTINEL + "reader-19c2", ["team-a"], []),
    "writer-b": (SENTINEL + "writer-b-88d1", [], ["team-b"]),
    "basic": (token_with_special_base64(), [], ["team-basic"]),
}


class AuthTokensTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        d = harness.tmpdir("tokens")
        doc = {"tokens": [{"name": name, "sha256": sha256(tok.encode()), "read": read, "write": write}
                          for name, (tok, read, write) in TOKENS.items()]}
        path = write_file(os.path.join(d, "tokens.json"), json.dumps(doc).encode())
        cls.node = harness.Node("auth", env={"MESHCACHE_AUTH": "tokens", "MESHCACHE_AUTH_TOKENS_FILE": path,
                                             "MESHCACHE_LOG_LEVEL": "trace"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.node.kill()

    def bearer(self, name):
        return {"Authorization": "Bearer " + TOKENS[name][0]}

    def turbo(self, method, team, headers, body=None, h="0123456789abcdef"):
        return self.node.request(method, f"/v8/artifacts/{h}?slug={team}", body, headers)

    def assert_stored(self, r):
        self.assertTrue(200 <= r.status < 300, r)  # turbo takes any 2xx (the node answers 202)

    def assert_json_error(self, r):
        doc = json.loads(r.body)
        self.assertIn("error", doc)
        self.assertIn("message", doc)
        for tok, _, _ in TOKENS.values():
            self.assertNotIn(tok.encode(), r.body)

    def test_missing_token_401(self):
        for method, path in (("GET", "/v8/artifacts/0123456789abcdef?slug=team-a"), ("PUT", "/cache/x"),
                             ("GET", f"/team-a/ac/{sha256(b'x')}"), ("GET", "/v1/cache/123")):
            with self.subTest(path=path):
                r = self.node.request(method, path, b"body" if method == "PUT" else None)
                self.assertEqual(r.status, 401, r)
                self.assertTrue(r.headers.get("www-authenticate"), "401 without WWW-Authenticate")
                self.assertTrue(r.headers.get("x-request-id"))
                self.assert_json_error(r)

    def test_wrong_token_401(self):
        for auth in ("Bearer wrong-token", "Bearer " + TOKENS["ci"][0] + "x", "Bearer ", "Basic !!!notbase64",
                     basic("wrong"), "Token " + TOKENS["ci"][0]):
            with self.subTest(auth=auth):
                r = self.turbo("GET", "team-a", {"Authorization": auth})
                self.assertEqual(r.status, 401, r)
                self.assertTrue(r.headers.get("www-authenticate"))

    def test_grants_per_namespace(self):
        body = b"turbo artifact"
        # reader: read team-a only.
        self.assertEqual(self.turbo("PUT", "team-a", self.bearer("reader"), body).status, 403)
        self.assertEqual(self.turbo("GET", "team-a", self.bearer("reader")).status, 404)
        self.assertEqual(self.turbo("GET", "team-b", self.bearer("reader")).status, 403)
        # ci: read everywhere, write team-a.
        self.assert_stored(self.turbo("PUT", "team-a", self.bearer("ci"), body))
        r = self.turbo("GET", "team-a", self.bearer("reader"))
        self.assertEqual((r.status, r.body), (200, body))
        self.assertEqual(self.turbo("PUT", "team-b", self.bearer("ci"), body).status, 403)
        self.assertEqual(self.turbo("GET", "team-b", self.bearer("ci")).status, 404)
        self.assertEqual(self.turbo("GET", "team-z", self.bearer("ci")).status, 404)
        # writer-b: write implies read on team-b, nothing on team-a.
        self.assert_stored(self.turbo("PUT", "team-b", self.bearer("writer-b"), b"b"))
        r = self.turbo("GET", "team-b", self.bearer("writer-b"))
        self.assertEqual((r.status, r.body), (200, b"b"))
        r = self.turbo("GET", "team-a", self.bearer("writer-b"))
        self.assertEqual(r.status, 403)
        self.assert_json_error(r)

    def test_bazel_instance_is_the_namespace(self):
        blob = b"bazel blob under auth"
        h = sha256(blob)
        self.assertEqual(self.node.put(f"/team-a/cas/{h}", blob, self.bearer("ci")).status, 200)
        self.assertEqual(self.node.put(f"/team-b/cas/{h}", blob, self.bearer("ci")).status, 403)
        self.assertEqual(self.node.get(f"/team-a/cas/{h}", self.bearer("reader")).status, 200)
        self.assertEqual(self.node.get(f"/team-b/cas/{h}", self.bearer("reader")).status, 403)
        # Bazel sends Basic with the URL-safe alphabet.
        tok = TOKENS["basic"][0]
        hdr = {"Authorization": basic(tok, "bazel", urlsafe=True)}
        self.assertEqual(self.node.put(f"/team-basic/cas/{h}", blob, hdr).status, 200)
        self.assertEqual(self.node.get(f"/team-basic/cas/{h}", hdr).status, 200)

    def test_xcode_project_is_the_namespace(self):
        q = "account_handle=acme&project_handle="
        self.assert_stored(self.node.request("POST", f"/api/cache/cas/x1?{q}team-a", b"cas", self.bearer("ci")))
        self.assertEqual(self.node.request("POST", f"/api/cache/cas/x1?{q}team-b", b"cas", self.bearer("ci")).status,
                         403)
        self.assertEqual(self.node.get(f"/api/cache/cas/x1?{q}team-a", self.bearer("reader")).status, 200)

    def test_basic_both_alphabets(self):
        tok = TOKENS["basic"][0]
        for urlsafe in (False, True):
            with self.subTest(urlsafe=urlsafe):
                hdr = {"Authorization": basic(tok, urlsafe=urlsafe)}
                self.assert_stored(self.turbo("PUT", "team-basic", hdr, b"basic body", h="b" * 16))
                r = self.turbo("GET", "team-basic", hdr, h="b" * 16)
                self.assertEqual((r.status, r.body), (200, b"basic body"))
                self.assertEqual(self.turbo("GET", "team-a", hdr).status, 403)

    def test_probes_need_no_token(self):
        self.assertEqual(self.node.get("/up").status, 200)

    def test_zz_no_secret_in_logs_or_status(self):
        # Runs last (alphabetical): every token has been used by now.
        _, _, status_raw = self.node.status()
        metrics = self.node.get("/metrics", self.bearer("ci")).body.decode(errors="replace")
        logs = self.node.log_text()
        self.assertTrue(logs, "the node logged nothing at trace level")
        for name, (tok, _, _) in TOKENS.items():
            for text, where in ((logs, "logs"), (status_raw, "status"), (metrics, "metrics")):
                self.assertNotIn(tok, text, f"token {name} appears in {where}")
                self.assertNotIn(base64.b64encode(f"user:{tok}".encode()).decode(), text)
                self.assertNotIn(base64.urlsafe_b64encode(f"user:{tok}".encode()).decode(), text)
            self.assertNotIn(SENTINEL, logs)


class AuthStartupTest(unittest.TestCase):
    def test_auth_none_on_non_loopback_refuses_to_start(self):
        rc, log = harness.run_node_expecting_failure({"MESHCACHE_LISTEN": "0.0.0.0:0", "MESHCACHE_AUTH": "none"})
        self.assertNotEqual(rc, 0)
        self.assertIn("MESHCACHE_AUTH", log)

    def test_tokens_mode_without_a_readable_file_refuses_to_start(self):
        rc, log = harness.run_node_expecting_failure({
            "MESHCACHE_AUTH": "tokens", "MESHCACHE_AUTH_TOKENS_FILE": "/nonexistent/tokens.json"})
        self.assertNotEqual(rc, 0)
        self.assertIn("tokens", log.lower())

    def test_malformed_tokens_file_refuses_to_start(self):
        path = write_file(os.path.join(harness.tmpdir("badtokens"), "tokens.json"), b'{"tokens": [{"name": 1')
        rc, log = harness.run_node_expecting_failure({"MESHCACHE_AUTH": "tokens", "MESHCACHE_AUTH_TOKENS_FILE": path})
        self.assertNotEqual(rc, 0)
        self.assertIn("tokens", log.lower())


if __name__ == "__main__":
    harness.main()
