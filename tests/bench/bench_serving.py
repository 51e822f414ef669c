#!/usr/bin/env python3
"""bench_serving.py: serving throughput of meshcache against nginx-light (WebDAV static files), both
started by this script on this machine and loaded alternately in one run, so only the ratios matter.

Scenarios (same artifact set on both servers, uploaded with PUT under /cache/bench/...):
  GET hits 4 KiB and 128 KiB over HTTP/1.1 (wrk -t2 -c64) and over h2c (h2load -c16 -m16 -t2),
  PUT 128 KiB over HTTP/1.1 (wrk -t2 -c32), and GET 4 KiB with a new connection every 2 requests
  (wrk, `Connection: close` on every second request) as ccache does.
Each run also reads the server's peak RSS (VmHWM, reset before the run; nginx: sum of workers), its
CPU time and the number of TCP connections it accepted (nginx stub_status, meshcache /metrics).

Environment:
  MESHCACHE_BIN      meshcache binary (default: build-bench/cli/meshcache, then build/cli/meshcache)
  BENCH_RUNS         runs per scenario and server (default 3); BENCH_DURATION seconds per run (10)
  BENCH_QUICK=1      smoke test: 1 run x 3 s
  BENCH_SCENARIOS    comma-separated scenario ids to run (default: all)
  BENCH_CANDIDATE    "meshcache" (default) or "nginx": a second nginx stands in for meshcache,
                     to check the script itself and the noise of a nginx/nginx ratio
  BENCH_KEEP=1       keep the work directory (logs, configs, data)
It is a benchmark, not a test: exit 0 unless something broke (a server did not start, a load run
had errors or non-2xx answers, a response was shorter than its artifact).
"""
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
KIB = 1024
MIB = 1024 * 1024
RSS_TARGET_MIB = 128

# key set name -> (path prefix, count, size)
KEY_SETS = {
    "small": ("/cache/bench/s/", 1000, 4 * KIB),
    "large": ("/cache/bench/l/", 200, 128 * KIB),
    # Enough keys that two connections rarely write the same key at once.
    "put": ("/cache/bench/put/", 1000, 128 * KIB),
}


@dataclass
class Scenario:
    id: str
    title: str
    tool: str  # wrk (HTTP/1.1) or h2load (h2c)
    method: str
    keys: str
    conns: int
    target: float
    close_every: int = 0

    @property
    def size(self):
        return KEY_SETS[self.keys][2]


SCENARIOS = [
    Scenario("get4k-h1", "GET hit 4 KiB, HTTP/1.1, 64 conns", "wrk", "GET", "small", 64, 0.9),
    Scenario("get128k-h1", "GET hit 128 KiB, HTTP/1.1, 64 conns", "wrk", "GET", "large", 64, 0.9),
    Scenario("get4k-h2", "GET hit 4 KiB, h2c, 16 conns x 16 streams", "h2load", "GET", "small", 16, 0.9),
    Scenario("get128k-h2", "GET hit 128 KiB, h2c, 16 conns x 16 streams", "h2load", "GET", "large", 16,
             0.9),
    Scenario("put128k-h1", "PUT 128 KiB, HTTP/1.1, 32 conns", "wrk", "PUT", "put", 32, 1.0),
    Scenario("short4k-h1", "GET hit 4 KiB, new conn every 2 requests, 64 conns", "wrk", "GET", "small", 64,
             0.9, close_every=2),
]


