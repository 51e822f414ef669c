// server_context.h: builds OpenSSL server contexts from PEM files (startup, main thread).
// The contexts are then shared read-only by the I/O loop threads.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

namespace meshcache::tls {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

// A TLS 1.2+ server context with the certificate chain and key from PEM files, offering the
// ALPN protocols in `alpn` order of preference (e.g. {"h2", "http/1.1"}); a client that offers
// none of them proceeds without ALPN. Throws std::runtime_error naming the file on failure.
SslCtxPtr make_server_context(const std::string& cert_path, const std::string& key_path,
                              std::vector<std::string> alpn);

// The ALPN protocol the handshake chose, or "" when none.
std::string negotiated_alpn(const SSL* ssl);

}  // namespace meshcache::tls
