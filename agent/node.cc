// node.cc: start the parts in order, wait for a signal, drain, stop; main thread (sigwait).
#include "agent/node.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "agent/auth/authorizer.h"
#include "agent/cache/cache_router.h"
#include "agent/control_socket.h"
#include "agent/controlplane/control_plane.h"
#include "agent/http/server.h"
#include "agent/metrics.h"
#include "agent/node_status.h"
#include "agent/unique_fd.h"
#include "agent/usage/usage_reporter.h"
#include "replication/mesh.h"
#include "storage/store.h"
#include "tls/identity.h"
#include "tls/url_host.h"

namespace meshcache::agent {
namespace {

namespace fs = std::filesystem;

sigset_t lifecycle_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGUSR1, SIGHUP}) sigaddset(&set, sig);
  return set;
}

// systemd's Type=notify protocol: one datagram on $NOTIFY_SOCKET ('@' = abstract namespace).
void notify_systemd(std::string_view message) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || path[0] == '\0') return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) {
    spdlog::warn("NOTIFY_SOCKET is too long; not notifying systemd");
    return;
  }
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  if (!fd || ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL,
                      reinterpret_cast<const sockaddr*>(&addr), addr_len) < 0)
    spdlog::warn("cannot notify systemd ({}): {}", message, std::strerror(errno));
}

std::string listener_summary(const http::Server& server) {
  std::string out = fmt::format("http://{} (h1, h2c)", server.listen_address());
  if (auto tls = server.tls_address()) out += fmt::format(", https://{} (h2, http/1.1)", *tls);
  return out;
}

// The data dir will hold keys later: create it private.
bool make_data_dir(const std::string& dir) {
  std::error_code ec;
  if (fs::create_directories(dir, ec))
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) {
    spdlog::error("cannot create the data dir {}: {}", dir, ec.message());
    return false;
  }
  return true;
}

tls::IdentityPaths identity_paths(const Config& c) {
  if (c.internal_tls_ca_path)
    return {*c.internal_tls_ca_path, *c.internal_tls_cert_path, *c.internal_tls_key_path};
  return tls::default_identity_paths(c.data_dir);
}

// The node's stable name toward the control plane: its node URL's host, else the machine's.
std::string node_id(const Config& c) {
  if (c.node_url) {
    if (auto host = tls::url_host(*c.node_url); host.ok()) return host.value();
  }
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

// The peer plane's TLS material. Enrolling: the enrolled identity (contexts swapped at renewal).
// Otherwise the files when they are configured or present at the default paths, else none
// (plain HTTP): the operator's explicit choice of no TLS material. Throws on half a set.
struct MeshTls {
  std::optional<tls::IdentityPaths> identity;
  std::unique_ptr<tls::MeshContexts> files;  // loaded once when not enrolling
};

MeshTls mesh_tls(const Config& c) {
  MeshTls out;
  const tls::IdentityPaths paths = identity_paths(c);
  if (c.enroll_on_boot) {
    out.identity = paths;
    return out;
  }
  int present = 0;
  for (const std::string* p : {&paths.ca_path, &paths.cert_path, &paths.key_path})
    present += fs::exists(*p) ? 1 : 0;
  if (present == 0 && !c.internal_tls_ca_path) return out;
  if (present != 3)
    throw std::runtime_error(fmt::format(
        "the mesh TLS material is incomplete: {}, {} and {} must all exist (or none, for a plain "
        "internal plane)",
        paths.ca_path, paths.cert_path, paths.key_path));
  auto pem = tls::read_identity(paths);
  if (!pem.ok())
    throw std::runtime_error("cannot read the mesh TLS material: " + pem.status().message());
  out.files = std::make_unique<tls::MeshContexts>();
  Status s = out.files->replace(pem.value(), {"h2", "http/1.1"});
  if (!s.ok()) throw std::runtime_error("cannot use the mesh TLS material: " + s.message());
  out.identity = paths;
  return out;
}

cp::ControlPlaneOptions control_plane_options(const Config& c, std::string version) {
  cp::ControlPlaneOptions o;
  o.transport.base_url = *c.control_plane_url;
  o.transport.client_id = *c.control_plane_client_id;
  o.transport.client_secret = *c.control_plane_client_secret;
  o.transport.ca_path = c.control_plane_ca_path;
  o.enroll = c.enroll_on_boot;
  o.node_url = c.node_url.value_or("");
  o.advertised_url = c.advertised_url;
  o.tenant_id = c.tenant_id;
  o.region = c.region;
  o.version = std::move(version);
  o.identity_paths = identity_paths(c);
  o.registration_interval = c.registration_interval;
  return o;
}

}  // namespace

Node::Node(Config config, std::string version)
    : config_(std::move(config)), version_(std::move(version)) {}

