// secure_file.cc: atomic, permission-exact file writes and bounded reads (caller's thread,
// blocking I/O).
#include "tls/secure_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace meshcache::tls {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closing reports the last deferred write error on some filesystems (NFS), so it is checked.
  bool close() {
    int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

Status io_error(std::string_view what, const std::string& path, int err = errno) {
  return Status(err == ENOENT ? Code::not_found : Code::io_error,
                std::string(what) + " " + path + ": " + std::strerror(err));
}

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// mkdir -p at 0700: these directories hold private keys.
Status make_parents(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST)
      return io_error("cannot create the directory", prefix);
  }
  return Status::Ok();
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Removes the temporary file unless the rename took it.
struct TempFile {
  std::string path;
  bool keep = false;
  ~TempFile() {
    if (!keep) ::unlink(path.c_str());
  }
};

}  // namespace

Status write_file_atomic(const std::string& path, std::string_view bytes, mode_t mode) {
  const std::string dir = parent_of(path);
  if (Status s = make_parents(dir); !s.ok()) return s;

  // Unique per process (pid) and per call (counter); O_EXCL skips a leftover of a crashed run.
  static std::atomic<unsigned> counter{0};
  const std::string base = path.substr(path.rfind('/') + 1);
  TempFile temp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    temp.path = dir + "/." + base + ".tmp." + std::to_string(::getpid()) + "." +
                std::to_string(counter.fetch_add(1));
    fd = ::open(temp.path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    temp.keep = true;  // never created: nothing to remove (and maybe someone else's)
    return io_error("cannot create a temporary file for", path);
  }
  Fd file(fd);
  // open() applied the umask; the caller asked for exactly `mode`.
  if (::fchmod(file.get(), mode) != 0) return io_error("cannot set the mode of", temp.path);
  if (!write_all(file.get(), bytes)) return io_error("cannot write", temp.path);
  if (::fsync(file.get()) != 0) return io_error("cannot fsync", temp.path);
  if (!file.close()) return io_error("cannot close", temp.path);
  if (::rename(temp.path.c_str(), path.c_str()) != 0) return io_error("cannot rename over", path);
  temp.keep = true;

  // The rename is durable only once the directory entry is.
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0) return io_error("cannot fsync", dir);
  return Status::Ok();
}

Result<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) return io_error("cannot open", path);
  std::string out;
  char buf[16 * 1024];
  for (;;) {
    ssize_t n = ::read(file.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read", path);
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > max_bytes)
      return Status(Code::too_large,
                    path + " is larger than " + std::to_string(max_bytes) + " bytes");
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace meshcache::tls
