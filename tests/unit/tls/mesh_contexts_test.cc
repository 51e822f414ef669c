// mesh_contexts_test.cc: real mTLS handshakes over memory BIO pairs between contexts built
// from enrolled identities, and the swap of contexts at renewal.
#include <openssl/err.h>

#include <catch2/catch.hpp>
#include <memory>

#include "tls/certificate.h"
#include "tls/identity.h"
#include "tls/server_context.h"
#include "tls_test_util.h"

using namespace meshcache;
using namespace meshcache::tls;

namespace {

struct Conn {
  SslPtr client;
  SslPtr server;
};

// A client and a server joined by an in-memory pipe.
Conn connect(SSL_CTX* client_ctx, SSL_CTX* server_ctx) {
  Conn c{SslPtr(SSL_new(client_ctx)), SslPtr(SSL_new(server_ctx))};
  REQUIRE(c.client);
  REQUIRE(c.server);
  BIO* client_end = nullptr;
  BIO* server_end = nullptr;
  REQUIRE(BIO_new_bio_pair(&client_end, 0, &server_end, 0) == 1);
  SSL_set_bio(c.client.get(), client_end, client_end);
  SSL_set_bio(c.server.get(), server_end, server_end);
  SSL_set_connect_state(c.client.get());
  SSL_set_accept_state(c.server.get());
  return c;
}

// Steps both ends in turn until both finish; false as soon as either fails.
bool handshake(Conn& c) {
  bool done[2] = {false, false};
  SSL* ends[2] = {c.client.get(), c.server.get()};
  for (int round = 0; round < 20 && !(done[0] && done[1]); ++round) {
    for (int i = 0; i < 2; ++i) {
      if (done[i]) continue;
      int rc = SSL_do_handshake(ends[i]);
      if (rc == 1) {
        done[i] = true;
      } else if (SSL_get_error(ends[i], rc) != SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return false;
      }
    }
  }
  return done[0] && done[1];
}

std::string transfer(SSL* from, SSL* to, const std::string& message) {
  REQUIRE(SSL_write(from, message.data(), static_cast<int>(message.size())) ==
          static_cast<int>(message.size()));
  char buf[256];
  int n = SSL_read(to, buf, sizeof(buf));
  REQUIRE(n > 0);
  return std::string(buf, static_cast<size_t>(n));
}

void exchange(Conn& c, const std::string& message) {
  CHECK(transfer(c.client.get(), c.server.get(), message) == message);
  CHECK(transfer(c.server.get(), c.client.get(), message + " back") == message + " back");
}

std::string fingerprint(const std::string& cert_pem) {
  return describe(parse_certificate_pem(cert_pem).value().get()).sha256_fingerprint;
}

std::string peer_fingerprint(SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  REQUIRE(peer);
  return describe(peer).sha256_fingerprint;
}

SharedCtx server_ctx(const IdentityPem& pem) {
  auto ctx = make_mtls_server_context(pem, {"h2", "http/1.1"});
  REQUIRE(ctx.ok());
  return ctx.value();
}

SharedCtx client_ctx(const IdentityPem& pem) {
  auto ctx = make_mtls_client_context(pem);
  REQUIRE(ctx.ok());
  return ctx.value();
}

}  // namespace

TEST_CASE("nodes of one CA complete an mTLS handshake and see each other's leaf") {
  Authority ca = test::new_ca();
  IdentityPem a = test::new_identity(ca, "127.0.0.1");
  IdentityPem b = test::new_identity(ca, "127.0.0.1");
  SharedCtx server = server_ctx(a);
  SharedCtx client = client_ctx(b);

  Conn c = connect(client.get(), server.get());
  const unsigned char h2[] = {2, 'h', '2'};
  REQUIRE(SSL_set_alpn_protos(c.client.get(), h2, sizeof(h2)) == 0);
  // The hostname check is the caller's; the IP SAN is what makes it pass for 127.0.0.1.
  REQUIRE(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c.client.get()), "127.0.0.1") == 1);
  REQUIRE(handshake(c));
  CHECK(SSL_version(c.client.get()) >= TLS1_2_VERSION);
  CHECK(negotiated_alpn(c.server.get()) == "h2");
  CHECK(peer_fingerprint(c.client.get()) == fingerprint(a.cert_pem));
  CHECK(peer_fingerprint(c.server.get()) == fingerprint(b.cert_pem));
  exchange(c, "ping");

  Conn wrong_host = connect(client.get(), server.get());
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(wrong_host.client.get()), "10.9.9.9");
  CHECK_FALSE(handshake(wrong_host));
}

