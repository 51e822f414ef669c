"""test_crash_consistency.py: kill -9 while 8 clients upload over keep-alive connections, restart
on the same data dir: every acknowledged PUT is served byte-identical, and a PUT cut by the kill
is either absent (404) or whole, never partial. Three rounds on one store."""

import http.client
import random
import threading

import harness
from harness import sha256, wait_until

THREADS = 8
ROUNDS = 3
MIN_SIZE, MAX_SIZE = 1024, 3 * 1024 * 1024


class Uploader(threading.Thread):
    """PUTs distinct keys back to back on one keep-alive connection until the connection dies."""

    def __init__(self, addr, round_no, index, pool, stop):
        super().__init__(daemon=True)
        self.addr, self.round_no, self.index, self.pool, self.stop = addr, round_no, index, pool, stop
        self.rng = random.Random(round_no * 1000 + index)
        self.acked = {}      # key → sha256 of a PUT answered 200
        self.uncertain = {}  # key → sha256 of a PUT whose outcome is unknown (cut by the kill)
        self.rejected = []   # (key, status) of PUTs answered with anything but 200

    def body(self, key):
        # A log-uniform size; unique bytes up front so no two bodies are the same.
        size = int(MIN_SIZE * (MAX_SIZE / MIN_SIZE) ** self.rng.random())
        offset = self.rng.randrange(0, len(self.pool) - size)
        return (key.encode() + b"|").ljust(64, b"#") + self.pool[offset:offset + size - 64]

    def run(self):
        host, port = harness.split_addr(self.addr)
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            self.upload_until_stopped(conn)
        finally:
            conn.close()

    def upload_until_stopped(self, conn):
        i = 0
        while not self.stop.is_set():
            key = f"/cache/crash/r{self.round_no}/t{self.index}/{i}"
            body = self.body(key)
            digest = sha256(body)
            self.uncertain[key] = digest
            try:
                conn.request("PUT", key, body=body)
                r = conn.getresponse()
                r.read()
            except (OSError, http.client.HTTPException):
                return  # the node is gone: this key stays uncertain
            del self.uncertain[key]
            if r.status == 200:
                self.acked[key] = digest
            else:
                self.rejected.append((key, r.status))
            i += 1


class CrashConsistencyTest(harness.NodeTestCase):
    def test_kill_9_during_uploads(self):
        node = self.start_node("crash")
        pool = random.Random(5).randbytes(MAX_SIZE + 4096)
        acked, uncertain = {}, {}
        for round_no in range(ROUNDS):
            stop = threading.Event()
            uploaders = [Uploader(node.http_addr, round_no, i, pool, stop) for i in range(THREADS)]
            for u in uploaders:
                u.start()
            # Kill once enough uploads were acknowledged, while every thread is still uploading.
            wait_until(lambda: sum(len(u.acked) for u in uploaders) >= 40 + 20 * round_no, timeout=120,
                       message="40 acknowledged uploads")
            in_flight = sum(1 for u in uploaders if u.is_alive())
            node.kill()
            stop.set()
            for u in uploaders:
                u.join(60)
                self.assertFalse(u.is_alive(), "an uploader hung after the kill")
                self.assertEqual(u.rejected, [], "PUTs refused while the node was healthy")
                acked.update(u.acked)
                uncertain.update(u.uncertain)
            self.assertEqual(in_flight, THREADS)
            self.assertGreaterEqual(len(uncertain), 1)

            node.restart()
            count, size = self.verify(node, acked, uncertain, round_no)
            # The store's own accounting agrees with what it serves (nothing phantom, nothing lost).
            store = node.status_json()["store"]
            self.assertEqual((store["artifacts"], store["bytes"]), (count, size), f"round {round_no}")

        self.assertEqual(node.stop(), 0)

    def verify(self, node, acked, uncertain, round_no):
        host, port = harness.split_addr(node.http_addr)
        conn = http.client.HTTPConnection(host, port, timeout=60)
        whole_uncertain = 0
        size = 0
        for key, digest in sorted(acked.items()):
            conn.request("GET", key)
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, f"round {round_no}: acknowledged {key} lost")
            self.assertEqual(sha256(body), digest, f"round {round_no}: acknowledged {key} corrupted")
            size += len(body)
        for key, digest in sorted(uncertain.items()):
            conn.request("GET", key)
            r = conn.getresponse()
            body = r.read()
            self.assertIn(r.status, (200, 404), key)
            if r.status == 200:
                self.assertEqual(sha256(body), digest, f"round {round_no}: {key} served partial/corrupt")
                whole_uncertain += 1
                size += len(body)
        conn.close()
        print(f"round {round_no}: {len(acked)} acknowledged intact, {whole_uncertain}/{len(uncertain)} "
              "cut uploads present whole, the rest absent")
        return len(acked) + whole_uncertain, size


if __name__ == "__main__":
    harness.main()
