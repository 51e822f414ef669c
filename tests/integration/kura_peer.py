"""kura_peer.py: an independent, scripted implementation of Kura's internal-plane contract, written
only from shared/reference/internal-plane.md (never from meshcache's C++), for the integration
tests (python3 stdlib only).

Server side, KuraPeer: an HTTP/1.1 server in a thread, mTLS (client certificates must chain to a
given CA) or plain. It serves GET /_internal/status, applies PUT /_internal/replicate/artifact,
the batched PUT /_internal/replicate/artifacts and DELETE /_internal/replicate/namespace through
Kura's LWW gate with strict validation (query parameters and their encoding, frame layout, meta
JSON), serves the backfill listing, bodies and single artifacts from its store with byte-exact
22-byte frames (Absent and FetchIndividually on demand), logs every request (method, path,
query, headers, the caller's certificate) and answers with configured faults.

Client side, InternalClient: calls a node's internal plane and validates the listing, the
cursor, the frames and their meta JSON byte for byte, as a Kura requester would."""

import hashlib
import http.client
import http.server
import json
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import uuid

KURA_PRODUCERS = ("xcode", "gradle", "module", "reapi", "nx", "metro")
KIND_BYTES = {"segment_artifact": 1, "inline_artifact": 2, "namespace_tombstone": 3}
KIND_NAMES = {v: k for k, v in KIND_BYTES.items()}
INDEX_PREFIX = b"backfill/idx/"
FRAME_HEADER = struct.Struct(">BBHQHQ")  # kind, disposition, id_len, version_ms, meta_len, body_len
assert FRAME_HEADER.size == 22
PRESENT, ABSENT, FETCH_INDIVIDUALLY = 0, 1, 2

MAX_INLINE_BYTES = 4 << 20
MAX_BATCH_BYTES = 8 << 20
MAX_BATCH_ITEMS = 512
MAX_BODIES_REQUEST_BYTES = 16 << 20
MAX_BODIES_ENTRIES = 65536
BODIES_BATCH_BYTES = 32 << 20
LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT = 256, 2048
U64_MAX = (1 << 64) - 1

ARTIFACT_QUERY = {"producer", "namespace_id", "key", "content_type", "inline", "version_ms", "branch", "trunk",
                  "origin_region"}
BATCH_META_KEYS = {"producer", "namespace_id", "key", "content_type", "version_ms", "branch", "trunk",
                   "origin_region"}
FRAME_META_KEYS = {"producer", "namespace_id", "key", "content_type", "branch", "origin_region"}
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


class ProtocolError(AssertionError):
    """Something on the wire does not follow the contract."""


def now_ms():
    return int(time.time() * 1000)


def url_encode(text):
    """Kura's utils::url_encode: everything but A-Z a-z 0-9 - _ . ~ as upper-case %XX."""
    return "".join(chr(b) if b in _UNRESERVED else "%%%02X" % b for b in text.encode())


def artifact_id(producer, tenant, namespace, key):
    return hashlib.sha256("\0".join((producer, tenant, namespace, key)).encode()).hexdigest()


def index_key(kind_byte, version_ms, record_id):
    """The backfill index key: prefix + !version_ms (8 bytes BE) + kind byte + record_id."""
    return INDEX_PREFIX + struct.pack(">QB", ~version_ms & U64_MAX, kind_byte) + record_id.encode()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def encode_frame(kind_byte, disposition, record_id, version_ms, meta=b"", body=b""):
    rid = record_id.encode()
    return FRAME_HEADER.pack(kind_byte, disposition, len(rid), version_ms, len(meta), len(body)) + rid + meta + body


def encode_batch(items):
    """items: [(meta dict, body bytes)] → the PUT /_internal/replicate/artifacts body."""
    out = bytearray()
    for meta, body in items:
        m = json.dumps(meta, separators=(",", ":")).encode()
        out += struct.pack(">II", len(m), len(body)) + m + body
    return bytes(out)


