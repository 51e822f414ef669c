#!/usr/bin/env python3
"""bench_mesh.py: what mesh replication costs and how fast it moves data, with real meshcache nodes
on 127.0.0.1 (internal plane plain by default, mTLS with BENCH_MTLS=1). Each figure has its
baseline measured in the same run; medians of BENCH_RUNS runs.

1. lag      A with peers B and C (full mesh); steady 4 KiB PUTs on A (BENCH_LAG_RATE/s, default 200,
            for BENCH_DURATION s); per write, from A's 2xx to the first 200 of a GET on B (and on C),
            polled over keep-alive connections. Baseline: the PUT round trip on A.
            Target: p99 < 50 ms. Also A's meshcache_replication_lag_seconds histogram.
2. catchup  B down (after A had admitted it); BENCH_CATCHUP_WRITES (10,000) x 4 KiB written on A,
            8 connections; B started; time from B's spawn until A's outbox is empty; then B's artifact
            count and a sample (GET + SHA-256). Baseline: the same writes PUT on B directly.
            Target: < 5 s.
3. warmup   P holds BENCH_WARMUP_BYTES (1 GiB) of 4 KiB..4 MiB artifacts (log-uniform); a fresh node
            N with MESHCACHE_PEERS=P: from N's spawn until /ready (status: warm-up done); MB/s, then a
            sample (GET + SHA-256). Baseline: a client PUTting the same set into a fresh node
            (8 connections; P's own fill is the first of the runs). Target: >= 200 MB/s.
4. serving  GET hits 4 KiB (wrk -t2 -c64, rotate.lua) on A while BENCH_WRITE_RATE (150) PUT/s of
            4 KiB replicate to B and C, against a node D without peers under the same write load,
            and nginx-light (same files, same write load) as the usual reference; loaded alternately.
            Target: A/D >= 0.9 (and A/nginx >= 0.9, as for every GET-hit figure).

Environment: MESHCACHE_BIN, BENCH_RUNS (3), BENCH_DURATION (10 s), BENCH_QUICK=1 (1 run x 3 s,
2,000 catch-up writes, 64 MiB warm-up), BENCH_SCENARIOS (lag,catchup,warmup,serving),
BENCH_WARMUP_BYTES, BENCH_CATCHUP_WRITES, BENCH_LAG_RATE, BENCH_WRITE_RATE, BENCH_MTLS=1
(certificates from `meshcache tls init-ca` / `issue`), BENCH_KEEP=1 (keep the work directory).
It is a benchmark, not a test: exit 0 unless something broke (a node did not start, errors under
load, a write that never arrived, an outbox that did not drain, wrong bytes).
"""
import collections
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import bench_serving as bs  # noqa: E402  (shared helpers: nginx, wrk driver, machine info)
from bench_controlplane import find_binary  # noqa: E402

KIB, MIB = 1024, 1024 * 1024
SMALL = 4 * KIB
TENANT = "bench"
PUT_THREADS = 8
HIT_KEYS = 1000
SAMPLE = 200
DRAIN_TIMEOUT = 60.0
POLL_PAUSE = 0.0002  # between poll sweeps that found nothing: bounds the poller's CPU on 2 cores
GET_HIT = next(sc for sc in bs.SCENARIOS if sc.id == "get4k-h1")  # wrk -t2 -c64, 4 KiB hits


class Broken(Exception):
    """The node misbehaved (lost write, stall, wrong bytes): reported, and the script exits 1."""


