// tls_listener_test.cc: TLS ports fed by a context source (mTLS, contexts swapped at renewal,
// none yet), TLS-only servers, and the client identity handlers see (test thread plus the
// server's I/O threads).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "agent/http/server.h"
#include "test_support.h"
#include "tests/unit/temp_dir.h"
#include "tls/authority.h"
#include "tls/certificate.h"
#include "tls/identity.h"
#include "tls/key_pair.h"

namespace meshcache::http::test {
namespace {

template <typename T>
T must(Result<T> r) {
  if (!r.ok()) FAIL(r.status().message());
  return std::move(r).value();
}

// A CA with one leaf for 127.0.0.1, as PEM in memory and as files for curl.
struct Pki {
  tls::IdentityPem pem;
  std::string ca_path, cert_path, key_path;
  std::string peer_id;  // what the server must report for this leaf
};

Pki make_pki(const std::filesystem::path& dir, const std::string& name) {
  tls::Authority ca = must(tls::create_authority(name, 3600));
  tls::PkeyPtr key = must(tls::generate_p256_key());
  Pki p;
  p.pem = {must(tls::private_key_pem(key.get())),
           must(tls::issue_leaf(ca, key.get(), "127.0.0.1", 3600)), ca.cert_pem};
  p.ca_path = (dir / (name + "-ca.pem")).string();
  p.cert_path = (dir / (name + "-leaf.pem")).string();
  p.key_path = (dir / (name + "-key.pem")).string();
  for (auto [path, text] :
       {std::pair{&p.ca_path, &p.pem.ca_pem}, std::pair{&p.cert_path, &p.pem.cert_pem},
        std::pair{&p.key_path, &p.pem.key_pem}}) {
    std::ofstream(*path) << *text;
  }
  p.peer_id = tls::describe(must(tls::parse_certificate_pem(p.pem.cert_pem)).get())
                  .sha256_fingerprint.substr(0, 16);
  return p;
}

// /id answers with the request's tls_peer_id ("-" when empty).
class IdRouter final : public Router {
 public:
  std::unique_ptr<Handler> route(const Request&) override {
    requests.fetch_add(1);
    return std::make_unique<IdHandler>();
  }
  std::atomic<int> requests{0};

