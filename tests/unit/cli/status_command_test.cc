// status_command_test.cc: status document, table, and `meshcache status` on a real socket.
#include "cli/status_command.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>

#include "agent/control_socket.h"
#include "agent/node_status.h"
#include "tests/unit/temp_dir.h"

using namespace meshcache;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using nlohmann::json;

namespace {

agent::NodeStatus sample() {
  agent::NodeStatus s;
  s.state = agent::NodeState::serving;
  s.version = "0.1.0";
  s.pid = 4242;
  s.uptime_seconds = 3725;
  s.http_listener = "127.0.0.1:40123";
  s.data_dir = "/var/cache/meshcache";
  s.tenant_id = "default";
  s.region = "local";
  s.auth = "none";
  s.store.bytes = 3ull << 30;
  s.store.capacity_bytes = 12ull << 30;
  s.store.artifacts = 1234;
  s.store.evictions = 7;
  s.store.evicted_bytes = 1536;
  s.requests = 1000;
  s.hits = 900;
  s.misses = 100;
  s.connections_open = 3;
  return s;
}

using ::meshcache::testutil::TempDir;

}  // namespace

TEST_CASE("status document has every field, with actual values and no secrets") {
  auto doc = json::parse(agent::render_node_status(sample()));
  CHECK(doc["state"] == "serving");
  CHECK(doc["version"] == "0.1.0");
  CHECK(doc["pid"] == 4242);
  CHECK(doc["uptime_seconds"] == 3725);
  CHECK(doc["listeners"]["http"] == "127.0.0.1:40123");
  CHECK(doc["listeners"]["tls"].is_null());
  CHECK(doc["data_dir"] == "/var/cache/meshcache");
  CHECK(doc["tenant_id"] == "default");
  CHECK(doc["region"] == "local");
  CHECK(doc["node_url"].is_null());
  CHECK(doc["auth"] == "none");
  CHECK(doc["store"]["bytes"] == 3ull << 30);
  CHECK(doc["store"]["capacity_bytes"] == 12ull << 30);
  CHECK(doc["store"]["artifacts"] == 1234);
  CHECK(doc["store"]["evictions"] == 7);
  CHECK(doc["store"]["evicted_bytes"] == 1536);
  CHECK(doc["requests"] == 1000);
  CHECK(doc["hits"] == 900);
  CHECK(doc["misses"] == 100);
  CHECK(doc["hit_ratio"].get<double>() == Approx(0.9));
  CHECK(doc["connections_open"] == 3);

  auto s = sample();
  s.hits = s.misses = 0;
  s.tls_listener = "127.0.0.1:4443";
  s.state = agent::NodeState::draining;
  doc = json::parse(agent::render_node_status(s));
  CHECK(doc["hit_ratio"] == 0.0);
  CHECK(doc["listeners"]["tls"] == "127.0.0.1:4443");
  CHECK(doc["state"] == "draining");
}

TEST_CASE("a data dir that is not UTF-8 still renders valid JSON") {
  auto s = sample();
  s.data_dir = "/tmp/\xff\xfe";
  CHECK_NOTHROW(json::parse(agent::render_node_status(s)));
}

TEST_CASE("human sizes") {
  CHECK(agent::human_bytes(0) == "0 B");
  CHECK(agent::human_bytes(1023) == "1023 B");
  CHECK(agent::human_bytes(1536) == "1.5 KiB");
  CHECK(agent::human_bytes(3ull << 30) == "3.0 GiB");
}

TEST_CASE("status table") {
  auto table = cli::format_status_table(json::parse(agent::render_node_status(sample())));
  CHECK(table ==
        "state        serving\n"
        "version      0.1.0 (pid 4242, up 1h02m)\n"
        "listeners    http 127.0.0.1:40123\n"
        "data dir     /var/cache/meshcache\n"
        "tenant       default (region local)\n"
        "node url     -\n"
        "auth         none (0 cached decisions)\n"
        "store        3.0 GiB of 12.0 GiB (25.0%), 1234 artifacts, outbox 0 rows\n"
        "evictions    7 (1.5 KiB)\n"
        "requests     1000 (hits 900, misses 100, hit ratio 90.0%)\n"
        "connections  3 open\n");

  // A node of another version may send fewer fields: the table still prints.
  CHECK_THAT(cli::format_status_table(json{{"state", "starting"}}),
             Contains("state        starting\n") && Contains("store        0 B of 0 B (0.0%)"));
}

