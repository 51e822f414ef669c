// control_socket.cc: the unix control socket; serves on its own thread, client on the caller's.
#include "agent/control_socket.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstring>

namespace meshcache::agent {
namespace {

constexpr size_t kMaxCommandBytes = 256;
constexpr size_t kMaxReplyBytes = 1 << 20;
// A client that stalls mid-request must not hold the only serving thread for long.
constexpr std::chrono::milliseconds kClientTimeout{2000};

std::string errno_text() { return std::strerror(errno); }

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Status(Code::invalid_argument,
                  fmt::format("the control socket path {} is longer than {} bytes; use a shorter "
                              "MESHCACHE_DATA_DIR",
                              path, sizeof addr.sun_path - 1));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

void set_timeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<ControlSocket>> ControlSocket::open(const std::string& path,
                                                           Handler handler) {
  auto addr = unix_address(path);
  if (!addr.ok()) return addr.status();

  // Only a socket is ever replaced: a regular file there is someone else's.
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return Status(Code::conflict, fmt::format("{} exists and is not a socket", path));
    if (::unlink(path.c_str()) != 0)
      return Status(Code::io_error,
                    fmt::format("cannot remove the stale socket {}: {}", path, errno_text()));
  }

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Status(Code::io_error, fmt::format("socket(AF_UNIX): {}", errno_text()));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr.value()), sizeof(sockaddr_un)) != 0)
    return Status(Code::io_error, fmt::format("cannot bind {}: {}", path, errno_text()));
  // Connections are refused until listen(), so tightening the mode in between leaves no window
  // in which another user could connect.
  if (::chmod(path.c_str(), 0600) != 0 || ::listen(fd.get(), 16) != 0) {
    auto status =
        Status(Code::io_error, fmt::format("cannot listen on {}: {}", path, errno_text()));
    ::unlink(path.c_str());
    return status;
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC));
  if (!wake) {
    ::unlink(path.c_str());
    return Status(Code::io_error, fmt::format("eventfd: {}", errno_text()));
  }
  return std::unique_ptr<ControlSocket>(
      new ControlSocket(path, std::move(fd), std::move(wake), std::move(handler)));
}

ControlSocket::ControlSocket(std::string path, UniqueFd listen_fd, UniqueFd wake_fd,
                             Handler handler)
    : path_(std::move(path)),
      listen_fd_(std::move(listen_fd)),
      wake_fd_(std::move(wake_fd)),
      handler_(std::move(handler)),
      thread_([this] { serve(); }) {}

ControlSocket::~ControlSocket() {
  uint64_t one = 1;
  if (::write(wake_fd_.get(), &one, sizeof one) != sizeof one)
    spdlog::error("control socket: cannot wake its thread: {}", errno_text());
  thread_.join();
  ::unlink(path_.c_str());
}

void ControlSocket::serve() {
  pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("control socket: poll: {}", errno_text());
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents & POLLIN) {
      UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (client) answer(client.get());
    }
  }
}

void ControlSocket::answer(int fd) {
  set_timeouts(fd, kClientTimeout);
  std::string line;
  char buf[kMaxCommandBytes];
  while (line.find('\n') == std::string::npos && line.size() < kMaxCommandBytes) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  std::string_view command(line);
  command = command.substr(0, command.find('\n'));
  if (command.ends_with('\r')) command.remove_suffix(1);
  std::string reply = handler_(command);
  reply.push_back('\n');
  if (!send_all(fd, reply)) spdlog::debug("control socket: client left before the reply");
}

Result<std::string> control_request(const std::string& path, std::string_view command,
                                    std::chrono::milliseconds timeout) {
  auto addr = unix_address(path);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Status(Code::io_error, fmt::format("socket(AF_UNIX): {}", errno_text()));
  set_timeouts(fd.get(), timeout);
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr.value()), sizeof(sockaddr_un));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0)
    return Status(Code::unavailable, fmt::format("cannot connect to {}: {}", path, errno_text()));

  std::string request(command);
  request.push_back('\n');
  if (!send_all(fd.get(), request))
    return Status(Code::io_error, fmt::format("cannot write to {}: {}", path, errno_text()));
  std::string reply;
  char buf[16 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return Status(Code::io_error,
                    fmt::format("no answer from {} within {} ms", path, timeout.count()));
    if (n < 0) return Status(Code::io_error, fmt::format("reading {}: {}", path, errno_text()));
    if (n == 0) break;
    reply.append(buf, static_cast<size_t>(n));
    if (reply.size() > kMaxReplyBytes)
      return Status(Code::io_error, fmt::format("the reply from {} is too large", path));
  }
  if (reply.ends_with('\n')) reply.pop_back();
  return reply;
}

}  // namespace meshcache::agent