 private:
  class IdHandler final : public Handler {
    void on_request(Exchange& ex) override {
      std::string id = ex.request().tls_peer_id.empty() ? "-" : ex.request().tls_peer_id;
      Response r;
      r.content_length = id.size();
      ex.respond(std::move(r), std::make_unique<StringBody>(id));
    }
    void on_body(Exchange&, std::span<const uint8_t>) override {}
    void on_complete(Exchange&) override {}
  };
};

// A context source the test can swap, counting its calls.
struct SwappableContext {
  std::mutex mu;
  std::shared_ptr<SSL_CTX> current;
  std::atomic<int> calls{0};
  void set(std::shared_ptr<SSL_CTX> ctx) {
    std::lock_guard lock(mu);
    current = std::move(ctx);
  }
  TlsContextSource source() {
    return [this] {
      calls.fetch_add(1);
      std::lock_guard lock(mu);
      return current;
    };
  }
};

// curl as a client of `server` with `client`'s certificate (none when null), trusting
// `trust`'s CA. Its body on success; "failed" when the transfer failed.
std::string fetch(const std::string& address, const Pki& trust, const Pki* client,
                  const char* version = "--http2") {
  std::string cmd = "curl -s -f " + std::string(version) + " --cacert " + trust.ca_path;
  if (client) cmd += " --cert " + client->cert_path + " --key " + client->key_path;
  cmd += " https://" + address + "/id && echo ' ok' || echo failed";
  std::string out = run(cmd);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (out.size() > 3 && out.substr(out.size() - 3) == " ok") return out.substr(0, out.size() - 3);
  return "failed";
}

using ::meshcache::testutil::TempDir;

std::shared_ptr<SSL_CTX> mtls_context(const Pki& p) {
  return must(tls::make_mtls_server_context(p.pem, {"h2", "http/1.1"}));
}

}  // namespace

TEST_CASE("tls listener: mTLS through a context source, TLS only, with the client identity") {
  TempDir dir;
  Pki mesh = make_pki(dir.path(), "mesh");
  Pki other = make_pki(dir.path(), "other");
  SwappableContext contexts;
  contexts.set(mtls_context(mesh));
  auto router = std::make_shared<IdRouter>();
  ServerOptions options;
  options.listen = "";  // no cleartext port at all
  options.tls_listen = "127.0.0.1:0";
  options.tls_context = contexts.source();
  options.io_threads = 2;
  auto server = Server::start(options, router);
  CHECK(server->listen_address().empty());
  REQUIRE(server->tls_address());
  const std::string address = *server->tls_address();

  SECTION("a certificate of the account CA is in, and handlers see its identity") {
    CHECK(fetch(address, mesh, &mesh) == mesh.peer_id);
    CHECK(fetch(address, mesh, &mesh, "--http1.1") == mesh.peer_id);
    CHECK(router->requests == 2);
    CHECK(contexts.calls >= 2);  // asked on every accept
  }
  SECTION("another CA's certificate, or none, fails the handshake") {
    // The server's certificate is trusted here: only the client's side is wrong.
    CHECK(fetch(address, mesh, &other) == "failed");
    CHECK(fetch(address, mesh, &other, "--http1.1") == "failed");
    CHECK(fetch(address, mesh, nullptr) == "failed");
    CHECK(router->requests == 0);
  }
  SECTION("plain HTTP on the TLS port is closed without an answer") {
    int fd = connect_to(address);
    REQUIRE(fd >= 0);
    std::string request = "GET /id HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
    std::string reply;
    bool closed = false;
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 10000) <= 0) break;
      char buf[4096];
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      reply.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    CHECK(closed);
    CHECK(reply.rfind("HTTP/", 0) != 0);
    CHECK(router->requests == 0);
  }
  SECTION("a swapped context applies to the next connection; none refuses it") {
    REQUIRE(fetch(address, mesh, &mesh) == mesh.peer_id);
    Pki renewed = make_pki(dir.path(), "renewed");
    contexts.set(mtls_context(renewed));
    CHECK(fetch(address, renewed, &renewed) == renewed.peer_id);
    CHECK(fetch(address, renewed, &mesh) == "failed");
    contexts.set(nullptr);
    int before = contexts.calls;
    CHECK(fetch(address, renewed, &renewed) == "failed");
    CHECK(contexts.calls > before);
    CHECK(router->requests == 2);
  }
  server->stop();
}

TEST_CASE("tls listener: a public TLS port from files asks for no client certificate") {
  TempDir dir;
  Pki pki = make_pki(dir.path(), "public");
  auto router = std::make_shared<IdRouter>();
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_listen = "127.0.0.1:0";
  options.tls = TlsFiles{pki.cert_path, pki.key_path};
  options.io_threads = 1;
  auto server = Server::start(options, router);
  CHECK(!server->listen_address().empty());
  // A client certificate offered anyway is never asked for, so there is no identity.
  CHECK(fetch(*server->tls_address(), pki, &pki) == "-");
  CHECK(fetch(*server->tls_address(), pki, nullptr, "--http1.1") == "-");
  CHECK(run("curl -s http://" + server->listen_address() + "/id") == "-");
  server->stop();
}

TEST_CASE("tls listener: a server needs a port, and a TLS port needs its material") {
  auto router = std::make_shared<IdRouter>();
  ServerOptions none;
  none.listen = "";
  CHECK_THROWS_WITH(Server::start(none, router), Catch::Contains("needs a listen address"));
  ServerOptions bare;
  bare.listen = "";
  bare.tls_listen = "127.0.0.1:0";
  CHECK_THROWS_WITH(Server::start(bare, router), Catch::Contains("certificate and a key"));
}

}  // namespace meshcache::http::test
