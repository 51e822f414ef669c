// openssl_util.cc: small OpenSSL helpers shared inside tls/ (any thread).
#include "tls/openssl_util.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <mutex>

namespace meshcache::tls {
namespace {

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

void free_alpn(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) noexcept {
  delete static_cast<AlpnList*>(ptr);
}

// Contexts are built on several threads (startup, renewal), so the index is made once.
int alpn_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_alpn);
  return index;
}

}  // namespace

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  std::string text = "unknown OpenSSL error";
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    text = buf;
  }
  ERR_clear_error();
  return text;
}

Status openssl_failure(Code code, std::string_view what) {
  return Status(code, std::string(what) + ": " + openssl_error());
}

BioPtr memory_bio(std::string_view bytes) {
  // BIO_new_mem_buf refuses a null pointer even for zero bytes.
  return BioPtr(BIO_new_mem_buf(bytes.empty() ? "" : bytes.data(), static_cast<int>(bytes.size())));
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

Result<std::string> certificate_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    return openssl_failure(Code::internal, "cannot encode a certificate");
  return bio_contents(bio.get());
}

Result<std::vector<X509Ptr>> parse_certificates_pem(std::string_view pem, std::string_view what) {
  BioPtr bio = memory_bio(pem);
  if (!bio) return openssl_failure(Code::internal, what);
  std::vector<X509Ptr> certs;
  while (X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)})
    certs.push_back(std::move(cert));
  // A clean end is always "no start line"; anything else is a broken certificate.
  unsigned long last = ERR_peek_last_error();
  if (ERR_GET_LIB(last) != ERR_LIB_PEM || ERR_GET_REASON(last) != PEM_R_NO_START_LINE)
    return openssl_failure(Code::invalid_argument, std::string(what) + ": not a valid certificate");
  ERR_clear_error();
  if (certs.empty())
    return Status(Code::invalid_argument, std::string(what) + ": no PEM certificate");
  return certs;
}

SslCtxPtr new_context(const SSL_METHOD* method) {
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (!ctx) return ctx;
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

void set_server_alpn(SSL_CTX* ctx, const std::vector<std::string>& alpn) {
  if (alpn.empty()) return;
  auto* list = new AlpnList;
  for (const auto& p : alpn) {
    list->wire.push_back(static_cast<char>(p.size()));
    list->wire += p;
  }
  SSL_CTX_set_ex_data(ctx, alpn_index(), list);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, list);
}

}  // namespace meshcache::tls