def parse_query(raw):
    """Form-style decoding as Kura's server does → ({name: value}, [violations]). A violation is
    a value not encoded exactly as Kura's sender encodes it, or a repeated parameter."""
    params, violations = {}, []
    if not raw:
        return params, violations
    for part in raw.split("&"):
        name_raw, eq, value_raw = part.partition("=")
        name = urllib.parse.unquote_plus(name_raw)
        value = urllib.parse.unquote_plus(value_raw)
        if name in params:
            violations.append(f"parameter {name} repeated")
        params[name] = value
        if value_raw != url_encode(value):
            violations.append(f"parameter {name}={value_raw!r} is not Kura's encoding {url_encode(value)!r}")
        if not eq:
            violations.append(f"parameter {name} without '='")
    return params, violations


class BadRequest(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def _required(params, name, allow_empty=False):
    value = params.get(name)
    if value is None or (value == "" and not allow_empty):
        raise BadRequest(400, f"Missing {name}")
    return value


def _u64(params, name, default=0):
    value = params.get(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) > U64_MAX:
        raise BadRequest(400, f"Invalid {name}: {value!r}")
    return int(value)


# ---------------------------------------------------------------- the store


class Artifact:
    def __init__(self, producer, namespace, key, content_type, version_ms, body, inline, branch=None, trunk=None):
        self.producer, self.namespace, self.key = producer, namespace, key
        self.content_type, self.version_ms, self.body, self.inline = content_type, version_ms, body, inline
        self.branch, self.trunk = branch, trunk
        self.created_ms = now_ms()

    @property
    def effective_version(self):
        return self.version_ms or self.created_ms

    @property
    def kind_byte(self):
        return KIND_BYTES["inline_artifact" if self.inline else "segment_artifact"]

    def frame_meta(self):
        meta = {"producer": self.producer, "namespace_id": self.namespace, "key": self.key,
                "content_type": self.content_type}
        if self.branch is not None:
            meta["branch"] = self.branch
        return json.dumps(meta, separators=(",", ":")).encode()


class Logged:
    """One request the peer received."""

    def __init__(self, method, path, query, headers, identity):
        self.method, self.path, self.query, self.headers = method, path, query, headers
        self.identity = identity  # SHA-256 of the client certificate (DER), or None
        self.params = {}
        self.status = None
        self.outcomes = []  # (artifact tuple, outcome) for replicate requests
        self.violations = []

    def header(self, name):
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def __repr__(self):
        return f"<{self.method} {self.path}?{self.query} → {self.status} {self.outcomes} {self.violations}>"


class Fault:
    def __init__(self, status, body=None, headers=None, count=None):
        self.status, self.body, self.headers, self.count = status, body, dict(headers or {}), count


class KuraPeer:
    """A Kura node's internal plane. tls=(ca_path, cert_path, key_path) for mTLS, None for plain.
    Starts serving on construction (port 0 picks one); url is https://127.0.0.1:PORT (or http)."""

    def __init__(self, tenant_id="default", node_url=None, region="local", tls=None, port=0,
                 gateway_url=None, producers=KURA_PRODUCERS):
        self.tenant_id, self.region, self.gateway_url = tenant_id, region, gateway_url
        self.producers = set(producers)
        self.lock = threading.RLock()
        self.artifacts = {}  # artifact_id → Artifact
        self.tombstones = {}  # namespace → version_ms
        self.log = []
        self.handshake_failures = []
        self.faults = {}  # route name → Fault
        self.holds = {}  # route name → threading.Event the handler waits for
        self.dispositions = {}  # artifact_id → "absent" | "fetch_individually" in /bodies answers
        self.ssl_context = None
        if tls:
            ca, cert, key = tls
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            ctx.load_verify_locations(ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.set_alpn_protocols(["http/1.1"])
            self.ssl_context = ctx
        self.server = _Server(("127.0.0.1", port), _Handler, self)
        self.port = self.server.server_address[1]
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.node_url = node_url or self.url
        self.thread = threading.Thread(target=self.server.serve_forever, name="kura-peer", daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        for event in self.holds.values():
            event.set()

    # -- scripting

    def put(self, producer, namespace, key, body, version_ms=None, content_type="application/octet-stream",
            inline=None, branch=None):
        """Preloads an artifact (for the backfill API) → its artifact id."""
        aid = artifact_id(producer, self.tenant_id, namespace, key)
        with self.lock:
            self.artifacts[aid] = Artifact(producer, namespace, key, content_type, version_ms or now_ms(), body,
                                           len(body) <= 16 * 1024 if inline is None else inline, branch)
        return aid

    def set_fault(self, route, status, body=None, headers=None, count=None):
        """route: status, artifact, artifacts, namespace, entries, bodies, backfill_artifact.
        body: a JSON value (sent as JSON) or bytes; count: only the next N requests."""
        with self.lock:
            self.faults[route] = Fault(status, body, headers, count)

    def clear_faults(self, *routes):
        """Clears the faults of routes (all when none are named)."""
        with self.lock:
            for route in routes or list(self.faults):
                self.faults.pop(route, None)

    def hold(self, route):
        """Requests on route wait (at most 60 s) until release(route)."""
        with self.lock:
            self.holds[route] = threading.Event()

    def release(self, route):
        with self.lock:
            event = self.holds.pop(route, None)
        if event:
            event.set()

    def requests(self, path=None, method=None):
        with self.lock:
            return [r for r in self.log if (path is None or r.path == path) and (method is None or r.method == method)]

    def violations(self):
        with self.lock:
            return [(r, v) for r in self.log for v in r.violations]

    def received(self):
        """Every artifact outcome of the replicate routes: [(Logged, (producer, ns, key, version), outcome)]."""
        with self.lock:
            return [(r, item, outcome) for r in self.log for item, outcome in r.outcomes]

    def copies(self, producer, namespace, key):
        """The replicate deliveries of one artifact (single and batched), whatever their outcome."""
        return [(r, item, o) for r, item, o in self.received() if item[:3] == (producer, namespace, key)]

    def artifact(self, producer, namespace, key):
        with self.lock:
            return self.artifacts.get(artifact_id(producer, self.tenant_id, namespace, key))

    # -- the LWW gate (reference section 4)

    def _gate(self, aid, namespace, incoming):
        tomb = self.tombstones.get(namespace)
        if tomb is not None and (tomb >= incoming or incoming == 0):
            return "ignored_tombstone"
        existing = self.artifacts.get(aid)
        if existing is None or existing.effective_version < incoming:
            return "applied"
        if existing.effective_version == incoming and incoming != 0:
            return "ignored_equal"
        return "ignored_stale"

    def _apply(self, meta, body, inline, version_ms):
        aid = artifact_id(meta["producer"], self.tenant_id, meta["namespace_id"], meta["key"])
        with self.lock:
            outcome = self._gate(aid, meta["namespace_id"], version_ms)
            if outcome == "applied":
                self.artifacts[aid] = Artifact(meta["producer"], meta["namespace_id"], meta["key"],
                                               meta["content_type"], version_ms or now_ms(), body, inline,
                                               meta.get("branch"), meta.get("trunk"))
        return outcome

    # -- request handling (handler threads)

    def _handle(self, h):
        parsed = urllib.parse.urlsplit(h.path)
        path, query = parsed.path, parsed.query
        body = h.read_body()
        identity = None
        if isinstance(h.connection, ssl.SSLSocket):
            der = h.connection.getpeercert(binary_form=True)
            identity = sha(der) if der else None
        entry = Logged(h.command, path, query, [(k.lower(), v) for k, v in h.headers.items()], identity)
        with self.lock:
            self.log.append(entry)
        route = self._route(h.command, path)
        status, payload, headers = 404, {"message": "Not Found"}, {}
        try:
            if route is None:
                raise BadRequest(404, "Not Found")
            with self.lock:
                event = self.holds.get(route)
                fault = self.faults.get(route)
                if fault and fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        del self.faults[route]
            if event:
                event.wait(60)
            if fault:
                status, payload, headers = fault.status, fault.body if fault.body is not None else {}, fault.headers
            else:
                params, violations = parse_query(query)
                entry.params = params
                entry.violations.extend(violations)
                status, payload, headers = getattr(self, "_r_" + route)(h, entry, params, body)
        except BadRequest as e:
            status, payload, headers = e.status, {"message": e.message}, {}
        entry.status = status
        h.respond(status, payload, headers)

    @staticmethod
    def _route(method, path):
        routes = {("GET", "/_internal/status"): "status",
                  ("PUT", "/_internal/replicate/artifact"): "artifact",
                  ("PUT", "/_internal/replicate/artifacts"): "artifacts",
                  ("DELETE", "/_internal/replicate/namespace"): "namespace",
                  ("GET", "/_internal/backfill/entries"): "entries",
                  ("POST", "/_internal/backfill/bodies"): "bodies"}
        if (method, path) in routes:
            return routes[(method, path)]
        if method == "GET" and path.startswith("/_internal/backfill/artifacts/"):
            return "backfill_artifact"
        return None

    def _r_status(self, h, entry, params, body):
        node_url = self.node_url
        if self.gateway_url:
            gw_host = urllib.parse.urlsplit(self.gateway_url).hostname or ""
            host = (h.headers.get("Host") or "").split(":")[0]
            if params.get("scope") == "global" or host.lower() == gw_host.lower():
                node_url = self.gateway_url
        return 200, {"region": self.region, "tenant_id": self.tenant_id, "node_url": node_url}, {}

    def _check_sender_headers(self, entry):
        if entry.header("content-type") != "application/octet-stream":
            entry.violations.append(f"Content-Type {entry.header('content-type')!r}, not application/octet-stream")

    def _r_artifact(self, h, entry, params, body):
        for name in params:
            if name not in ARTIFACT_QUERY:
                entry.violations.append(f"unknown parameter {name}")
        meta = {"producer": _required(params, "producer"), "key": _required(params, "key"),
                "content_type": _required(params, "content_type"),
                "namespace_id": _required(params, "namespace_id", allow_empty=True)}
        inline = params.get("inline", "false")
        if inline not in ("true", "false"):
            raise BadRequest(400, f"Invalid inline: {inline!r}")
        version = _u64(params, "version_ms")
        if "version_ms" not in params or version == 0:
            entry.violations.append("no version_ms: the receiver would stamp its own clock")
        for optional in ("branch", "trunk"):
            if optional in params:
                meta[optional] = params[optional]
        self._check_sender_headers(entry)
        if meta["producer"] not in self.producers:
            entry.outcomes.append(((meta["producer"], meta["namespace_id"], meta["key"], version), "invalid_producer"))
            raise BadRequest(400, "Invalid artifact producer")
        if inline == "true" and len(body) > MAX_INLINE_BYTES:
            raise BadRequest(413, "inline body too large")
        outcome = self._apply(meta, body, inline == "true", version)
        entry.outcomes.append(((meta["producer"], meta["namespace_id"], meta["key"], version), outcome))
        return 204, None, {}

    def _r_artifacts(self, h, entry, params, body):
        self._check_sender_headers(entry)
        if len(body) > MAX_BATCH_BYTES:
            raise BadRequest(413, "batch too large")
        items, pos = [], 0
        while pos < len(body):
            if len(body) - pos < 8:
                raise BadRequest(400, "truncated frame header")
            meta_len, body_len = struct.unpack_from(">II", body, pos)
            pos += 8
            if meta_len > len(body) - pos or body_len > len(body) - pos - meta_len:
                raise BadRequest(400, "frame lengths overflow the body")
            try:
                meta = json.loads(body[pos:pos + meta_len])
            except ValueError:
                raise BadRequest(400, "bad meta JSON")
            pos += meta_len
            if not isinstance(meta, dict) or any(not isinstance(meta.get(f), str) for f in
                                                  ("producer", "namespace_id", "key", "content_type")) \
                    or not isinstance(meta.get("version_ms", 0), int) or isinstance(meta.get("version_ms"), bool):
                raise BadRequest(400, "bad meta JSON")
            for k in meta:
                if k not in BATCH_META_KEYS:
                    entry.violations.append(f"unknown batch meta field {k}")
            if not meta.get("version_ms"):
                entry.violations.append("batch item without version_ms")
            if not meta["producer"] or not meta["key"] or not meta["content_type"]:
                entry.violations.append(f"batch item with an empty required field: {meta}")
            items.append((meta, body[pos:pos + body_len]))
            pos += body_len
            if len(items) > MAX_BATCH_ITEMS:
                raise BadRequest(413, "too many items")
        if len(items) < 2:
            entry.violations.append(f"a batch of {len(items)} item(s): Kura batches at least 2")
        outcomes = []
        for meta, item_body in items:
            version = meta.get("version_ms", 0)
            if meta["producer"] not in self.producers or len(item_body) > MAX_INLINE_BYTES:
                outcome = "error"
            else:
                outcome = self._apply(meta, item_body, True, version)
            outcomes.append(outcome)
            entry.outcomes.append(((meta["producer"], meta["namespace_id"], meta["key"], version), outcome))
        return 200, {"outcomes": outcomes}, {}

    def _r_namespace(self, h, entry, params, body):
        namespace = _required(params, "namespace_id", allow_empty=True)
        if "version_ms" not in params:
            entry.violations.append("namespace delete without version_ms purges without a tombstone")
        version = _u64(params, "version_ms")
        with self.lock:
            if version == 0:
                outcome = "purged"
                self.artifacts = {k: a for k, a in self.artifacts.items() if a.namespace != namespace}
            elif self.tombstones.get(namespace, -1) >= version:
                outcome = "ignored_older"
            else:
                outcome = "applied"
                self.tombstones[namespace] = version
                self.artifacts = {k: a for k, a in self.artifacts.items()
                                  if a.namespace != namespace or a.effective_version > version}
        entry.outcomes.append((("namespace", namespace, "", version), outcome))
        return 204, None, {}

    def _index(self):
        """The backfill index, sorted by raw key: [(key, kind name, record_id, version, size)]."""
        with self.lock:
            rows = [(index_key(a.kind_byte, a.effective_version, aid), KIND_NAMES[a.kind_byte], aid,
                     a.effective_version, len(a.body)) for aid, a in self.artifacts.items()]
            rows += [(index_key(3, v, ns), "namespace_tombstone", ns, v, None) for ns, v in self.tombstones.items()]
        return sorted(rows)

    def _r_entries(self, h, entry, params, body):
        limit = _u64(params, "limit", LIST_DEFAULT_LIMIT)
        if limit == 0:
            raise BadRequest(400, "Invalid limit: 0")
        limit = min(limit, LIST_MAX_LIMIT)
        after = b""
        if params.get("after"):
            try:
                after = bytes.fromhex(params["after"])
            except ValueError:
                raise BadRequest(400, f"Invalid after: {params['after']!r}")
            if not after.startswith(INDEX_PREFIX):
                raise BadRequest(400, f"Invalid after: {params['after']!r}")
        rows = [r for r in self._index() if r[0] > after]
        page, more = rows[:limit], len(rows) > limit
        entries = []
        for key, kind, rid, version, size in page:
            e = {"record_kind": kind, "record_id": rid, "version_ms": version}
            if size is not None:
                e["size"] = size
            entries.append(e)
        return 200, {"entries": entries, "next_after": page[-1][0].hex() if more else None}, {}

    def _frame_for(self, kind_name, record_id, version_ms, budget):
        """A bodies frame for one requested tuple; budget = [Present bytes left]."""
        want = KIND_BYTES[kind_name]
        with self.lock:
            a = self.artifacts.get(record_id)
            disposition = self.dispositions.get(record_id)
        if disposition == "fetch_individually" or (a is not None and len(a.body) > budget[0]
                                                   and disposition is None):
            return encode_frame(want, FETCH_INDIVIDUALLY, record_id, version_ms)
        if a is None or disposition == "absent":
            return encode_frame(want, ABSENT, record_id, version_ms)
        budget[0] -= len(a.body)
        return encode_frame(a.kind_byte, PRESENT, record_id, a.effective_version, a.frame_meta(), a.body)

    def _r_bodies(self, h, entry, params, body):
        if len(body) > MAX_BODIES_REQUEST_BYTES:
            raise BadRequest(413, "request too large")
        if (entry.header("content-type") or "").split(";")[0].strip() != "application/json":
            entry.violations.append(f"bodies request Content-Type {entry.header('content-type')!r}")
        try:
            doc = json.loads(body)
            wanted = doc["entries"]
            assert isinstance(wanted, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            raise BadRequest(400, "bad bodies request")
        if len(wanted) > MAX_BODIES_ENTRIES:
            raise BadRequest(400, "too many entries")
        tuples = []
        for w in wanted:
            if not isinstance(w, dict) or w.get("record_kind") not in ("segment_artifact", "inline_artifact") \
                    or not isinstance(w.get("record_id"), str) or not w["record_id"] \
                    or not isinstance(w.get("version_ms"), int):
                raise BadRequest(400, f"bad bodies entry {w!r}")
            tuples.append((w["record_kind"], w["record_id"], w["version_ms"]))
        budget = [BODIES_BATCH_BYTES]
        out = b"".join(self._frame_for(k, rid, v, budget) for k, rid, v in tuples)
        entry.outcomes = [(("bodies", rid, k, v), "asked") for k, rid, v in tuples]
        return 200, out, {}

    def _r_backfill_artifact(self, h, entry, params, body):
        rid = urllib.parse.unquote(entry.path[len("/_internal/backfill/artifacts/"):])
        with self.lock:
            a = self.artifacts.get(rid)
        entry.outcomes = [(("artifact", rid, "", 0), "asked")]
        if a is None:
            raise BadRequest(404, "artifact not found")
        return 200, encode_frame(a.kind_byte, PRESENT, rid, a.effective_version, a.frame_meta(), a.body), {}

    def _handshake_failed(self, error):
        with self.lock:
            self.handshake_failures.append(repr(error))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, peer):
        self.peer = peer
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.peer.ssl_context:
            # The handshake runs on the connection's own thread (finish_request), not on accept.
            sock = self.peer.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(10)
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError) as e:
                self.peer._handshake_failed(e)
                return
        request.settimeout(60)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # a peer that hangs up mid-request is not the test's failure


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kura-peer"

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline(1 << 16).split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1 << 16) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.read(2)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def respond(self, status, payload, headers):
        if payload is None:
            data, ctype = b"", None
        elif isinstance(payload, bytes):
            data, ctype = payload, "application/octet-stream"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("x-request-id", str(uuid.uuid4()))
        if ctype and status != 204:
            self.send_header("Content-Type", ctype)
        if status != 204:
            self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, str(v))
        self.end_headers()
        if status != 204 and self.command != "HEAD":
            self.wfile.write(data)

    def _any(self):
        try:
            self.server.peer._handle(self)
        except (ConnectionError, socket.timeout, ssl.SSLError, ValueError):
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _any


