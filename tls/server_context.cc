// server_context.cc: OpenSSL server contexts from PEM files (startup, main thread).
#include "tls/server_context.h"

#include <openssl/err.h>

#include <stdexcept>

namespace meshcache::tls {
namespace {

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

// The wire form of an ALPN list: each name prefixed by its length. Kept alive with the
// context (the select callback reads it on every handshake).
struct AlpnList {
  std::string wire;
};

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) noexcept {
  const auto* ours = static_cast<const AlpnList*>(arg);
  unsigned char* selected = nullptr;
  // Server preference: the first of ours that the client also offers.
  int rc = SSL_select_next_proto(&selected, outlen,
                                 reinterpret_cast<const unsigned char*>(ours->wire.data()),
                                 static_cast<unsigned int>(ours->wire.size()), in, inlen);
  if (rc != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

int alpn_index = -1;

void free_alpn(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<AlpnList*>(ptr);
}

}  // namespace

SslCtxPtr make_server_context(const std::string& cert_path, const std::string& key_path,
                              std::vector<std::string> alpn) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw std::runtime_error("TLS: cannot create a context: " + openssl_error());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_path.c_str()) != 1)
    throw std::runtime_error("TLS: cannot load certificate " + cert_path + ": " + openssl_error());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_path.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("TLS: cannot load private key " + key_path + ": " + openssl_error());
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    throw std::runtime_error("TLS: the key " + key_path + " does not match the certificate " +
                             cert_path);
  if (!alpn.empty()) {
    if (alpn_index < 0)
      alpn_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_alpn);
    auto* list = new AlpnList;
    for (const auto& p : alpn) {
      list->wire.push_back(static_cast<char>(p.size()));
      list->wire += p;
    }
    SSL_CTX_set_ex_data(ctx.get(), alpn_index, list);
    SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, list);
  }
  return ctx;
}

std::string negotiated_alpn(const SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  return data ? std::string(reinterpret_cast<const char*>(data), len) : std::string();
}

}  // namespace meshcache::tls