TEST_CASE("mesh peers and warm-up in the document and the table") {
  auto s = sample();
  s.store.outbox_rows = 212;
  replication::MeshStatus mesh;
  mesh.internal_listener = "127.0.0.1:7401";
  mesh.mtls = true;
  replication::PeerStatus down;
  down.url = "https://127.0.0.1:7403";
  down.source = "static";
  down.admission = "pending";
  down.reason = "unreachable: Couldn't connect to server";
  down.outbox_depth = 212;
  down.consecutive_failures = 4;
  down.next_retry_ms = 1'795'000'000'000;
  down.last_error = "Couldn't connect to server";
  mesh.peers.push_back(down);
  mesh.warmup.state = "running";
  mesh.warmup.records_done = 10;
  mesh.warmup.records_known = 40;
  mesh.warmup.bytes_done = 1024;
  mesh.warmup.bytes_known = 4096;
  s.mesh = mesh;

  json doc = json::parse(agent::render_node_status(s));
  CHECK(doc["store"]["outbox_rows"] == 212);
  CHECK(doc["mesh"]["internal_listener"] == "127.0.0.1:7401");
  CHECK(doc["mesh"]["mtls"] == true);
  CHECK(doc["mesh"]["gateway_url"].is_null());
  const json& peer = doc["mesh"]["peers"][0];
  CHECK(peer["admission"] == "pending");
  CHECK(peer["outbox_depth"] == 212);
  CHECK(peer["next_retry"] == "2026-11-18T11:06:40Z");
  CHECK(peer["last_success"].is_null());
  CHECK(doc["mesh"]["warmup"]["state"] == "running");
  CHECK(doc["mesh"]["warmup"]["records_known"] == 40);

  std::string table = cli::format_status_table(doc);
  CHECK_THAT(table, Contains("internal     127.0.0.1:7401 (mTLS)\n"));
  CHECK_THAT(table, Contains("peer         https://127.0.0.1:7403 [static] pending, tenant -\n"));
  CHECK_THAT(table, Contains("why: unreachable: Couldn't connect to server"));
  CHECK_THAT(table, Contains("4 failures in a row, next retry 2026-11-18T11:06:40Z"));
  CHECK_THAT(table, Contains("warm-up      running: 10 of 40 records, 1.0 KiB of 4.0 KiB"));
  CHECK_THAT(table, Contains("outbox 212 rows"));
}

TEST_CASE("control-plane state in the document and the table") {
  auto s = sample();
  s.auth = "control-plane";
  s.auth_cached_decisions = 12;
  agent::cp::ControlPlaneStatus cp;
  cp.url = "https://cp.example";
  cp.client_id = "cache_AAAAAAAAAAAAAAAAAAAAAA";
  cp.reachable = true;
  cp.enrollment_state = "enrolled";
  cp.tenant_id = "acme";
  tls::CertificateInfo cert;
  cert.subject = "CN=10.0.0.7";
  cert.issuer = "CN=acme mesh CA";
  cert.sans = {"IP:10.0.0.7"};
  cert.not_after = 1798000000;
  cp.certificate = cert;
  cp.renew_at_unix = 1797000000;
  cp.static_peers = {"https://gw.example:7443"};
  cp.heartbeat.last_result = "ok";
  cp.heartbeat.last_attempt_unix = 1796000000;
  cp.warnings = {"certificate expires in 20 h and renewal fails"};
  s.control_plane = cp;
  json doc = json::parse(agent::render_node_status(s));
  CHECK(doc["control_plane"]["tenant_id"] == "acme");
  CHECK(doc["control_plane"]["certificate"]["not_after"] == "2026-12-23T04:26:40Z");
  CHECK(doc["control_plane"]["renew_at"] == "2026-12-11T14:40:00Z");
  CHECK(doc["control_plane"]["peers"]["static"][0] == "https://gw.example:7443");
  CHECK(doc["control_plane"]["heartbeat"]["last_result"] == "ok");
  CHECK(doc["control_plane"]["usage"]["last_result"].is_null());
  CHECK(doc["auth_cache"]["decisions"] == 12);
  std::string table = cli::format_status_table(doc);
  CHECK_THAT(table, Contains("control      https://cp.example (reachable), client cache_AAAA"));
  CHECK_THAT(table, Contains("enrollment   enrolled, tenant acme"));
  CHECK_THAT(table,
             Contains("certificate  CN=10.0.0.7 san [\"IP:10.0.0.7\"] issuer CN=acme mesh CA"));
  CHECK_THAT(table, Contains("WARNING      certificate expires in 20 h and renewal fails"));
  CHECK(json::parse(agent::render_node_status(sample()))["control_plane"].is_null());
}

TEST_CASE("status exit codes") {
  CHECK(cli::status_exit_code(json{{"state", "serving"}}) == 0);
  CHECK(cli::status_exit_code(json{{"state", "starting"}}) == 1);
  CHECK(cli::status_exit_code(json{{"state", "draining"}}) == 1);
  CHECK(cli::status_exit_code(json{{"state", "enrolling"}}) == 1);
}

TEST_CASE("meshcache status against a control socket") {
  TempDir dir;
  std::string reply = agent::render_node_status(sample());
  auto socket = agent::ControlSocket::open(dir.path() + "/control.sock",
                                           [&reply](std::string_view) { return reply; });
  REQUIRE(socket.ok());
  std::ostringstream out, err;

  SECTION("serving: JSON, exit 0") {
    CHECK(cli::run_status(dir.path(), true, out, err) == 0);
    CHECK(json::parse(out.str()) == json::parse(reply));
    CHECK(err.str().empty());
  }
  SECTION("draining: exit 1") {
    auto s = sample();
    s.state = agent::NodeState::draining;
    reply = agent::render_node_status(s);
    CHECK(cli::run_status(dir.path(), true, out, err) == 1);
    CHECK(json::parse(out.str())["state"] == "draining");
  }
  SECTION("not a status document: exit 2") {
    reply = "hello";
    CHECK(cli::run_status(dir.path(), true, out, err) == 2);
    CHECK_THAT(err.str(), Contains("not a status document"));
  }
}

TEST_CASE("meshcache status with no node: exit 2 and a clear message") {
  TempDir dir;
  std::ostringstream out, err;
  CHECK(cli::run_status(dir.path(), true, out, err) == 2);
  CHECK(out.str().empty());
  CHECK_THAT(err.str(), StartsWith("meshcache status: no node is running with data dir " +
                                   dir.path() + " (cannot connect to " + dir.path() +
                                   "/control.sock: No such file or directory)"));
}
