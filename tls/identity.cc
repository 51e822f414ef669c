// identity.cc: the node's key, leaf and CA on disk, and the mTLS contexts built from them
// (files: control-plane thread; contexts: any thread).
#include "tls/identity.h"

#include "tls/key_pair.h"
#include "tls/openssl_util.h"
#include "tls/secure_file.h"

namespace meshcache::tls {
namespace {

constexpr mode_t kPrivateMode = 0600;
constexpr mode_t kPublicMode = 0644;
constexpr char kSessionIdContext[] = "meshcache-mesh";

enum class Side { server, client };

// Leaf (plus any intermediates after it), key and trust anchors, all from memory; both sides
// verify the peer.
Result<SslCtxPtr> mtls_context(Side side, const IdentityPem& pem) {
  const bool server = side == Side::server;
  SslCtxPtr ctx = new_context(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) return openssl_failure(Code::internal, "cannot create a TLS context");
  auto chain = parse_certificates_pem(pem.cert_pem, "certificate");
  if (!chain.ok()) return chain.status();
  auto key = parse_private_key_pem(pem.key_pem);
  if (!key.ok()) return key.status();
  auto anchors = parse_certificates_pem(pem.ca_pem, "CA certificate");
  if (!anchors.ok()) return anchors.status();

  if (SSL_CTX_use_certificate(ctx.get(), chain->front().get()) != 1)
    return openssl_failure(Code::invalid_argument, "cannot use the certificate");
  for (size_t i = 1; i < chain->size(); ++i)
    if (SSL_CTX_add1_chain_cert(ctx.get(), (*chain)[i].get()) != 1)
      return openssl_failure(Code::invalid_argument, "cannot use the certificate chain");
  if (SSL_CTX_use_PrivateKey(ctx.get(), key->get()) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1)
    return openssl_failure(Code::invalid_argument, "the key does not match the certificate");
  // Only the account CA: the system roots must not let another tenant's node in.
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  for (const auto& ca : *anchors) {
    if (X509_STORE_add_cert(store, ca.get()) != 1 ||
        (server && SSL_CTX_add_client_CA(ctx.get(), ca.get()) != 1))  // tells clients which CA
      return openssl_failure(Code::invalid_argument, "cannot trust the CA certificate");
  }
  SSL_CTX_set_verify(ctx.get(),
                     server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
                     nullptr);
  return ctx;
}

SharedCtx share(SslCtxPtr ctx) { return SharedCtx(ctx.release(), SslCtxDeleter()); }

}  // namespace

IdentityPaths default_identity_paths(const std::string& data_dir) {
  const std::string dir = data_dir + "/tls/";
  return {dir + "ca.pem", dir + "tls.crt", dir + "tls.key"};
}

Status write_identity(const IdentityPaths& paths, const IdentityPem& pem) {
  if (Status s = write_file_atomic(paths.key_path, pem.key_pem, kPrivateMode); !s.ok()) return s;
  if (Status s = write_file_atomic(paths.cert_path, pem.cert_pem, kPublicMode); !s.ok()) return s;
  return write_file_atomic(paths.ca_path, pem.ca_pem, kPublicMode);
}

Result<IdentityPem> read_identity(const IdentityPaths& paths) {
  IdentityPem pem;
  for (auto [path, out] :
       {std::pair{&paths.key_path, &pem.key_pem}, std::pair{&paths.cert_path, &pem.cert_pem},
        std::pair{&paths.ca_path, &pem.ca_pem}}) {
    auto bytes = read_small_file(*path);
    if (!bytes.ok()) return bytes.status();
    *out = std::move(bytes).value();
  }
  return pem;
}

Result<SharedCtx> make_mtls_server_context(const IdentityPem& pem, std::vector<std::string> alpn) {
  auto ctx = mtls_context(Side::server, pem);
  if (!ctx.ok()) return ctx.status();
  SSL_CTX* c = ctx->get();
  // Resuming a session of a verified client fails without a session id context.
  SSL_CTX_set_session_id_context(c, reinterpret_cast<const unsigned char*>(kSessionIdContext),
                                 sizeof(kSessionIdContext) - 1);
  set_server_alpn(c, alpn);
  return share(std::move(ctx).value());
}

Result<SharedCtx> make_mtls_client_context(const IdentityPem& pem) {
  auto ctx = mtls_context(Side::client, pem);
  if (!ctx.ok()) return ctx.status();
  return share(std::move(ctx).value());
}

Status MeshContexts::replace(const IdentityPem& pem, std::vector<std::string> server_alpn) {
  auto server = make_mtls_server_context(pem, std::move(server_alpn));
  if (!server.ok()) return server.status();
  auto client = make_mtls_client_context(pem);
  if (!client.ok()) return client.status();
  auto leaf = parse_certificate_pem(pem.cert_pem);
  if (!leaf.ok()) return leaf.status();
  CertificateInfo info = describe(leaf->get());
  std::lock_guard lock(mu_);
  server_ = std::move(server).value();
  client_ = std::move(client).value();
  info_ = std::move(info);
  return Status::Ok();
}

SharedCtx MeshContexts::server() const {
  std::lock_guard lock(mu_);
  return server_;
}

SharedCtx MeshContexts::client() const {
  std::lock_guard lock(mu_);
  return client_;
}

std::optional<CertificateInfo> MeshContexts::certificate() const {
  std::lock_guard lock(mu_);
  return info_;
}

}  // namespace meshcache::tls
