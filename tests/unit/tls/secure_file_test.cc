// secure_file_test.cc: atomic writes with exact modes, bounded reads, identity files on disk.
#include "tls/secure_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "tls/identity.h"
#include "tls_test_util.h"

using namespace meshcache;
using namespace meshcache::tls;
namespace fs = std::filesystem;

namespace {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Restores the umask the test changed.
struct Umask {
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
  mode_t old;
};

size_t entries(const std::string& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST_CASE("write_file_atomic sets exactly the mode asked for, whatever the umask") {
  test::TempDir tmp;
  {
    Umask u(0);
    REQUIRE(write_file_atomic(tmp.path() + "/key", "secret", 0600).ok());
  }
  CHECK(mode_of(tmp.path() + "/key") == 0600);
  {
    Umask u(077);
    REQUIRE(write_file_atomic(tmp.path() + "/crt", "public", 0644).ok());
  }
  CHECK(mode_of(tmp.path() + "/crt") == 0644);
  CHECK(read_small_file(tmp.path() + "/key").value() == "secret");
}

TEST_CASE("write_file_atomic creates missing parents at 0700") {
  test::TempDir tmp;
  Umask u(0);
  const std::string path = tmp.path() + "/a/b/tls.key";
  REQUIRE(write_file_atomic(path, "k", 0600).ok());
  CHECK(mode_of(tmp.path() + "/a") == 0700);
  CHECK(mode_of(tmp.path() + "/a/b") == 0700);
  CHECK(read_small_file(path).value() == "k");
}

TEST_CASE("write_file_atomic replaces the file whole and leaves no temporary behind") {
  test::TempDir tmp;
  const std::string path = tmp.path() + "/tls.crt";
  REQUIRE(write_file_atomic(path, "old contents", 0644).ok());
  // A reader that opened the old file keeps reading the old bytes: a new inode took the name.
  int reader = ::open(path.c_str(), O_RDONLY);
  REQUIRE(reader >= 0);
  REQUIRE(write_file_atomic(path, "new", 0644).ok());
  char buf[64] = {};
  ssize_t n = ::read(reader, buf, sizeof(buf));
  ::close(reader);
  CHECK(std::string(buf, static_cast<size_t>(n)) == "old contents");
  CHECK(read_small_file(path).value() == "new");
  CHECK(entries(tmp.path()) == 1);
}

TEST_CASE("a failed write_file_atomic removes its temporary file and keeps the target") {
  test::TempDir tmp;
  // rename() cannot put a file over a non-empty directory.
  const std::string path = tmp.path() + "/occupied";
  fs::create_directories(path + "/inside");
  Status s = write_file_atomic(path, "bytes", 0600);
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == Code::io_error);
  CHECK(fs::is_directory(path + "/inside"));
  CHECK(entries(tmp.path()) == 1);
}

TEST_CASE("read_small_file refuses missing and oversized files") {
  test::TempDir tmp;
  CHECK(read_small_file(tmp.path() + "/missing").status().code() == Code::not_found);
  REQUIRE(write_file_atomic(tmp.path() + "/big", std::string(100, 'x'), 0644).ok());
  CHECK(read_small_file(tmp.path() + "/big", 100).value().size() == 100);
  CHECK(read_small_file(tmp.path() + "/big", 99).status().code() == Code::too_large);
}

TEST_CASE("an identity written to disk reads back the same, with the key at 0600") {
  test::TempDir tmp;
  Authority ca = test::new_ca();
  IdentityPem pem = test::new_identity(ca);
  IdentityPaths paths = default_identity_paths(tmp.path());
  CHECK(paths.ca_path == tmp.path() + "/tls/ca.pem");
  CHECK(paths.cert_path == tmp.path() + "/tls/tls.crt");
  CHECK(paths.key_path == tmp.path() + "/tls/tls.key");

  Umask u(0);
  REQUIRE(write_identity(paths, pem).ok());
  CHECK(mode_of(paths.key_path) == 0600);
  CHECK(mode_of(paths.cert_path) == 0644);
  CHECK(mode_of(paths.ca_path) == 0644);
  CHECK(mode_of(tmp.path() + "/tls") == 0700);
  auto back = read_identity(paths);
  REQUIRE(back.ok());
  CHECK(back->key_pem == pem.key_pem);
  CHECK(back->cert_pem == pem.cert_pem);
  CHECK(back->ca_pem == pem.ca_pem);

  fs::remove(paths.ca_path);
  CHECK(read_identity(paths).status().code() == Code::not_found);
}