TEST_CASE("a node of another CA is refused, and so is a client without a certificate") {
  Authority ca = test::new_ca();
  Authority other = test::new_ca("other tenant");
  SharedCtx server = server_ctx(test::new_identity(ca));

  // A foreign node does not trust our server either.
  Conn foreign = connect(client_ctx(test::new_identity(other)).get(), server.get());
  CHECK_FALSE(handshake(foreign));

  // One that trusts our CA but holds another CA's leaf is refused by the server itself.
  IdentityPem mixed = test::new_identity(other);
  mixed.ca_pem = ca.cert_pem;
  Conn intruder = connect(client_ctx(mixed).get(), server.get());
  CHECK_FALSE(handshake(intruder));
  CHECK_FALSE(SSL_is_init_finished(intruder.server.get()));

  SslCtxPtr anonymous(SSL_CTX_new(TLS_client_method()));
  X509_STORE_add_cert(SSL_CTX_get_cert_store(anonymous.get()), ca.cert.get());
  SSL_CTX_set_verify(anonymous.get(), SSL_VERIFY_PEER, nullptr);
  Conn no_cert = connect(anonymous.get(), server.get());
  CHECK_FALSE(handshake(no_cert));
  CHECK_FALSE(SSL_is_init_finished(no_cert.server.get()));
}

TEST_CASE("contexts refuse a key that does not match the certificate") {
  Authority ca = test::new_ca();
  IdentityPem pem = test::new_identity(ca);
  pem.key_pem = test::new_identity(ca).key_pem;
  CHECK(make_mtls_server_context(pem, {}).status().code() == Code::invalid_argument);
  CHECK(make_mtls_client_context(pem).status().code() == Code::invalid_argument);
  pem.ca_pem = "no CA here";
  CHECK(make_mtls_client_context(pem).status().code() == Code::invalid_argument);
}

TEST_CASE("replace() swaps contexts without touching connections already open") {
  Authority ca = test::new_ca();
  MeshContexts mesh;
  CHECK_FALSE(mesh.server());
  CHECK_FALSE(mesh.client());
  CHECK_FALSE(mesh.certificate());

  IdentityPem first = test::new_identity(ca);
  REQUIRE(mesh.replace(first, {"h2"}).ok());
  REQUIRE(mesh.certificate());
  CHECK(mesh.certificate()->sha256_fingerprint == fingerprint(first.cert_pem));
  Conn before = connect(mesh.client().get(), mesh.server().get());
  REQUIRE(handshake(before));
  exchange(before, "first");

  // A broken identity changes nothing.
  std::weak_ptr<SSL_CTX> first_server = mesh.server();
  IdentityPem broken = test::new_identity(ca);
  broken.key_pem = first.key_pem;
  CHECK_FALSE(mesh.replace(broken, {"h2"}).ok());
  CHECK(mesh.server() == first_server.lock());
  CHECK(mesh.certificate()->sha256_fingerprint == fingerprint(first.cert_pem));

  IdentityPem renewed = test::new_identity(ca);
  REQUIRE(mesh.replace(renewed, {"h2"}).ok());
  // Nothing but the open connection holds the old contexts now, and it still works.
  CHECK(first_server.expired());
  exchange(before, "after the swap");
  CHECK(peer_fingerprint(before.client.get()) == fingerprint(first.cert_pem));

  Conn after = connect(mesh.client().get(), mesh.server().get());
  REQUIRE(handshake(after));
  CHECK(peer_fingerprint(after.client.get()) == fingerprint(renewed.cert_pem));
  CHECK(peer_fingerprint(after.server.get()) == fingerprint(renewed.cert_pem));
  CHECK(mesh.certificate()->sha256_fingerprint == fingerprint(renewed.cert_pem));
  exchange(after, "new");
}