class BenchError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what}: process exited with {proc.returncode}")
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise BenchError(f"{what}: not ready after {timeout:.0f} s")


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def stop_process(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Nginx:
    """nginx-light serving a WebDAV directory: HTTP/1.1 on one port, h2c (prior knowledge) on another."""

    def __init__(self, name, workdir):
        self.name, self.dir, self.proc = name, workdir / name, None

    def start(self):
        (self.dir / "www").mkdir(parents=True)
        (self.dir / "tmp").mkdir()
        p1, p2 = free_port(), free_port()
        location = (f"location /cache/ {{ root {self.dir}/www; dav_methods PUT DELETE; "
                    "create_full_put_path on; client_max_body_size 0; }")
        conf = self.dir / "nginx.conf"
        conf.write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 2;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  sendfile on; tcp_nopush on; access_log off; keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path {self.dir}/tmp/body;
  proxy_temp_path {self.dir}/tmp/proxy; fastcgi_temp_path {self.dir}/tmp/fastcgi;
  uwsgi_temp_path {self.dir}/tmp/uwsgi; scgi_temp_path {self.dir}/tmp/scgi;
  server {{ listen 127.0.0.1:{p1}; {location} location = /nginx_status {{ stub_status; }} }}
  # keepalive_requests also caps requests per HTTP/2 connection: at 100000, a fast h2load
  # connection reaches it within 10 s and nginx's GOAWAY fails the streams in flight.
  server {{ listen 127.0.0.1:{p2} http2; keepalive_requests 100000000; {location} }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-e", str(self.dir / "error.log"), "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "w"))
        wait_for(f"{self.name} start", lambda: port_open(p1) and port_open(p2), self.proc)
        wait_for(f"{self.name} workers", lambda: len(self.pids()) == 2, self.proc)
        self.h1, self.h2 = f"http://127.0.0.1:{p1}", f"http://127.0.0.1:{p2}"

    def accepted(self):
        # "Active connections: N\nserver accepts handled requests\n A H R\n..."
        return int(http_get(self.h1, "/nginx_status").splitlines()[2].split()[0])

    def pids(self):
        # Workers do the serving; the master only forks them.
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def stop(self):
        stop_process(self.proc)


class Meshcache:
    """`meshcache run` on an ephemeral port; ready when `meshcache status --json` says serving."""

    def __init__(self, binary, workdir):
        self.name, self.bin, self.dir, self.proc = "meshcache", binary, workdir / "meshcache", None

    def start(self):
        self.dir.mkdir(parents=True)
        self.env = dict(os.environ, MESHCACHE_LISTEN="127.0.0.1:0", MESHCACHE_DATA_DIR=str(self.dir / "data"),
                        MESHCACHE_IO_THREADS="2", MESHCACHE_CAPACITY_BYTES=str(8 << 30),
                        MESHCACHE_LOG_LEVEL="warn")
        self.proc = subprocess.Popen([self.bin, "run"], env=self.env, stdout=open(self.dir / "stdout.log", "w"),
                                     stderr=subprocess.STDOUT)

        def serving():
            r = subprocess.run([self.bin, "status", "--json"], env=self.env, capture_output=True, text=True)
            if r.returncode != 0:
                return None
            status = json.loads(r.stdout)
            return status.get("state") == "serving" and status["listeners"]["http"]

        try:
            address = wait_for("meshcache start", serving, self.proc)
        except BenchError as e:
            log = (self.dir / "stdout.log").read_text()[-2000:]
            raise BenchError(f"{e}\n--- meshcache log (tail) ---\n{log}") from None
        self.h1 = self.h2 = f"http://{address}"

    def accepted(self):
        m = re.search(r"^meshcache_server_connections_accepted_total (\d+)$", http_get(self.h1, "/metrics"), re.M)
        if not m:
            raise BenchError("/metrics has no meshcache_server_connections_accepted_total")
        return int(m.group(1))

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        stop_process(self.proc)


def read_status_kib(pid, field_name):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pids):
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (all threads)
    return ticks / os.sysconf("SC_CLK_TCK")


def http_get(base, path):
    host, port = base.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read().decode()
        if resp.status != 200:
            raise BenchError(f"GET {base}{path} answered {resp.status}")
        return body
    finally:
        conn.close()


