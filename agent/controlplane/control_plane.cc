// control_plane.cc: wiring of the control-plane client (enrollment, heartbeat, lease,
// introspection) and its status. start()/stop() run on the main thread, the parts on the
// CpTransport thread, status() and introspect() on any thread.
#include "agent/controlplane/control_plane.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "agent/controlplane/cp_context.h"
#include "agent/controlplane/enrollment.h"
#include "agent/controlplane/mesh_heartbeat.h"
#include "agent/controlplane/registration_lease.h"
#include "tls/url_host.h"

namespace meshcache::agent::cp {
namespace {

constexpr const char* kIntrospectPath = "/oauth2/introspect";
constexpr int64_t kDay = 86400;

std::string human_duration(int64_t seconds) {
  if (seconds >= 2 * kDay) return fmt::format("{} days", seconds / kDay);
  if (seconds >= 3600) return fmt::format("{} h", seconds / 3600);
  if (seconds >= 60) return fmt::format("{} min", seconds / 60);
  return fmt::format("{} s", seconds);
}

// The node ID is the node URL's host; a node that does not enroll may have no node URL.
std::string node_id_of(const ControlPlaneOptions& options) {
  if (options.enroll && options.node_url.empty()) {
    throw std::runtime_error("MESHCACHE_ENROLL_ON_BOOT needs MESHCACHE_NODE_URL");
  }
  if (options.node_url.empty()) return {};
  auto host = tls::url_host(options.node_url);
  if (!host.ok()) {
    throw std::runtime_error(
        fmt::format("MESHCACHE_NODE_URL ({}): {}", options.node_url, host.status().message()));
  }
  return *host;
}

ControlPlaneOptions checked(ControlPlaneOptions options) {
  const CpTransportOptions& t = options.transport;
  if (t.base_url.empty()) throw std::runtime_error("MESHCACHE_CONTROL_PLANE_URL is not set");
  if (!tls::url_host(t.base_url).ok()) {
    throw std::runtime_error(
        fmt::format("MESHCACHE_CONTROL_PLANE_URL ({}) is not an http(s) URL", t.base_url));
  }
  if (t.base_url.rfind("http://", 0) == 0) {
    spdlog::warn(
        "MESHCACHE_CONTROL_PLANE_URL is plain http: the client secret and tokens travel "
        "unencrypted");
  }
  if (t.client_id.empty() || t.client_secret.empty()) {
    throw std::runtime_error(
        "the control plane needs MESHCACHE_CONTROL_PLANE_CLIENT_ID and "
        "MESHCACHE_CONTROL_PLANE_CLIENT_SECRET (or _FILE)");
  }
  if (options.advertised_url && !tls::url_host(*options.advertised_url).ok()) {
    throw std::runtime_error(fmt::format("MESHCACHE_ADVERTISED_URL ({}) is not an http(s) URL",
                                         *options.advertised_url));
  }
  return options;
}

class ControlPlaneImpl final : public ControlPlane {
 public:
  ControlPlaneImpl(ControlPlaneOptions options, ControlPlaneHooks hooks);
  ~ControlPlaneImpl() override { stop(); }

  void introspect(std::string token, std::function<void(Introspection)> done) override;
  ControlPlaneStatus status() const override;
  const tls::MeshContexts& contexts() const override { return contexts_; }
  CpTransport& transport() override { return *transport_; }
  void record_usage_result(const CallStatus& status) override {
    board_.update([&](ControlPlaneStatus& s) { s.usage = status; });
  }
  void stop() override { transport_->stop(); }

 private:
  void begin();
  void on_enrolled(const Enrollment& e);
  // Transport thread: tells the node the static and dynamic peers together.
  void publish_peers();
  // The node's hooks, with peers_changed routed through publish_peers for the parts that see
  // only the dynamic peers (the heartbeat).
  ControlPlaneHooks inner_hooks();

