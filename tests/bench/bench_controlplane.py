#!/usr/bin/env python3
"""bench_controlplane.py: what the control plane costs a node, against meshcache-mock-cp on loopback.

1. Enroll-to-ready: from `meshcache run` to `/ready` answering 200, with MESHCACHE_ENROLL_ON_BOOT
   (key generation, CSR, HTTPS enrollment, certificate checks, files) and, as the baseline in the
   same run, without a control plane. Target: < 500 ms (median of BENCH_ENROLLS, default 5).
2. GET hits with MESHCACHE_AUTH=control-plane and cached tokens against the same node setup with
   MESHCACHE_AUTH=none: two nodes started side by side, the same 1000 x 4 KiB artifacts, loaded
   alternately with wrk (HTTP/1.1, 64 conns, a Bearer token on every request). Target: ratio
   >= 0.95 (medians of BENCH_RUNS x BENCH_DURATION s).
nginx is not involved: the baseline of each figure is meshcache itself without the control plane.

Environment: MESHCACHE_BIN, MESHCACHE_MOCK_CP_BIN (default: the build dirs), BENCH_RUNS (3),
BENCH_DURATION (10), BENCH_ENROLLS (5), BENCH_QUICK=1 (1 run x 3 s, 3 enrollments).
It is a benchmark, not a test: exit 0 unless something broke.
"""
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "integration"))
sys.path.insert(0, str(HERE))

import bench_serving as bs  # noqa: E402  (shared helpers: free_port, wrk driver, machine info)
from mock_cp import MockCp  # noqa: E402

KEYS = 1000
SIZE = 4 * 1024


def find_binary(env, candidates):
    path = os.environ.get(env) or next((str(p) for p in candidates if p.exists()), None)
    if not path:
        raise bs.BenchError(f"no binary for {env}: build it or set {env}")
    return path


class Node:
    """One `meshcache run` on a fixed free port, so /ready can be polled without `status`."""

    def __init__(self, binary, workdir, name, env):
        self.bin, self.dir, self.name = binary, workdir / name, name
        self.dir.mkdir(parents=True)
        self.port = bs.free_port()
        self.h1 = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, MESHCACHE_LISTEN=f"127.0.0.1:{self.port}",
                        MESHCACHE_DATA_DIR=str(self.dir / "data"), MESHCACHE_IO_THREADS="2",
                        MESHCACHE_CAPACITY_BYTES=str(4 << 30), MESHCACHE_LOG_LEVEL="warn", **env)
        self.proc = None

    def start(self, timeout=30.0):
        """Spawns the node and returns the seconds until /ready answered 200."""
        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.bin, "run"], env=self.env, stdout=open(self.dir / "log", "a"),
                                     stderr=subprocess.STDOUT)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise bs.BenchError(f"{self.name} exited {self.proc.returncode}: "
                                    + (self.dir / "log").read_text()[-1500:])
            if self.ready():
                return time.monotonic() - t0
            time.sleep(0.002)
        raise bs.BenchError(f"{self.name}: not ready after {timeout} s")

    def ready(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            conn.request("GET", "/ready")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def pids(self):
        return [self.proc.pid]

    def accepted(self):
        return 0

    def stop(self):
        bs.stop_process(self.proc)


def enroll_to_ready(binary, mock, workdir, runs):
    plain, enrolled = [], []
    credential = mock.create_credential("bench")
    for i in range(runs):
        # Baseline first, then the enrolling node, each on a fresh data dir.
        base = Node(binary, workdir, f"plain-{i}", {})
        plain.append(base.start())
        base.stop()
        node = Node(binary, workdir, f"enroll-{i}", mock.enrollment_env(credential, f"https://127.0.3.{i + 1}:7443"))
        enrolled.append(node.start())
        node.stop()
        print(f"   run {i + 1}: start without control plane {plain[-1] * 1000:.0f} ms, "
              f"with enrollment {enrolled[-1] * 1000:.0f} ms", flush=True)
    return statistics.median(plain), statistics.median(enrolled)


def upload(node, token):
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)
    body = os.urandom(SIZE)
    for i in range(KEYS):
        conn.request("PUT", f"/v8/artifacts/b{i:05d}?slug=bench", body=body,
                     headers={"Authorization": "Bearer " + token})
        r = conn.getresponse()
        r.read()
        if r.status // 100 != 2:
            raise bs.BenchError(f"upload to {node.name} answered {r.status}")
    conn.close()


