// server_context.cc: OpenSSL server contexts from PEM files (startup, main thread).
#include "tls/server_context.h"

#include <stdexcept>

#include "tls/openssl_util.h"

namespace meshcache::tls {

SslCtxPtr make_server_context(const std::string& cert_path, const std::string& key_path,
                              std::vector<std::string> alpn) {
  SslCtxPtr ctx = new_context(TLS_server_method());
  if (!ctx) throw std::runtime_error("TLS: cannot create a context: " + openssl_error());
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_path.c_str()) != 1)
    throw std::runtime_error("TLS: cannot load certificate " + cert_path + ": " + openssl_error());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_path.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("TLS: cannot load private key " + key_path + ": " + openssl_error());
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    throw std::runtime_error("TLS: the key " + key_path + " does not match the certificate " +
                             cert_path);
  set_server_alpn(ctx.get(), alpn);
  return ctx;
}

std::string negotiated_alpn(const SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  return data ? std::string(reinterpret_cast<const char*>(data), len) : std::string();
}

}  // namespace meshcache::tls
