// introspection_test.cc: token introspection through the ControlPlane against the HTTPS fake,
// and parse_introspection on its own (test thread; answers arrive on the transport thread).
#include <catch2/catch.hpp>

#include "agent/controlplane/control_plane.h"
#include "fake_control_plane.h"

namespace meshcache::agent::cp::test {
namespace {

constexpr const char* kIntrospect = "/oauth2/introspect";
constexpr const char* kSecret = "sentinel-secret-0123456789";

using Outcome = Introspection::Outcome;

// A control plane that does not enroll and only introspects.
struct Introspecting {
  FakeControlPlane cp;
  TempDir dir;
  std::unique_ptr<ControlPlane> plane;

  Introspecting() {
    cp.on(kIntrospect, [](const Recorded& r) {
      if (r.body.find("token=good") != std::string::npos) {
        return json_answer(200, {{"active", true},
                                 {"sub", "user"},
                                 {"cache_grants",
                                  {{"account", {{"read", {"acme"}}, {"write", {"acme"}}}},
                                   {"project", {{"read", {"acme/app"}}}}}}});
      }
      if (r.body.find("token=gone") != std::string::npos)
        return json_answer(200, {{"active", false}});
      if (r.body.find("token=rejected") != std::string::npos) {
        return json_answer(401, {{"error", "invalid_client"}});
      }
      if (r.body.find("token=slow") != std::string::npos) return never_answer();
      return Answer{200, "<html>not json</html>"};
    });
    ControlPlaneOptions o;
    o.transport.base_url = cp.url();
    o.transport.client_id = "cache_abc";
    o.transport.client_secret = kSecret;
    o.transport.ca_path = cp.server_ca_path();
    o.transport.form_request_timeout = 300ms;
    o.identity_paths = tls::default_identity_paths(dir.path());
    plane = ControlPlane::start(o, {});
  }

  Introspection ask(const std::string& token) {
    Waiter w;
    std::optional<Introspection> result;
    plane->introspect(token, [&](Introspection i) { w.notify([&] { result = std::move(i); }); });
    REQUIRE(w.until([&] { return result.has_value(); }));
    return *result;
  }
};

}  // namespace

TEST_CASE("introspection sends the credential as form fields and reads each outcome") {
  Introspecting t;

  Introspection good = t.ask("good");
  CHECK(good.outcome == Outcome::active);
  CHECK(good.grants.account_read == std::vector<std::string>{"acme"});
  CHECK(good.grants.account_write == std::vector<std::string>{"acme"});
  CHECK(good.grants.project_read == std::vector<std::string>{"acme/app"});
  CHECK(good.grants.project_write.empty());
  auto sent = t.cp.requests(kIntrospect);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].body ==
        std::string("client_id=cache_abc&client_secret=") + kSecret + "&token=good");
  CHECK(sent[0].authorization.empty());
  CHECK(t.plane->status().reachable);

  CHECK(t.ask("gone").outcome == Outcome::inactive);
  Introspection rejected = t.ask("rejected");
  CHECK(rejected.outcome == Outcome::client_rejected);
  Introspection garbage = t.ask("garbage");
  CHECK(garbage.outcome == Outcome::unreachable);
  CHECK(garbage.detail.find("garbage") == std::string::npos);

  Introspection slow = t.ask("slow-sentinel-token");
  CHECK(slow.outcome == Outcome::unreachable);
  CHECK_THAT(slow.detail, Catch::Contains("timed out"));
  CHECK(slow.detail.find("sentinel") == std::string::npos);
  CHECK_FALSE(t.plane->status().reachable);
}

TEST_CASE("parse_introspection") {
  CHECK(parse_introspection(200, R"({"active":false})").outcome == Outcome::inactive);
  CHECK(parse_introspection(200, R"({"active":true})").outcome == Outcome::active);
  CHECK(parse_introspection(401, R"({"error":"invalid_client"})").outcome ==
        Outcome::client_rejected);
  CHECK(parse_introspection(500, "").outcome == Outcome::unreachable);
  CHECK(parse_introspection(0, "").outcome == Outcome::unreachable);
  CHECK(parse_introspection(200, "[]").outcome == Outcome::unreachable);
  CHECK(parse_introspection(200, R"({"active":"yes"})").outcome == Outcome::unreachable);
  CHECK(parse_introspection(200, R"({"active":true,"cache_grants":{"account":{"read":[1]}}})")
            .outcome == Outcome::unreachable);
  auto p =
      parse_introspection(200, R"({"active":true,"cache_grants":{"project":{"write":["a/b"]}}})");
  CHECK(p.outcome == Outcome::active);
  CHECK(p.grants.project_write == std::vector<std::string>{"a/b"});
}

}  // namespace meshcache::agent::cp::test
