// connection.cc: a client connection on its I/O loop thread: bufferevent callbacks, protocol
// choice (sniffing or ALPN), read backpressure, timers, flush and lingering close.
#include "agent/http/connection.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include "agent/http/http1_session.h"
#include "agent/http/http2_session.h"
#include "tls/server_context.h"

namespace meshcache::http {
namespace {

constexpr size_t kMaxSingleRead = 64 * 1024;
constexpr size_t kMaxSingleWrite = 256 * 1024;
constexpr std::chrono::seconds kLinger{2};

// Kura's mTLS identity of a verified client: hex of the first 8 bytes of SHA-256 of the leaf's
// DER. "" without a verified client certificate (the public port asks for none), so only
// handshakes that presented one pay for the digest.
std::string tls_peer_id(const SSL* ssl) {
  X509* leaf = SSL_get0_peer_certificate(ssl);
  if (leaf == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(leaf, EVP_sha256(), md, &len) != 1 || len < 8) return {};
  constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 8; ++i) {
    id.push_back(kHex[md[i] >> 4]);
    id.push_back(kHex[md[i] & 15]);
  }
  return id;
}

timeval to_timeval(Clock::duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  if (us < 0) us = 0;
  return {static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

}  // namespace

Connection::Connection(IoLoop& loop, evutil_socket_t fd, std::string peer, SSL_CTX* tls)
    : loop_(loop), peer_(std::move(peer)), tls_(tls != nullptr) {
  loop_.shared().connection_opened();
  event_base* base = loop.base();
  bufferevent* bev = nullptr;
  if (tls) {
    if (SSL* ssl = SSL_new(tls)) {
      bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                           BEV_OPT_CLOSE_ON_FREE);
      if (!bev) SSL_free(ssl);
    }
  } else {
    bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
  }
  if (!bev) evutil_closesocket(fd);
  bev_.reset(bev);
  timer_.reset(evtimer_new(base, on_timer, this));
}

Connection::~Connection() {
  session_.reset();  // aborts what is in flight while the transport still exists
  wake_event_.reset();
  timer_.reset();
  bev_.reset();
  loop_.shared().connection_closed();
}

void Connection::start() {
  if (!bev_ || !timer_) {
    spdlog::warn("cannot set up a connection from {}", peer_);
    retire();
    return;
  }
  bufferevent* bev = bev_.get();
  const Limits& limits = loop_.limits();
  bufferevent_setcb(bev, on_read, on_write, on_event, this);
  // A peer that stops reading our output is dropped after the idle timeout.
  timeval write_timeout = to_timeval(limits.idle_timeout);
  bufferevent_set_timeouts(bev, nullptr, &write_timeout);
  bufferevent_setwatermark(bev, EV_WRITE, limits.output_high_water / 2, 0);
  bufferevent_set_max_single_read(bev, kMaxSingleRead);
  bufferevent_set_max_single_write(bev, kMaxSingleWrite);
  if (tls_) bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  // Plain sockets arm EV_WRITE only while the kernel's buffer is full (see write_now).
  bufferevent_enable(bev, tls_ ? EV_READ | EV_WRITE : EV_READ);
  // The TLS handshake and the first bytes must arrive within the header timeout.
  arm(Clock::now() + limits.header_timeout);
}

void Connection::drain() {
  if (state_ == State::starting) {
    retire();
  } else if (state_ == State::open) {
    session_->drain();
    sync();
  }
}

void Connection::on_read(bufferevent* bev, void* arg) noexcept {
  auto& c = *static_cast<Connection*>(arg);
  evbuffer* in = bufferevent_get_input(bev);
  switch (c.state_) {
    case State::starting:
      if (c.tls_) return;
      switch (sniff_protocol(in)) {
        case Sniffed::need_more:
          return;
        case Sniffed::http1:
          c.start_session(Protocol::http1);
          break;
        case Sniffed::h2:
          c.start_session(Protocol::h2c);
          break;
      }
      c.feed();
      return;
    case State::open:
      c.feed();
      return;
    case State::lingering:
      evbuffer_drain(in, evbuffer_get_length(in));
      return;
    case State::flushing:
    case State::closed:
      return;
  }
}

void Connection::on_write(bufferevent* bev, void* arg) noexcept {
  auto& c = *static_cast<Connection*>(arg);
  if (c.state_ == State::flushing) {
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) c.finish_flush();
  } else if (c.state_ == State::open) {
    c.session_->resume();
    c.sync();
  }
}

void Connection::on_event(bufferevent* bev, short events, void* arg) noexcept {
  auto& c = *static_cast<Connection*>(arg);
  if (events & BEV_EVENT_CONNECTED) {
    // TLS handshake done: ALPN picks the protocol.
    SSL* ssl = bufferevent_openssl_get_ssl(bev);
    bool h2 = tls::negotiated_alpn(ssl) == "h2";
    c.start_session(h2 ? Protocol::h2 : Protocol::http1, tls_peer_id(ssl));
    c.feed();
    return;
  }
  if ((events & BEV_EVENT_EOF) && c.state_ == State::open) {
    c.peer_closed_ = true;
    c.session_->on_input_closed();
    c.sync();
    return;
  }
  if ((events & BEV_EVENT_ERROR) && c.tls_) {
    while (unsigned long e = bufferevent_get_openssl_error(bev)) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof(buf));
      spdlog::debug("tls {}: {}", c.peer_, buf);
    }
  }
  c.retire();
}

