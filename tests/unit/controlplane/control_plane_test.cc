// control_plane_test.cc: the ControlPlane against the in-process HTTPS fake: enrollment and its
// refusals, retries, renewal, mesh heartbeat, registration lease and status (test thread; the
// hooks run on the transport thread).
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "agent/controlplane/control_plane.h"
#include "fake_control_plane.h"
#include "tls/certificate.h"
#include "tls/secure_file.h"

namespace meshcache::agent::cp::test {
namespace {

constexpr const char* kEnroll = "/_internal/kura/mesh/enroll";
constexpr const char* kHeartbeat = "/_internal/kura/mesh/heartbeat";
constexpr const char* kRegistrations = "/_internal/kura/mesh/registrations";
constexpr const char* kSecret = "sentinel-secret-0123456789";
constexpr const char* kNodeUrl = "https://127.0.0.1:7443";

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json member(bool is_member, Json peers = Json::array(), int interval = 60) {
  return {{"mesh_member", is_member}, {"peers", peers}, {"heartbeat_interval_seconds", interval}};
}

// A fake control plane, a node's options and hooks that record what they are told.
struct Harness {
  FakeControlPlane cp;
  TempDir dir;
  Waiter w;
  std::vector<Enrollment> enrollments;
  std::vector<std::vector<std::string>> peer_changes;
  std::vector<size_t> peer_changes_at_enrolled;  // the node must know the peers when it joins
  std::vector<std::string> fatals;
  ControlPlaneOptions options;
  ControlPlaneHooks hooks;
  std::unique_ptr<ControlPlane> plane;  // last: stopped before the fake goes away

