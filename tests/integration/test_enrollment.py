"""test_enrollment.py: MESHCACHE_ENROLL_ON_BOOT against the real meshcache-mock-cp over HTTPS:
enroll to serving (key 0600 and never sent, SAN = node URL host, peers minus self, status),
401 and 422 are fatal with clear messages, 503 ca_unavailable and a control plane that is down
are retried until they recover, renewal with a short lifetime keeps serving, mesh_member:false
leads to re-enrollment, and registration leases arrive with ready:true."""

import os
import re
import stat
import subprocess
import time
import unittest

import harness
from mock_cp import MockCp

SECRET_SENTINEL_TAG = "SECRET-SENTINEL"


def openssl_text(pem):
    p = subprocess.run(["openssl", "x509", "-noout", "-text"], input=pem, capture_output=True)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


def key_body(pem_bytes):
    """The base64 lines of a PEM key: what would leak if the key were ever sent."""
    lines = [l for l in pem_bytes.decode().splitlines() if l and not l.startswith("-----")]
    return lines


def enrolled_node(mock, name, tenant, node_url, extra=None, start=True):
    credential = mock.create_credential(tenant)
    env = mock.enrollment_env(credential, node_url)
    env.update(extra or {})
    node = harness.Node(name, env=env)
    node.credential = credential
    if start:
        node.start()
    return node


def cp_status(node):
    return node.status_json()["control_plane"]


class EnrollmentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = MockCp(state_dir=harness.tmpdir("mock"), heartbeat_interval_seconds=1)

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def test_enroll_to_serving(self):
        m = self.mock
        m.create_tenant("acme", managed_peers=["https://gw.acme.example:7443"])
        # Another self-hosted node of the tenant is already a member.
        other = enrolled_node(m, "enroll-other", "acme", "https://127.0.0.2:7443")
        # Hold enrollment back (whatever the machine's speed), so the node is seen while it enrolls.
        m.set_fault("down", endpoints=["enroll"])
        try:
            node = enrolled_node(m, "enroll-main", "acme", "https://127.0.0.1:7443", start=False).spawn()
            doc = harness.wait_until(lambda: (d := node.status()[1]) and d.get("listeners", {}).get("http") and d,
                                     timeout=30, message="the node's status while enrolling")
            self.assertEqual(doc["state"], "enrolling")
            ready = harness.http_request(doc["listeners"]["http"], "GET", "/ready")
            self.assertEqual(ready.status, 503)
            self.assertIn(b"enrolling", ready.body)
            refused = harness.http_request(doc["listeners"]["http"], "GET", "/cache/ab/" + "0" * 64)
            self.assertEqual(refused.status, 503, refused)
            self.assertIn("retry-after", refused.headers)
        finally:
            m.clear_faults()
        node.wait_serving(timeout=30)

        # Tenant, certificate and peers in status.
        cp = cp_status(node)
        self.assertEqual(cp["enrollment"], "enrolled")
        self.assertEqual(cp["tenant_id"], "acme")
        self.assertEqual(node.status_json()["tenant_id"], "acme")
        self.assertEqual(cp["certificate"]["sans"], ["IP:127.0.0.1"])
        self.assertIn("127.0.0.1", cp["certificate"]["subject"])
        self.assertIsNotNone(cp["renew_at"])
        self.assertEqual(cp["peers"]["static"], ["https://gw.acme.example:7443"])
        self.assertIn("https://127.0.0.2:7443", cp["peers"]["dynamic"])
        self.assertNotIn("https://127.0.0.1:7443", cp["peers"]["dynamic"] + cp["peers"]["static"])
        self.assertEqual(harness.http_request(node.http_addr, "GET", "/ready").status, 200)

        # The identity on disk: key 0600, leaf for the node URL's host, chained to the tenant CA.
        tls_dir = os.path.join(node.data_dir, "tls")
        key_path = os.path.join(tls_dir, "tls.key")
        self.assertEqual(stat.S_IMODE(os.stat(key_path).st_mode), 0o600)
        key = harness.read_file(key_path)
        self.assertIn(b"BEGIN PRIVATE KEY", key)
        cert = harness.read_file(os.path.join(tls_dir, "tls.crt"))
        text = openssl_text(cert)
        self.assertRegex(text, r"Subject Alternative Name:\s*\n\s*IP Address:127\.0\.0\.1\s*\n")
        self.assertIn("TLS Web Server Authentication, TLS Web Client Authentication", text)
        self.assertEqual(harness.read_file(os.path.join(tls_dir, "ca.pem")).strip(),
                         m.tenant("acme")["ca_certificate"].encode().strip())
        p = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(tls_dir, "ca.pem"),
                            os.path.join(tls_dir, "tls.crt")], capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        # The private key never left the node: no request the mock received holds any of it.
        wire = "\n".join(f"{r['path']} {r['headers']} {r['body']}" for r in m.requests())
        self.assertIn("BEGIN CERTIFICATE REQUEST", wire)
        for line in key_body(key):
            self.assertNotIn(line, wire)
        # Nor does the secret appear where the node speaks.
        secret = node.credential[1]
        self.assertNotIn(secret, node.log_text())
        self.assertNotIn(secret, node.status()[2])
        self.assertNotIn(secret, node.get("/metrics").body.decode())
        self.assertIn(node.credential[0], node.status()[2])  # the id is not secret
        other.stop()
        self.assertEqual(node.stop(), 0)

    def test_wrong_secret_is_fatal_and_names_the_client(self):
        m = self.mock
        m.create_tenant("acme")
        client_id, _ = m.create_credential("acme")
        bad_secret = "wrong-" + SECRET_SENTINEL_TAG
        env = m.enrollment_env((client_id, bad_secret), "https://127.0.0.3:7443")
        node = harness.Node("enroll-401", env=env).spawn()
        self.assertEqual(node.wait_exit(60), 2)
        log = node.log_text()
        self.assertIn(client_id, log)
        self.assertIn("401", log)
        self.assertNotIn(bad_secret, log)

    def test_invalid_node_url_is_fatal_and_names_the_field(self):
        m = self.mock
        m.create_tenant("acme")
        # The node checks its own URL first; a control plane that still refuses it says 422.
        m.set_fault("status", endpoints=["enroll"], status=422, body={"error": "invalid_node_url"})
        try:
            node = enrolled_node(m, "enroll-422", "acme", "https://127.0.0.4:7443", start=False).spawn()
            self.assertEqual(node.wait_exit(60), 2)
            log = node.log_text()
            self.assertIn("MESHCACHE_NODE_URL", log)
            self.assertIn("https://127.0.0.4:7443", log)
        finally:
            m.clear_faults()

    def test_ca_unavailable_is_retried_until_the_mesh_exists(self):
        m = self.mock
        m.create_tenant("solo", managed_mesh=False)
        node = enrolled_node(m, "enroll-503", "solo", "https://127.0.0.5:7443", start=False).spawn()
        harness.wait_until(lambda: "ca_unavailable" in (cp_status(node)["enroll"]["last_result"] or ""),
                           timeout=30, message="a ca_unavailable enrollment in status")
        self.assertEqual(node.status_json()["state"], "enrolling")
        log = harness.wait_until(lambda: "standalone" in node.log_text() and node.log_text(), timeout=10,
                                 message="the standalone hint in the log")
        self.assertIn("ca_unavailable", log)
        # A second failure shows the node keeps trying.
        attempts = lambda: len([r for r in m.requests("enroll") if "127.0.0.5" in r["body"]])
        harness.wait_until(lambda: attempts() >= 2, timeout=30, message="a retried enrollment")
        m.create_tenant("solo", managed_mesh=True)
        node.wait_serving(timeout=60)
        self.assertEqual(cp_status(node)["tenant_id"], "solo")
        node.stop()

    def test_control_plane_down_at_boot(self):
        m = self.mock
        m.create_tenant("acme")
        m.set_fault("down")
        try:
            node = enrolled_node(m, "enroll-down", "acme", "https://127.0.0.6:7443", start=False).spawn()
            harness.wait_until(lambda: "503" in (cp_status(node)["enroll"]["last_result"] or ""), timeout=30,
                               message="a failed enrollment in status")
            self.assertEqual(node.status_json()["state"], "enrolling")
            self.assertTrue(node.alive())
        finally:
            m.clear_faults()
        node.wait_serving(timeout=60)
        node.stop()

    def test_renewal_keeps_serving(self):
        m = self.mock
        m.create_tenant("shortlived", cert_lifetime_seconds=6)
        node = enrolled_node(m, "enroll-renew", "shortlived", "https://127.0.0.7:7443",
                             extra={"MESHCACHE_AUTH": "none"})
        first = cp_status(node)["certificate"]
        crt_path = os.path.join(node.data_dir, "tls", "tls.crt")
        first_pem = harness.read_file(crt_path)
        body = b"renewal-body"
        self.assertEqual(node.put("/cache/ab/renew", body).status // 100, 2)
        failures = []

        def renewed():
            r = node.get("/cache/ab/renew")
            if r.status != 200 or r.body != body:
                failures.append(r)
            cert = cp_status(node)["certificate"]
            return cert["serial"] != first["serial"] and cert

        second = harness.wait_until(renewed, timeout=30, interval=0.2, message="a renewed certificate")
        self.assertEqual(failures, [])
        self.assertNotEqual(harness.read_file(crt_path), first_pem)
        self.assertGreater(second["not_after"], first["not_after"])
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(node.data_dir, "tls", "tls.key")).st_mode), 0o600)
        self.assertEqual(node.status_json()["state"], "serving")
        node.stop()

    def test_mesh_member_false_re_enrolls(self):
        m = self.mock
        m.create_tenant("acme")
        url = "https://127.0.0.8:7443"
        node = enrolled_node(m, "enroll-member", "acme", url, extra={"MESHCACHE_AUTH": "none"})
        enrolls = lambda: len([r for r in m.requests("enroll") if url in r["body"]])
        before = enrolls()
        harness.wait_until(lambda: cp_status(node)["heartbeat"]["last_success"], timeout=30,
                           message="a successful heartbeat")
        m.remove_member("acme", url)
        harness.wait_until(lambda: enrolls() > before, timeout=30, message="a re-enrollment")
        harness.wait_until(lambda: any(mb["node_url"] == url and mb.get("active", True)
                                       for mb in m.members("acme")), timeout=30, message="membership again")
        self.assertEqual(node.status_json()["state"], "serving")
        node.stop()

    def test_registration_leases_say_ready(self):
        m = self.mock
        m.create_tenant("acme")
        node = enrolled_node(m, "enroll-lease", "acme", "https://127.0.0.9:7443",
                             extra={"MESHCACHE_ADVERTISED_URL": "https://cache.acme.example",
                                    "MESHCACHE_REGISTRATION_INTERVAL_MS": "1000",
                                    "MESHCACHE_REGION": "eu-test"})

        def ready_lease():
            for r in m.requests("registrations"):
                if "127.0.0.9" in r["body"] and '"ready":true' in r["body"].replace(" ", ""):
                    return r
            return None

        lease = harness.wait_until(ready_lease, timeout=30, message="a lease with ready:true")
        import json
        doc = json.loads(lease["body"])
        self.assertEqual(doc["schema_version"], 1)
        self.assertEqual(doc["node_id"], "127.0.0.9")
        self.assertEqual(doc["tenant_id"], "acme")
        self.assertEqual(doc["region"], "eu-test")
        self.assertEqual(doc["advertised_http_url"], "https://cache.acme.example")
        self.assertEqual(doc["traffic_state"], "serving")
        self.assertEqual(lease["status"], 200)
        harness.wait_until(lambda: cp_status(node)["registration"]["last_success"], timeout=10,
                           message="the lease in status")
        node.stop()


if __name__ == "__main__":
    harness.main()