def get_hits(binary, mock, workdir, runs, duration):
    token = mock.create_token({"account": {"read": ["bench"], "write": ["bench"]}})
    credential = mock.create_credential("bench")
    cp_env = mock.enrollment_env(credential, "https://127.0.4.1:7443")
    cp_env["MESHCACHE_AUTH"] = "control-plane"
    none_env = {"MESHCACHE_TENANT_ID": "bench", "MESHCACHE_AUTH": "none"}
    nodes = [Node(binary, workdir, "auth-cp", cp_env), Node(binary, workdir, "auth-none", none_env)]
    try:
        for n in nodes:
            n.start()
            upload(n, token)
        paths = workdir / "paths"
        paths.write_text("".join(f"/v8/artifacts/b{i:05d}?slug=bench\n" for i in range(KEYS)))
        rps = {n.name: [] for n in nodes}
        for run in range(runs):
            for n in (nodes if run % 2 == 0 else nodes[::-1]):
                out = bs.run_tool(["wrk", "-t2", "-c64", f"-d{duration}s", "-H", f"Authorization: Bearer {token}",
                                   "-s", str(HERE / "rotate.lua"), n.h1 + "/", "--", "GET", str(paths), "-", "0"],
                                  timeout=duration + 60)
                j = json.loads(out.split("BENCH_JSON ", 1)[1].splitlines()[0])
                errors = j["connect"] + j["read"] + j["write"] + j["timeout"] + j["status"]
                if errors or j["bytes"] / max(1, j["requests"]) < SIZE:
                    raise bs.BenchError(f"{n.name}: {errors} errors/non-2xx in run {run + 1}")
                rps[n.name].append(j["requests"] / (j["duration_us"] / 1e6))
                print(f"   run {run + 1} {n.name:>9}: {bs.fmt_rate(rps[n.name][-1]):>8} req/s", flush=True)
        return statistics.median(rps["auth-cp"]), statistics.median(rps["auth-none"])
    finally:
        for n in nodes:
            n.stop()


def main():
    quick = os.environ.get("BENCH_QUICK") == "1"
    runs = 1 if quick else int(os.environ.get("BENCH_RUNS", "3"))
    duration = 3 if quick else int(os.environ.get("BENCH_DURATION", "10"))
    enrolls = 3 if quick else int(os.environ.get("BENCH_ENROLLS", "5"))
    binary = find_binary("MESHCACHE_BIN", [ROOT / "build-bench/cli/meshcache", ROOT / "build/cli/meshcache"])
    mock_bin = find_binary("MESHCACHE_MOCK_CP_BIN", [ROOT / "build-bench/tests/mock_cp/meshcache-mock-cp",
                                                     ROOT / "build/tests/mock_cp/meshcache-mock-cp"])
    if not shutil.which("wrk"):
        raise bs.BenchError("wrk not found (packaging/install-deps.sh installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="meshcache-bench-cp-", dir="/var/tmp"))
    mock = MockCp(bin_path=mock_bin, state_dir=str(workdir / "mock"), tenants=["bench"])
    try:
        print(f"machine: {bs.machine_info()}\nmeshcache: {binary}\nload average at start: "
              f"{Path('/proc/loadavg').read_text().split()[0]}\n")
        print(f"-- enroll-to-ready ({enrolls} runs)")
        plain, enrolled = enroll_to_ready(binary, mock, workdir, enrolls)
        print(f"-- GET hit 4 KiB, HTTP/1.1, 64 conns: control-plane auth (cached token) vs none "
              f"({runs} x {duration} s)")
        cp_rps, none_rps = get_hits(binary, mock, workdir, runs, duration)
        print(f"load average at end: {Path('/proc/loadavg').read_text().split()[0]}")
        ratio = cp_rps / none_rps
        rows = [
            ("enroll-to-ready (median ms)", f"{enrolled * 1000:.0f}", f"{plain * 1000:.0f}",
             f"{enrolled / plain:.2f}", "< 500 ms", "PASS" if enrolled < 0.5 else "MISS"),
            ("GET hit 4 KiB h1, req/s", bs.fmt_rate(cp_rps), bs.fmt_rate(none_rps), f"{ratio:.2f}", "≥ 0.95",
             "PASS" if ratio >= 0.95 else "MISS"),
        ]
        print("\n| scenario | with control plane | without | ratio | target | result |\n|---|---:|---:|---:|---:|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    finally:
        mock.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except bs.BenchError as e:
        print(f"bench_controlplane: {e}", file=sys.stderr)
        sys.exit(2)