  Harness() {
    options.transport.base_url = cp.url();
    options.transport.client_id = "cache_abc";
    options.transport.client_secret = kSecret;
    options.transport.ca_path = cp.server_ca_path();
    options.enroll = true;
    options.node_url = kNodeUrl;
    options.region = "eu-1";
    options.version = "1.2.3";
    options.identity_paths = tls::default_identity_paths(dir.path());
    options.retry_base = 10ms;
    options.retry_cap = 40ms;
    options.renewal_retry = 50ms;
    hooks.enrolled = [this](const Enrollment& e) {
      w.notify([&] {
        enrollments.push_back(e);
        peer_changes_at_enrolled.push_back(peer_changes.size());
      });
    };
    hooks.peers_changed = [this](const std::vector<std::string>& p) {
      w.notify([&] { peer_changes.push_back(p); });
    };
    hooks.fatal = [this](std::string m) { w.notify([&] { fatals.push_back(std::move(m)); }); };
    hooks.ready = [] { return true; };
    hooks.traffic_state = [] { return std::string("serving"); };
    cp.on(kEnroll, [this](const Recorded& r) { return cp.enrolled(r, 3600); });
    cp.on(kHeartbeat, fixed(200, member(true)));
    cp.on(kRegistrations, fixed(200, {{"accepted", true}, {"lease_seconds", 180}}));
  }
  void start() { plane = ControlPlane::start(options, hooks); }
  size_t enrolled_count() {
    return w.with([&] { return enrollments.size(); });
  }
  bool no_fatal() {
    return w.with([&] { return fatals.empty(); });
  }
  bool wait_enrolled(size_t n) {
    return w.until([&] { return enrollments.size() >= n; });
  }
  bool wait_fatal() {
    return w.until([&] { return !fatals.empty(); });
  }
  template <typename Pred>
  bool wait_status(Pred pred) {
    return w.until([&] { return pred(plane->status()); });
  }
};

}  // namespace

TEST_CASE("enrollment 201 writes the identity and adopts tenant and peers minus self") {
  Harness h;
  h.options.advertised_url = "https://cache.acme.test";
  h.cp.on(kEnroll, [&](const Recorded& r) {
    return h.cp.enrolled(r, 3600,
                         {{"peers", {std::string(kNodeUrl) + "/", "https://b.acme.test:7443"}},
                          {"managed_peers", {"https://gw.acme.test:7443", kNodeUrl}}});
  });
  h.cp.on(kHeartbeat, fixed(200, member(true, {kNodeUrl, "https://b.acme.test:7443"})));
  h.start();
  REQUIRE(h.wait_enrolled(1));
  Enrollment e = h.w.with([&] { return h.enrollments[0]; });
  CHECK(e.tenant_id == "acme");
  CHECK(e.static_peers == std::vector<std::string>{"https://gw.acme.test:7443"});
  CHECK(e.dynamic_peers == std::vector<std::string>{"https://b.acme.test:7443"});
  CHECK(e.certificate.subject == "CN=127.0.0.1");
  CHECK(e.certificate.sans == std::vector<std::string>{"IP:127.0.0.1"});
  CHECK(e.renew_at_unix >= now_unix() + 1296000 - 5);

  // What was sent: the CSR and node URL, with the credential, and never the key.
  auto sent = h.cp.requests(kEnroll);
  REQUIRE(sent.size() == 1);
  Json body = sent[0].json();
  CHECK_THAT(body.at("csr").get<std::string>(), Catch::Contains("BEGIN CERTIFICATE REQUEST"));
  CHECK(body.at("node_url") == kNodeUrl);
  CHECK(sent[0].authorization.rfind("Basic ", 0) == 0);

  // On disk: key 0600, the leaf and the CA as answered.
  struct stat st {};
  REQUIRE(stat(h.options.identity_paths.key_path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto identity = tls::read_identity(h.options.identity_paths);
  REQUIRE(identity.ok());
  CHECK(identity->ca_pem == h.cp.mesh_ca().cert_pem);
  auto leaf = tls::parse_certificate_pem(identity->cert_pem);
  REQUIRE(leaf.ok());
  CHECK(tls::describe(leaf->get()).serial_hex == e.certificate.serial_hex);
  std::string key_body = identity->key_pem.substr(identity->key_pem.find('\n') + 1, 40);
  for (const auto& r : h.cp.all_requests()) {
    CHECK(r.body.find("PRIVATE KEY") == std::string::npos);
    CHECK(r.body.find(key_body) == std::string::npos);
  }
  CHECK(h.plane->contexts().server() != nullptr);
  CHECK(h.plane->contexts().client() != nullptr);

  // The heartbeat and the lease start right away.
  REQUIRE(h.cp.wait_requests(kHeartbeat, 1));
  REQUIRE(h.cp.wait_requests(kRegistrations, 1));
  CHECK(h.cp.requests(kHeartbeat)[0].json() == Json{{"node_url", kNodeUrl}});
  Json lease = h.cp.requests(kRegistrations)[0].json();
  CHECK(lease.at("tenant_id") == "acme");
  CHECK(lease.at("node_id") == "127.0.0.1");

  REQUIRE(h.wait_status([](const ControlPlaneStatus& s) {
    return s.heartbeat.last_result == "ok" && s.registration.last_result == "ok";
  }));
  ControlPlaneStatus s = h.plane->status();
  CHECK(s.url == h.cp.url());
  CHECK(s.client_id == "cache_abc");
  CHECK(s.reachable);
  CHECK(s.enrollment_state == "enrolled");
  CHECK(s.tenant_id == "acme");
  REQUIRE(s.certificate);
  CHECK(s.certificate->serial_hex == e.certificate.serial_hex);
  CHECK(s.renew_at_unix == e.renew_at_unix);
  CHECK(s.static_peers == e.static_peers);
  CHECK(s.dynamic_peers == e.dynamic_peers);
  CHECK(s.enroll.last_result == "ok");
  CHECK(s.enroll.last_success_unix);
  CHECK(s.enroll.next_attempt_unix == e.renew_at_unix);
  CHECK(s.heartbeat.next_attempt_unix >= now_unix() + 55);
  CHECK(s.registration.next_attempt_unix >= now_unix() + 55);
  CHECK(s.warnings.empty());
  CHECK(h.w.with([&] { return h.fatals.empty(); }));
  // The node gets the static and dynamic peers together, once (the heartbeat repeated them).
  CHECK(h.w.with([&] { return h.peer_changes; }) ==
        std::vector<std::vector<std::string>>{
            {"https://gw.acme.test:7443", "https://b.acme.test:7443"}});
  CHECK(h.w.with([&] { return h.peer_changes_at_enrolled; }) == std::vector<size_t>{1});
}

TEST_CASE("enrollment 401 is fatal and names the client id, never the secret") {
  Harness h;
  h.cp.on(kEnroll, fixed(401, {{"error", "unauthorized"}}));
  h.start();
  REQUIRE(h.wait_fatal());
  std::string message = h.w.with([&] { return h.fatals[0]; });
  CHECK_THAT(message, Catch::Contains("cache_abc") && Catch::Contains("401") &&
                          Catch::Contains("MESHCACHE_CONTROL_PLANE_CLIENT_ID"));
  CHECK(message.find(kSecret) == std::string::npos);
  REQUIRE(h.wait_status([](const ControlPlaneStatus& s) { return !s.enroll.last_result.empty(); }));
  ControlPlaneStatus s = h.plane->status();
  CHECK(s.enrollment_state == "enrolling");
  CHECK(s.enroll.last_result == "http 401 unauthorized");
  CHECK_FALSE(s.enroll.next_attempt_unix);  // no retry
  CHECK(h.enrolled_count() == 0);
}

TEST_CASE("enrollment 422 is fatal and names the field") {
  Harness h;
  SECTION("invalid_node_url") {
    h.cp.on(kEnroll, fixed(422, {{"error", "invalid_node_url"}}));
    h.start();
    REQUIRE(h.wait_fatal());
    CHECK_THAT(h.w.with([&] { return h.fatals[0]; }),
               Catch::Contains("MESHCACHE_NODE_URL (https://127.0.0.1:7443)"));
  }
  SECTION("invalid_csr") {
    h.cp.on(kEnroll, fixed(422, {{"error", "invalid_csr"}}));
    h.start();
    REQUIRE(h.wait_fatal());
    CHECK_THAT(h.w.with([&] { return h.fatals[0]; }), Catch::Contains("the CSR"));
  }
  CHECK(h.enrolled_count() == 0);
}

TEST_CASE("503 ca_unavailable is retried with backoff until the CA appears") {
  Harness h;
  h.cp.on(kEnroll, fixed(503, {{"error", "ca_unavailable"}}));
  h.start();
  REQUIRE(h.cp.wait_requests(kEnroll, 3));
  REQUIRE(h.wait_status([](const ControlPlaneStatus& s) {
    return s.enroll.last_result == "http 503 ca_unavailable";
  }));
  ControlPlaneStatus s = h.plane->status();
  CHECK(s.enrollment_state == "enrolling");
  CHECK(s.reachable);
  CHECK(s.enroll.next_attempt_unix);
  CHECK(h.enrolled_count() == 0);

  h.cp.on(kEnroll, [&](const Recorded& r) { return h.cp.enrolled(r, 3600); });
  REQUIRE(h.wait_enrolled(1));
  CHECK(h.plane->status().enrollment_state == "enrolled");
  CHECK(h.no_fatal());
}

TEST_CASE("network errors and 5xx are retried") {
  Harness h;
  h.options.transport.base_url = "https://127.0.0.1:1";  // nothing listens there
  h.start();
  REQUIRE(h.wait_status([](const ControlPlaneStatus& s) {
    return !s.enroll.last_result.empty() && s.enroll.next_attempt_unix;
  }));
  CHECK_FALSE(h.plane->status().reachable);
  h.plane->stop();

  Harness h2;
  h2.cp.sequence(kEnroll, {fixed(500, Json::object()), fixed(502, Json::object()),
                           [&](const Recorded& r) { return h2.cp.enrolled(r, 3600); }});
  h2.start();
  REQUIRE(h2.wait_enrolled(1));
  CHECK(h2.cp.requests(kEnroll).size() == 3);
}

TEST_CASE("malformed answers and certificates from another CA are rejected and retried") {
  // Before the harness: its scripts use it until the fake stops.
  auto other_ca = tls::create_authority("someone else's CA", 3600);
  REQUIRE(other_ca.ok());
  Harness h;
  h.cp.sequence(kEnroll, {
                             [](const Recorded&) {
                               return Answer{201, "<html>oops"};
                             },
                             [&](const Recorded& r) {
                               return h.cp.enrolled(r, 3600, {{"certificate", nullptr}});
                             },
                             [&](const Recorded& r) {
                               return h.cp.enrolled(r, 3600, {{"peers", "not a list"}});
                             },
                             [&](const Recorded& r) {
                               return h.cp.enrolled(r, 3600, Json::object(), &*other_ca);
                             },
                             [&](const Recorded& r) { return h.cp.enrolled(r, 3600); },
                         });
  h.start();
  REQUIRE(h.wait_enrolled(1));
  CHECK(h.cp.requests(kEnroll).size() == 5);
  CHECK(h.no_fatal());
  // Only the good answer reached the disk.
  auto identity = tls::read_identity(h.options.identity_paths);
  REQUIRE(identity.ok());
  auto leaf = tls::parse_certificate_pem(identity->cert_pem);
  REQUIRE(leaf.ok());
  CHECK(tls::describe(leaf->get()).serial_hex ==
        h.w.with([&] { return h.enrollments[0].certificate.serial_hex; }));
}

TEST_CASE("a rejected answer shows in status with its reason") {
  // Before the harness: its scripts use it until the fake stops.
  auto other_ca = tls::create_authority("someone else's CA", 3600);
  REQUIRE(other_ca.ok());
  Harness h;
  SECTION("malformed") {
    h.cp.on(kEnroll, [](const Recorded&) { return Answer{201, "{\"tenant_id\": 7}"}; });
    h.start();
    REQUIRE(h.wait_status([](const ControlPlaneStatus& s) {
      return s.enroll.last_result.find("malformed enrollment answer") != std::string::npos;
    }));
  }
  SECTION("wrong CA") {
    h.cp.on(kEnroll,
            [&](const Recorded& r) { return h.cp.enrolled(r, 3600, Json::object(), &*other_ca); });
    h.start();
    REQUIRE(h.wait_status([](const ControlPlaneStatus& s) {
      return s.enroll.last_result.find("certificate rejected") != std::string::npos;
    }));
  }
  CHECK(h.plane->status().enrollment_state == "enrolling");
  CHECK(h.enrolled_count() == 0);
  CHECK(h.no_fatal());
}

TEST_CASE("renewal with a fresh key replaces the certificate") {
  Harness h;
  h.cp.sequence(kEnroll, {[&](const Recorded& r) {
                            return h.cp.enrolled(r, 3600, {{"renew_after_seconds", 1}});
                          },
                          [&](const Recorded& r) { return h.cp.enrolled(r, 3600); }});
  h.start();
  REQUIRE(h.wait_enrolled(2));
  auto [first, second] = h.w.with([&] { return std::pair(h.enrollments[0], h.enrollments[1]); });
  CHECK(first.certificate.serial_hex != second.certificate.serial_hex);
  auto sent = h.cp.requests(kEnroll);
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].json().at("csr") != sent[1].json().at("csr"));  // a new key each time
  auto identity = tls::read_identity(h.options.identity_paths);
  REQUIRE(identity.ok());
  auto leaf = tls::parse_certificate_pem(identity->cert_pem);
  REQUIRE(leaf.ok());
  CHECK(tls::describe(leaf->get()).serial_hex == second.certificate.serial_hex);
  CHECK(h.plane->contexts().certificate()->serial_hex == second.certificate.serial_hex);
  CHECK(h.plane->status().certificate->serial_hex == second.certificate.serial_hex);
}

TEST_CASE("without renew_after_seconds, renewal comes at two thirds of the remaining lifetime") {
  Harness h;
  h.cp.on(kEnroll, [&](const Recorded& r) {
    return h.cp.enrolled(r, 900, {{"renew_after_seconds", nullptr}});
  });
  h.start();
  REQUIRE(h.wait_enrolled(1));
  int64_t renew_at = h.w.with([&] { return h.enrollments[0].renew_at_unix; });
  CHECK(renew_at >= now_unix() + 600 - 5);
  CHECK(renew_at <= now_unix() + 600 + 1);
}

TEST_CASE("a failing renewal keeps the old identity, retries and warns near expiry") {
  Harness h;
  // 10 s left of a 70 s lifetime (issue_leaf backdates by a minute): under a quarter.
  h.cp.sequence(kEnroll, {[&](const Recorded& r) {
                            return h.cp.enrolled(r, 10, {{"renew_after_seconds", 1}});
                          },
                          fixed(500, {{"error", "boom"}})});
  h.start();
  REQUIRE(h.wait_enrolled(1));
  REQUIRE(h.cp.wait_requests(kEnroll, 4));  // renewal retried every renewal_retry
  REQUIRE(h.wait_status(
      [](const ControlPlaneStatus& s) { return s.enrollment_state == "renewal_failing"; }));
  ControlPlaneStatus s = h.plane->status();
  std::string serial = h.w.with([&] { return h.enrollments[0].certificate.serial_hex; });
  CHECK(s.certificate->serial_hex == serial);
  CHECK(h.plane->contexts().certificate()->serial_hex == serial);
  CHECK(s.enroll.last_result == "http 500 boom");
  REQUIRE(s.warnings.size() == 1);
  CHECK_THAT(s.warnings[0], Catch::Contains("expires in") && Catch::Contains("http 500 boom"));
  CHECK(h.no_fatal());
}

TEST_CASE("a refusal after enrollment is not fatal") {
  Harness h;
  h.cp.sequence(kEnroll, {[&](const Recorded& r) {
                            return h.cp.enrolled(r, 3600, {{"renew_after_seconds", 1}});
                          },
                          fixed(401, {{"error", "unauthorized"}})});
  h.start();
  REQUIRE(h.cp.wait_requests(kEnroll, 3));
  REQUIRE(h.wait_status(
      [](const ControlPlaneStatus& s) { return s.enroll.last_result == "http 401 unauthorized"; }));
  CHECK(h.plane->status().enrollment_state == "renewal_failing");
  CHECK(h.no_fatal());
}

TEST_CASE("the heartbeat replaces the dynamic peers; the node gets them with the static ones") {
  Harness h;
  h.cp.on(kEnroll, [&](const Recorded& r) {
    return h.cp.enrolled(r, 3600, {{"peers", {"https://b:7443"}}});
  });
  h.cp.sequence(kHeartbeat,
                {
                    fixed(200, member(true, {kNodeUrl, "https://b:7443", "https://c:7443"}, 1)),
                    fixed(200, member(true, {kNodeUrl, "https://b:7443", "https://c:7443"}, 1)),
                    fixed(200, member(true, {"https://d:7443"}, 60)),
                });
  h.start();
  REQUIRE(h.w.until([&] { return h.peer_changes.size() >= 3; }));
  // Enrollment's b is a static peer too (no managed_peers), so it stays; the repeated list in
  // between changed nothing.
  auto changes = h.w.with([&] { return h.peer_changes; });
  CHECK(changes == std::vector<std::vector<std::string>>{{"https://b:7443"},
                                                         {"https://b:7443", "https://c:7443"},
                                                         {"https://b:7443", "https://d:7443"}});
  CHECK(h.cp.requests(kHeartbeat).size() == 3);
  REQUIRE(h.wait_status([](const ControlPlaneStatus& s) { return s.dynamic_peers.size() == 1; }));
  CHECK(h.plane->status().dynamic_peers == std::vector<std::string>{"https://d:7443"});
}

TEST_CASE("a failed or malformed heartbeat keeps the last peer view") {
  Harness h;
  h.cp.on(kEnroll, [&](const Recorded& r) {
    return h.cp.enrolled(r, 3600, {{"peers", {"https://b:7443"}}});
  });
  h.cp.on(kHeartbeat, fixed(200, {{"peers", {"https://x:7443"}}}));
  h.start();
  REQUIRE(h.wait_status([](const ControlPlaneStatus& s) {
    return s.heartbeat.last_result.find("mesh_member") != std::string::npos;
  }));
  ControlPlaneStatus s = h.plane->status();
  CHECK(s.dynamic_peers == std::vector<std::string>{"https://b:7443"});
  CHECK(s.heartbeat.next_attempt_unix);
  // Only the enrollment's list: the bad heartbeat changed nothing.
  CHECK(h.w.with([&] { return h.peer_changes; }) ==
        std::vector<std::vector<std::string>>{{"https://b:7443"}});
  CHECK(h.cp.requests(kEnroll).size() == 1);
}

TEST_CASE("mesh_member:false leads to re-enrollment, then to a backoff") {
  Harness h;
  h.cp.on(kHeartbeat, fixed(200, member(false)));
  h.start();
  // The first "not a member" re-enrolls at once.
  REQUIRE(h.wait_enrolled(2));
  REQUIRE(h.cp.wait_requests(kHeartbeat, 2));
  // The second waits 60 s before the next enrollment.
  REQUIRE(h.wait_status([](const ControlPlaneStatus& s) {
    return s.enroll.next_attempt_unix && *s.enroll.next_attempt_unix < now_unix() + 120 &&
           *s.enroll.next_attempt_unix >= now_unix() + 55;
  }));
  ControlPlaneStatus s = h.plane->status();
  CHECK_THAT(s.heartbeat.last_result, Catch::Contains("not a mesh member"));
  CHECK(h.cp.requests(kEnroll).size() == 2);
  CHECK(s.enrollment_state == "enrolled");
}

TEST_CASE("the registration lease carries the node's identity and readiness") {
  Harness h;
  h.options.enroll = false;
  h.options.tenant_id = "acme";
  h.options.node_url = "https://Node-1.acme.test:7443";
  h.options.advertised_url = "https://cache.acme.test";
  h.options.registration_interval = 50ms;
  h.start();
  REQUIRE(h.cp.wait_requests(kRegistrations, 2));
  Json body = h.cp.requests(kRegistrations)[0].json();
  CHECK(body == Json{{"schema_version", 1},
                     {"node_id", "node-1.acme.test"},
                     {"tenant_id", "acme"},
                     {"region", "eu-1"},
                     {"advertised_http_url", "https://cache.acme.test"},
                     {"ready", true},
                     {"version", "1.2.3"},
                     {"traffic_state", "serving"}});
  CHECK(h.cp.requests(kEnroll).empty());
  CHECK(h.cp.requests(kHeartbeat).empty());
  REQUIRE(h.wait_status(
      [](const ControlPlaneStatus& s) { return s.registration.last_result == "ok"; }));
  ControlPlaneStatus s = h.plane->status();
  CHECK(s.enrollment_state == "disabled");
  CHECK(s.tenant_id == "acme");
  CHECK(s.registration.last_success_unix);

  h.cp.on(kRegistrations, fixed(409, {{"error", "tenant_mismatch"}}));
  REQUIRE(h.wait_status([](const ControlPlaneStatus& s) {
    return s.registration.last_result == "http 409 tenant_mismatch";
  }));
  h.cp.on(kRegistrations, fixed(422, {{"error", "invalid_registration"}}));
  REQUIRE(h.wait_status([](const ControlPlaneStatus& s) {
    return s.registration.last_result == "http 422 invalid_registration";
  }));
  CHECK(h.plane->status().registration.next_attempt_unix);
}

TEST_CASE("registration without an advertised URL is disabled and says why") {
  Harness h;
  h.options.enroll = false;
  h.options.tenant_id = "acme";
  h.start();
  ControlPlaneStatus s = h.plane->status();
  CHECK(s.registration.last_result == "disabled: MESHCACHE_ADVERTISED_URL unset");
  CHECK(s.enrollment_state == "disabled");
}

TEST_CASE("start() refuses configurations it cannot use") {
  Harness h;
  SECTION("enrollment without a node URL") {
    h.options.node_url.clear();
    CHECK_THROWS_WITH(h.start(), Catch::Contains("MESHCACHE_NODE_URL"));
  }
  SECTION("a node URL without a host") {
    h.options.node_url = "https://:7443";
    CHECK_THROWS_WITH(h.start(), Catch::Contains("MESHCACHE_NODE_URL"));
  }
  SECTION("no credential") {
    h.options.transport.client_secret.clear();
    CHECK_THROWS_WITH(h.start(), Catch::Contains("MESHCACHE_CONTROL_PLANE_CLIENT_SECRET"));
  }
}

TEST_CASE("stop() ends every call and no hook runs afterwards") {
  Harness h;
  h.cp.on(kEnroll, [](const Recorded&) { return never_answer(); });
  h.start();
  REQUIRE(h.cp.wait_requests(kEnroll, 1));
  h.plane->stop();
  h.plane->stop();
  h.cp.on(kEnroll, [&](const Recorded& r) { return h.cp.enrolled(r, 3600); });
  h.plane.reset();
  CHECK(h.enrolled_count() == 0);
  CHECK(h.no_fatal());
}

}  // namespace meshcache::agent::cp::test
