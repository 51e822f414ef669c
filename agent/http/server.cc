// server.cc: Server::start / drain / stop: builds the loops and their SO_REUSEPORT listeners
// and drives them from the main thread.
#include "agent/http/server.h"

#include <event2/thread.h>

#include <spdlog/spdlog.h>

#include <csignal>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "agent/http/io_loop.h"
#include "agent/http/listener.h"
#include "tls/server_context.h"

namespace meshcache::http {
namespace {

// How long a forced close may take once the drain deadline has passed.
constexpr std::chrono::seconds kForceCloseWait{5};

class ServerImpl final : public Server {
 public:
  ServerImpl(const ServerOptions& options, std::shared_ptr<Router> router) {
    if (!router) throw std::runtime_error("the HTTP server needs a router");
    shared_.limits = options.limits;
    shared_.router = std::move(router);
    if (options.listen.empty() && !options.tls_listen) {
      throw std::runtime_error("the HTTP server needs a listen address");
    }
    if (options.tls_listen) tls_ = tls_source(options);
    int threads = options.io_threads > 0
                      ? options.io_threads
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 0; i < threads; ++i) loops_.push_back(std::make_unique<IoLoop>(shared_));
    if (!options.listen.empty()) {
      listen_address_ = bind_all(ListenAddress::parse(options.listen), nullptr);
    }
    if (options.tls_listen) {
      tls_address_ = bind_all(ListenAddress::parse(*options.tls_listen), &tls_);
    }
    for (auto& loop : loops_) loop->start();
    spdlog::info("HTTP server on {}{}, {} I/O threads",
                 listen_address_.empty() ? "no cleartext port" : listen_address_,
                 tls_address_ ? " and TLS on " + *tls_address_ : std::string(), threads);
  }

  ~ServerImpl() override { stop(); }

  std::string listen_address() const override { return listen_address_; }
  std::optional<std::string> tls_address() const override { return tls_address_; }
  bool draining() const override { return shared_.draining.load(); }
  const ServerCounters& counters() const override { return shared_.counters; }

  void drain(std::chrono::milliseconds deadline) override {
    shared_.draining.store(true);
    for (auto& loop : loops_) {
      IoLoop* l = loop.get();
      l->post([l] { l->begin_drain(); });
    }
    auto all_closed = [this] { return shared_.counters.connections_open.load() == 0; };
    std::unique_lock lock(shared_.mu);
    if (shared_.cv.wait_for(lock, deadline, all_closed)) return;
    spdlog::warn("drain deadline passed with {} connections open; closing them",
                 shared_.counters.connections_open.load());
    lock.unlock();
    for (auto& loop : loops_) {
      IoLoop* l = loop.get();
      l->post([l] { l->close_all(); });
    }
    lock.lock();
    shared_.cv.wait_for(lock, kForceCloseWait, all_closed);
  }

  void stop() override {
    std::lock_guard lock(stop_mu_);
    for (auto& loop : loops_) loop->stop();
    loops_.clear();
  }

 private:
  // A TLS port's contexts: the caller's source, or one context loaded from files at start.
  static TlsContextSource tls_source(const ServerOptions& options) {
    if (options.tls_context) return options.tls_context;
    if (!options.tls) throw std::runtime_error("a TLS listener needs a certificate and a key");
    std::shared_ptr<SSL_CTX> ctx =
        tls::make_server_context(options.tls->cert_path, options.tls->key_path, {"h2", "http/1.1"});
    return [ctx] { return ctx; };
  }

  // One listener per loop on the same address; with port 0 the first bind picks the port.
  std::string bind_all(ListenAddress address, const TlsContextSource* tls) {
    if (address.port() != 0) ensure_port_free(address);
    std::string bound;
    for (auto& loop : loops_) {
      auto listener = std::make_unique<Listener>(*loop, address, tls);
      if (bound.empty()) {
        ListenAddress actual = listener->bound();
        address.set_port(actual.port());
        bound = actual.to_string();
      }
      loop->add_listener(std::move(listener));
    }
    return bound;
  }

  ServerShared shared_;
  TlsContextSource tls_;  // listeners point here; they go with the loops, before it
  std::vector<std::unique_ptr<IoLoop>> loops_;
  std::string listen_address_;
  std::optional<std::string> tls_address_;
  std::mutex stop_mu_;
};

}  // namespace

std::unique_ptr<Server> Server::start(const ServerOptions& options,
                                      std::shared_ptr<Router> router) {
  static std::once_flag once;
  std::call_once(once, [] {
    // Loops post to each other's bases from other threads.
    if (evthread_use_pthreads() != 0) throw std::runtime_error("libevent has no pthreads support");
    // A peer closing mid-write must be an error on that socket, not the end of the process.
    std::signal(SIGPIPE, SIG_IGN);
  });
  return std::make_unique<ServerImpl>(options, std::move(router));
}

}  // namespace meshcache::http