def free_ports(n):
    """n distinct free ports, held together while chosen (node URLs are fixed before any start)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Conn:
    """A keep-alive HTTP/1.1 connection; reconnects once if the server closed it."""

    def __init__(self, port):
        self.port, self.c = port, http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method, path, body=None):
        for attempt in (0, 1):
            try:
                self.c.request(method, path, body=body)
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.c.close()
                if attempt:
                    raise

    def close(self):
        self.c.close()


class Mesh:
    """The run's binary, work dir, internal-plane scheme and (BENCH_MTLS=1) CA."""

    def __init__(self, binary, workdir, mtls):
        self.bin, self.dir, self.mtls = binary, workdir, mtls
        self.scheme = "https" if mtls else "http"
        self.ca = workdir / "ca"
        if mtls:
            self.cli("tls", "init-ca", "--dir", str(self.ca), "--name", "bench mesh CA")
        self.nodes = []

    def cli(self, *args):
        r = subprocess.run([self.bin, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise bs.BenchError(f"meshcache {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r.stdout

    def node(self, name, peers=()):
        n = Node(self, name)
        n.peers = list(peers)
        self.nodes.append(n)
        return n

    def stop_all(self):
        for n in self.nodes:
            n.stop()


class Node:
    """`meshcache run` with a public and an internal port chosen up front."""

    def __init__(self, mesh, name):
        self.mesh, self.name, self.dir = mesh, name, mesh.dir / name
        self.data = self.dir / "data"
        self.port, self.internal_port = free_ports(2)
        self.h1 = f"http://127.0.0.1:{self.port}"
        self.url = f"{mesh.scheme}://127.0.0.1:{self.internal_port}"
        self.peers, self.proc, self.log = [], None, self.dir / "log"

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MESHCACHE_")}
        env.update(MESHCACHE_LISTEN=f"127.0.0.1:{self.port}", MESHCACHE_INTERNAL_LISTEN=f"127.0.0.1:{self.internal_port}",
                   MESHCACHE_NODE_URL=self.url, MESHCACHE_TENANT_ID=TENANT, MESHCACHE_DATA_DIR=str(self.data),
                   MESHCACHE_CAPACITY_BYTES=str(8 << 30), MESHCACHE_IO_THREADS="2", MESHCACHE_LOG_LEVEL="warn",
                   MESHCACHE_AUTH="none")
        if self.peers:
            env["MESHCACHE_PEERS"] = ",".join(p.url for p in self.peers)
        return env

    def spawn(self):
        """Starts the process without waiting; returns the monotonic spawn time."""
        if not self.data.exists():
            self.data.mkdir(parents=True)
            if self.mesh.mtls:
                self.mesh.cli("tls", "issue", "--ca-dir", str(self.mesh.ca), "--node-url", self.url,
                              "--out-dir", str(self.data / "tls"))
        t = time.monotonic()
        self.proc = subprocess.Popen([self.mesh.bin, "run"], env=self.env(), stdout=open(self.log, "a"),
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return t

    def start(self, timeout=60.0):
        self.spawn()
        self.wait_ready(timeout)

    def wait_ready(self, timeout=60.0, interval=0.05):
        """Until /ready answers 200 (serving); returns the monotonic time it did."""
        return self.wait("ready", lambda: self.ready() and time.monotonic(), timeout, interval)

    def ready(self):
        c = Conn(self.port)
        try:
            return c.request("GET", "/ready")[0] == 200
        except OSError:
            return False
        finally:
            c.close()

    def wait(self, what, check, timeout, interval=0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise bs.BenchError(f"{self.name}: {what}: exited with {self.proc.returncode}\n"
                                    f"--- {self.name} log (tail) ---\n{self.log_tail()}")
            result = check()
            if result:
                return result
            time.sleep(interval)
        raise bs.BenchError(f"{self.name}: {what}: not after {timeout:.0f} s\n--- {self.name} log (tail) ---\n"
                            f"{self.log_tail()}")

    def log_tail(self):
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def status(self):
        r = subprocess.run([self.mesh.bin, "status", "--json", "--data-dir", str(self.data)], capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=15)
        try:
            return json.loads(r.stdout) if r.returncode in (0, 1) else None  # 1: answered, not serving
        except ValueError:
            return None

    def peer_status(self):
        doc = self.status() or {}
        return {p["url"]: p for p in (doc.get("mesh") or {}).get("peers", [])}

    def wait_admitted(self, timeout=30.0):
        want = [p.url for p in self.peers if p is not self]
        self.wait("peers admitted", lambda: all(self.peer_status().get(u, {}).get("admission") == "admitted"
                                                for u in want), timeout, 0.1)

    def metrics(self):
        return bs.http_get(self.h1, "/metrics")

    def outbox_rows(self):
        """Rows waiting over all targets, from /metrics (cheap enough to poll every 20 ms)."""
        return sum(int(float(v)) for v in re.findall(r"^meshcache_replication_outbox_rows\{[^}]*\} (\S+)$",
                                                     self.metrics(), re.M))

    def wait_drained(self, timeout=DRAIN_TIMEOUT):
        """Until A's outbox is empty and nothing is in flight; Broken (with the peers' state) if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox_rows() == 0:
                peers = self.peer_status().values()
                if all(p["outbox_depth"] == 0 and p["in_flight"] == 0 for p in peers):
                    return time.monotonic()
            time.sleep(0.02)
        raise Broken(f"{self.name}: outbox not drained after {timeout:.0f} s: {self.peers_text()}")

    def peers_text(self):
        return json.dumps(list(self.peer_status().values()))

    def artifacts(self):
        return (self.status() or {}).get("store", {}).get("artifacts")

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        bs.stop_process(self.proc)
        self.proc = None

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- clients


def put_all(port, items, threads=PUT_THREADS):
    """PUTs [(path, body)] over `threads` keep-alive connections; returns the seconds it took."""
    errors = []

    def worker(k):
        c = Conn(port)
        for path, body in items[k::threads]:
            status, _ = c.request("PUT", path, body)
            if status // 100 != 2:
                errors.append(f"PUT {path} → {status}")
        c.close()

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    t0 = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise bs.BenchError(f"{len(errors)} PUTs failed, first: {errors[0]}")
    return time.monotonic() - t0


def check_sample(node, items, what):
    """GETs a sample of [(path, body)] from the node and compares SHA-256; Broken on any difference."""
    c = Conn(node.port)
    bad = []
    for path, body in random.Random(7).sample(items, min(SAMPLE, len(items))):
        status, got = c.request("GET", path)
        if status != 200 or hashlib.sha256(got).digest() != hashlib.sha256(body).digest():
            bad.append(f"{path}: {status}, {len(got)} of {len(body)} bytes")
    c.close()
    if bad:
        raise Broken(f"{what}: {len(bad)} of {min(SAMPLE, len(items))} sampled artifacts wrong on {node.name}, "
                     f"first: {bad[0]}")


class SteadyWriter(threading.Thread):
    """PUTs 4 KiB artifacts at `rate`/s (by schedule, not by feedback) until stopped or `count` done;
    on_ack(i, t) gets each 2xx with the time its answer was read."""

    def __init__(self, port, prefix, rate, count=None, on_ack=None):
        super().__init__(daemon=True)
        self.port, self.prefix, self.rate, self.count, self.on_ack = port, prefix, rate, count, on_ack
        self.bodies = [os.urandom(SMALL) for _ in range(min(count or 4096, 4096))]
        self.halt = threading.Event()
        self.latencies, self.errors, self.done = [], [], 0

    def body(self, i):
        return self.bodies[i % len(self.bodies)]

    def path(self, i):
        return f"{self.prefix}{i:07d}"

    def run(self):
        c = Conn(self.port)
        t0 = time.perf_counter()
        i = 0
        while not self.halt.is_set() and (self.count is None or i < self.count):
            delay = t0 + i / self.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            try:
                status, _ = c.request("PUT", self.path(i), self.body(i))
            except OSError as e:
                status = repr(e)
            acked = time.perf_counter()
            if status in (200, 201, 204):
                self.latencies.append(acked - sent)
                if self.on_ack:
                    self.on_ack(i, acked)
            else:
                self.errors.append(f"PUT {self.path(i)} → {status}")
            i += 1
        self.done, self.elapsed = i, time.perf_counter() - t0
        c.close()

    def stop(self):
        self.halt.set()
        self.join()


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def lag_histogram(text):
    """(count, sum, [(le, cumulative)]) of meshcache_replication_lag_seconds."""
    buckets = [(float(le), int(float(v))) for le, v in
               re.findall(r'^meshcache_replication_lag_seconds_bucket\{le="([^"]+)"\} (\S+)$', text, re.M)]
    count = re.search(r"^meshcache_replication_lag_seconds_count (\S+)$", text, re.M)
    total = re.search(r"^meshcache_replication_lag_seconds_sum (\S+)$", text, re.M)
    if not (buckets and count and total):
        return None
    return int(float(count.group(1))), float(total.group(1)), buckets


def histogram_summary(before, after):
    if not (before and after):
        return "meshcache_replication_lag_seconds not found in /metrics"
    n = after[0] - before[0]
    if n <= 0:
        return "meshcache_replication_lag_seconds: no observations"
    cum = [(le, a - b) for (le, a), (_, b) in zip(after[2], before[2])]

    def quantile(q):
        le = next(le for le, c in cum if c >= q * n)
        return "> last bucket" if le == float("inf") else f"≤ {le * 1000:g} ms"

    return (f"{n} deliveries, mean {(after[1] - before[1]) / n * 1000:.2f} ms, p50 {quantile(0.5)}, "
            f"p99 {quantile(0.99)} (bucket bounds)")


# -- scenarios


def scenario_lag(a, peers, runs, duration, rate):
    """Runs of steady writes on A with B and C polled; returns per-run (lag p50, lag p99, PUT p50, PUT p99)."""
    out = []
    hist0 = lag_histogram(a.metrics())
    for run in range(runs):
        acked = collections.deque()
        writer = SteadyWriter(a.port, f"/cache/bench/lag/{run}/", rate, count=int(rate * duration),
                              on_ack=lambda i, t: acked.append((i, t)))
        conns = {p.name: Conn(p.port) for p in peers}
        pending = {p.name: {} for p in peers}  # insertion order = oldest first
        lags = {p.name: [] for p in peers}
        polls, wrong = [], []
        writer.start()
        finished_at = None
        while True:
            while acked:
                i, t = acked.popleft()
                for pend in pending.values():
                    pend[i] = t
            found = False
            for name, pend in pending.items():
                for i in list(pend):
                    sent = time.perf_counter()
                    status, body = conns[name].request("GET", writer.path(i))
                    now = time.perf_counter()
                    polls.append(now - sent)
                    if status == 200:
                        lags[name].append(now - pend.pop(i))
                        found = True
                        if body != writer.body(i):
                            wrong.append(f"{name} {writer.path(i)}: {len(body)} bytes, not the ones written")
                    elif status != 404:
                        wrong.append(f"{name} GET {writer.path(i)} → {status}")
                        pend.pop(i)
            if not writer.is_alive() and not acked:
                finished_at = finished_at or time.monotonic()
                if not any(pending.values()) or time.monotonic() - finished_at > 30:
                    break
            if not found:
                time.sleep(POLL_PAUSE)
        writer.join()
        for c in conns.values():
            c.close()
        lost = {name: len(p) for name, p in pending.items() if p}
        if writer.errors or wrong or lost:
            raise Broken(f"lag run {run + 1}: {len(writer.errors)} PUT errors {writer.errors[:1]}, "
                         f"{len(wrong)} wrong reads {wrong[:1]}, never arrived within 30 s: {lost}; "
                         f"A's peers: {a.peers_text()}")
        every = [x for v in lags.values() for x in v]
        r = (pct(every, 0.5), pct(every, 0.99), pct(writer.latencies, 0.5), pct(writer.latencies, 0.99))
        out.append(r)
        per_peer = ", ".join(f"{n} p50 {pct(v, .5) * 1e3:.2f} / p99 {pct(v, .99) * 1e3:.2f} ms"
                             for n, v in lags.items())
        print(f"   run {run + 1}: {writer.done} writes in {writer.elapsed:.1f} s; lag p50 {r[0] * 1e3:.2f} ms, "
              f"p99 {r[1] * 1e3:.2f} ms, max {max(every) * 1e3:.1f} ms ({per_peer}); PUT on A p50 "
              f"{r[2] * 1e3:.2f} / p99 {r[3] * 1e3:.2f} ms; poll round trip p50 {pct(polls, .5) * 1e3:.2f} ms",
              flush=True)
    a.wait_drained()
    print(f"   A's histogram over these runs: {histogram_summary(hist0, lag_histogram(a.metrics()))}")
    return out


def scenario_serving(mesh, a, workdir, runs, duration, rate):
    """GET-hit req/s on A (replicating), on D (no peers) and on nginx, each under the same write load."""
    d = mesh.node("D")
    d.start()
    nginx = bs.Nginx("nginx", workdir)
    nginx.start()
    nginx.port = int(nginx.h1.rsplit(":", 1)[1])
    try:
        items = [(f"/cache/bench/hit/{i:04d}", os.urandom(SMALL)) for i in range(HIT_KEYS)]
        for server in (a, d, nginx):
            put_all(server.port, items)
        a.wait_drained()
        paths = workdir / "hit-paths.txt"
        paths.write_text("".join(p + "\n" for p, _ in items))
        servers = [("A", a), ("D", d), ("nginx", nginx)]
        rps = {name: [] for name, _ in servers}
        for run in range(runs):
            for name, server in servers[run % 3:] + servers[:run % 3]:
                writer = SteadyWriter(server.port, f"/cache/bench/load/{name}/{run}/", rate)
                pids = server.pids()
                cpu0 = bs.cpu_seconds(pids)
                writer.start()
                r = bs.load_wrk(GET_HIT, server, {GET_HIT.keys: str(paths)}, duration)
                writer.stop()
                cpu = bs.cpu_seconds(pids) - cpu0
                errors = r["errors"] + r["non2xx"]
                if errors or r["short"] or writer.errors:
                    raise Broken(f"serving run {run + 1} on {name}: {errors} wrk errors/non-2xx, "
                                 f"{len(writer.errors)} PUT errors {writer.errors[:1]}")
                rps[name].append(r["requests"] / r["seconds"])
                drained = ""
                if server is a:
                    t = time.monotonic()
                    drained = f", A's outbox empty {a.wait_drained() - t:.2f} s after the run"
                print(f"   run {run + 1} {name:>5}: {bs.fmt_rate(rps[name][-1]):>8} req/s, p99 "
                      f"{r['p99_ms']:.2f} ms, CPU {cpu * 1e6 / max(1, r['requests']):.0f} µs/req; "
                      f"{writer.done} PUTs ({writer.done / writer.elapsed:.0f}/s){drained}", flush=True)
        return {name: statistics.median(v) for name, v in rps.items()}
    finally:
        nginx.stop()
        d.stop()


def scenario_catchup(mesh, runs, writes):
    """Per run: (seconds from B's spawn until A's outbox is empty, from B ready, direct PUT seconds)."""
    a, b = mesh.node("A2"), mesh.node("B2")
    a.peers = [b]
    for n in (a, b):
        n.start()
    a.wait_admitted()
    b.stop()
    out, held0 = [], 0
    try:
        for run in range(runs):
            items = [(f"/cache/bench/catchup/{run}/{i:06d}", os.urandom(SMALL)) for i in range(writes)]
            write_s = put_all(a.port, items)
            queued = a.outbox_rows()
            if queued != writes:
                raise Broken(f"catch-up run {run + 1}: A queued {queued} rows for B, expected {writes}")
            spawned = b.spawn()
            ready = b.wait_ready(interval=0.01)
            deadline = time.monotonic() + DRAIN_TIMEOUT
            while a.outbox_rows() and time.monotonic() < deadline:
                time.sleep(0.02)
            drained = time.monotonic()
            peer = a.peer_status().get(b.url, {})
            if a.outbox_rows() or peer.get("in_flight"):
                raise Broken(f"catch-up run {run + 1}: A's outbox for B not empty after {DRAIN_TIMEOUT:.0f} s: "
                             f"{a.peers_text()}")
            held = b.artifacts()
            if held is not None and held - held0 != writes:
                raise Broken(f"catch-up run {run + 1}: B holds {held - held0} new artifacts, expected {writes}")
            check_sample(b, items, f"catch-up run {run + 1}")
            # Baseline: the same number of fresh writes, PUT on B directly by the same client.
            direct = put_all(b.port, [(f"/cache/bench/direct/{run}/{i:06d}", body) for i, (_, body) in
                                      enumerate(items)])
            held0 = b.artifacts() or 0
            b.stop()
            out.append((drained - spawned, drained - ready, direct))
            print(f"   run {run + 1}: {writes} writes on A in {write_s:.2f} s ({writes / write_s:,.0f}/s), "
                  f"{queued} rows queued; B ready {ready - spawned:.2f} s after spawn; A's outbox empty "
                  f"{drained - spawned:.2f} s after spawn ({drained - ready:.2f} s after ready, "
                  f"{writes / max(drained - ready, 1e-3):,.0f} rows/s); delivered {peer.get('delivered')}; "
                  f"direct PUT on B {direct:.2f} s", flush=True)
        return out
    finally:
        a.stop()
        b.stop()


def warmup_items(total):
    """Log-uniform sizes 4 KiB..4 MiB until `total` bytes; bodies are slices of one random pool."""
    rng = random.Random(42)
    pool = os.urandom(16 * MIB)
    items, size_sum, i = [], 0, 0
    while size_sum < total:
        size = int(SMALL * 1024 ** rng.random())
        off = rng.randrange(len(pool) - size)
        items.append((f"/cache/bench/warm/{i:06d}", pool[off:off + size]))
        size_sum += size
        i += 1
    return items, size_sum


def watch_warmup(n, run):
    """Polls /ready every 10 ms (cheap) and status every 0.25 s (a process each: progress, stalls).
    Returns (time /ready answered 200, the last warm-up status plus seen_running: when a status
    first said "running", None if none did)."""
    w, seen_running, progress, next_status = {}, None, (None, time.monotonic()), 0.0
    while True:
        if n.proc.poll() is not None:
            raise bs.BenchError(f"{n.name} exited {n.proc.returncode}: {n.log_tail()}")
        now = time.monotonic()
        if n.ready():
            w = ((n.status() or {}).get("mesh") or {}).get("warmup") or {}
            w["seen_running"] = seen_running
            return now, w
        if now >= next_status:
            next_status = now + 0.25
            w = ((n.status() or {}).get("mesh") or {}).get("warmup") or {}
            if w.get("state") == "running" and seen_running is None:
                seen_running = time.monotonic()
            if w.get("bytes_done") != progress[0]:
                progress = (w.get("bytes_done"), now)
            elif now - progress[1] > 20:
                raise Broken(f"warm-up run {run + 1}: no progress for 20 s: {w}")
        time.sleep(0.01)


def scenario_warmup(mesh, runs, total):
    """Per run: (warm-up MB/s from N's spawn, MB/s while running by own clock, client ingest MB/s)."""
    items, size = warmup_items(total)
    print(f"   data set: {len(items)} artifacts, {size / MIB:,.0f} MiB")
    p = mesh.node("P")
    p.start()
    ingest = [size / put_all(p.port, items) / 1e6]
    print(f"   fill P (ingest baseline run 1): {ingest[0]:,.0f} MB/s", flush=True)
    out = []
    try:
        count = p.artifacts()
        for run in range(runs):
            n = mesh.node(f"N{run}", peers=[p])
            spawned = n.spawn()
            ready, w = watch_warmup(n, run)
            if w.get("state") != "done":
                raise Broken(f"warm-up run {run + 1}: /ready answered 200 with warm-up {w}")
            if w["bytes_done"] < size or (count is not None and n.artifacts() != count):
                raise Broken(f"warm-up run {run + 1}: {w['bytes_done']} of {size} bytes, {n.artifacts()} of "
                             f"{count} artifacts")
            check_sample(n, items, f"warm-up run {run + 1}")
            from_spawn = size / (ready - spawned) / 1e6
            seen = w["seen_running"] or spawned
            running = size / (ready - seen) / 1e6
            n.remove()
            if len(ingest) < runs:  # P's fill was the first ingest run
                m = mesh.node(f"M{run}")
                m.start()
                ingest.append(size / put_all(m.port, items) / 1e6)
                m.remove()
            out.append((from_spawn, running))
            print(f"   run {run + 1}: ready (warm-up done) {ready - spawned:.2f} s after spawn: {from_spawn:,.0f} MB/s; "
                  f"{running:,.0f} MB/s from 'running' " + (f"(first seen at +{seen - spawned:.2f} s); "
                  if w["seen_running"] else "(never seen: from spawn); ") +
                  f"the node says {w['bytes_per_second'] / 1e6:,.0f} MB/s, started {w['started']}, finished "
                  f"{w['finished']}; ingest baseline {ingest[-1]:,.0f} MB/s", flush=True)
        return out, ingest
    finally:
        p.remove()


def main():
    quick = os.environ.get("BENCH_QUICK") == "1"
    runs = 1 if quick else int(os.environ.get("BENCH_RUNS", "3"))
    duration = 3 if quick else int(os.environ.get("BENCH_DURATION", "10"))
    catchup_writes = int(os.environ.get("BENCH_CATCHUP_WRITES", "2000" if quick else "10000"))
    warm_bytes = int(os.environ.get("BENCH_WARMUP_BYTES", str(64 * MIB if quick else 1 << 30)))
    lag_rate = float(os.environ.get("BENCH_LAG_RATE", "200"))
    write_rate = float(os.environ.get("BENCH_WRITE_RATE", "150"))
    mtls = os.environ.get("BENCH_MTLS") == "1"
    wanted = (os.environ.get("BENCH_SCENARIOS") or "lag,catchup,warmup,serving").split(",")
    binary = find_binary("MESHCACHE_BIN", (ROOT / "build-bench/cli/meshcache", ROOT / "build/cli/meshcache"))
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            raise bs.BenchError(f"{tool} not found (packaging/install-deps.sh installs it)")
    sys.setswitchinterval(0.0005)  # the lag poller and the writer thread share the GIL
    workdir = Path(tempfile.mkdtemp(prefix="meshcache-bench-mesh-", dir="/var/tmp"))
    mesh = Mesh(binary, workdir, mtls)
    rows, broken = [], []
    print(f"machine: {bs.machine_info()}\nmeshcache: {binary}\ninternal plane: {'mTLS' if mtls else 'plain'}; "
          f"{runs} run(s); work dir {workdir}\nload average at start: "
          f"{Path('/proc/loadavg').read_text().split()[0]}\n", flush=True)

    def attempt(name, fn):
        try:
            fn()
        except Broken as e:
            broken.append(name)
            print(f"   !!! {name}: {e}", flush=True)

    try:
        if "lag" in wanted or "serving" in wanted:
            a, b, c = (mesh.node(n) for n in "ABC")
            for n in (a, b, c):
                n.peers = [a, b, c]  # the same list everywhere: a node skips its own URL
                n.spawn()
            for n in (a, b, c):
                n.wait_ready()
            a.wait_admitted()

            def lag():
                print(f"-- 1. replication lag: {lag_rate:.0f} PUT/s x 4 KiB on A for {duration} s, read on B and C")
                r = scenario_lag(a, [b, c], runs, duration, lag_rate)
                p50, p99 = (statistics.median(x[k] for x in r) for k in (0, 1))
                put50, put99 = (statistics.median(x[k] for x in r) for k in (2, 3))
                rows.append(("1. replication lag, 4 KiB, 2 peers", f"p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms",
                             f"PUT on A p50 {put50 * 1e3:.2f}, p99 {put99 * 1e3:.2f} ms", f"{p99 / put99:.1f} (p99)",
                             "p99 < 50 ms", "PASS" if p99 < 0.05 else "MISS"))

            def serving():
                print(f"-- 4. GET hit 4 KiB (wrk -t2 -c64, {duration} s) under {write_rate:.0f} PUT/s: A (2 peers) "
                      f"vs D (no peers) vs nginx")
                r = scenario_serving(mesh, a, workdir, runs, duration, write_rate)
                rows.append(("4. GET hit 4 KiB on A while replicating", f"{bs.fmt_rate(r['A'])} req/s",
                             f"D, no peers: {bs.fmt_rate(r['D'])} req/s", f"{r['A'] / r['D']:.2f}", "≥ 0.9",
                             "PASS" if r["A"] / r["D"] >= 0.9 else "MISS"))
                rows.append(("4. same, reference", f"{bs.fmt_rate(r['A'])} req/s",
                             f"nginx: {bs.fmt_rate(r['nginx'])} req/s", f"{r['A'] / r['nginx']:.2f}", "≥ 0.9",
                             "PASS" if r["A"] / r["nginx"] >= 0.9 else "MISS"))

            if "lag" in wanted:
                attempt("lag", lag)
            if "serving" in wanted:
                attempt("serving", serving)
            for n in (a, b, c):
                n.stop()

        if "catchup" in wanted:
            def catchup():
                print(f"-- 2. catch-up: {catchup_writes:,} x 4 KiB queued on A while B is down, then B starts")
                r = scenario_catchup(mesh, runs, catchup_writes)
                spawn, ready, direct = (statistics.median(x[k] for x in r) for k in (0, 1, 2))
                rows.append((f"2. catch-up, {catchup_writes:,} x 4 KiB", f"{spawn:.2f} s from B's spawn "
                             f"({ready:.2f} s from ready)", f"direct PUT on B {direct:.2f} s",
                             f"{spawn / direct:.2f}", "< 5 s", "PASS" if spawn < 5 else "MISS"))
            attempt("catchup", catchup)

        if "warmup" in wanted:
            def warmup():
                print(f"-- 3. warm-up: a fresh node pulls {warm_bytes / MIB:,.0f} MiB of 4 KiB..4 MiB artifacts "
                      f"from one peer")
                r, ingest = scenario_warmup(mesh, runs, warm_bytes)
                rate, running = (statistics.median(x[k] for x in r) for k in (0, 1))
                base = statistics.median(ingest)
                rows.append((f"3. warm-up, {warm_bytes / MIB:,.0f} MiB", f"{rate:,.0f} MB/s from spawn "
                             f"({running:,.0f} MB/s running)", f"client PUT ingest {base:,.0f} MB/s",
                             f"{rate / base:.2f}", "≥ 200 MB/s", "PASS" if rate >= 200 else "MISS"))
            attempt("warmup", warmup)

        print(f"load average at end: {Path('/proc/loadavg').read_text().split()[0]}")
        rows.sort(key=lambda r: r[0])
        head = ("scenario", "figure (median)", "baseline (same run)", "ratio", "target", "result")
        print(f"\n== Medians of {runs} run(s); internal plane {'mTLS' if mtls else 'plain'} ==\n")
        print("| " + " | ".join(head) + " |\n|---|---|---|---:|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        misses = [r[0] for r in rows if r[-1] == "MISS"]
        print(f"\ntargets missed: {'; '.join(misses)}" if misses else "\nall targets met")
    finally:
        mesh.stop_all()
        if os.environ.get("BENCH_KEEP") == "1" or broken:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if broken:
        print(f"\n!!! BROKEN: {', '.join(broken)}: see the messages above; logs kept in {workdir}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except bs.BenchError as e:
        print(f"bench_mesh: {e}", file=sys.stderr)
        sys.exit(2)
