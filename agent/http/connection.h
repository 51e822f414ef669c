// connection.h: one client connection: a bufferevent (socket, or OpenSSL for TLS) moving bytes
// between the socket and a protocol-agnostic Session, with its timers and a graceful close.
// Lives on, and is only touched by, the I/O loop thread that accepted it.
#pragma once

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "agent/http/io_loop.h"
#include "agent/http/session.h"

namespace meshcache::http {

class Connection final : private SessionHost {
 public:
  // Takes ownership of `fd`. `tls` (may be null) makes this a TLS connection.
  Connection(IoLoop& loop, evutil_socket_t fd, std::string peer, SSL_CTX* tls);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();  // once owned by the loop
  void drain();

 private:
  // starting: TLS handshake / protocol sniffing; open: a session runs; flushing: the session
  // is done, the output drains; lingering: our side is shut, unread input is discarded for a
  // moment so the peer reads our last response instead of a reset; closed: waiting to be freed.
  enum class State { starting, open, flushing, lingering, closed };
  struct BuffereventFree {
    void operator()(bufferevent* b) const { bufferevent_free(b); }
  };

  static void on_read(bufferevent*, void* arg) noexcept;
  static void on_write(bufferevent*, void* arg) noexcept;
  static void on_event(bufferevent*, short events, void* arg) noexcept;
  static void on_timer(evutil_socket_t, short, void* arg) noexcept;
  static void on_wake(evutil_socket_t, short, void* arg) noexcept;

  void wake() override;
  void start_session(Protocol protocol, std::string tls_peer_id = {});
  void feed();
  void sync();
  bool write_now();
  void begin_close();
  void finish_flush();
  void retire();
  void arm(Clock::time_point deadline);

  IoLoop& loop_;
  std::string peer_;
  const bool tls_;
  std::unique_ptr<bufferevent, BuffereventFree> bev_;
  EventPtr timer_;
  EventPtr wake_event_;  // created on first use: only answers given later need it
  std::unique_ptr<Session> session_;
  State state_ = State::starting;
  bool reading_ = true;
  bool peer_closed_ = false;
  Clock::time_point armed_ = Clock::time_point::max();
};

}  // namespace meshcache::http
