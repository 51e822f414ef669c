// control_socket_test.cc: control socket file (mode, stale, cleanup) and request/reply.
#include "agent/control_socket.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include "tests/unit/temp_dir.h"

using namespace meshcache;
using namespace std::chrono_literals;

namespace {

using ::meshcache::testutil::TempDir;

std::string echo(std::string_view command) { return "you said <" + std::string(command) + ">"; }

// A socket file with nobody listening, as a node killed with SIGKILL leaves behind.
void leave_stale_socket(const std::string& path) {
  agent::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
}

}  // namespace

TEST_CASE("control socket answers each request and is private to its owner") {
  TempDir dir;
  std::string path = dir.path() + "/control.sock";
  auto socket = agent::ControlSocket::open(path, echo);
  REQUIRE(socket.ok());

  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);

  for (int i = 0; i < 3; ++i) {
    auto reply = agent::control_request(path, "status", 2000ms);
    REQUIRE(reply.ok());
    CHECK(reply.value() == "you said <status>");
  }
  auto other = agent::control_request(path, "nope", 2000ms);
  REQUIRE(other.ok());
  CHECK(other.value() == "you said <nope>");

  socket.value().reset();
  CHECK_FALSE(std::filesystem::exists(path));
  auto gone = agent::control_request(path, "status", 2000ms);
  CHECK(gone.status().code() == Code::unavailable);
}

TEST_CASE("a stale socket is replaced, anything else at the path is refused") {
  TempDir dir;
  std::string path = dir.path() + "/control.sock";
  leave_stale_socket(path);
  CHECK(agent::control_request(path, "status", 2000ms).status().code() == Code::unavailable);
  {
    auto socket = agent::ControlSocket::open(path, echo);
    REQUIRE(socket.ok());
    CHECK(agent::control_request(path, "status", 2000ms).ok());
  }

  std::ofstream(path) << "not a socket";
  auto refused = agent::ControlSocket::open(path, echo);
  CHECK(refused.status().code() == Code::conflict);
  CHECK(refused.status().message() == path + " exists and is not a socket");
}

TEST_CASE("a path too long for a unix socket is refused with a hint") {
  std::string path = "/tmp/" + std::string(120, 'x') + "/control.sock";
  auto refused = agent::ControlSocket::open(path, echo);
  CHECK(refused.status().code() == Code::invalid_argument);
  CHECK_THAT(refused.status().message(),
             Catch::Matchers::Contains("use a shorter MESHCACHE_DATA_DIR"));
  CHECK(agent::control_request(path, "status", 100ms).status().code() == Code::invalid_argument);
}

TEST_CASE("a client that never sends a command does not block the next one") {
  TempDir dir;
  std::string path = dir.path() + "/control.sock";
  auto socket = agent::ControlSocket::open(path, echo);
  REQUIRE(socket.ok());

  agent::UniqueFd silent(::socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  REQUIRE(::connect(silent.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  // The server gives the silent client up after its 2 s timeout and then answers this one.
  auto reply = agent::control_request(path, "status", 5000ms);
  REQUIRE(reply.ok());
  CHECK(reply.value() == "you said <status>");
}