def reset_peak_rss(pids):
    try:
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@dataclass
class Result:
    rps: float
    mbps: float
    errors: int
    non2xx: int
    short_bodies: bool
    rss_mib: float
    cpu_s: float
    conns: int
    cpu_us_per_req: float
    p99_ms: float = float("nan")
    notes: list = field(default_factory=list)

    @property
    def broken(self):
        return self.errors or self.non2xx or self.short_bodies


def run_tool(cmd, timeout):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def load_wrk(sc, node, files, duration):
    body = files["body"] if sc.method == "PUT" else "-"
    out = run_tool(["wrk", "-t2", f"-c{sc.conns}", f"-d{duration}s", "-s", str(HERE / "rotate.lua"),
                    node.h1 + "/", "--", sc.method, files[sc.keys], body, str(sc.close_every)],
                   timeout=duration + 60)
    m = re.search(r"^BENCH_JSON (.*)$", out, re.M)
    if not m:
        raise BenchError(f"wrk printed no BENCH_JSON line:\n{out}")
    j = json.loads(m.group(1))
    seconds = j["duration_us"] / 1e6
    # A GET answer shorter than the artifact means the server sent something else (an error page).
    short = sc.method == "GET" and j["requests"] and j["bytes"] / j["requests"] < sc.size
    return dict(requests=j["requests"], seconds=seconds, errors=j["connect"] + j["read"] + j["write"] + j["timeout"],
                non2xx=j["status"], short=bool(short), p99_ms=j["p99_us"] / 1000)


def load_h2load(sc, node, files, duration):
    out = run_tool(["h2load", f"-c{sc.conns}", "-m16", "-t2", "-D", str(duration), "-i", files[f"{sc.keys}-{node.name}"]],
                   timeout=duration + 60)
    fin = re.search(r"finished in ([\d.]+)s", out)
    req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                    r"(\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    data = re.search(r"traffic: .*?, .*? headers .*?, [\d.]+\w*B \((\d+)\) data", out)
    if not (fin and req and codes and data):
        raise BenchError(f"cannot parse h2load output:\n{out}")
    done, ok, failed, errored, timeouts = (int(req.group(i)) for i in (3, 4, 5, 6, 7))
    two_xx = int(codes.group(1))
    return dict(requests=two_xx, seconds=float(fin.group(1)), errors=errored + timeouts,
                non2xx=int(codes.group(2)) + int(codes.group(3)) + int(codes.group(4)),
                short=bool(ok and int(data.group(1)) / ok < sc.size), p99_ms=float("nan"))


def measure(sc, node, files, duration):
    pids = node.pids()
    peak_reset = reset_peak_rss(pids)
    cpu0, accepted0 = cpu_seconds(pids), node.accepted()
    load = load_wrk if sc.tool == "wrk" else load_h2load
    r = load(sc, node, files, duration)
    if node.proc.poll() is not None:
        raise BenchError(f"{node.name} died during {sc.id}")
    res = Result(rps=r["requests"] / r["seconds"], mbps=r["requests"] * sc.size / r["seconds"] / 1e6,
                 errors=r["errors"], non2xx=r["non2xx"], short_bodies=r["short"],
                 rss_mib=sum(read_status_kib(p, "VmHWM") for p in pids) / 1024,
                 cpu_s=cpu_seconds(pids) - cpu0, conns=node.accepted() - accepted0 - 1, cpu_us_per_req=0.0,
                 p99_ms=r["p99_ms"])
    res.cpu_us_per_req = res.cpu_s * 1e6 / max(r["requests"], 1)
    if not peak_reset:
        res.notes.append("peak RSS not reset (lifetime peak)")
    if sc.close_every and r["requests"]:
        per_conn = r["requests"] / max(res.conns, 1)
        res.notes.append(f"{per_conn:.2f} req/conn")
        if not 1.5 <= per_conn <= 2.5:
            res.notes.append("!!! expected about 2 requests per connection")
            res.errors += 1
    return res


