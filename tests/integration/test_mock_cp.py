"""test_mock_cp.py: meshcache-mock-cp's own contract: the node-facing endpoints with their real
status codes and bodies (curl over HTTPS with --cacert, and the python client), certificates that
chain to the tenant CA with the right SAN, credentials and tokens with revocation, faults (slow
really delays, count expires), the request log, bounded bodies, and a clean SIGTERM."""

import base64
import calendar
import json
import os
import re
import subprocess
import time
import unittest

import harness
from mock_cp import MockCp, basic_auth

ENROLL = "/_internal/kura/mesh/enroll"
HEARTBEAT = "/_internal/kura/mesh/heartbeat"
PEERS = "/_internal/kura/mesh/peers"
REGISTRATIONS = "/_internal/kura/mesh/registrations"
USAGE = "/_internal/kura/usage"
INTROSPECT = "/oauth2/introspect"
FILE_TOKEN = "file-token-SENTINEL-42"


def openssl(*args, input=None):
    p = subprocess.run(["openssl", *args], input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def make_csr(directory, name="node"):
    """A CSR as the node makes it: P-256, empty subject, no extensions → (csr PEM, key path)."""
    key = os.path.join(directory, name + ".key")
    csr = os.path.join(directory, name + ".csr")
    rc, out = openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-subj", "/", "-keyout", key, "-out", csr)
    assert rc == 0, out
    return harness.read_file(csr).decode(), key


def tampered_csr(pem):
    """The same CSR with one byte of its signature changed: parses, but does not verify."""
    rc = subprocess.run(["openssl", "req", "-outform", "DER"], input=pem.encode(), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
    assert rc.returncode == 0, rc.stderr
    der = bytearray(rc.stdout)
    der[-1] ^= 0x01
    body = base64.encodebytes(bytes(der)).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


class Curl:
    """curl over HTTPS trusting the mock's CA → (status, headers, body bytes)."""

    def __init__(self, mock, directory):
        self.mock = mock
        self.dir = directory
        self.n = 0

    def __call__(self, method, path, data=None, credential=None, headers=(), extra=()):
        self.n += 1
        out = os.path.join(self.dir, f"curl-{self.n}.body")
        head = os.path.join(self.dir, f"curl-{self.n}.head")
        args = ["--cacert", self.mock.ca_path, "-X", method, "-o", out, "-D", head, "-w", "%{http_code}"]
        if credential:
            args += ["-u", f"{credential[0]}:{credential[1]}"]
        for h in headers:
            args += ["-H", h]
        if data is not None:
            if isinstance(data, (dict, list)):
                data = json.dumps(data)
                args += ["-H", "content-type: application/json"]
            args += ["--data-binary", "@-"]
        args += [*extra, self.mock.url + path]
        p = harness.curl(*args, input=data.encode() if isinstance(data, str) else data, check=True)
        hdrs = {}
        for line in harness.read_file(head).decode().splitlines()[1:]:
            name, sep, value = line.partition(":")
            if sep:
                hdrs[name.strip().lower()] = value.strip()
        return int(p.stdout), hdrs, harness.read_file(out)


class MockCpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = harness.tmpdir("mock-cp-test")
        tokens = {"tokens": [{"token": FILE_TOKEN, "grants": {"account": {"read": ["acme"]}}}]}
        tokens_file = harness.write_file(os.path.join(cls.dir, "tokens.json"), json.dumps(tokens).encode())
        cls.mock = MockCp(state_dir=os.path.join(cls.dir, "state"), tenants=["acme"],
                          heartbeat_interval_seconds=7, lease_seconds=33, tokens_file=tokens_file)
        cls.curl = Curl(cls.mock, cls.dir)
        cls.cred = cls.mock.create_credential("acme")

    @classmethod
    def tearDownClass(cls):
        # A clean stop after everything above (under ASan this also checks for leaks).
        rc = cls.mock.stop()
        if rc != 0:
            raise AssertionError(f"meshcache-mock-cp exited {rc}:\n" + cls.mock.log_text()[-3000:])

    def tenant_with_credential(self, name, **settings):
        self.mock.create_tenant(name, **settings)
        return self.mock.create_credential(name)

    def enroll(self, credential, node_url, csr=None):
        csr = csr or make_csr(self.dir)[0]
        return self.curl("POST", ENROLL, {"csr": csr, "node_url": node_url}, credential)

    def check_leaf(self, doc, tenant, san):
        leaf = harness.write_file(os.path.join(self.dir, f"leaf-{time.monotonic_ns()}.pem"), doc["certificate"].encode())
        ca = harness.write_file(os.path.join(self.dir, f"ca-{time.monotonic_ns()}.pem"),
                                self.mock.tenant(tenant)["ca_certificate"].encode())
        self.assertEqual(doc["ca_certificate"], harness.read_file(ca).decode())
        rc, out = openssl("verify", "-CAfile", ca, leaf)
        self.assertEqual(rc, 0, out)
        rc, out = openssl("x509", "-in", leaf, "-noout", "-subject", "-enddate", "-ext",
                          "subjectAltName,extendedKeyUsage")
        self.assertEqual(rc, 0, out)
        sans = re.search(r"Subject Alternative Name:\s*\n\s*(.+)", out).group(1).strip()
        self.assertEqual(sans, san)
        self.assertIn("TLS Web Server Authentication, TLS Web Client Authentication", out)
        host = san.split(":", 1)[1]
        self.assertRegex(out, r"subject=CN ?= ?" + re.escape(host))
        end = re.search(r"notAfter=(.+)", out).group(1).strip()
        not_after = calendar.timegm(time.strptime(end, "%b %d %H:%M:%S %Y %Z"))
        self.assertRegex(doc["not_after"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(calendar.timegm(time.strptime(doc["not_after"], "%Y-%m-%dT%H:%M:%SZ")), not_after)
        return not_after

    # ------------------------------------------------------------------ start-up

    def test_start_line_and_files(self):
        info = json.loads(harness.read_file(os.path.join(self.mock.state_dir, "mock.json")))
        self.assertEqual(info["url"], self.mock.url)
        self.assertEqual(info["ca_path"], self.mock.ca_path)
        self.assertTrue(self.mock.url.startswith("https://127.0.0.1:"))
        self.assertEqual(os.stat(os.path.join(self.mock.state_dir, "server.key")).st_mode & 0o777, 0o600)
        # Without the mock's CA, curl refuses the certificate; with it, the admin API answers.
        p = harness.curl(self.mock.url + "/_mock/tenants/acme")
        self.assertNotEqual(p.returncode, 0)
        status, _, body = self.curl("GET", "/_mock/tenants/acme")
        self.assertEqual(status, 200)
        self.assertIn("BEGIN CERTIFICATE", json.loads(body)["ca_certificate"])
        # localhost is in the server certificate too.
        port = self.mock.url.rsplit(":", 1)[1]
        p = harness.curl("--cacert", self.mock.ca_path, f"https://localhost:{port}/_mock/faults", check=True)
        self.assertEqual(json.loads(p.stdout)["mode"], "none")

    # ------------------------------------------------------------------ enroll

    def test_enroll_issues_a_leaf_for_the_node_url_host(self):
        cred = self.tenant_with_credential("enroll-ok")
        status, headers, body = self.enroll(cred, "https://127.0.0.1:7443")
        self.assertEqual(status, 201, body)
        self.assertEqual(headers["content-type"], "application/json")
        doc = json.loads(body)
        self.assertEqual(set(doc), {"tenant_id", "certificate", "ca_certificate", "not_after",
                                    "renew_after_seconds", "peers", "managed_peers"})
        self.assertEqual(doc["tenant_id"], "enroll-ok")
        self.assertEqual(doc["renew_after_seconds"], 2592000 // 2)
        self.assertEqual(doc["peers"], [])
        self.assertEqual(doc["managed_peers"], [])
        not_after = self.check_leaf(doc, "enroll-ok", "IP Address:127.0.0.1")
        self.assertAlmostEqual(not_after - time.time(), 2592000, delta=120)
        # A DNS host gets a DNS SAN.
        status, _, body = self.enroll(cred, "https://node-1.acme.test:7443")
        self.assertEqual(status, 201, body)
        self.check_leaf(json.loads(body), "enroll-ok", "DNS:node-1.acme.test")

    def test_admin_leaf_for_several_names(self):
        self.mock.create_tenant("leaf-t", cert_lifetime_seconds=7200)
        doc = self.mock.issue_leaf("leaf-t", ["127.0.0.1", "localhost", "gw.leaf.test", "localhost"])
        self.assertEqual(set(doc), {"certificate", "key", "ca_certificate"})
        leaf = harness.write_file(os.path.join(self.dir, "admin-leaf.pem"), doc["certificate"].encode())
        ca = harness.write_file(os.path.join(self.dir, "admin-leaf-ca.pem"), doc["ca_certificate"].encode())
        self.assertEqual(doc["ca_certificate"], self.mock.tenant("leaf-t")["ca_certificate"])
        rc, out = openssl("verify", "-CAfile", ca, leaf)
        self.assertEqual(rc, 0, out)
        rc, out = openssl("x509", "-in", leaf, "-noout", "-subject", "-enddate", "-ext",
                          "subjectAltName,extendedKeyUsage")
        self.assertIn("IP Address:127.0.0.1, DNS:localhost, DNS:gw.leaf.test\n", out)
        self.assertIn("TLS Web Server Authentication, TLS Web Client Authentication", out)
        self.assertRegex(out, r"subject=CN ?= ?127\.0\.0\.1")
        end = re.search(r"notAfter=(.+)", out).group(1).strip()
        self.assertAlmostEqual(calendar.timegm(time.strptime(end, "%b %d %H:%M:%S %Y %Z")) - time.time(), 7200,
                               delta=120)
        # The key is the certificate's.
        key = harness.write_file(os.path.join(self.dir, "admin-leaf.key"), doc["key"].encode())
        _, pub_cert = openssl("x509", "-in", leaf, "-noout", "-pubkey")
        _, pub_key = openssl("pkey", "-in", key, "-pubout")
        self.assertEqual(pub_cert, pub_key)
        # Not a member: enrolling is what makes one.
        self.assertEqual(self.mock.members("leaf-t"), [])
        short = self.mock.issue_leaf("leaf-t", ["node.leaf.test"], lifetime_seconds=60)
        self.assertIn("BEGIN CERTIFICATE", short["certificate"])
        for body, status in (({"hosts": []}, 400), ({"hosts": ["a,b"]}, 400), ({"hosts": [1]}, 400),
                             ({"hosts": ["x"], "lifetime_seconds": 0}, 400), ({}, 400)):
            r = self.mock.request("POST", "/_mock/tenants/leaf-t/leaf", body)
            self.assertEqual(r.status, status, (body, r))
        self.assertEqual(self.mock.request("POST", "/_mock/tenants/nobody/leaf", {"hosts": ["x"]}).status, 404)
        self.assertEqual(self.mock.request("GET", "/_mock/tenants/leaf-t/leaf").status, 405)

    def test_enroll_peers_are_members_and_managed_peers_minus_caller(self):
        managed = ["https://gateway.acme.test:7443", "https://b.acme.test:7443"]
        cred = self.tenant_with_credential("peers-t", managed_peers=managed)
        status, _, body = self.enroll(cred, "https://b.acme.test:7443")
        self.assertEqual(status, 201, body)
        self.assertEqual(json.loads(body)["peers"], ["https://gateway.acme.test:7443"])
        status, _, body = self.enroll(cred, "https://a.acme.test:7443")
        doc = json.loads(body)
        # Members in URL order, then managed ones, deduplicated, without the caller.
        self.assertEqual(doc["peers"], ["https://b.acme.test:7443", "https://gateway.acme.test:7443"])
        self.assertEqual(doc["managed_peers"], managed)
        r = self.mock.node_call(PEERS, cred, method="GET")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"peers": ["https://a.acme.test:7443", "https://b.acme.test:7443"],
                                    "refresh_interval_seconds": 60})
        # Re-enrolment is an upsert: still two members.
        self.enroll(cred, "https://a.acme.test:7443")
        self.assertEqual(len(self.mock.members("peers-t")), 2)

    def test_enroll_errors(self):
        cred = self.tenant_with_credential("enroll-err")
        csr, _ = make_csr(self.dir)
        good = {"csr": csr, "node_url": "https://127.0.0.1:7443"}
        cases = [
            ((cred[0], "wrong-secret"), good, 401, "unauthorized"),
            (("cache_bogus", "wrong"), good, 401, "unauthorized"),
            (None, good, 401, "unauthorized"),
            (cred, "not json", 400, "invalid_payload"),
            (cred, {"csr": 5, "node_url": "https://a"}, 400, "invalid_payload"),
            (cred, {"csr": csr}, 400, "invalid_payload"),
            (cred, [good], 400, "invalid_payload"),
            (cred, {"csr": "not a csr", "node_url": "https://a"}, 422, "invalid_csr"),
            (cred, {"csr": tampered_csr(csr), "node_url": "https://a"}, 422, "invalid_csr"),
            (cred, {"csr": csr, "node_url": "not-a-url"}, 422, "invalid_node_url"),
            (cred, {"csr": csr, "node_url": "ftp://a.test"}, 422, "invalid_node_url"),
            (cred, {"csr": csr, "node_url": "https://:7443"}, 422, "invalid_node_url"),
        ]
        for credential, body, status, error in cases:
            with self.subTest(body=str(body)[:60], status=status):
                got, _, raw = self.curl("POST", ENROLL, body, credential)
                self.assertEqual((got, json.loads(raw)), (status, {"error": error}))
        # A Basic header that is not base64 is just unauthorized.
        got, _, raw = self.curl("POST", ENROLL, good, headers=["authorization: Basic !!!"])
        self.assertEqual(got, 401, raw)

    def test_enroll_ca_unavailable_then_recovery(self):
        cred = self.tenant_with_credential("standalone", managed_mesh=False)
        status, _, body = self.enroll(cred, "https://127.0.0.1:7443")
        self.assertEqual((status, json.loads(body)), (503, {"error": "ca_unavailable"}))
        self.assertEqual(self.mock.members("standalone"), [])
        self.mock.create_tenant("standalone", managed_mesh=True)
        status, _, body = self.enroll(cred, "https://127.0.0.1:7443")
        self.assertEqual(status, 201, body)

    def test_short_lifetime_and_omitted_renew_after(self):
        cred = self.tenant_with_credential("short", cert_lifetime_seconds=90, omit_renew_after=True)
        status, _, body = self.enroll(cred, "https://127.0.0.1:7443")
        self.assertEqual(status, 201, body)
        doc = json.loads(body)
        self.assertNotIn("renew_after_seconds", doc)
        not_after = self.check_leaf(doc, "short", "IP Address:127.0.0.1")
        self.assertAlmostEqual(not_after - time.time(), 90, delta=30)
        self.mock.create_tenant("short", omit_renew_after=False)
        status, _, body = self.enroll(cred, "https://127.0.0.1:7443")
        self.assertEqual(json.loads(body)["renew_after_seconds"], 45)

    # ------------------------------------------------------------------ heartbeat

    def test_heartbeat_membership(self):
        cred = self.tenant_with_credential("hb")
        me, other = "https://127.0.0.1:7001", "https://127.0.0.1:7002"
        r = self.mock.node_call(HEARTBEAT, cred, {"node_url": me})
        self.assertEqual(r.json(), {"mesh_member": False, "peers": [], "heartbeat_interval_seconds": 7})
        self.assertEqual(self.mock.members("hb"), [])  # a heartbeat never creates membership
        self.enroll(cred, me)
        self.enroll(cred, other)
        r = self.mock.node_call(HEARTBEAT, cred, {"node_url": me})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"mesh_member": True, "peers": [other], "heartbeat_interval_seconds": 7})
        self.mock.remove_member("hb", me)
        self.assertFalse(self.mock.node_call(HEARTBEAT, cred, {"node_url": me}).json()["mesh_member"])
        self.assertEqual(self.mock.node_call(HEARTBEAT, cred, {"node_url": other}).json()["peers"], [])
        self.assertFalse(self.mock.node_call(HEARTBEAT, cred, {"node_url": me}).json()["mesh_member"])
        self.enroll(cred, me)  # re-enrolment reactivates
        self.assertTrue(self.mock.node_call(HEARTBEAT, cred, {"node_url": me}).json()["mesh_member"])
        for body, status in ((b"{", 400), ({"node_url": 3}, 400), ({}, 400)):
            self.assertEqual(self.mock.node_call(HEARTBEAT, cred, body).status, status)
        self.assertEqual(self.mock.node_call(HEARTBEAT, (cred[0], "x"), {"node_url": me}).status, 401)

    # ------------------------------------------------------------------ registrations

    def test_registrations(self):
        cred = self.tenant_with_credential("reg")
        body = {"schema_version": 1, "node_id": "10.0.0.7", "tenant_id": "REG", "region": "local",
                "advertised_http_url": "http://10.0.0.7:4000", "ready": True, "version": "0.1.0",
                "traffic_state": "serving", "ring_members": []}
        r = self.mock.node_call(REGISTRATIONS, cred, body)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(set(doc), {"accepted", "registration_id", "lease_seconds", "heartbeat_interval_seconds"})
        self.assertEqual((doc["accepted"], doc["lease_seconds"], doc["heartbeat_interval_seconds"]), (True, 33, 7))
        self.assertRegex(doc["registration_id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        again = self.mock.node_call(REGISTRATIONS, cred, {**body, "ready": "true"}).json()
        self.assertEqual(again["registration_id"], doc["registration_id"])
        lease = [x for x in self.mock.registrations() if x["tenant"] == "reg"]
        self.assertEqual(len(lease), 1)
        self.assertEqual(lease[0]["heartbeats"], 2)
        self.assertFalse(lease[0]["ready"])  # only the JSON literal true counts
        self.assertEqual(lease[0]["expires_at_unix_ms"] - lease[0]["last_heartbeat_at_unix_ms"], 33000)
        cases = [
            ({**body, "tenant_id": "someone-else"}, 409, "tenant_mismatch"),
            ({**body, "advertised_http_url": "http://user:pass@10.0.0.7:4000"}, 422, "invalid_registration"),
            ({**body, "advertised_http_url": "ftp://10.0.0.7"}, 422, "invalid_registration"),
            ({**body, "advertised_http_url": "http://"}, 422, "invalid_registration"),
            ({k: v for k, v in body.items() if k != "node_id"}, 422, "invalid_registration"),
            ([body], 400, "invalid_payload"),
        ]
        for payload, status, error in cases:
            with self.subTest(status=status, error=error):
                r = self.mock.node_call(REGISTRATIONS, cred, payload)
                self.assertEqual((r.status, r.json()), (status, {"error": error}))

    # ------------------------------------------------------------------ usage

    def usage_event(self, event_id, tenant="acme"):
        return {"event_id": event_id, "tenant_id": tenant, "namespace_id": "acme/app", "node_id": "n1",
                "region": "local", "traffic_plane": "customer_operated", "direction": "egress",
                "operation": "read", "protocol": "bazel", "artifact_kind": "cas", "bytes": 10,
                "request_count": 1, "window_start_unix_seconds": 1700000000, "window_seconds": 60}

    def test_usage(self):
        marker = f"u-{time.monotonic_ns()}"
        batch = {"schema_version": 1, "node_id": "n1", "region": "local",
                 "events": [self.usage_event(marker + "-1"), self.usage_event(marker + "-2", "ACME")]}
        status, _, body = self.curl("POST", USAGE, batch, self.cred)
        self.assertEqual((status, json.loads(body)), (202, {"accepted": 2}))
        # At-least-once delivery: a repeat is accepted and stored once.
        r = self.mock.node_call(USAGE, self.cred, batch)
        self.assertEqual((r.status, r.json()), (202, {"accepted": 2}))
        mine = [e for e in self.mock.usage() if e["event_id"].startswith(marker)]
        self.assertEqual([e["event_id"] for e in mine], [marker + "-1", marker + "-2"])
        cases = [
            ({**batch, "schema_version": 2}, 400, "invalid_payload"),
            ({**batch, "events": {}}, 400, "invalid_payload"),
            ({**batch, "evictions": "x"}, 400, "invalid_payload"),
            ({**batch, "storage_snapshots": 1}, 400, "invalid_payload"),
            ({**batch, "events": [self.usage_event("x"), self.usage_event("y", "other")]}, 403, "tenant_mismatch"),
            ({**batch, "events": [self.usage_event(f"z{i}") for i in range(5001)]}, 413, "too_many_events"),
        ]
        for payload, status, error in cases:
            with self.subTest(status=status, error=error):
                r = self.mock.node_call(USAGE, self.cred, payload)
                self.assertEqual((r.status, r.json()), (status, {"error": error}))
        self.assertFalse([e for e in self.mock.usage() if e["event_id"] in ("x", "y", "z0")])
        ok = self.mock.node_call(USAGE, self.cred, {**batch, "evictions": [], "events": []})
        self.assertEqual((ok.status, ok.json()), (202, {"accepted": 0}))
        self.assertEqual(self.mock.node_call(USAGE, ("cache_nope", "x"), batch).status, 401)

    # ------------------------------------------------------------------ introspection

    def test_introspection_is_tenant_scoped(self):
        cid, secret = self.cred
        grants = {"account": {"read": ["acme", "other"], "write": ["ACME"]},
                  "project": {"read": ["acme/app", "other/app"], "write": ["Acme/Lib", "acmeish/x"]}}
        token = self.mock.create_token(grants)
        status, headers, body = self.curl("POST", INTROSPECT,
                                          f"client_id={cid}&client_secret={secret}&token={token}")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("pragma"), "no-cache")
        self.assertEqual(headers.get("cache-control"), "no-store")
        doc = json.loads(body)
        self.assertEqual(doc["cache_grants"], {"account": {"read": ["acme"], "write": ["ACME"]},
                                               "project": {"read": ["acme/app"], "write": ["Acme/Lib"]}})
        self.assertTrue(doc["active"])
        self.assertEqual(doc["iss"], self.mock.url)
        self.assertIn("sub", doc)
        self.assertEqual(doc["cache_payment_required"], [])
        # JSON parameters work the same.
        r = self.mock.request("POST", INTROSPECT, {"client_id": cid, "client_secret": secret, "token": token})
        self.assertEqual(r.json(), doc)
        # The token loaded from --tokens-file.
        r = self.mock.request("POST", INTROSPECT, {"client_id": cid, "client_secret": secret, "token": FILE_TOKEN})
        self.assertTrue(r.json()["active"])
        # Another tenant's token: nothing left after scoping → inactive.
        foreign = self.mock.create_token({"account": {"read": ["other"]}, "project": {"write": ["other/app"]}})
        for t in (foreign, "unknown-token"):
            r = self.mock.request("POST", INTROSPECT, {"client_id": cid, "client_secret": secret, "token": t})
            self.assertEqual((r.status, r.json()), (200, {"active": False}))
        # A bad client.
        for params in (f"client_id={cid}&client_secret=wrong&token={token}",
                       f"client_id=cache_x&client_secret={secret}&token={token}", f"token={token}"):
            status, _, body = self.curl("POST", INTROSPECT, params)
            self.assertEqual((status, json.loads(body)),
                             (401, {"error": "invalid_client", "error_description": "Invalid client_id or client_secret."}))
        # Revocation: inactive from the next call on.
        self.mock.revoke_token(token)
        r = self.mock.request("POST", INTROSPECT, {"client_id": cid, "client_secret": secret, "token": token})
        self.assertEqual(r.json(), {"active": False})

    def test_credential_revocation(self):
        self.mock.create_tenant("revoke")
        first = self.mock.create_credential("revoke", "first")
        second = self.mock.create_credential("revoke", "second")
        self.assertRegex(first[0], r"^cache_[A-Za-z0-9_-]{22}$")
        self.assertRegex(first[1], r"^[A-Za-z0-9_-]{43}$")
        listed = self.mock.admin("GET", "/credentials")["credentials"]
        entry = next(c for c in listed if c["client_id"] == first[0])
        self.assertEqual(entry["secret_last_four"], first[1][-4:])
        self.assertNotIn(first[1], json.dumps(listed))  # the secret is never shown again
        dup = self.mock.request("POST", "/_mock/credentials", {"tenant": "revoke", "name": "first"})
        self.assertEqual(dup.status, 409)
        self.assertEqual(self.mock.node_call(PEERS, first, method="GET").status, 200)
        self.mock.revoke_credential(first[0])
        self.assertEqual(self.mock.node_call(PEERS, first, method="GET").status, 401)
        r = self.mock.request("POST", INTROSPECT, {"client_id": first[0], "client_secret": first[1], "token": "t"})
        self.assertEqual(r.status, 401)
        self.assertEqual(self.mock.node_call(PEERS, second, method="GET").status, 200)

    # ------------------------------------------------------------------ faults

    def test_faults(self):
        cred = self.tenant_with_credential("faults")
        hb = {"node_url": "https://127.0.0.1:7443"}
        try:
            self.mock.set_fault("slow", endpoints=["heartbeat"], delay_ms=800, count=1)
            start = time.monotonic()
            r = self.mock.node_call(HEARTBEAT, cred, hb)
            self.assertGreaterEqual(time.monotonic() - start, 0.8)
            self.assertEqual(r.status, 200)
            start = time.monotonic()
            self.assertEqual(self.mock.node_call(HEARTBEAT, cred, hb).status, 200)
            self.assertLess(time.monotonic() - start, 0.5)  # count expired

            self.mock.set_fault("down", endpoints=["enroll"])
            status, headers, body = self.enroll(cred, "https://127.0.0.1:7443")
            self.assertEqual(status, 503)
            self.assertTrue(headers["content-type"].startswith("text/html"))
            self.assertIn(b"<html>", body)
            self.assertEqual(self.mock.node_call(HEARTBEAT, cred, hb).status, 200)  # other endpoints fine

            self.mock.set_fault("error", count=2)
            for _ in range(2):
                r = self.mock.node_call(HEARTBEAT, cred, hb)
                self.assertEqual((r.status, r.json()), (500, {"error": "internal_server_error"}))
            self.assertEqual(self.mock.node_call(HEARTBEAT, cred, hb).status, 200)

            self.mock.set_fault("garbage", endpoints=["heartbeat", "introspect"])
            r = self.mock.node_call(HEARTBEAT, cred, hb)
            self.assertEqual(r.status, 200)
            with self.assertRaises(ValueError):
                json.loads(r.body)

            self.mock.set_fault("status", endpoints=["enroll"], status=422, body={"error": "invalid_node_url"},
                                count=1)
            status, _, body = self.enroll(cred, "https://127.0.0.1:7443")
            self.assertEqual((status, json.loads(body)), (422, {"error": "invalid_node_url"}))
            self.assertEqual(self.enroll(cred, "https://127.0.0.1:7443")[0], 201)
            self.mock.clear_faults()
            self.assertEqual(self.mock.node_call(HEARTBEAT, cred, hb).json()["mesh_member"], True)
            self.mock.remove_member("faults", hb["node_url"])

            bad = self.mock.request("POST", "/_mock/faults", {"mode": "slow"})
            self.assertEqual(bad.status, 400)
            bad = self.mock.request("POST", "/_mock/faults", {"mode": "down", "endpoints": ["nope"]})
            self.assertEqual(bad.status, 400)
        finally:
            self.mock.clear_faults()
        self.assertEqual(self.mock.node_call(HEARTBEAT, cred, hb).json()["mesh_member"], False)

    # ------------------------------------------------------------------ request log and robustness

    def test_request_log_is_raw(self):
        cred = self.tenant_with_credential("log")
        self.mock.reset_log()
        body = json.dumps({"node_url": "https://127.0.0.1:7443", "secret": "KEY-BYTES-SENTINEL"}).encode()
        self.mock.node_call(HEARTBEAT, cred, body, headers={"content-type": "application/json"})
        self.mock.request("GET", "/nowhere")
        log = self.mock.requests()
        self.assertEqual([(e["endpoint"], e["status"]) for e in log], [("heartbeat", 200), ("unknown", 404)])
        first = log[0]
        self.assertEqual((first["method"], first["path"]), ("POST", HEARTBEAT))
        self.assertEqual(first["headers"]["authorization"], basic_auth(*cred))
        self.assertIn("KEY-BYTES-SENTINEL", first["body"])
        self.assertIsInstance(first["at_unix_ms"], int)
        self.assertEqual(self.mock.requests("unknown")[0]["path"], "/nowhere")
        self.mock.reset_log()
        self.assertEqual(self.mock.requests(), [])

    def test_bad_input_never_hurts(self):
        huge = os.path.join(self.dir, "huge.bin")
        with open(huge, "wb") as f:
            f.truncate(9 << 20)
        # HTTP/1.1: over h2 the server answers early and ends the upload with RST_STREAM(NO_ERROR),
        # which curl 7.88 may report as a failed transfer even though the whole 413 arrived.
        status, _, body = self.curl("POST", USAGE, None, self.cred,
                                    extra=["--http1.1", "--data-binary", "@" + huge])
        self.assertEqual(status, 413, body)
        # Over h2 the status still arrives first, whatever curl then says about the reset.
        p = harness.curl("--cacert", self.mock.ca_path, "-u", ":".join(self.cred), "-o", os.devnull,
                         "-w", "%{http_code}", "--data-binary", "@" + huge, self.mock.url + USAGE)
        self.assertEqual(p.stdout, b"413", p.stderr)
        status, _, body = self.curl("POST", USAGE, None, self.cred,
                                    headers=["transfer-encoding: chunked"],
                                    extra=["--http1.1", "--data-binary", "@" + huge])
        self.assertEqual(status, 413, body)
        deep = "[" * 100000 + "]" * 100000
        self.assertEqual(self.mock.node_call(USAGE, self.cred, deep.encode()).status, 400)
        # Bytes that are not UTF-8 are logged without breaking the log's JSON.
        self.assertEqual(self.mock.node_call(HEARTBEAT, self.cred, b"\xff\xfe{").status, 400)
        self.assertTrue(self.mock.requests())
        self.assertEqual(self.mock.request("GET", ENROLL).status, 405)
        self.assertEqual(self.mock.request("POST", "/_mock/tenants", b"[1").status, 400)
        self.assertEqual(self.mock.request("POST", "/_mock/tenants", {"name": "bad/name"}).status, 400)
        self.assertEqual(self.mock.request("GET", "/_mock/tenants/nope").status, 404)
        self.assertTrue(self.mock.alive())


class MockCpLifecycleTest(unittest.TestCase):
    def test_sigterm_stops_cleanly(self):
        mock = MockCp(state_dir=harness.tmpdir("mock-stop"))
        self.addCleanup(mock.kill)
        self.assertEqual(mock.request("GET", "/_mock/faults").status, 200)
        self.assertEqual(mock.stop(), 0)

    def test_bad_tokens_file_refuses_to_start(self):
        d = harness.tmpdir("mock-bad")
        path = harness.write_file(os.path.join(d, "tokens.json"), b'{"tokens": [{"grants": {}}]}')
        with self.assertRaises(AssertionError):
            MockCp(state_dir=os.path.join(d, "state"), tokens_file=path)


if __name__ == "__main__":
    harness.main()