  const ControlPlaneOptions options_;
  const std::string node_id_;
  const ControlPlaneHooks hooks_;
  const ControlPlaneHooks inner_hooks_;
  const std::string lease_disabled_;
  StatusBoard board_;
  tls::MeshContexts contexts_;
  std::unique_ptr<CpTransport> transport_;
  CpContext ctx_;
  Enroller enroller_;
  MeshHeartbeat heartbeat_;
  RegistrationLease lease_;
  std::vector<std::string> static_peers_, dynamic_peers_;  // transport thread
};

CpTransportOptions observed(CpTransportOptions t, StatusBoard& board) {
  t.on_reply = [&board, outer = std::move(t.on_reply)](bool answered) {
    board.update([&](ControlPlaneStatus& s) { s.reachable = answered; });
    if (outer) outer(answered);
  };
  return t;
}

ControlPlaneImpl::ControlPlaneImpl(ControlPlaneOptions options, ControlPlaneHooks hooks)
    : options_(checked(std::move(options))),
      node_id_(node_id_of(options_)),
      hooks_(std::move(hooks)),
      inner_hooks_(inner_hooks()),
      lease_disabled_(RegistrationLease::disabled_reason(options_)),
      transport_(CpTransport::start(observed(options_.transport, board_))),
      ctx_{options_, inner_hooks_, *transport_, board_},
      enroller_(ctx_, contexts_, [this](const Enrollment& e) { on_enrolled(e); }),
      heartbeat_(ctx_, [this](std::chrono::milliseconds delay) { enroller_.rejoin(delay); }),
      lease_(ctx_, node_id_) {
  board_.update([&](ControlPlaneStatus& s) {
    s.url = options_.transport.base_url;
    s.client_id = options_.transport.client_id;
    s.enrollment_state = options_.enroll ? "enrolling" : "disabled";
    if (!options_.enroll) {
      s.tenant_id = options_.tenant_id;
      s.heartbeat.last_result = "disabled: MESHCACHE_ENROLL_ON_BOOT unset";
    }
    if (!lease_disabled_.empty()) s.registration.last_result = lease_disabled_;
  });
  transport_->schedule(std::chrono::milliseconds(0), [this] { begin(); });
}

void ControlPlaneImpl::begin() {
  if (options_.enroll) {
    enroller_.start();
  } else if (lease_disabled_.empty()) {
    lease_.start(*options_.tenant_id);
  }
}

ControlPlaneHooks ControlPlaneImpl::inner_hooks() {
  ControlPlaneHooks inner = hooks_;
  inner.peers_changed = [this](const std::vector<std::string>& dynamic) {
    dynamic_peers_ = dynamic;
    publish_peers();
  };
  return inner;
}

void ControlPlaneImpl::publish_peers() {
  if (!hooks_.peers_changed) return;
  std::vector<std::string> all = static_peers_;
  for (const auto& p : dynamic_peers_)
    if (std::find(all.begin(), all.end(), p) == all.end()) all.push_back(p);
  hooks_.peers_changed(all);
}

void ControlPlaneImpl::on_enrolled(const Enrollment& e) {
  // The peers first: the node joins the mesh in `enrolled`, and joins with them.
  static_peers_ = e.static_peers;
  dynamic_peers_ = e.dynamic_peers;
  publish_peers();
  if (hooks_.enrolled) hooks_.enrolled(e);
  heartbeat_.restart(e.dynamic_peers);
  if (lease_disabled_.empty()) lease_.start(e.tenant_id);
}

void ControlPlaneImpl::introspect(std::string token, std::function<void(Introspection)> done) {
  std::map<std::string, std::string> fields = {
      {"client_id", options_.transport.client_id},
      {"client_secret", options_.transport.client_secret},
      {"token", std::move(token)},
  };
  transport_->post_form(kIntrospectPath, std::move(fields),
                        [done = std::move(done)](CpReply reply) {
                          Introspection result = parse_introspection(reply.status, reply.body);
                          if (reply.status == 0) result.detail = reply.error;
                          done(std::move(result));
                        });
}

ControlPlaneStatus ControlPlaneImpl::status() const {
  ControlPlaneStatus s = board_.snapshot();
  if (s.enrollment_state == "renewal_failing" && s.certificate) {
    // Warn once a quarter of the lifetime (or a day) is left: the node keeps serving with the
    // old certificate until peers refuse it at expiry.
    int64_t left = s.certificate->not_after - unix_now();
    int64_t lifetime = s.certificate->not_after - s.certificate->not_before;
    if (left <= 0) {
      s.warnings.push_back(
          fmt::format("the certificate has expired and renewal fails ({})", s.enroll.last_result));
    } else if (left < lifetime / 4 || left < kDay) {
      s.warnings.push_back(fmt::format("the certificate expires in {} and renewal fails ({})",
                                       human_duration(left), s.enroll.last_result));
    }
  }
  return s;
}

}  // namespace

std::unique_ptr<ControlPlane> ControlPlane::start(ControlPlaneOptions options,
                                                  ControlPlaneHooks hooks) {
  return std::make_unique<ControlPlaneImpl>(std::move(options), std::move(hooks));
}

}  // namespace meshcache::agent::cp
