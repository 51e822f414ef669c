// session.h: the protocol-agnostic face of an HTTP session (sans-I/O: bytes in, bytes out),
// shared by the HTTP/1.1 and HTTP/2 sessions; runs on the I/O loop thread owning the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "agent/http/exchange.h"
#include "agent/http/server.h"

struct evbuffer;

namespace meshcache::http {

using Clock = std::chrono::steady_clock;

struct EvbufferFree {
  void operator()(evbuffer* b) const;
};
using EvbufferPtr = std::unique_ptr<evbuffer, EvbufferFree>;

// Request ids: a random prefix per loop and a counter, so ids are unique across loops and
// restarts without any shared state on the hot path.
class RequestIds {
 public:
  RequestIds();
  std::string next();

 private:
  char prefix_[9];
  uint64_t counter_ = 0;
};

// What every session of a loop shares; outlives the sessions.
struct SessionEnv {
  Router& router;
  const Limits& limits;
  ServerCounters& counters;
  RequestIds& ids;
  LoopExecutor& executor;
};

// The connection side of a session. A session calls wake() when something changed outside
// one of its own entry points (an exchange answered later); the host then calls resume()
// from the loop, outside any handler code.
class SessionHost {
 public:
  virtual void wake() = 0;

 protected:
  ~SessionHost() = default;
};

// One connection's protocol state. The connection feeds input, calls resume() when its output
// drained below the low watermark (or after wake()), and closes once want_close() is true and
// the output is flushed. Destroying a session aborts the exchanges still in flight.
class Session {
 public:
  Session(const SessionEnv& env, SessionHost& host, evbuffer* output, std::string peer)
      : env_(env), host_(host), out_(output), peer_(std::move(peer)) {}
  virtual ~Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Consumes what it can from `in`; bytes left there wait until want_read() is true again.
  virtual void on_input(evbuffer* in) = 0;
  // Produces more output (response bodies) up to the high watermark.
  virtual void resume() = 0;
  // The peer will send nothing more (EOF).
  virtual void on_input_closed() = 0;
  // The deadline() may have passed.
  virtual void on_timer(Clock::time_point now) = 0;
  // The server drains: finish what is in flight, accept no new requests, then close.
  virtual void drain() = 0;

  bool want_read() const { return want_read_; }
  bool want_close() const { return want_close_; }
  // Whether the peer may still be sending when the session closes, so the connection should
  // close gracefully (half-close, discard input for a moment) rather than at once.
  bool want_linger() const { return linger_; }
  // When on_timer() must run next; Clock::time_point::max() when no timer is needed.
  Clock::time_point deadline() const { return deadline_; }
  evbuffer* output() const { return out_; }
  // The connection's verified client identity (Request::tls_peer_id), set before any input.
  void set_tls_peer_id(std::string id) { tls_peer_id_ = std::move(id); }

 protected:
  // Entry points mark themselves busy so answers given meanwhile need no wake().
  struct Busy {
    explicit Busy(Session& s) : s_(s) { ++s_.busy_; }
    ~Busy() { --s_.busy_; }
    Session& s_;
  };
  void request_resume() {
    if (busy_ == 0) host_.wake();
  }

  const SessionEnv& env_;
  SessionHost& host_;
  evbuffer* out_;
  std::string peer_;
  std::string tls_peer_id_;
  bool want_read_ = true;
  bool want_close_ = false;
  bool linger_ = false;
  Clock::time_point deadline_ = Clock::time_point::max();

 private:
  int busy_ = 0;
};

// What the first bytes on a cleartext port say: the HTTP/2 client preface means h2c with
// prior knowledge; any mismatching byte means HTTP/1.1.
enum class Sniffed { need_more, http1, h2 };
Sniffed sniff_protocol(evbuffer* in);

// Date header value for now, cached per thread (formatted once a second).
std::string_view http_date();
// Standard reason phrase for a status ("Unknown" when none).
std::string_view reason_phrase(int status);
// Headers the server writes itself, or that a protocol forbids from a handler.
bool reserved_response_header(std::string_view name);
// Statuses that never carry a body nor Content-Length (1xx, 204, 304).
inline bool status_without_body(int status) {
  return status < 200 || status == 204 || status == 304;
}

}  // namespace meshcache::http
