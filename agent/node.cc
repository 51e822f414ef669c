// node.cc: start the parts in order, wait for a signal, drain, stop; main thread (sigwait).
#include "agent/node.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>

#include "agent/auth/authorizer.h"
#include "agent/cache/cache_router.h"
#include "agent/control_socket.h"
#include "agent/http/server.h"
#include "agent/metrics.h"
#include "agent/node_status.h"
#include "agent/unique_fd.h"
#include "storage/store.h"

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
  auto opened = storage::Store::open(store_options);
  if (!opened.ok()) {
    spdlog::error("cannot open the store: {}", opened.status().message());
    return 1;
  }
  std::unique_ptr<storage::Store> store = std::move(opened).value();

  std::unique_ptr<Authorizer> auth;
  try {
    auth = Authorizer::make(config_);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }

  Metrics metrics;
  std::atomic<NodeState> state{NodeState::starting};
  auto router = make_cache_router(
      {&config_, store.get(), &metrics, auth.get(), [&state] { return state.load(); }});

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
    s.tenant_id = config_.tenant_id;
    s.region = config_.region;
    s.node_url = config_.node_url;
    s.auth = std::string(auth->mode());
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

  state = NodeState::serving;
  spdlog::info("meshcache {} serving on {}; data dir {}; auth {}; capacity {}; {} I/O threads",
               version_, listener_summary(*server), config_.data_dir, auth->mode(),
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
  server->drain(config_.drain_timeout);
  control.value().reset();
  server->stop();
  metrics.set_server_counters(nullptr);
  server.reset();
  router.reset();
  store.reset();
  spdlog::info("meshcache stopped");
  return 0;
}

}  // namespace meshcache::agent