void Connection::on_timer(evutil_socket_t, short, void* arg) noexcept {
  auto& c = *static_cast<Connection*>(arg);
  c.armed_ = Clock::time_point::max();
  switch (c.state_) {
    case State::starting:
      spdlog::debug("{}: no request within the header timeout", c.peer_);
      c.retire();
      return;
    case State::lingering:
      c.retire();
      return;
    case State::open:
      c.session_->on_timer(Clock::now());
      c.sync();
      return;
    case State::flushing:
    case State::closed:
      return;
  }
}

void Connection::on_wake(evutil_socket_t, short, void* arg) noexcept {
  auto& c = *static_cast<Connection*>(arg);
  if (c.state_ != State::open) return;
  c.session_->resume();
  c.sync();
}

void Connection::wake() {
  if (state_ != State::open) return;
  if (!wake_event_) wake_event_.reset(event_new(loop_.base(), -1, 0, on_wake, this));
  if (wake_event_) event_active(wake_event_.get(), 0, 0);
}

void Connection::start_session(Protocol protocol, std::string tls_peer_id) {
  evbuffer* out = bufferevent_get_output(bev_.get());
  SessionHost& host = *this;
  if (protocol == Protocol::http1) {
    session_ = std::make_unique<Http1Session>(loop_.env(), host, out, peer_);
  } else {
    session_ = std::make_unique<Http2Session>(loop_.env(), host, out, peer_, protocol);
  }
  session_->set_tls_peer_id(std::move(tls_peer_id));
  state_ = State::open;
  if (loop_.draining()) session_->drain();
}

void Connection::feed() {
  evbuffer* in = bufferevent_get_input(bev_.get());
  if (evbuffer_get_length(in) > 0) session_->on_input(in);
  sync();
}

// Applies what the session wants after each call into it: reading on/off (feeding input
// that waited meanwhile), closing, and the timer.
void Connection::sync() {
  // Direct writes may let a fast reader take a large body in one go; after a few rounds the
  // rest waits for a later loop turn, so other connections on this loop get theirs.
  int rounds = 0;
  while (state_ == State::open) {
    if (session_->want_close()) {
      begin_close();
      return;
    }
    bool want = session_->want_read() && !peer_closed_;
    if (want != reading_) {
      reading_ = want;
      if (!want) {
        bufferevent_disable(bev_.get(), EV_READ);
      } else {
        bufferevent_enable(bev_.get(), EV_READ);
        evbuffer* in = bufferevent_get_input(bev_.get());
        if (evbuffer_get_length(in) > 0) {
          session_->on_input(in);
          continue;
        }
      }
    }
    if (write_now()) {
      if (++rounds < 8) {
        session_->resume();
        continue;
      }
      wake();
    }
    arm(session_->deadline());
    return;
  }
}

// On a plain socket, writes what the session produced at once, as nginx does, rather than
// arming EV_WRITE and waiting a loop turn: a keep-alive hit then costs one write and no
// epoll_ctl. EV_WRITE (and with it the bufferevent's write timeout) is armed only while
// bytes are left. Returns true when the output fell below the low watermark, so the session
// may pull more of a body.
bool Connection::write_now() {
  if (tls_) return false;
  bufferevent* bev = bev_.get();
  evbuffer* out = bufferevent_get_output(bev);
  const size_t before = evbuffer_get_length(out);
  const size_t low = loop_.limits().output_high_water / 2;
  if (before > 0) {
    // EAGAIN, or an error that the write event will then report through on_event.
    (void)evbuffer_write_atmost(out, bufferevent_getfd(bev), kMaxSingleWrite);
  }
  const size_t after = evbuffer_get_length(out);
  const bool armed = (bufferevent_get_enabled(bev) & EV_WRITE) != 0;
  if (after > 0 && !armed) bufferevent_enable(bev, EV_WRITE);
  if (after == 0 && armed) bufferevent_disable(bev, EV_WRITE);
  return before >= low && after < low && state_ == State::open;
}

void Connection::begin_close() {
  state_ = State::flushing;
  reading_ = false;
  bufferevent_disable(bev_.get(), EV_READ);
  bufferevent_setwatermark(bev_.get(), EV_WRITE, 0, 0);
  write_now();
  if (evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0) finish_flush();
}

void Connection::finish_flush() {
  if (tls_ || peer_closed_ || !session_->want_linger()) {
    retire();
    return;
  }
  // Half-close and discard what the peer still sends, so an unread request body does not
  // make the kernel answer with a reset that destroys our last response in flight.
  state_ = State::lingering;
  shutdown(bufferevent_getfd(bev_.get()), SHUT_WR);
  evbuffer* in = bufferevent_get_input(bev_.get());
  evbuffer_drain(in, evbuffer_get_length(in));
  bufferevent_enable(bev_.get(), EV_READ);
  timeval linger = to_timeval(kLinger);
  evtimer_add(timer_.get(), &linger);
  armed_ = Clock::now() + kLinger;
}

void Connection::retire() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  if (bev_) {
    bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    bufferevent_setcb(bev_.get(), nullptr, nullptr, nullptr, nullptr);
  }
  if (timer_) evtimer_del(timer_.get());
  if (wake_event_) event_del(wake_event_.get());
  loop_.retire(this);
}

// Lazy timer: an armed timer that fires before the session's current deadline just re-arms.
void Connection::arm(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max() || armed_ <= deadline) return;
  timeval tv = to_timeval(deadline - Clock::now());
  evtimer_add(timer_.get(), &tv);
  armed_ = deadline;
}

}  // namespace meshcache::http
