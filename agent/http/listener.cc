// listener.cc: SO_REUSEPORT listeners on libevent (bound at startup, accept on a loop thread).
#include "agent/http/listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <stdexcept>

namespace meshcache::http {
namespace {

constexpr int kBacklog = 1024;
constexpr timeval kAcceptPause = {0, 100 * 1000};

}  // namespace

ListenAddress ListenAddress::parse(const std::string& hostport) {
  std::string host;
  std::string port;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos || close + 1 >= hostport.size() || hostport[close + 1] != ':') {
      throw std::runtime_error("bad listen address '" + hostport + "': expected [v6]:port");
    }
    host = hostport.substr(1, close - 1);
    port = hostport.substr(close + 2);
  } else {
    size_t colon = hostport.rfind(':');
    if (colon == std::string::npos) {
      throw std::runtime_error("bad listen address '" + hostport + "': expected host:port");
    }
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    throw std::runtime_error("bad listen address '" + hostport + "': " + gai_strerror(rc));
  }
  ListenAddress a;
  std::memcpy(&a.storage, found->ai_addr, found->ai_addrlen);
  a.length = found->ai_addrlen;
  freeaddrinfo(found);
  return a;
}

uint16_t ListenAddress::port() const {
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

void ListenAddress::set_port(uint16_t port) {
  if (storage.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  }
}

std::string ListenAddress::to_string() const {
  char host[INET6_ADDRSTRLEN] = "";
  if (storage.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, host,
              sizeof(host));
    return fmt::format("[{}]:{}", host, port());
  }
  inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, host, sizeof(host));
  return fmt::format("{}:{}", host, port());
}

void ensure_port_free(const ListenAddress& address) {
  int fd = socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;  // the real bind will report the problem
  int one = 1;
  // SO_REUSEADDR so that our own connections in TIME_WAIT after a restart do not count.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc = bind(fd, address.get(), address.length);
  int err = errno;
  close(fd);
  if (rc != 0 && err == EADDRINUSE) {
    throw std::runtime_error(
        fmt::format("cannot listen on {}: the address is already in use", address.to_string()));
  }
}

Listener::Listener(IoLoop& loop, const ListenAddress& address, const TlsContextSource* tls)
    : loop_(loop), tls_(tls) {
  unsigned flags =
      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT;
  listener_.reset(evconnlistener_new_bind(loop.base(), on_accept, this, flags, kBacklog,
                                          address.get(), static_cast<int>(address.length)));
  if (!listener_) {
    throw std::runtime_error(
        fmt::format("cannot listen on {}: {}", address.to_string(), std::strerror(errno)));
  }
  evconnlistener_set_error_cb(listener_.get(), on_error);
  resume_.reset(evtimer_new(loop.base(), on_resume, this));
}

ListenAddress Listener::bound() const {
  ListenAddress a;
  a.length = sizeof(a.storage);
  getsockname(evconnlistener_get_fd(listener_.get()), reinterpret_cast<sockaddr*>(&a.storage),
              &a.length);
  return a;
}

void Listener::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int,
                         void* arg) noexcept {
  auto& self = *static_cast<Listener*>(arg);
  if (self.tls_ == nullptr) {
    self.loop_.accept(fd, addr, nullptr);
    return;
  }
  // The connection's SSL takes its own reference on the context: a later swap leaves it be.
  std::shared_ptr<SSL_CTX> ctx = (*self.tls_)();
  if (!ctx) {
    spdlog::debug("no TLS context for a new connection yet; closing it");
    evutil_closesocket(fd);
    return;
  }
  self.loop_.accept(fd, addr, ctx.get());
}

void Listener::on_error(evconnlistener* listener, void* arg) noexcept {
  auto& self = *static_cast<Listener*>(arg);
  // Out of descriptors keeps the socket readable: pause instead of spinning.
  spdlog::warn("accept failed: {}", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
  evconnlistener_disable(listener);
  evtimer_add(self.resume_.get(), &kAcceptPause);
}

void Listener::on_resume(evutil_socket_t, short, void* arg) noexcept {
  evconnlistener_enable(static_cast<Listener*>(arg)->listener_.get());
}

}  // namespace meshcache::http
