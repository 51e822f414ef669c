// openssl_handles.h: unique_ptr owners for the OpenSSL handles tls/ hands out (any thread).
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>

namespace meshcache::tls {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

struct X509ReqFree {
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
};
using X509ReqPtr = std::unique_ptr<X509_REQ, X509ReqFree>;

}  // namespace meshcache::tls
