"""mesh.py: helpers of the mesh integration tests (python3 stdlib only): free ports chosen up front
(node URLs must be known before any node starts), a mesh CA and node certificates through
`meshcache tls`, nodes wired as peers over the internal plane (mTLS or plain, static or
enrolled), their mesh status (peers, outbox, warm-up), labelled metrics, and public writes and
reads compared by SHA-256."""

import atexit
import os
import random
import re
import socket
import subprocess
import tempfile
import urllib.parse

import harness
import kura_peer


def _port_pool():
    """Ports outside the kernel's ephemeral range, which port-0 listeners (every node's public
    port, in every test running in parallel) draw from: a port chosen up front is not taken by
    one of those before its node binds it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(10000, low) if low > 12000 else range(high + 1, 65536)


_CLAIMS = os.path.join(tempfile.gettempdir(), "meshcache-it-ports")
_CLAIMED = []


def _claim(port, retry=True):
    """Claims port against the other test processes: a file named after it holds our pid. A
    claim whose process is gone is removed and tried once more."""
    os.makedirs(_CLAIMS, exist_ok=True)
    path = os.path.join(_CLAIMS, str(port))
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            with open(path) as f:
                pid = int(f.read())
            if pid <= 0:
                raise ValueError(pid)
            os.kill(pid, 0)
            return False
        except (OSError, ValueError):
            if not retry:
                return False
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            return _claim(port, retry=False)
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    _CLAIMED.append(path)
    return True


def _release_claims():
    for path in _CLAIMED:
        try:
            os.unlink(path)
        except OSError:
            pass


atexit.register(_release_claims)


def free_ports(n):
    """n distinct ports on 127.0.0.1 that are free now, claimed for this process, outside the
    ephemeral range."""
    pool = _port_pool()
    ports = []
    while len(ports) < n:
        port = random.choice(pool)
        if port in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if _claim(port):
            ports.append(port)
    return ports


now_ms = kura_peer.now_ms


def run_cli(*args):
    p = subprocess.run([harness.meshcache_bin(), *args], stdin=subprocess.DEVNULL, capture_output=True)
    if p.returncode != 0:
        raise AssertionError(f"meshcache {' '.join(args)} → {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p.stdout.decode()


class Identity:
    """The three files of a node's mTLS identity."""

    def __init__(self, directory):
        self.dir = directory
        self.ca, self.cert, self.key = (os.path.join(directory, n) for n in ("ca.pem", "tls.crt", "tls.key"))

    @property
    def files(self):
        return self.ca, self.cert, self.key

    def fingerprint(self):
        """SHA-256 of the certificate's DER: how KuraPeer logs a caller."""
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"], capture_output=True,
                             check=True).stdout
        return kura_peer.sha(der)

    @classmethod
    def from_pems(cls, directory, ca_pem, cert_pem, key_pem):
        os.makedirs(directory, exist_ok=True)
        ident = cls(directory)
        harness.write_file(ident.ca, ca_pem.encode())
        harness.write_file(ident.cert, cert_pem.encode())
        harness.write_file(ident.key, key_pem.encode())
        os.chmod(ident.key, 0o600)
        return ident


class MeshCA:
    """A standalone mesh CA made by `meshcache tls init-ca`; issue() runs `meshcache tls issue`."""

    def __init__(self, name="mesh-ca"):
        self.dir = harness.tmpdir(name)
        run_cli("tls", "init-ca", "--dir", self.dir, "--name", name, "--days", "2")
        self.ca_path = os.path.join(self.dir, "ca.pem")

    def issue(self, node_url, out_dir=None, sans=()):
        out_dir = out_dir or harness.tmpdir("ident")
        args = ["tls", "issue", "--ca-dir", self.dir, "--node-url", node_url, "--out-dir", out_dir, "--days", "2"]
        for san in sans:
            args += ["--san", san]
        run_cli(*args)
        return Identity(out_dir)


def parse_labels(text):
    return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', text or ""))


def metric(samples, name, **labels):
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, l), v in samples.items()
               if n == name and all(parse_labels(l).get(k) == str(w) for k, w in labels.items()))


