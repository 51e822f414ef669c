// node.h: the node's lifecycle (store, server, control socket, signals); main thread.
#pragma once

#include <string>

#include "agent/config.h"

namespace meshcache::agent {

class Node {
 public:
  Node(Config config, std::string version);
  // Serves until SIGTERM, SIGINT or SIGUSR1, then drains. Call before any other thread exists
  // (it blocks the signals it waits for, and threads inherit that mask). Returns the process
  // exit code: 0 after a drain, 1 when a part fails to start, 2 on a configuration the parts
  // refuse (such as a bad tokens file).
  int run();

 private:
  Config config_;
  std::string version_;
};

}  // namespace meshcache::agent