def upload(node, workdir):
    """PUTs every artifact of every key set to the node (keep-alive), then reads one back."""
    host, port = node.h1.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    for name, (prefix, count, size) in KEY_SETS.items():
        for i in range(count):
            body = (workdir / "bodies" / name / str(i)).read_bytes()
            conn.request("PUT", f"{prefix}{i:04d}", body=body, headers={"Content-Type": "application/octet-stream"})
            resp = conn.getresponse()
            resp.read()
            if not 200 <= resp.status < 300:
                raise BenchError(f"{node.name}: PUT {prefix}{i:04d} answered {resp.status}")
        conn.request("GET", f"{prefix}{count - 1:04d}")
        resp = conn.getresponse()
        if resp.status != 200 or resp.read() != body:
            raise BenchError(f"{node.name}: GET {prefix}{count - 1:04d} did not return what was PUT")
    conn.close()


def make_files(workdir, nodes):
    files = {"body": str(workdir / "put-body.bin")}
    (workdir / "put-body.bin").write_bytes(os.urandom(KEY_SETS["put"][2]))
    for name, (prefix, count, size) in KEY_SETS.items():
        bodies = workdir / "bodies" / name
        bodies.mkdir(parents=True)
        paths = [f"{prefix}{i:04d}" for i in range(count)]
        for i in range(count):
            (bodies / str(i)).write_bytes(os.urandom(size))
        files[name] = str(workdir / f"paths-{name}.txt")
        Path(files[name]).write_text("\n".join(paths) + "\n")
        for node in nodes:
            files[f"{name}-{node.name}"] = str(workdir / f"urls-{name}-{node.name}.txt")
            Path(files[f"{name}-{node.name}"]).write_text("".join(f"{node.h2}{p}\n" for p in paths))
    return files


def tool_version(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    return (r.stdout + r.stderr).strip().splitlines()[0]


def machine_info():
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "?")
    return (f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}; {tool_version(['nginx', '-v'])}; "
            f"{tool_version(['wrk', '-v'])}; {tool_version(['h2load', '--version'])}")


def fmt_rate(x):
    return f"{x:,.0f}"


def report(scenarios, results, cand, base, runs, duration):
    """Prints the medians, ratios and targets, as text and as a Markdown table; returns the misses."""
    rows, misses = [], []
    for sc in scenarios:
        c, b = results[sc.id][cand], results[sc.id][base]
        c_rps, b_rps = statistics.median(r.rps for r in c), statistics.median(r.rps for r in b)
        c_mb, b_mb = statistics.median(r.mbps for r in c), statistics.median(r.mbps for r in b)
        c_cpu, b_cpu = statistics.median(r.cpu_us_per_req for r in c), statistics.median(r.cpu_us_per_req for r in b)
        ratio = c_rps / b_rps
        ok = ratio >= sc.target
        if not ok:
            misses.append(sc.id)
        rows.append((sc.title, fmt_rate(c_rps), fmt_rate(b_rps), f"{c_mb:,.1f}", f"{b_mb:,.1f}",
                     f"{c_cpu:.0f}", f"{b_cpu:.0f}", f"{ratio:.2f}", f"≥ {sc.target:.1f}", "PASS" if ok else "MISS"))
    c_rss = max(r.rss_mib for sc in scenarios for r in results[sc.id][cand])
    b_rss = max(r.rss_mib for sc in scenarios for r in results[sc.id][base])
    rss_ok = c_rss <= RSS_TARGET_MIB
    if not rss_ok:
        misses.append("rss")
    rows.append(("peak RSS (MiB, max over runs)", f"{c_rss:.1f}", f"{b_rss:.1f}", "", "", "", "",
                 f"{c_rss / b_rss:.2f}", f"≤ {RSS_TARGET_MIB} MiB", "PASS" if rss_ok else "MISS"))
    head = ("scenario", f"{cand} req/s", f"{base} req/s", f"{cand} MB/s", f"{base} MB/s",
            f"{cand} CPU µs/req", f"{base} CPU µs/req", "ratio", "target", "result")
    print(f"\n== Medians of {runs} run(s) x {duration} s; ratio = {cand} / {base} ==\n")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return misses


