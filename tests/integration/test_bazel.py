"""test_bazel.py: real Bazel 2.1.0 (npm, embedded JDK, offline) with --remote_cache on the node:
the first build uploads its action results and outputs, after `bazel clean` the second build
is served from the remote cache, with and without an instance-name prefix."""

import os
import subprocess
import unittest
import uuid

import harness
from harness import read_file, write_file

BAZEL = harness.bazel_path()


@unittest.skipUnless(BAZEL, f"Bazel 2.1.0 is not installed at $MESHCACHE_SOURCE_DIR/{harness.BAZEL_REL} "
                            "(run packaging/install-deps.sh --npm)")
class BazelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = harness.Node("bazel").start()
        cls.user_root = harness.tmpdir("bazel-root")

    @classmethod
    def tearDownClass(cls):
        cls.node.kill()

    def bazel(self, ws, *args):
        cmd = [BAZEL, "--nohome_rc", "--nosystem_rc", "--noworkspace_rc", f"--output_user_root={self.user_root}",
               "--batch", *args]
        env = dict(os.environ, HOME=ws)
        p = subprocess.run(cmd, cwd=ws, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, 0, f"{' '.join(args)} failed:\n{out[-4000:]}")
        return out

    def workspace(self):
        ws = harness.tmpdir("bazel-ws")
        nonce = uuid.uuid4().hex
        write_file(os.path.join(ws, "WORKSPACE"), b"")
        write_file(os.path.join(ws, "BUILD"), f"""
genrule(name = "a", outs = ["a.txt"], cmd = "echo alpha-{nonce} > $@; seq 1 20000 >> $@")
genrule(name = "b", srcs = [":a"], outs = ["b.txt"], cmd = "cat $(location :a) $(location :a) > $@; echo beta >> $@")
""".encode())
        return ws

    def build_twice(self, prefix):
        ws = self.workspace()
        flags = [f"--remote_cache={self.node.url}{prefix}", "--remote_timeout=60", "//:b"]
        before = self.node.status_json()

        first = self.bazel(ws, "build", *flags)
        self.assertNotIn("remote cache hit", first)
        output = read_file(os.path.join(ws, "bazel-bin", "b.txt"))
        after_first = self.node.status_json()
        # Two action results and at least the two outputs.
        self.assertGreaterEqual(after_first["store"]["artifacts"] - before["store"]["artifacts"], 4, after_first)

        self.bazel(ws, "clean")
        self.assertFalse(os.path.exists(os.path.join(ws, "bazel-bin", "b.txt")))
        second = self.bazel(ws, "build", *flags)
        self.assertRegex(second, r"2 remote cache hits?", f"no remote cache hit:\n{second[-3000:]}")
        self.assertEqual(read_file(os.path.join(ws, "bazel-bin", "b.txt")), output)
        after_second = self.node.status_json()
        self.assertGreaterEqual(after_second["hits"] - after_first["hits"], 4, after_second)

    def test_remote_cache_round_trip(self):
        self.build_twice("")

    def test_remote_cache_with_instance_name(self):
        self.build_twice("/ci-instance")


if __name__ == "__main__":
    harness.main()