int Node::run() {
  const auto started = std::chrono::steady_clock::now();
  const sigset_t signals = lifecycle_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A client that disconnects mid-write must cost an EPIPE, not the process.
  ::signal(SIGPIPE, SIG_IGN);

  if (!make_data_dir(config_.data_dir)) return 1;
  storage::StoreOptions store_options;
  store_options.path = (fs::path(config_.data_dir) / "store").string();
  store_options.capacity_bytes = config_.capacity_bytes;
  store_options.max_artifact_bytes = config_.max_artifact_bytes;
  store_options.fsync = config_.fsync;
  store_options.max_outbox_rows = config_.max_outbox_rows;
  auto opened = storage::Store::open(store_options);
  if (!opened.ok()) {
    spdlog::error("cannot open the store: {}", opened.status().message());
    return 1;
  }
  std::unique_ptr<storage::Store> store = std::move(opened).value();

  std::atomic<NodeState> state{config_.enroll_on_boot ? NodeState::enrolling : NodeState::starting};
  // The tenant is written once, by the enrollment hook, before `state` turns serving; the I/O
  // loops read it only after seeing serving. The status thread takes the lock.
  std::mutex tenant_mu;
  std::atomic<bool> fatal{false};
  const pthread_t main_thread = pthread_self();

  // The mesh exists on every node (with no peers it only runs the task thread); it joins once
  // the tenant is known, and /ready says serving once its warm-up has settled.
  MeshTls tls_material;
  try {
    tls_material = mesh_tls(config_);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  // Set once the control plane exists; the internal listener's loops read it on accept.
  std::atomic<cp::ControlPlane*> cp_for_tls{nullptr};
  std::unique_ptr<replication::Mesh> mesh;
  {
    replication::MeshOptions o;
    o.region = config_.region;
    o.node_url = config_.node_url.value_or("");
    o.gateway_url = config_.peer_gateway_url.value_or("");
    o.static_peers = config_.peers;
    o.internal_listen = config_.internal_listen;
    o.identity = tls_material.identity;
    if (tls_material.files) {
      o.server_context = [ctx = tls_material.files.get()] { return ctx->server(); };
    } else if (config_.enroll_on_boot) {
      o.server_context = [&cp_for_tls]() -> tls::SharedCtx {
        cp::ControlPlane* cp = cp_for_tls.load();
        return cp ? cp->contexts().server() : nullptr;
      };
    } else if (config_.internal_listen) {
      spdlog::warn(
          "the internal peer plane on {} is plain HTTP: no mesh TLS material is configured (see "
          "docs/topologies.md)",
          *config_.internal_listen);
    }
    // Peer traffic is a few connections per peer: two loops serve it without taking cores from
    // the public port.
    o.io_threads = std::min(config_.io_threads, 2);
    o.max_artifact_bytes = config_.max_artifact_bytes;
    o.capacity_bytes = config_.capacity_bytes;
    o.warmup_horizon = config_.warmup_horizon;
    o.absence = config_.warmup_absence;
    replication::MeshHooks hooks;
    hooks.tenant = [&] {
      std::lock_guard lock(tenant_mu);
      return config_.tenant_id;
    };
    hooks.warmed = [&state] {
      NodeState expected = NodeState::joining;
      if (state.compare_exchange_strong(expected, NodeState::serving))
        spdlog::info("mesh warm-up settled; serving");
    };
    try {
      mesh = replication::Mesh::start(std::move(o), *store, std::move(hooks));
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
  }
  std::unique_ptr<cp::ControlPlane> control_plane;
  if (config_.control_plane_url) {
    cp::ControlPlaneHooks hooks;
    hooks.enrolled = [&](const cp::Enrollment& e) {
      {
        std::lock_guard lock(tenant_mu);
        if (state.load() == NodeState::enrolling) {
          config_.tenant_id = e.tenant_id;
        } else if (e.tenant_id != config_.tenant_id) {
          spdlog::error(
              "re-enrollment returned tenant {} but this node serves tenant {}; restart the node "
              "to change tenants",
              e.tenant_id, config_.tenant_id);
        }
      }
      NodeState expected = NodeState::enrolling;
      if (state.compare_exchange_strong(expected, NodeState::joining)) {
        spdlog::info("enrolled as tenant {}; joining the mesh", e.tenant_id);
        mesh->join();
      }
    };
    hooks.peers_changed = [&](const std::vector<std::string>& peers) {
      spdlog::info("mesh peers now: {}", fmt::join(peers, ", "));
      mesh->set_control_plane_peers(peers);
    };
    hooks.ready = [&state] { return state.load() == NodeState::serving; };
    hooks.traffic_state = [&state] { return std::string(state_name(state.load())); };
    hooks.fatal = [&fatal, main_thread](std::string message) {
      spdlog::critical("{}", message);
      fatal = true;
      pthread_kill(main_thread, SIGTERM);
    };
    try {
      control_plane = cp::ControlPlane::start(control_plane_options(config_, version_), hooks);
      cp_for_tls = control_plane.get();
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 2;
    }
  }

  std::unique_ptr<Authorizer> auth;
  try {
    auth = Authorizer::make(config_, control_plane.get());
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  std::unique_ptr<usage::UsageReporter> usage;
  if (control_plane) {
    usage::UsageOptions usage_options;
    usage_options.node_id = node_id(config_);
    usage_options.region = config_.region;
    cp::ControlPlane* cp_ptr = control_plane.get();
    try {
      usage = usage::UsageReporter::make(
          *store, control_plane->transport(), usage_options,
          [cp_ptr](const cp::CallStatus& s) { cp_ptr->record_usage_result(s); });
    } catch (const std::exception& e) {
      spdlog::error("cannot read the usage outbox: {}", e.what());
      return 1;
    }
  }

  Metrics metrics;
  auto router = make_cache_router({&config_, store.get(), &metrics, auth.get(),
                                   [&state] { return state.load(); }, usage.get(), mesh.get()});

  http::ServerOptions server_options;
  server_options.listen = config_.listen;
  server_options.tls_listen = config_.tls_listen;
  if (config_.tls_listen)
    server_options.tls = http::TlsFiles{*config_.tls_cert_path, *config_.tls_key_path};
  server_options.io_threads = config_.io_threads;
  server_options.limits.max_body_bytes = config_.max_artifact_bytes;
  std::unique_ptr<http::Server> server;
  try {
    server = http::Server::start(server_options, router);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  metrics.set_server_counters(&server->counters());

  // Runs on the control socket's thread; everything it reads is atomic or thread-safe.
  auto answer = [&](std::string_view command) -> std::string {
    if (command != "status") return R"({"error":"unknown_command","message":"commands: status"})";
    NodeStatus s;
    s.state = state.load();
    s.version = version_;
    s.pid = ::getpid();
    s.uptime_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
            .count();
    s.http_listener = server->listen_address();
    s.tls_listener = server->tls_address();
    s.data_dir = config_.data_dir;
    {
      std::lock_guard lock(tenant_mu);
      s.tenant_id = config_.tenant_id;
    }
    s.region = config_.region;
    s.node_url = config_.node_url;
    s.advertised_url = config_.advertised_url;
    s.auth = std::string(auth->mode());
    s.auth_cached_decisions = auth->cached_decisions();
    if (control_plane) s.control_plane = control_plane->status();
    if (usage) s.usage_outbox_events = usage->outbox_events();
    s.mesh = mesh->status();
    s.store = store->stats();
    s.requests = metrics.requests();
    s.hits = metrics.hits();
    s.misses = metrics.misses();
    s.connections_open = server->counters().connections_open.load();
    return render_node_status(s);
  };
  // After the store opened: its lock proves no live node owns a socket left at this path.
  auto control = ControlSocket::open((fs::path(config_.data_dir) / "control.sock").string(),
                                     std::move(answer));
  if (!control.ok()) {
    spdlog::error("cannot open the control socket: {}", control.status().message());
    return 1;
  }

  if (usage) usage->start();
  NodeState starting = NodeState::starting;
  if (state.compare_exchange_strong(starting, NodeState::joining)) mesh->join();
  spdlog::info("meshcache {} {} on {}; data dir {}; auth {}; capacity {}; {} I/O threads", version_,
               state_name(state.load()), listener_summary(*server), config_.data_dir, auth->mode(),
               human_bytes(config_.capacity_bytes), config_.io_threads);
  notify_systemd("READY=1");

  int sig = 0;
  for (;;) {
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig != SIGHUP) break;
    spdlog::info("SIGHUP: nothing to reload in this version");
  }

  state = NodeState::draining;
  notify_systemd("STOPPING=1");
  spdlog::info("SIG{}: draining (up to {} ms)", sigabbrev_np(sig), config_.drain_timeout.count());
  server->drain(fatal ? std::chrono::milliseconds(0) : config_.drain_timeout);
  control.value().reset();
  // Before the loops go: mesh tasks post answers to them. Unsent rows stay for the next run.
  mesh->stop();
  server->stop();
  // After the loops stopped, nothing records usage any more: the open window goes to the
  // outbox for the next run. The control plane stops before the store it reports from closes.
  if (usage) usage->flush_open_window();
  if (control_plane) control_plane->stop();
  usage.reset();
  control_plane.reset();
  mesh.reset();
  metrics.set_server_counters(nullptr);
  server.reset();
  router.reset();
  store.reset();
  spdlog::info("meshcache stopped");
  return fatal ? 2 : 0;
}

}  // namespace meshcache::agent
