// exchange.h: the request/response types between the HTTP server and what plugs into it.
// Everything here runs on the I/O loop thread that owns the connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

struct evbuffer;

namespace meshcache::http {

using meshcache::Result;
using meshcache::Status;

enum class Protocol : uint8_t { http1, h2c, h2 };

struct Header {
  std::string name;  // lowercase
  std::string value;
};

struct Request {
  std::string method;    // as sent, e.g. "GET"
  std::string path;      // percent-decoded path, no query; starts with '/'
  std::string raw_path;  // the path as sent (still percent-encoded)
  std::string query;     // raw query string without '?', "" if none
  std::vector<Header> headers;
  std::string authority;                   // h2 :authority, else Host
  std::optional<uint64_t> content_length;  // declared; nullopt when chunked or absent
  bool has_body = false;                   // a body follows (CL > 0, chunked, or h2 DATA)
  bool expect_continue = false;
  Protocol protocol = Protocol::http1;
  std::string request_id;  // generated per request; every response carries x-request-id
  std::string peer;        // remote address "ip:port"
  // TLS with a verified client certificate: lowercase hex of the first 8 bytes of SHA-256 of
  // the leaf's DER (Kura's mTLS identity); "" otherwise. Computed once per connection.
  std::string tls_peer_id;

  // First header with this (lowercase) name, or nullptr.
  const std::string* header(std::string_view name) const;
  // Value of a query parameter (percent-decoded), or nullopt.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::vector<Header>
      headers;  // lowercase names; the server adds content-length, date, x-request-id
  // Body length when there is a body source; the server sends it as Content-Length (h1) /
  // content-length (h2). Bodies without a known length are not allowed (Bazel needs it).
  uint64_t content_length = 0;
};

// Produces a response body on demand, so a slow reader never makes the node buffer a whole
// artifact: the server pulls only when its output buffer has drained below its watermark.
class BodySource {
 public:
  virtual ~BodySource() = default;
  // Append up to about `max_bytes` to `out` (zero-copy via evbuffer_add_reference is welcome).
  // Returns the bytes appended; 0 means the body is complete. An error aborts the response
  // (h1: close the connection; h2: RST_STREAM).
  virtual Result<size_t> pull(evbuffer* out, size_t max_bytes) = 0;
};

// Runs code on the I/O loop that owns an exchange. Handlers use it to answer later: work done
// on another thread (a control-plane call) posts its result back here. A posted task runs on
// the loop thread even if the exchange has gone meanwhile, so it must check its own liveness
// (a weak_ptr the handler owns); tasks still queued when the server stops are dropped.
class LoopExecutor {
 public:
  virtual void post(std::function<void()> task) = 0;  // any thread
  // Loop thread only: runs `task` on this loop after `delay`.
  virtual void post_after(std::chrono::milliseconds delay, std::function<void()> task) = 0;

 protected:
  ~LoopExecutor() = default;
};

class Exchange;

// What a router returns for one request. The session calls, in order:
//   on_request (headers complete) → on_body* (request body pieces) → on_complete,
// or on_abort if the peer goes away or resets the stream. A handler may respond at any point
// from on_request on, and hears no more on_body/on_complete after it has; if it responds before
// the body has arrived, the server discards the rest of the body (h1, and h2 for a 2xx, which
// goes out once the body has ended) or refuses it (h2 otherwise), and for
// `Expect: 100-continue` never sends 100.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual void on_request(Exchange& ex) = 0;
  virtual void on_body(Exchange& ex, std::span<const uint8_t> bytes) = 0;
  virtual void on_complete(Exchange& ex) = 0;
  virtual void on_abort() {}
};

// One request in flight. Owned by its session; valid until the response has been sent or
// on_abort has been called.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;
  // Send the response. `body` may be null (no body, content_length ignored unless HEAD).
  // For HEAD, pass the real content_length and a null body.
  virtual void respond(Response response, std::unique_ptr<BodySource> body = nullptr) = 0;
  virtual bool responded() const = 0;
  // Hold back (true) or release (false) the request body: the peer is stopped by flow control
  // (h2: the window is not reopened) or by not reading (h1), and no `100 Continue` is sent.
  // on_body may still deliver what was already in flight (at most the stream window or one
  // read), so a handler that pauses buffers that much. Responding releases the pause.
  virtual void pause_body(bool paused) = 0;
  virtual LoopExecutor& executor() = 0;
};

class Router {
 public:
  virtual ~Router() = default;
  // Never returns null: unknown routes get a handler that answers 404.
  virtual std::unique_ptr<Handler> route(const Request& request) = 0;
};

}  // namespace meshcache::http
