"""mock_cp.py: drives meshcache-mock-cp, the mock control plane, for integration tests (python3
stdlib only): starts the binary on port 0, reads the JSON line it prints, and calls its admin API
and its node-facing endpoints over HTTPS, trusting the mock's own server CA."""

import atexit
import base64
import http.client
import json
import os
import select
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("MESHCACHE_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("MESHCACHE_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")

_STARTED = []


def mock_cp_bin():
    """The meshcache-mock-cp binary: $MESHCACHE_MOCK_CP_BIN, else the one in the build dir."""
    path = os.environ.get("MESHCACHE_MOCK_CP_BIN") or os.path.join(BUILD_DIR, "tests", "mock_cp",
                                                                   "meshcache-mock-cp")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"meshcache-mock-cp not found at {path} (set MESHCACHE_MOCK_CP_BIN)")
    return path


class MockCpError(AssertionError):
    """An admin call that did not get the status it expected."""

    def __init__(self, method, path, resp):
        super().__init__(f"{method} {path} → {resp.status}: {resp.body[:500]!r}")
        self.resp = resp


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # {lowercase name: value}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


def basic_auth(client_id, client_secret):
    """The Authorization header value the contract wants: Basic base64(id:secret), standard alphabet."""
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


class MockCp:
    """One meshcache-mock-cp process. Options map to its flags: tenants=[...] (--tenant),
    cert_lifetime_seconds, heartbeat_interval_seconds, lease_seconds, tokens_file,
    server_names=[...], listen (default 127.0.0.1:0)."""

    def __init__(self, bin_path=None, state_dir=None, start=True, **options):
        self.bin_path = bin_path or mock_cp_bin()
        self.state_dir = state_dir or tempfile.mkdtemp(prefix="mock-cp-")
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        self.options = options
        self.log_path = os.path.join(self.state_dir, "mock-cp.log")
        self.proc = None
        self.url = self.http_url = self.ca_path = None
        self._ssl = None
        self._names = 0
        _STARTED.append(self)
        if start:
            self.start()

    # -- process control

    def command(self):
        o = dict(self.options)
        cmd = [self.bin_path, "--listen", o.pop("listen", "127.0.0.1:0"), "--state-dir", self.state_dir]
        for name in o.pop("tenants", []):
            cmd += ["--tenant", name]
        for name in o.pop("server_names", []):
            cmd += ["--server-name", name]
        for key, value in o.items():
            if value is not None:
                cmd += ["--" + key.replace("_", "-"), str(value)]
        return cmd

    def start(self, timeout=30):
        """Starts the process and waits for its JSON line (url, ca_path)."""
        assert not self.alive(), "mock already running"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=log, start_new_session=True)
        line = b""
        deadline = time.monotonic() + timeout
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, remaining))
            chunk = os.read(self.proc.stdout.fileno(), 4096) if ready else b""
            if not chunk:
                self.kill()
                raise AssertionError(f"meshcache-mock-cp gave no start line (exit {self.proc.returncode}):\n"
                                     + self.log_text()[-3000:])
            line += chunk
        info = json.loads(line)
        self.url, self.http_url, self.ca_path = info["url"], info.get("http_url"), info["ca_path"]
        self._ssl = ssl.create_default_context(cafile=self.ca_path)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM and wait → exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                raise AssertionError("meshcache-mock-cp did not stop on SIGTERM:\n" + self.log_text()[-3000:])
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.alive():
            self.proc.kill()
        if self.proc:
            self.proc.wait()
            if self.proc.stdout:
                self.proc.stdout.close()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    # -- raw HTTPS

    def request(self, method, path, body=None, headers=None, timeout=30):
        """One request to the mock over HTTPS (any status) → Response."""
        parts = urllib.parse.urlsplit(self.url)
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=self._ssl, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = {"content-type": "application/json", **(headers or {})}
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def node_call(self, endpoint_path, credential, body=None, method="POST", headers=None):
        """A node-facing call with Basic auth from credential (client_id, client_secret) → Response."""
        h = {"authorization": basic_auth(*credential), **(headers or {})}
        return self.request(method, endpoint_path, body, h)

    def admin(self, method, path, body=None, expect=(200, 201)):
        r = self.request(method, "/_mock" + path, body if body is not None else ({} if method == "POST" else None))
        if r.status not in expect:
            raise MockCpError(method, path, r)
        return r.json()

    # -- admin helpers

    def create_tenant(self, name, **settings):
        """Creates or updates a tenant: managed_mesh, managed_peers, cert_lifetime_seconds,
        omit_renew_after. Returns its description (with ca_certificate)."""
        return self.admin("POST", "/tenants", {"name": name, **settings})

    def tenant(self, name):
        return self.admin("GET", "/tenants/" + urllib.parse.quote(name, safe=""))

    def issue_leaf(self, tenant, hosts, lifetime_seconds=None):
        """A leaf for hosts (the first is the CN) signed by the tenant's mesh CA, without
        enrolling → {"certificate","key","ca_certificate"} (PEM strings)."""
        body = {"hosts": list(hosts)}
        if lifetime_seconds is not None:
            body["lifetime_seconds"] = lifetime_seconds
        return self.admin("POST", "/tenants/" + urllib.parse.quote(tenant, safe="") + "/leaf", body)

    def create_credential(self, tenant, name=None):
        """A new credential of tenant → (client_id, client_secret)."""
        self._names += 1
        doc = self.admin("POST", "/credentials", {"tenant": tenant, "name": name or f"cred-{self._names}"})
        return doc["client_id"], doc["client_secret"]

    def revoke_credential(self, client_id):
        self.admin("DELETE", "/credentials/" + urllib.parse.quote(client_id, safe=""))

    def create_token(self, grants=None, token=None, sub=None):
        """A token with grants {"account":{"read","write"},"project":{...}} → the token."""
        body = {"grants": grants or {}}
        if token is not None:
            body["token"] = token
        if sub is not None:
            body["sub"] = sub
        return self.admin("POST", "/tokens", body)["token"]

    def revoke_token(self, token):
        self.admin("DELETE", "/tokens/" + urllib.parse.quote(token, safe=""))

    def set_fault(self, mode, endpoints=None, delay_ms=None, count=None, status=None, body=None):
        """mode: none, down, slow (delay_ms), error, garbage, or status (a canned answer: status
        and a JSON body); endpoints default to all; count limits it to the next N requests."""
        doc = {"mode": mode}
        for key, value in (("endpoints", endpoints), ("delay_ms", delay_ms), ("count", count),
                           ("status", status), ("body", body)):
            if value is not None:
                doc[key] = value
        return self.admin("POST", "/faults", doc)

    def clear_faults(self):
        return self.set_fault("none")

    def remove_member(self, tenant, node_url):
        self.admin("POST", "/members/remove", {"tenant": tenant, "node_url": node_url})

    def members(self, tenant=None):
        q = "?tenant=" + urllib.parse.quote(tenant) if tenant else ""
        return self.admin("GET", "/members" + q)["members"]

    def registrations(self):
        return self.admin("GET", "/registrations")["registrations"]

    def requests(self, endpoint=None):
        """Every node-facing request received, in order (raw headers and body)."""
        q = "?endpoint=" + endpoint if endpoint else ""
        return self.admin("GET", "/requests" + q)["requests"]

    def reset_log(self):
        self.admin("POST", "/reset-log")

    def usage(self):
        """Usage events received, deduplicated by event_id."""
        return self.admin("GET", "/usage")["events"]

    # -- for nodes

    def enrollment_env(self, credential, node_url):
        """The environment a meshcache node needs to enroll against this mock."""
        return {
            "MESHCACHE_ENROLL_ON_BOOT": "true",
            "MESHCACHE_CONTROL_PLANE_URL": self.url,
            "MESHCACHE_CONTROL_PLANE_CA_PATH": self.ca_path,
            "MESHCACHE_CONTROL_PLANE_CLIENT_ID": credential[0],
            "MESHCACHE_CONTROL_PLANE_CLIENT_SECRET": credential[1],
            "MESHCACHE_NODE_URL": node_url,
        }


def _reap():
    for mock in _STARTED:
        mock.kill()


atexit.register(_reap)