# ---------------------------------------------------------------- client side


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Resp {self.status} {self.body[:200]!r}>"


def client_context(ca=None, cert=None, key=None):
    """An SSL context that trusts ca (hostnames not checked: the node URL's host may be an IP
    the test connects to under another Host header) and presents cert/key when given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if ca:
        ctx.load_verify_locations(ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class InternalClient:
    """A Kura-style requester of a node's internal plane at base_url (https with ca/cert/key, or
    http). `tenant` is the node's tenant, to recompute artifact ids from frame meta."""

    def __init__(self, base_url, ca=None, cert=None, key=None, tenant="default", timeout=30):
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port, self.https = parts.hostname, parts.port, parts.scheme == "https"
        self.ctx = client_context(ca, cert, key) if self.https else None
        self.tenant, self.timeout = tenant, timeout

    def request(self, method, path, body=None, headers=None):
        if self.https:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=self.timeout)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=headers or {})
            except OSError:
                pass  # a server may answer (413) and close before the body is sent: read it
            r = conn.getresponse()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    # -- pushes (as a Kura sender)

    def push(self, producer, namespace, key, body, version_ms, content_type="application/octet-stream",
             inline=False):
        q = "&".join(f"{n}={url_encode(v)}" for n, v in (
            ("producer", producer), ("namespace_id", namespace), ("key", key), ("content_type", content_type),
            ("inline", "true" if inline else "false"), ("version_ms", str(version_ms))))
        return self.request("PUT", "/_internal/replicate/artifact?" + q, body,
                            {"Content-Type": "application/octet-stream"})

    def push_batch(self, items):
        """items: [(meta dict, body)] → (Resp, outcomes or None)."""
        r = self.request("PUT", "/_internal/replicate/artifacts", encode_batch(items),
                         {"Content-Type": "application/octet-stream"})
        return r, (r.json()["outcomes"] if r.status == 200 else None)

    def delete_namespace(self, namespace, version_ms):
        return self.request("DELETE", f"/_internal/replicate/namespace?namespace_id={url_encode(namespace)}"
                                      f"&version_ms={version_ms}")

    # -- backfill (as a Kura requester), validating every byte

    def list_page(self, after=None, limit=None):
        q = []
        if after is not None:
            q.append("after=" + after)
        if limit is not None:
            q.append(f"limit={limit}")
        r = self.request("GET", "/_internal/backfill/entries" + ("?" + "&".join(q) if q else ""))
        if r.status != 200:
            return r, None
        if not r.headers.get("content-type", "").startswith("application/json"):
            raise ProtocolError(f"listing Content-Type {r.headers.get('content-type')!r}")
        doc = r.json()
        if not isinstance(doc, dict) or set(doc) - {"entries", "next_after", "now"} or "entries" not in doc \
                or "next_after" not in doc:
            raise ProtocolError(f"listing fields {sorted(doc)}")
        for e in doc["entries"]:
            kind = e.get("record_kind")
            allowed = {"record_kind", "record_id", "version_ms"}
            if kind != "namespace_tombstone":
                allowed.add("size")
            if set(e) - allowed or kind not in KIND_BYTES or not isinstance(e.get("record_id"), str) \
                    or not e["record_id"] or type(e.get("version_ms")) is not int or e["version_ms"] <= 0:
                raise ProtocolError(f"listing entry {e}")
            if kind != "namespace_tombstone" and type(e.get("size")) is not int:
                raise ProtocolError(f"artifact entry without an integer size: {e}")
        if doc["next_after"] is not None and not isinstance(doc["next_after"], str):
            raise ProtocolError(f"next_after {doc['next_after']!r}")
        return r, doc

    def list_all(self, limit=None):
        """Every listed entry, following the cursor; checks the order and that each cursor is the
        lowercase hex of the last entry's raw index key → [entry]."""
        entries, after, last_key = [], None, b""
        for _ in range(100000):
            r, doc = self.list_page(after, limit)
            if doc is None:
                raise ProtocolError(f"listing answered {r.status}: {r.body[:300]!r}")
            for e in doc["entries"]:
                k = index_key(KIND_BYTES[e["record_kind"]], e["version_ms"], e["record_id"])
                if k <= last_key:
                    raise ProtocolError(f"listing not in index-key order at {e}")
                last_key = k
                entries.append(e)
            if limit is not None and len(doc["entries"]) > limit:
                raise ProtocolError(f"{len(doc['entries'])} entries for limit {limit}")
            if doc["next_after"] is None:
                return entries
            if not doc["entries"] or doc["next_after"] != last_key.hex():
                raise ProtocolError(f"next_after {doc['next_after']} is not the hex of the last key {last_key.hex()}")
            after = doc["next_after"]
        raise ProtocolError("the listing never ends")

    def bodies(self, wanted):
        """POST /_internal/backfill/bodies for wanted [(kind name, record_id, version_ms)] → (Resp,
        [Frame] or None). Enforces one frame per tuple, in order, with the requested id, and the
        disposition rules."""
        doc = {"entries": [{"record_kind": k, "record_id": rid, "version_ms": v} for k, rid, v in wanted]}
        r = self.request("POST", "/_internal/backfill/bodies", json.dumps(doc).encode(),
                         {"Content-Type": "application/json"})
        if r.status != 200:
            return r, None
        check_octet_stream(r)
        frames = parse_frames(r.body, self.tenant)
        if len(frames) != len(wanted):
            raise ProtocolError(f"{len(frames)} frames for {len(wanted)} tuples")
        for f, (kind, rid, version) in zip(frames, wanted):
            if f.record_id != rid:
                raise ProtocolError(f"frame for {f.record_id} where {rid} was asked")
            if f.disposition != PRESENT and (f.kind != KIND_BYTES[kind] or f.version_ms != version):
                raise ProtocolError(f"{f} does not echo the requested kind {kind} and version {version}")
        return r, frames

    def backfill_artifact(self, aid, encode=True):
        """GET /_internal/backfill/artifacts/{id} → (Resp, Frame or None): exactly one Present frame."""
        r = self.request("GET", "/_internal/backfill/artifacts/" + (url_encode(aid) if encode else aid))
        if r.status != 200:
            return r, None
        check_octet_stream(r)
        frames = parse_frames(r.body, self.tenant)
        if len(frames) != 1 or frames[0].disposition != PRESENT or frames[0].record_id != aid:
            raise ProtocolError(f"single artifact answer {frames}")
        return r, frames[0]


