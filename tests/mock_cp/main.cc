// main.cc: meshcache-mock-cp: flags, the server identity, the initial tenants and tokens, the
// HTTPS server on one I/O loop, the JSON line on stdout, and a clean stop on SIGTERM/SIGINT
// (main thread).
#include <signal.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/http/server.h"
#include "tests/mock_cp/mock_router.h"
#include "tests/mock_cp/server_identity.h"
#include "tls/secure_file.h"

namespace meshcache::mockcp {
namespace {

struct Options {
  std::string listen = "127.0.0.1:0";
  std::string state_dir;
  std::vector<std::string> tenants;
  std::vector<std::string> server_names;
  int64_t cert_lifetime_seconds = 2592000;
  int64_t heartbeat_interval_seconds = 60;
  int64_t lease_seconds = 180;
  std::string tokens_file;
};

// "host:port" / "[v6]:port" → "host" / "[v6]".
std::string host_part(const std::string& hostport) {
  if (!hostport.empty() && hostport.front() == '[')
    return hostport.substr(0, hostport.find(']') + 1);
  return hostport.substr(0, hostport.rfind(':'));
}

// A URL clients can dial for a bound address: a wildcard bind is reached over loopback.
std::string url_for(const std::string& scheme, const std::string& bound) {
  std::string host = host_part(bound);
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  return scheme + "://" + host + bound.substr(bound.rfind(':'));
}

void load_tokens(MockState& state, const std::string& path) {
  Result<std::string> text = tls::read_small_file(path, 64 << 20);
  if (!text.ok()) throw std::runtime_error("cannot read " + path + ": " + text.status().message());
  std::optional<json> doc = parse_json(*text);
  if (!doc) throw std::runtime_error(path + " is not JSON");
  if (Status s = state.tokens.load(*doc); !s.ok()) {
    throw std::runtime_error(path + ": " + s.message());
  }
}

int run(Options options) {
  // Absolute, so the ca_path clients are given works from any directory.
  options.state_dir = std::filesystem::absolute(options.state_dir).lexically_normal().string();

  // Blocked before any thread starts, so only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ServerIdentityFiles files = write_server_identity(options.state_dir, options.server_names);
  auto state = std::make_shared<MockState>(options.cert_lifetime_seconds);
  for (const auto& name : options.tenants) {
    bool created = false;
    Result<Tenant*> tenant = state->tenants.get_or_create(name, created);
    if (!tenant.ok())
      throw std::runtime_error("--tenant " + name + ": " + tenant.status().message());
  }
  if (!options.tokens_file.empty()) load_tokens(*state, options.tokens_file);

  http::ServerOptions server_options;
  // The server always has a cleartext listener; the contract is HTTPS, so it is only reported.
  server_options.listen = host_part(options.listen) + ":0";
  server_options.tls_listen = options.listen;
  server_options.tls = http::TlsFiles{files.cert_path, files.key_path};
  // One loop: all mock state lives on it and needs no locks.
  server_options.io_threads = 1;
  auto router = std::make_shared<MockRouter>(
      state, NodeApiOptions{options.heartbeat_interval_seconds, options.lease_seconds});
  std::unique_ptr<http::Server> server = http::Server::start(server_options, router);

  json ready{{"url", url_for("https", server->tls_address().value())},
             {"http_url", url_for("http", server->listen_address())},
             {"ca_path", files.ca_path}};
  std::string line = ready.dump();
  if (Status s = tls::write_file_atomic(
          (std::filesystem::path(options.state_dir) / "mock.json").string(), line + "\n", 0644);
      !s.ok()) {
    throw std::runtime_error("writing mock.json: " + s.message());
  }
  std::cout << line << std::endl;
  spdlog::info("mock control plane at {} (tenants: {})", ready["url"].get<std::string>(),
               options.tenants.size());

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  spdlog::info("signal {}: stopping", sig);
  server->stop();
  return 0;
}

}  // namespace
}  // namespace meshcache::mockcp

int main(int argc, char** argv) {
  using meshcache::mockcp::Options;
  Options options;
  CLI::App app{
      "meshcache-mock-cp: a mock of the meshcache control plane (enrolment, heartbeats, leases, "
      "usage, introspection) with an admin API under /_mock/ for tests. It has no auth of its "
      "own: run it on loopback or inside a CI network only."};
  app.add_option("--listen", options.listen, "HTTPS listener, host:port (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--state-dir", options.state_dir,
                 "where server-ca.pem, the server key and mock.json are written")
      ->required();
  app.add_option("--tenant", options.tenants, "create this tenant at start (managed mesh on)");
  app.add_option("--server-name", options.server_names,
                 "an extra DNS name or IP for the server certificate (besides 127.0.0.1 and "
                 "localhost), e.g. the mock's service name in a CI network");
  app.add_option("--cert-lifetime-seconds", options.cert_lifetime_seconds,
                 "lifetime of enrolled leaves for new tenants")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1825} * 24 * 3600));
  app.add_option("--heartbeat-interval-seconds", options.heartbeat_interval_seconds,
                 "heartbeat_interval_seconds in heartbeat and registration answers")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lease-seconds", options.lease_seconds, "registration lease length")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--tokens-file", options.tokens_file,
                 "JSON {\"tokens\":[{\"token\",\"grants\"}]} loaded at start")
      ->check(CLI::ExistingFile);
  app.set_version_flag("--version", MESHCACHE_VERSION);
  CLI11_PARSE(app, argc, argv);

  // stdout carries exactly one line (the JSON a test reads); logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("mock-cp"));
  try {
    return meshcache::mockcp::run(options);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