def main():
    quick = os.environ.get("BENCH_QUICK") == "1"
    runs = 1 if quick else int(os.environ.get("BENCH_RUNS", "3"))
    duration = 3 if quick else int(os.environ.get("BENCH_DURATION", "10"))
    wanted = os.environ.get("BENCH_SCENARIOS")
    scenarios = [s for s in SCENARIOS if not wanted or s.id in wanted.split(",")]
    if not scenarios:
        raise BenchError(f"BENCH_SCENARIOS={wanted} matches none of {[s.id for s in SCENARIOS]}")
    for tool in ("nginx", "wrk", "h2load"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} not found (packaging/install-deps.sh installs it)")

    workdir = Path(tempfile.mkdtemp(prefix="meshcache-bench-", dir="/var/tmp"))
    if os.environ.get("BENCH_CANDIDATE", "meshcache") == "nginx":
        cand = Nginx("nginx-b", workdir)
    else:
        binary = os.environ.get("MESHCACHE_BIN") or next(
            (str(p) for p in (ROOT / "build-bench/cli/meshcache", ROOT / "build/cli/meshcache") if p.exists()), None)
        if not binary:
            raise BenchError("no meshcache binary: build it or set MESHCACHE_BIN")
        cand = Meshcache(binary, workdir)
    base = Nginx("nginx", workdir)
    nodes = [cand, base]
    broken = []
    try:
        print(f"machine: {machine_info()}")
        if isinstance(cand, Meshcache):
            print(f"meshcache: {cand.bin}")
        print(f"work dir: {workdir}; {runs} run(s) x {duration} s per scenario and server")
        # Other work on the machine skews every figure: say how busy it was.
        print(f"load average at start: {Path('/proc/loadavg').read_text().split()[0]}\n")
        for node in nodes:
            node.start()
        files = make_files(workdir, nodes)
        for node in nodes:
            upload(node, workdir)
        results = {}
        for sc in scenarios:
            results[sc.id] = {cand.name: [], base.name: []}
            print(f"-- {sc.id}: {sc.title}")
            for run in range(runs):
                for node in (nodes if run % 2 == 0 else nodes[::-1]):
                    r = measure(sc, node, files, duration)
                    results[sc.id][node.name].append(r)
                    flag = ""
                    if r.broken:
                        broken.append(f"{sc.id} run {run + 1} {node.name}")
                        flag = (f"  !!! ERRORS: {r.errors} socket errors/timeouts, {r.non2xx} non-2xx"
                                + (", responses shorter than the artifact" if r.short_bodies else ""))
                    p99 = "" if r.p99_ms != r.p99_ms else f", p99 {r.p99_ms:.2f} ms"
                    print(f"   run {run + 1} {node.name:>9}: {fmt_rate(r.rps):>8} req/s, {r.mbps:8.1f} MB/s{p99}, "
                          f"errors {r.errors}, non-2xx {r.non2xx}, peak RSS {r.rss_mib:.1f} MiB, "
                          f"CPU {r.cpu_s:.2f} s, {r.conns} conns" + "".join(f", {n}" for n in r.notes) + flag,
                          flush=True)
        print(f"load average at end: {Path('/proc/loadavg').read_text().split()[0]}")
        misses = report(scenarios, results, cand.name, base.name, runs, duration)
        print(f"\ntargets missed: {', '.join(misses)}" if misses else "\nall targets met")
    finally:
        for node in nodes:
            node.stop()
        if os.environ.get("BENCH_KEEP") == "1":
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if broken:
        print("\n!!! LOAD ERRORS in: " + "; ".join(broken) + " — these figures are not valid", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench_serving: {e}", file=sys.stderr)
        sys.exit(2)
