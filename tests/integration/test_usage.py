"""test_usage.py: usage reporting against the real meshcache-mock-cp: requests made before a
restart in the middle of a 60 s window reach the control plane after the restart, with the right
bytes and request counts per (namespace, direction, operation, protocol, kind)."""

import unittest

import harness
from mock_cp import MockCp


class UsageTest(unittest.TestCase):
    def test_usage_survives_a_restart_mid_window(self):
        m = MockCp(state_dir=harness.tmpdir("mock"))
        m.create_tenant("acme")
        token = m.create_token({"account": {"read": ["acme"], "write": ["acme"]}})
        credential = m.create_credential("acme")
        env = m.enrollment_env(credential, "https://127.0.2.1:7443")
        node = harness.Node("usage", env=env).start()
        auth = {"Authorization": "Bearer " + token}

        body = b"u" * 3000
        for i in range(4):
            self.assertEqual(node.put(f"/v8/artifacts/cafe{i}?slug=web", body, auth).status // 100, 2)
        for i in range(4):
            self.assertEqual(node.get(f"/v8/artifacts/cafe{i}?slug=web", auth).body, body)
        self.assertEqual(node.get("/v8/artifacts/cafe0?slug=web", auth).status, 200)

        # A graceful restart: the open window goes to the outbox and out after the restart.
        self.assertEqual(node.stop(), 0)
        node.restart()

        def totals():
            events = [e for e in m.usage() if e["namespace_id"] == "web" and e["protocol"] == "turbo"]
            writes = [e for e in events if e["operation"] == "write"]
            reads = [e for e in events if e["operation"] == "read"]
            w = (sum(e["bytes"] for e in writes), sum(e["request_count"] for e in writes))
            r = (sum(e["bytes"] for e in reads), sum(e["request_count"] for e in reads))
            return (w, r, events) if w == (12000, 4) and r == (15000, 5) else None

        w, r, events = harness.wait_until(totals, timeout=60, interval=0.2,
                                          message="usage events for 4 writes and 5 reads")
        for e in events:
            self.assertEqual(e["tenant_id"], "acme")
            self.assertEqual(e["node_id"], "127.0.2.1")
            self.assertEqual(e["window_seconds"], 60)
            self.assertEqual(e["window_start_unix_seconds"] % 60, 0)
            self.assertIn(e["direction"], ("ingress", "egress"))
            self.assertEqual(e["direction"] == "ingress", e["operation"] == "write")
        # Every batch the node sent was accepted (the mock counts each event_id once).
        for req in m.requests("usage"):
            self.assertEqual(req["status"], 202)
        node.stop()
        m.stop()


if __name__ == "__main__":
    harness.main()
