// data_dir_lock.cc: an exclusive flock on the data directory (startup thread).
#include "storage/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include <fmt/core.h>

namespace meshcache::storage {
namespace {

std::string read_holder_pid(int fd) {
  char buf[32];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "unknown";
  std::string_view pid(buf, static_cast<size_t>(n));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.remove_suffix(1);
  return pid.empty() ? "unknown" : std::string(pid);
}

}  // namespace

void DataDirLock::FdCloser::operator()(int* fd) const noexcept {
  close(*fd);
  delete fd;
}

DataDirLock::DataDirLock(int fd) : fd_(new int(fd)) {}

Result<DataDirLock> DataDirLock::acquire(const std::string& dir) {
  std::string path = dir + "/LOCK.meshcache";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status(Code::io_error, fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  DataDirLock lock(fd);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      return Status(Code::unavailable,
                    fmt::format("data dir {} is in use by another meshcache process (pid {})", dir,
                                read_holder_pid(fd)));
    return Status(Code::io_error, fmt::format("cannot lock {}: {}", path, std::strerror(errno)));
  }
  std::string pid = fmt::format("{}\n", getpid());
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    return Status(Code::io_error, fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  return lock;
}

}  // namespace meshcache::storage
