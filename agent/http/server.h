// server.h: the HTTP server (HTTP/1.1, h2c, h2 over TLS) on libevent I/O loops.
// The narrow header of meshcache_http. start()/drain()/stop() are called from the main thread;
// everything else runs on the I/O loop threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <openssl/types.h>

#include "agent/http/exchange.h"

namespace meshcache::http {

struct Limits {
  size_t max_header_bytes = 16 * 1024;    // request line + headers (h1) / header block (h2) → 431
  size_t max_headers = 100;               // → 431
  size_t max_url_bytes = 8 * 1024;        // → 414
  uint64_t max_body_bytes = 2ull << 30;   // → 413 (before the body when declared)
  size_t max_pipelined = 16;              // h1 requests parsed ahead of responses
  uint32_t max_concurrent_streams = 128;  // h2
  std::chrono::milliseconds idle_timeout{60000};  // no request on a keep-alive connection → close
  std::chrono::milliseconds header_timeout{
      10000};  // request head (or h2 SETTINGS) not done → 408/close
  std::chrono::milliseconds body_timeout{60000};  // no body progress → 408/close
  size_t output_high_water = 64 * 1024;           // stop pulling bodies above this
};

struct TlsFiles {
  std::string cert_path;  // PEM chain
  std::string key_path;   // PEM key
};

// The TLS context for the next connection. Called on every TLS accept, from any I/O loop (so
// it must be thread-safe, and must not throw), letting contexts be swapped at certificate
// renewal: a connection keeps the context it started with. A null result refuses (closes) that
// connection.
using TlsContextSource = std::function<std::shared_ptr<SSL_CTX>()>;

struct ServerOptions {
  // host:port for h1 + h2c; port 0 = pick a free one; "" = no cleartext listener (a TLS-only
  // port such as the mTLS internal one).
  std::string listen;
  std::optional<std::string> tls_listen;  // host:port for h2/http1.1 over TLS (ALPN)
  std::optional<TlsFiles> tls;            // loaded once at start
  TlsContextSource tls_context;           // when set, used instead of `tls`
  int io_threads = 0;                     // 0 = one per core
  Limits limits;
};

// Counters the server keeps itself (readable from any thread).
struct ServerCounters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> protocol_errors{0};
};

class Server {
 public:
  // Binds the listeners (SO_REUSEPORT, one per loop) and starts the loop threads.
  // Throws std::runtime_error with a clear message when a port cannot be bound or TLS files
  // cannot be loaded (startup only).
  static std::unique_ptr<Server> start(const ServerOptions& options,
                                       std::shared_ptr<Router> router);
  virtual ~Server() = default;

  virtual std::string listen_address() const = 0;  // actual host:port (after port 0); "" if none
  virtual std::optional<std::string> tls_address() const = 0;
  // Begin draining: new requests on open connections get `Connection: close` (h1) / GOAWAY (h2);
  // listeners close. Returns when every connection has finished or the deadline passes, after
  // which the remaining ones are closed.
  virtual void drain(std::chrono::milliseconds deadline) = 0;
  virtual void stop() = 0;  // stop the loops and join the threads
  virtual bool draining() const = 0;
  virtual const ServerCounters& counters() const = 0;
};

}  // namespace meshcache::http
