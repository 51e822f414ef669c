"""test_ccache.py: real ccache 4.7 with the node as its only (remote HTTP) storage: a miss that
uploads, then a remote hit from an empty local cache, byte-identical objects; subdirs layout on
/cache and bazel layout on a Bazel instance."""

import os
import subprocess
import unittest

import harness
from harness import read_file, write_file

HELLO = b"""#include <stdio.h>
int main(void) { printf("hello from meshcache\\n"); return 0; }
"""


@unittest.skipUnless(harness.tool("ccache") and harness.tool("gcc"), "ccache or gcc is not installed")
class CcacheTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = harness.Node("ccache").start()

    @classmethod
    def tearDownClass(cls):
        cls.node.kill()

    def ccache_env(self, storage, work):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("CCACHE_"):
                del env[k]
        env.update({
            "CCACHE_DIR": os.path.join(work, "ccache-dir"),
            "CCACHE_CONFIGPATH": write_file(os.path.join(work, "ccache.conf"), b""),
            "CCACHE_REMOTE_STORAGE": storage,
            "CCACHE_REMOTE_ONLY": "true",
            "CCACHE_LOGFILE": os.path.join(work, "ccache.log"),
        })
        return env

    def run_ccache(self, env, work, *args):
        p = subprocess.run(["ccache", *args], cwd=work, env=env, capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, f"ccache {' '.join(args)}: {p.stderr.decode(errors='replace')}")
        return p.stdout.decode()

    def stats(self, env, work):
        out = self.run_ccache(env, work, "--print-stats")
        stats = {}
        for line in out.splitlines():
            name, _, value = line.partition("\t")
            if value.strip().isdigit():
                stats[name] = int(value)
        return stats

    def roundtrip(self, storage, source):
        work = harness.tmpdir("ccache")
        write_file(os.path.join(work, "hello.c"), source)
        env = self.ccache_env(storage, work)
        log = lambda: read_file(env["CCACHE_LOGFILE"]).decode(errors="replace")[-3000:]
        artifacts_before = self.node.status_json()["store"]["artifacts"]

        self.run_ccache(env, work, "gcc", "-c", "hello.c", "-o", "first.o")
        s = self.stats(env, work)
        self.assertEqual(s.get("remote_storage_hit", 0), 0, s)
        self.assertGreaterEqual(s.get("remote_storage_write", 0), 1, f"{s}\n{log()}")
        self.assertGreaterEqual(self.node.status_json()["store"]["artifacts"], artifacts_before + 2)

        self.run_ccache(env, work, "-z")
        self.run_ccache(env, work, "gcc", "-c", "hello.c", "-o", "second.o")
        s = self.stats(env, work)
        self.assertGreaterEqual(s.get("remote_storage_hit", 0), 1, f"no remote hit: {s}\n{log()}")
        self.assertEqual(s.get("cache_miss", 0), 0, s)
        self.assertEqual(s.get("remote_storage_error", 0), 0, s)
        human = self.run_ccache(env, work, "-s", "-v")
        self.assertRegex(human, r"Remote storage:\s*\n\s*Hits:\s*[1-9]")
        self.assertEqual(read_file(os.path.join(work, "first.o")), read_file(os.path.join(work, "second.o")))

    def test_subdirs_layout_on_cache(self):
        self.roundtrip(f"{self.node.url}/cache", HELLO)

    def test_flat_layout_with_keep_alive_off(self):
        self.roundtrip(f"{self.node.url}/cache/flat|layout=flat|keep-alive=false", HELLO.replace(b"hello", b"flat"))

    def test_bazel_layout_on_bazel_instance(self):
        self.roundtrip(f"{self.node.url}/ccache-bz|layout=bazel", HELLO.replace(b"hello", b"bazel layout"))


if __name__ == "__main__":
    harness.main()
