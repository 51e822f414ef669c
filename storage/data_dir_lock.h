// data_dir_lock.h: an exclusive flock on the data directory, so two meshcache processes (or two
// opens in one process) never share a store (startup thread; released when destroyed).
#pragma once

#include <memory>
#include <string>

#include "storage/status.h"

namespace meshcache::storage {

class DataDirLock {
 public:
  // Takes `dir/LOCK.meshcache` and writes our pid into it. Code::unavailable, naming the
  // holder's pid, when another open file description holds it.
  static Result<DataDirLock> acquire(const std::string& dir);

 private:
  struct FdCloser {
    void operator()(int* fd) const noexcept;
  };
  explicit DataDirLock(int fd);

  // Closing the descriptor releases the lock.
  std::unique_ptr<int, FdCloser> fd_;
};

}  // namespace meshcache::storage