class MeshNode(harness.Node):
    """A node with an internal listener on a port chosen up front.

    mode "mtls": identity files in DATA_DIR/tls (issued by `ca`, or given); "plain": no TLS
    material; "enrolled": env holds the enrollment settings and the certificate comes from the
    control plane."""

    def __init__(self, name, port, peers=(), tenant="default", ca=None, identity=None, mode="mtls", env=None,
                 gateway_url=None, sans=()):
        super().__init__(name, env=env)
        self.internal_port = port
        self.mode = mode
        scheme = "http" if mode == "plain" else "https"
        self.node_url = f"{scheme}://127.0.0.1:{port}"
        self.gateway_url = gateway_url
        e = {"MESHCACHE_INTERNAL_LISTEN": f"127.0.0.1:{port}", "MESHCACHE_NODE_URL": self.node_url,
             "MESHCACHE_PEERS": ",".join(peers), "MESHCACHE_AUTH": "none"}
        if mode != "enrolled":
            e["MESHCACHE_TENANT_ID"] = tenant
        if gateway_url:
            e["MESHCACHE_PEER_GATEWAY_URL"] = gateway_url
        e.update(self.extra_env)
        self.extra_env = e
        self.tenant = tenant
        self.identity = None
        if mode == "mtls":
            tls_dir = os.path.join(self.data_dir, "tls")
            if identity is not None:
                self.identity = Identity.from_pems(tls_dir, *(harness.read_file(p).decode() for p in identity.files))
            else:
                self.identity = ca.issue(self.node_url, tls_dir, sans)
        elif mode == "enrolled":
            self.identity = Identity(os.path.join(self.data_dir, "tls"))

    # -- mesh status

    def mesh(self):
        doc = self.status_json()
        if "mesh" not in doc:
            raise AssertionError(f"status has no mesh section: {doc}")
        return doc["mesh"]

    def peers(self):
        return {p["url"]: p for p in self.mesh()["peers"]}

    def peer(self, url):
        peers = self.peers()
        if url not in peers:
            raise AssertionError(f"{self.name} lists no peer {url}: {sorted(peers)}")
        return peers[url]

    def outbox_depth(self, url=None):
        peers = self.mesh()["peers"]
        return sum(p["outbox_depth"] for p in peers if url is None or p["url"] == url)

    def wait_admitted(self, urls, timeout=30):
        def admitted():
            peers = self.peers()
            return all(peers.get(u, {}).get("admission") == "admitted" for u in urls)

        harness.wait_until(admitted, timeout, 0.1, f"{self.name} to admit {list(urls)}: {self._peers_text()}")

    def wait_rejected(self, url, timeout=30):
        return harness.wait_until(lambda: (p := self.peers().get(url)) and p["admission"] == "rejected" and p,
                                  timeout, 0.1, f"{self.name} to reject {url}")

    def wait_drained(self, timeout=30, urls=None):
        """Every (or each listed) peer's outbox is empty with nothing in flight."""

        def drained():
            peers = self.mesh()["peers"]
            return all(p["outbox_depth"] == 0 and p["in_flight"] == 0 for p in peers
                       if urls is None or p["url"] in urls)

        harness.wait_until(drained, timeout, 0.1, f"{self.name}'s outbox to drain")

    def _peers_text(self):
        try:
            return str(self.mesh()["peers"])
        except Exception as e:  # only for a failure message
            return repr(e)

    def warmup(self):
        return self.mesh()["warmup"]

    def ready(self):
        return self.get("/ready")

    def wait_state(self, state, timeout=30):
        return harness.wait_until(lambda: (d := self.status()[1]) and d.get("state") == state and d, timeout, 0.05,
                                  f"{self.name} in state {state}")

    def wait_listening(self, timeout=60):
        """Spawned: until status answers with the public listener (whatever the state)."""
        doc = harness.wait_until(lambda: self._alive_status(), timeout, 0.05, f"{self.name}'s status")
        self.http_addr = doc["listeners"]["http"]
        return doc

    def _alive_status(self):
        if not self.alive():
            raise harness.NodeExited(f"{self.name} exited:\n" + self.log_tail())
        doc = self.status()[1]
        return doc if doc and (doc.get("listeners") or {}).get("http") else None

    # -- internal plane as a client

    def client(self, identity=None, tenant=None):
        """An InternalClient of this node's internal port, presenting `identity` (default: none
        for plain nodes, this node's own identity for mTLS ones)."""
        ident = identity or self.identity
        if self.mode == "plain":
            return kura_peer.InternalClient(self.node_url, tenant=tenant or self.tenant)
        return kura_peer.InternalClient(f"https://127.0.0.1:{self.internal_port}", ca=ident.ca, cert=ident.cert,
                                        key=ident.key, tenant=tenant or self.tenant)

    def applies(self, outcome=None):
        labels = {"outcome": outcome} if outcome else {}
        return metric(self.metrics(), "meshcache_replication_applies_total", **labels)


def start_all(nodes, timeout=60):
    """Spawns every node first (so each finds its peers up during warm-up), then waits for all."""
    for n in nodes:
        n.spawn()
    for n in nodes:
        n.wait_serving(timeout)
    return nodes


def server_read_everything(sock):
    """True when the server end of this loopback TCP connection has read every byte sent on it:
    our send queue is empty and its receive queue too (/proc/net/tcp), so it is processing them."""
    ours, theirs = sock.getsockname()[1], sock.getpeername()[1]
    queues = {}
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
            tx, rx = (int(x, 16) for x in fields[4].split(":"))
            queues[(local, remote)] = (tx, rx)
    return queues.get((ours, theirs), (1, 0))[0] == 0 and queues.get((theirs, ours), (0, 1))[1] == 0


# ---------------------------------------------------------------- public reads and writes


def gradle_path(key, namespace=""):
    q = "?namespace_id=" + urllib.parse.quote(namespace, safe="") if namespace else ""
    return "/api/cache/gradle/" + urllib.parse.quote(key, safe="/") + q


def put_gradle(node, key, body, namespace=""):
    r = node.put(gradle_path(key, namespace), body)
    assert r.status // 100 == 2, f"PUT gradle {key} on {node.name}: {r}"
    return r


def put_generic(node, key, body):
    r = node.put("/cache/" + key, body)
    assert r.status // 100 == 2, f"PUT /cache/{key} on {node.name}: {r}"
    return r


def served(node, path, body):
    """True when node answers path with exactly body (compared by SHA-256)."""
    r = node.get(path)
    return r.status == 200 and harness.sha256(r.body) == harness.sha256(body)


def wait_served(node, path, body, timeout=30):
    harness.wait_until(lambda: served(node, path, body), timeout, 0.05,
                       f"{node.name} to serve {path} ({len(body)} bytes)")


def wait_missing(node, path, timeout=30):
    harness.wait_until(lambda: node.get(path).status == 404, timeout, 0.05, f"{node.name} to miss {path}")


def body_of(size, seed):
    """Deterministic bytes that differ per seed."""
    block = harness.sha256(str(seed).encode()).encode()
    return (block * (size // len(block) + 1))[:size]
