// listener.h: a listening socket (SO_REUSEPORT, one per loop on the same port) that hands
// accepted sockets to its loop. Bound on the main thread at startup; accepts on the loop thread.
#pragma once

#include <event2/listener.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "agent/http/io_loop.h"
#include "agent/http/server.h"

namespace meshcache::http {

// A resolved listen address.
struct ListenAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  // Parses "host:port" or "[v6]:port" (host names resolved once). Throws std::runtime_error.
  static ListenAddress parse(const std::string& hostport);
  uint16_t port() const;
  void set_port(uint16_t port);
  std::string to_string() const;  // "ip:port"
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Every listener uses SO_REUSEPORT (one per loop), which would also let a second process of the
// same user bind the port and silently share its traffic. A bind without SO_REUSEPORT fails on
// a port that anyone is listening on, so it tells "in use" before we share. Throws when taken.
void ensure_port_free(const ListenAddress& address);

class Listener {
 public:
  // Binds and listens on `address` for `loop`; `tls` (may be null; outlives the listener)
  // marks a TLS port and gives each accepted connection its context.
  // Throws std::runtime_error naming the address when it cannot be bound.
  Listener(IoLoop& loop, const ListenAddress& address, const TlsContextSource* tls);
  // The address actually bound (the port is known even when 0 was asked for).
  ListenAddress bound() const;

 private:
  struct Free {
    void operator()(evconnlistener* l) const { evconnlistener_free(l); }
  };
  static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                        void* arg) noexcept;
  static void on_error(evconnlistener*, void* arg) noexcept;
  static void on_resume(evutil_socket_t, short, void* arg) noexcept;

  IoLoop& loop_;
  const TlsContextSource* tls_;
  std::unique_ptr<evconnlistener, Free> listener_;
  EventPtr resume_;  // re-enables accepting after a transient error (EMFILE)
};

}  // namespace meshcache::http