def check_octet_stream(r):
    if r.headers.get("content-type") != "application/octet-stream":
        raise ProtocolError(f"frames with Content-Type {r.headers.get('content-type')!r}")
    if r.headers.get("content-length") != str(len(r.body)):
        raise ProtocolError(f"Content-Length {r.headers.get('content-length')} for {len(r.body)} bytes")


class Frame:
    def __init__(self, kind, disposition, record_id, version_ms, meta, body):
        self.kind, self.disposition, self.record_id = kind, disposition, record_id
        self.version_ms, self.meta, self.body = version_ms, meta, body

    def __repr__(self):
        return (f"<Frame kind={self.kind} disp={self.disposition} id={self.record_id} v={self.version_ms} "
                f"meta={self.meta} body={len(self.body)}B>")


def parse_frames(data, tenant):
    """Backfill frames → [Frame], validating the header rules, the meta JSON and, for Present
    frames, that the record id is the artifact id of the meta under `tenant`."""
    frames, pos = [], 0
    while pos < len(data):
        if len(data) - pos < FRAME_HEADER.size:
            raise ProtocolError(f"truncated frame header at byte {pos}")
        kind, disp, id_len, version, meta_len, body_len = FRAME_HEADER.unpack_from(data, pos)
        pos += FRAME_HEADER.size
        if id_len == 0 or disp not in (PRESENT, ABSENT, FETCH_INDIVIDUALLY) or kind not in (1, 2):
            raise ProtocolError(f"frame header kind={kind} disposition={disp} id_len={id_len}")
        if pos + id_len + meta_len + body_len > len(data):
            raise ProtocolError("frame lengths run past the body")
        rid = data[pos:pos + id_len].decode()
        pos += id_len
        raw_meta = data[pos:pos + meta_len]
        pos += meta_len
        body = data[pos:pos + body_len]
        pos += body_len
        meta = None
        if disp == PRESENT:
            if meta_len == 0:
                raise ProtocolError(f"Present frame for {rid} without meta")
            meta = json.loads(raw_meta)
            if not isinstance(meta, dict) or set(meta) - FRAME_META_KEYS or any(
                    not isinstance(meta.get(f), str) for f in ("producer", "namespace_id", "key", "content_type")):
                raise ProtocolError(f"frame meta {raw_meta!r}")
            if artifact_id(meta["producer"], tenant, meta["namespace_id"], meta["key"]) != rid:
                raise ProtocolError(f"frame {rid} carries the meta of another artifact: {meta}")
            if version == 0:
                raise ProtocolError(f"Present frame {rid} with version 0")
        elif meta_len or body_len:
            raise ProtocolError(f"disposition {disp} frame for {rid} with meta or body")
        frames.append(Frame(kind, disp, rid, version, meta, body))
    return frames
