"""harness.py: shared helpers of the integration tests (python3 stdlib only): real meshcache
nodes (start, wait serving, stop, kill -9, restart), temp dirs, a self-signed certificate, curl
and raw-socket clients (HTTP/1.1 and hand-built HTTP/2 frames) and wait_until."""

import atexit
import hashlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("MESHCACHE_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("MESHCACHE_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")
BAZEL_REL = ".deps/npm/node_modules/@bazel/bazel-linux_x64/bazel-2.1.0-linux-x86_64"

_TMP_ROOT = None
_NODES = []


# ---------------------------------------------------------------- generic helpers


def tmp_root():
    """The run's scratch directory: removed when every test passed, kept (and printed) otherwise."""
    global _TMP_ROOT
    if _TMP_ROOT is None:
        _TMP_ROOT = tempfile.mkdtemp(prefix="meshcache-it-")
    return _TMP_ROOT


def tmpdir(prefix="d"):
    return tempfile.mkdtemp(prefix=prefix + "-", dir=tmp_root())


def wait_until(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Polls predicate until it returns something truthy (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # the condition may fail transiently while polling
            last_error = e
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {message}{detail}")
        time.sleep(interval)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def tool(name):
    """Path of a test tool on PATH, or None."""
    return shutil.which(name)


def bazel_path():
    """The npm Bazel 2.1.0 installed by packaging/install-deps.sh, or None."""
    path = os.path.join(SOURCE_DIR, BAZEL_REL)
    return path if os.access(path, os.X_OK) else None


def meshcache_bin():
    path = os.environ.get("MESHCACHE_BIN") or os.path.join(BUILD_DIR, "cli", "meshcache")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"meshcache binary not found at {path} (set MESHCACHE_BIN)")
    return path


def make_cert(directory):
    """A self-signed EC certificate for CN=localhost with an IP SAN 127.0.0.1 → (cert, key)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return cert, key


def parse_prometheus(text):
    """Prometheus text → {(name, labels_string): float} (comments skipped)."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if m:
            try:
                samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return samples


def metric_total(samples, predicate):
    """Sum of the samples whose metric name satisfies predicate."""
    return sum(v for (name, _), v in samples.items() if predicate(name))


# ---------------------------------------------------------------- HTTP/1.1 clients


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.header_list = headers  # [(lowercase name, value)]
        self.headers = {k: v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Resp {self.status} {self.headers} {self.body[:200]!r}>"


def split_addr(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)


def http_request(addr, method, path, body=None, headers=None, timeout=60):
    """One request on a fresh connection (http.client) → Resp."""
    host, port = split_addr(addr)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, [(k.lower(), v) for k, v in r.getheaders()], data)
    finally:
        conn.close()


def curl(*args, input=None, timeout=120, check=False):
    """Runs curl with -sS and the given arguments → CompletedProcess (bytes stdout/stderr)."""
    cmd = ["curl", "-sS", *[str(a) for a in args]]
    p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} → exit {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p


class RawConn:
    """A plain TCP connection for byte-exact requests and for watching how the server closes."""

    def __init__(self, addr, timeout=10):
        host, port = split_addr(addr)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.closed = False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        """Sends everything; returns False if the server already closed/reset the connection."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _fill(self, deadline):
        """Reads more bytes into buf; False on EOF/reset; raises TimeoutError at the deadline."""
        if self.closed:
            return False
        remaining = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            raise TimeoutError("no data before the deadline")
        try:
            chunk = self.sock.recv(1 << 16)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def readable_within(self, timeout):
        """True when the server sent something (or closed) within timeout; buffers it."""
        if self.buf or self.closed:
            return True
        try:
            self._fill(time.monotonic() + timeout)
            return True
        except TimeoutError:
            return False

    def read_until(self, marker, timeout=10):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            if not self._fill(deadline):
                raise ConnectionError(f"closed before {marker!r}; got {self.buf[:300]!r}")
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionError(f"closed after {len(self.buf)} of {n} bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, timeout=10, head_request=False):
        """One HTTP/1.x response (an interim 1xx is returned as is) → Resp."""
        head = self.read_until(b"\r\n\r\n", timeout).decode("latin-1")
        lines = head.split("\r\n")
        m = re.match(r"^HTTP/1\.[01] (\d{3})", lines[0])
        if not m:
            raise AssertionError(f"bad status line {lines[0]!r}")
        status = int(m.group(1))
        headers = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers.append((name.strip().lower(), value.strip()))
        hmap = dict(headers)
        body = b""
        if head_request or status < 200 or status in (204, 304):
            pass
        elif "chunked" in hmap.get("transfer-encoding", "").lower():
            while True:
                size = int(self.read_until(b"\r\n", timeout).split(b";")[0].strip(), 16)
                if size == 0:
                    self.read_until(b"\r\n", timeout)
                    break
                body += self.read_exact(size, timeout)
                self.read_exact(2, timeout)
        elif "content-length" in hmap:
            body = self.read_exact(int(hmap["content-length"]), timeout)
        else:
            deadline = time.monotonic() + timeout
            while self._fill(deadline):
                pass
            body, self.buf = self.buf, b""
        return Resp(status, headers, body)

    def wait_closed(self, timeout=10):
        """Discards input until the server closes; True if it closed within timeout."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
            return True
        except TimeoutError:
            return False


def raw_request(addr, data, timeout=10):
    """Sends raw bytes on a fresh connection and reads the first response."""
    with RawConn(addr, timeout) as c:
        c.send(data)
        return c.read_response(timeout)


# ---------------------------------------------------------------- hand-built HTTP/2

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_DATA, H2_HEADERS, H2_RST_STREAM, H2_SETTINGS, H2_PING, H2_GOAWAY, H2_WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
H2_END_STREAM, H2_ACK, H2_END_HEADERS = 0x1, 0x1, 0x4


def h2_frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def _hpack_int(value, prefix_bits, first_byte_flags):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = [first_byte_flags | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name_index, value):
    """Literal header field without indexing, name from the static table (RFC 7541 6.2.2)."""
    v = value.encode()
    return _hpack_int(name_index, 4, 0x00) + _hpack_int(len(v), 7, 0x00) + v


def hpack_request(method_get=True, path="/", authority="127.0.0.1"):
    """A header block: :method GET (static 2) or POST (3), :scheme http (6), :path and :authority
    as literals without indexing on static names 4 and 1."""
    return bytes([0x82 if method_get else 0x83, 0x86]) + hpack_literal(4, path) + hpack_literal(1, authority)


class H2Conn(RawConn):
    """A raw h2c connection with prior knowledge."""

    def handshake(self, timeout=10):
        """Preface + empty SETTINGS, waits for the server's SETTINGS and ACKs it."""
        self.send(H2_PREFACE + h2_frame(H2_SETTINGS, 0, 0, b""))
        while True:
            f = self.read_frame(timeout)
            if f is None:
                raise ConnectionError("server closed during the h2 handshake")
            if f[0] == H2_SETTINGS and not f[1] & H2_ACK:
                self.send(h2_frame(H2_SETTINGS, H2_ACK, 0, b""))
                return

    def read_frame(self, timeout=10):
        """(type, flags, stream, payload), or None once the server closed."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < 9:
            if not self._fill(deadline):
                return None
        length = struct.unpack(">I", b"\0" + self.buf[:3])[0]
        while len(self.buf) < 9 + length:
            if not self._fill(deadline):
                return None
        ftype, flags = self.buf[3], self.buf[4]
        stream = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
        payload = self.buf[9:9 + length]
        self.buf = self.buf[9 + length:]
        return ftype, flags, stream, payload

    def frames_until_close(self, timeout=10):
        """Every frame until the server closes → (frames, closed)."""
        frames = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                f = self.read_frame(max(0.0, deadline - time.monotonic()))
                if f is None:
                    return frames, True
                frames.append(f)
        except TimeoutError:
            return frames, False


# ---------------------------------------------------------------- the node


class NodeExited(AssertionError):
    pass


class Node:
    """One `meshcache run` process with its own data dir (unless given), logs in a file."""

    def __init__(self, name="node", env=None, data_dir=None, tls=False):
        self.name = name
        self.dir = tmpdir(name)
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        self.extra_env = dict(env or {})
        self.cert = self.key = None
        if tls:
            self.cert, self.key = make_cert(self.dir)
        self.log_path = os.path.join(self.dir, "node.log")
        self.proc = None
        self.http_addr = None
        self.tls_addr = None
        self.last_status = None
        _NODES.append(self)

    # -- configuration

    def env(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("MESHCACHE_")}
        e.update({
            "XDG_CACHE_HOME": os.path.join(self.dir, "xdg"),
            "MESHCACHE_LISTEN": "127.0.0.1:0",
            "MESHCACHE_DATA_DIR": self.data_dir,
            "MESHCACHE_IO_THREADS": "2",
            "MESHCACHE_DRAIN_TIMEOUT_MS": "5000",
            "MESHCACHE_LOG_LEVEL": "info",
        })
        if self.cert:
            e.update({"MESHCACHE_TLS_LISTEN": "127.0.0.1:0", "MESHCACHE_TLS_CERT_PATH": self.cert,
                      "MESHCACHE_TLS_KEY_PATH": self.key})
        for k, v in self.extra_env.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = str(v)
        return e

    # -- process control

    def spawn(self):
        assert not self.alive(), "node already running"
        self.http_addr = self.tls_addr = None
        with open(self.log_path, "ab") as log:
            log.write(f"---- spawn {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.proc = subprocess.Popen([meshcache_bin(), "run"], env=self.env(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def start(self, timeout=60):
        self.spawn()
        self.wait_serving(timeout)
        return self

    def restart(self, timeout=60):
        """Starts again on the same data dir (the old process must be gone); new ports."""
        return self.start(timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pid(self):
        return self.proc.pid

    def status(self, timeout=15):
        """`meshcache status --json` → (exit code, parsed JSON or None, raw stdout)."""
        p = subprocess.run([meshcache_bin(), "status", "--json"], env=self.env(), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        try:
            doc = json.loads(p.stdout)
        except ValueError:
            doc = None
        return p.returncode, doc, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")

    def status_json(self):
        rc, doc, raw = self.status()
        if doc is None:
            raise AssertionError(f"status --json gave no JSON (exit {rc}): {raw}")
        return doc

    def wait_serving(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise NodeExited(f"node {self.name} exited with {self.proc.returncode} before serving:\n"
                                 + self.log_tail())
            rc, doc, _ = self.status()
            if rc == 0 and doc and doc.get("state") == "serving":
                self.last_status = doc
                listeners = doc.get("listeners") or {}
                self.http_addr = listeners.get("http")
                self.tls_addr = listeners.get("tls")
                if not self.http_addr:
                    raise AssertionError(f"status has no listeners.http: {doc}")
                return doc
            if time.monotonic() >= deadline:
                raise AssertionError(f"node {self.name} not serving after {timeout}s:\n" + self.log_tail())
            time.sleep(0.05)

    def wait_exit(self, timeout=60):
        """The process's exit code; fails if it is still running after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"node {self.name} still running after {timeout}s:\n" + self.log_tail())

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=60):
        """SIGTERM (drain) and wait; returns the exit code."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self):
        """kill -9 and reap."""
        if self.alive():
            self.proc.kill()
        if self.proc:
            self.proc.wait()

    # -- logs

    def log_text(self):
        try:
            return read_file(self.log_path).decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -- client side

    @property
    def url(self):
        return f"http://{self.http_addr}"

    @property
    def tls_url(self):
        return f"https://{self.tls_addr}"

    def request(self, method, path, body=None, headers=None, timeout=60):
        return http_request(self.http_addr, method, path, body, headers, timeout)

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def put(self, path, body, headers=None):
        return self.request("PUT", path, body, headers)

    def raw(self, timeout=10):
        return RawConn(self.http_addr, timeout)

    def h2(self, timeout=10):
        return H2Conn(self.http_addr, timeout)

    def metrics(self):
        r = self.get("/metrics")
        assert r.status == 200, r
        return parse_prometheus(r.body.decode())

    def assert_healthy(self):
        """The process is alive and answers a normal request on a new connection."""
        if not self.alive():
            raise NodeExited(f"node {self.name} died (exit {self.proc.returncode}):\n" + self.log_tail())
        r = self.get("/up")
        if r.status != 200:
            raise AssertionError(f"/up answered {r.status} after the bad input")


def run_node_expecting_failure(env, timeout=30, data_dir=None):
    """Starts a node that must refuse to run → (exit code, log text)."""
    node = Node("refused", env=env, data_dir=data_dir)
    node.spawn()
    try:
        rc = node.wait_exit(timeout)
    finally:
        node.kill()
    return rc, node.log_text()


def _reap_nodes():
    for node in _NODES:
        if node.alive():
            node.kill()


atexit.register(_reap_nodes)


# ---------------------------------------------------------------- running a test file


class NodeTestCase(unittest.TestCase):
    """Base class: nodes started through start_node() are killed when the test ends."""

    def start_node(self, name="node", **kwargs):
        node = Node(name, **kwargs)
        self.addCleanup(node.kill)
        node.start()
        return node


def main():
    """Runs the file's tests; exit 0 only if all passed. Keeps the scratch dir on failure."""
    program = unittest.main(module="__main__", exit=False, verbosity=2)
    result = program.result
    _reap_nodes()
    ok = result.wasSuccessful()
    if _TMP_ROOT:
        if ok and not os.environ.get("MESHCACHE_IT_KEEP"):
            shutil.rmtree(_TMP_ROOT, ignore_errors=True)
        else:
            for node in _NODES:
                sys.stderr.write(f"\n==== log of {node.name} ({node.log_path}), last lines:\n{node.log_tail(25)}\n")
            sys.stderr.write(f"\nscratch kept in {_TMP_ROOT}\n")
    sys.exit(0 if ok else 1)
