// control_socket.h: operator's unix socket in the data dir; own thread, client on the CLI's.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "agent/unique_fd.h"
#include "storage/status.h"

namespace meshcache::agent {

// Protocol: the client writes one command line ("status\n"), the node writes one reply
// (a JSON document and "\n") and closes.
class ControlSocket {
 public:
  // Runs on the socket's thread, one request at a time; must not block for long.
  using Handler = std::function<std::string(std::string_view command)>;

  // Binds `path` with mode 0600 and starts the thread. A stale socket left by a dead node is
  // replaced, so call this only while holding the data dir's store lock.
  static Result<std::unique_ptr<ControlSocket>> open(const std::string& path, Handler handler);
  // Stops the thread and removes the socket file.
  ~ControlSocket();

  ControlSocket(const ControlSocket&) = delete;
  ControlSocket& operator=(const ControlSocket&) = delete;

 private:
  ControlSocket(std::string path, UniqueFd listen_fd, UniqueFd wake_fd, Handler handler);
  void serve();
  void answer(int fd);

  std::string path_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;  // eventfd: written by the destructor to stop serve()
  Handler handler_;
  std::thread thread_;
};

// Sends `command` to the node listening on `path` and returns its reply (without the final
// newline). Code::unavailable when nothing listens there; Code::io_error when it does not
// answer within `timeout`.
Result<std::string> control_request(const std::string& path, std::string_view command,
                                    std::chrono::milliseconds timeout);

}  // namespace meshcache::agent
