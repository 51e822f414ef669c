// openssl_util.h: internal to tls/: error text, memory BIOs, PEM lists and the server ALPN
// choice shared by the public and mesh TLS contexts (any thread).
#pragma once

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"
#include "tls/openssl_handles.h"
#include "tls/server_context.h"

namespace meshcache::tls {

// A deleter for any OpenSSL free function: std::unique_ptr<BIO, Freer<BIO_free_all>>.
template <auto Free>
struct Freer {
  template <typename T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Freer<BIO_free_all>>;

// The oldest queued OpenSSL error (the root cause) as text; clears this thread's queue so a
// later SSL_get_error() does not see stale entries.
std::string openssl_error();
// Status(code, "<what>: <openssl error>").
Status openssl_failure(Code code, std::string_view what);

// A read-only BIO over `bytes` (no copy: `bytes` must outlive it).
BioPtr memory_bio(std::string_view bytes);
// What a memory BIO holds.
std::string bio_contents(BIO* bio);
Result<std::string> certificate_pem(X509* cert);

// Every certificate in a PEM text, in order; invalid_argument naming `what` if there is none.
Result<std::vector<X509Ptr>> parse_certificates_pem(std::string_view pem, std::string_view what);

// A TLS 1.2+ context with the settings every meshcache context shares; null on failure.
SslCtxPtr new_context(const SSL_METHOD* method);
// Offers `alpn` (server preference order) on a server context; the list lives as long as `ctx`.
void set_server_alpn(SSL_CTX* ctx, const std::vector<std::string>& alpn);

}  // namespace meshcache::tls
