// identity.h: the node's mesh identity on disk (key, leaf, CA) and the mTLS contexts built
// from it. Files are written by the control-plane thread at enrollment and renewal; contexts
// are read by any thread.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/status.h"
#include "tls/certificate.h"

namespace meshcache::tls {

struct IdentityPaths {
  std::string ca_path;    // ca.pem
  std::string cert_path;  // tls.crt
  std::string key_path;   // tls.key (0600)
};

// DATA_DIR/tls/{ca.pem,tls.crt,tls.key}.
IdentityPaths default_identity_paths(const std::string& data_dir);

struct IdentityPem {
  std::string key_pem;
  std::string cert_pem;
  std::string ca_pem;
};

// Writes the key first (0600), then the leaf (0644), then the CA (0644), each atomically, so a
// crash leaves either the old identity or a key newer than its certificate (which the next
// enrollment replaces), never a certificate without its key.
Status write_identity(const IdentityPaths& paths, const IdentityPem& pem);
Result<IdentityPem> read_identity(const IdentityPaths& paths);

// mTLS contexts (TLS 1.2+) from one identity. The server context asks for and verifies a client
// certificate chaining to the CA (the CA is the tenant boundary); the client context presents
// the leaf and verifies the server against the CA (hostname checks are the caller's, per
// connection). An SSL object keeps a reference to the SSL_CTX it was made from, so replacing
// the contexts never affects connections that are already open.
using SharedCtx = std::shared_ptr<SSL_CTX>;
Result<SharedCtx> make_mtls_server_context(const IdentityPem& pem, std::vector<std::string> alpn);
Result<SharedCtx> make_mtls_client_context(const IdentityPem& pem);

// The current contexts; replace() swaps them at renewal. Thread-safe.
class MeshContexts {
 public:
  // Builds both contexts first and swaps only when both succeed.
  Status replace(const IdentityPem& pem, std::vector<std::string> server_alpn);
  SharedCtx server() const;  // null before the first replace()
  SharedCtx client() const;
  std::optional<CertificateInfo> certificate() const;

 private:
  mutable std::mutex mu_;
  SharedCtx server_;
  SharedCtx client_;
  std::optional<CertificateInfo> info_;
};

}  // namespace meshcache::tls
